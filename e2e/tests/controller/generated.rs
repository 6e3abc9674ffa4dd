//! Random Apps against the real API server: the specs the unit tier's
//! property tests draw (`readyroll-testkit`), and the Apps `convert` makes
//! of random ecosystem files, are submitted with a server-side apply in
//! `dryRun=All` and strict field validation, as are the Deployment,
//! Service and PodDisruptionBudget the core builds from each. None may be
//! refused: the CRD's schema and CEL accept what the generators call valid,
//! and everything readyroll builds from an App is valid Kubernetes.
//! `READYROLL_API_FUZZ_CASES` sets how many of each (default 200).

use std::fmt::Debug;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use readyroll::convert::{convert_text, ConvertOptions, Format};
use readyroll::core::build;
use readyroll::crd::App;
use readyroll_testkit::app::valid_app;
use readyroll_testkit::{ecosystem, sample, text};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::harness::{ApiEnv, Env, TEST_MANAGER};

/// Fixed, so a failure is the same on every run; change it to explore.
const SEED: u64 = 0x5eed_0011;

fn cases() -> usize {
    std::env::var("READYROLL_API_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

/// PM2's option names, for the ecosystem generator.
fn option_names() -> &'static [&'static str] {
    let names: Vec<&'static str> = readyroll::convert::OPTIONS
        .iter()
        .flat_map(|o| std::iter::once(o.name).chain(o.aliases.iter().copied()))
        .collect();
    Vec::leak(names)
}

struct DryRun {
    params: PatchParams,
    submitted: usize,
    refused: Vec<String>,
}

impl DryRun {
    fn new() -> Self {
        DryRun {
            params: PatchParams::apply(TEST_MANAGER)
                .force()
                .dry_run()
                .validation_strict(),
            submitted: 0,
            refused: Vec::new(),
        }
    }

    async fn apply<K>(&mut self, api: &Api<K>, object: &K, what: &str)
    where
        K: Resource + Clone + Debug + Serialize + DeserializeOwned,
        K::DynamicType: Default,
    {
        self.submitted += 1;
        let name = object.name_any();
        if let Err(e) = api.patch(&name, &self.params, &Patch::Apply(object)).await {
            let body = serde_json::to_string(object).unwrap_or_default();
            self.refused.push(format!("{what} {name}: {e}\n  {body}"));
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a cluster: run by the api tier"]
async fn generated_apps_and_their_objects_pass_the_api_servers_validation() {
    let env = ApiEnv::start("generated").await;
    let ns = env.ns.name().to_string();
    let apps_api: Api<App> = env.ns.api();
    let deployments: Api<Deployment> = env.ns.api();
    let services: Api<Service> = env.ns.api();
    let pdbs: Api<PodDisruptionBudget> = env.ns.api();
    let mut dry = DryRun::new();
    let mut unbuildable = Vec::new();

    let generated = sample(&valid_app(&ns), cases(), SEED);
    for app in &generated {
        let mut body = app.clone();
        body.metadata.uid = None;
        dry.apply(&apps_api, &body, "App").await;
        let desired = match build(app, &[], &Env::build_options()) {
            Ok(desired) => desired,
            Err(e) => {
                unbuildable.push(format!("{}: {e}", app.name_any()));
                continue;
            }
        };
        dry.apply(&deployments, &desired.deployment, "Deployment")
            .await;
        if let Some(service) = &desired.service {
            dry.apply(&services, service, "Service").await;
        }
        if let Some(pdb) = &desired.pdb {
            dry.apply(&pdbs, pdb, "PodDisruptionBudget").await;
        }
    }

    let opts = ConvertOptions {
        image: Some("registry.example/app:1".into()),
        namespace: Some(ns.clone()),
        profile: Some("production".into()),
    };
    // Most random files have a value convert refuses (about 1 in 30
    // converts); draw until a quarter of `cases()` Apps came out.
    let files = ecosystem::ecosystem(option_names());
    let (mut converted, mut drawn) = (0, 0);
    for batch in 0..50 {
        if converted >= cases() / 4 {
            break;
        }
        for file in sample(&files, cases(), SEED + batch) {
            drawn += 1;
            let text = text::yaml(&file);
            let Ok(conversion) = convert_text(&text, Format::Yaml, "e.yaml", &opts) else {
                continue;
            };
            for app in &conversion.apps {
                converted += 1;
                dry.apply(&apps_api, app, "converted App").await;
            }
        }
    }

    eprintln!(
        "readyroll-e2e: generated: {} Apps, and {converted} Apps converted from {drawn} random ecosystem files; {} dry-run applies, {} refused, {} not built",
        generated.len(),
        dry.submitted,
        dry.refused.len(),
        unbuildable.len()
    );
    assert!(
        unbuildable.is_empty(),
        "the CRD accepts these, the core refuses them:\n{}",
        unbuildable.join("\n")
    );
    assert!(
        dry.refused.is_empty(),
        "the API server refused {} of {}:\n{}",
        dry.refused.len(),
        dry.submitted,
        dry.refused.join("\n")
    );
    assert!(
        converted >= cases() / 4,
        "only {converted} Apps came out of {drawn} random ecosystem files"
    );
}
