//! The Service in front of the App's ready pods.

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec as K8sServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::crd::{AppSpec, ServiceType};

use super::error::SpecError;
use super::labels::Identity;
use super::pod::HTTP_PORT_NAME;

/// A Service when `spec.port` is set and `service.enabled` is not false.
pub fn service(spec: &AppSpec, id: &Identity) -> Result<Option<Service>, SpecError> {
    let settings = spec.service.clone().unwrap_or_default();
    if settings.enabled == Some(false) {
        return Ok(None);
    }
    let Some(target_port) = spec.port else {
        return match spec.service {
            Some(_) => Err(SpecError::new(
                "spec.service",
                "needs spec.port: the Service forwards to the app's port",
            )),
            None => Ok(None),
        };
    };
    let type_ = settings.type_.unwrap_or(ServiceType::ClusterIP);
    if settings.node_port.is_some() && type_ == ServiceType::ClusterIP {
        return Err(SpecError::new(
            "spec.service.nodePort",
            "needs spec.service.type NodePort or LoadBalancer",
        ));
    }
    let mut metadata = id.metadata();
    metadata.annotations = (!settings.annotations.is_empty()).then_some(settings.annotations);
    Ok(Some(Service {
        metadata,
        spec: Some(K8sServiceSpec {
            type_: Some(
                match type_ {
                    ServiceType::ClusterIP => "ClusterIP",
                    ServiceType::NodePort => "NodePort",
                    ServiceType::LoadBalancer => "LoadBalancer",
                }
                .into(),
            ),
            selector: Some(id.selector.clone()),
            ports: Some(vec![ServicePort {
                name: Some(HTTP_PORT_NAME.into()),
                protocol: Some("TCP".into()),
                port: settings.port.unwrap_or(target_port),
                target_port: Some(IntOrString::Int(target_port)),
                node_port: settings.node_port,
                ..Default::default()
            }]),
            ..Default::default()
        }),
        status: None,
    }))
}
