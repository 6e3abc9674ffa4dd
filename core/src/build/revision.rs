//! The revision of a pod template: a short hash of its canonical JSON.
//!
//! Stored in the template itself, so each ReplicaSet says which revision it
//! runs; the controller uses it to find the last good one for a rollback.
//! Only what is in the pod template counts: scaling does not make a revision.

use k8s_openapi::api::core::v1::PodTemplateSpec;
use sha2::{Digest, Sha256};

use super::error::SpecError;

/// Pod-template annotation holding the revision.
pub const REVISION_ANNOTATION: &str = "readyroll.dev/revision";
/// Hex characters kept: 40 bits, ample to tell an App's revisions apart.
const REVISION_LEN: usize = 10;

/// Hash of the template as serialized (struct fields in declaration order,
/// maps sorted by key), so equal templates always give equal revisions.
pub fn revision_of(template: &PodTemplateSpec) -> Result<String, SpecError> {
    let json = serde_json::to_vec(template).map_err(|e| {
        SpecError::new(
            "spec",
            format!("the pod template cannot be serialized: {e}"),
        )
    })?;
    let digest = Sha256::digest(&json);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok(hex[..REVISION_LEN].to_string())
}

/// Writes the revision into the template's annotations.
pub fn stamp(template: &mut PodTemplateSpec, revision: &str) {
    template
        .metadata
        .get_or_insert_with(Default::default)
        .annotations
        .get_or_insert_with(Default::default)
        .insert(REVISION_ANNOTATION.into(), revision.into());
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodSpec};

    fn template(image: &str) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: None,
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "app".into(),
                    image: Some(image.into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        }
    }

    #[test]
    fn revision_is_a_short_stable_hash() {
        let a = revision_of(&template("web:1")).unwrap();
        assert_eq!(a.len(), 10);
        assert!(a
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(a, revision_of(&template("web:1")).unwrap());
        assert_ne!(a, revision_of(&template("web:2")).unwrap());
    }

    #[test]
    fn known_template_hashes_to_a_known_value() {
        // sha256 of {"spec":{"containers":[{"image":"web:1","name":"app"}]}}
        let expected = {
            let digest =
                Sha256::digest(br#"{"spec":{"containers":[{"image":"web:1","name":"app"}]}}"#);
            digest
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()[..10]
                .to_string()
        };
        assert_eq!(revision_of(&template("web:1")).unwrap(), expected);
    }

    #[test]
    fn stamp_adds_the_annotation() {
        let mut t = template("web:1");
        stamp(&mut t, "abc");
        assert_eq!(
            t.metadata.unwrap().annotations.unwrap()[REVISION_ANNOTATION],
            "abc"
        );
    }
}
