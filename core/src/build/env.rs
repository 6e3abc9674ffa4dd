//! PM2's `env` and `env_<profile>` as container environment, followed by
//! the App's extra Kubernetes entries.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::EnvVar;

use crate::crd::AppSpec;

use super::error::SpecError;
use super::names::is_env_var_name;

/// Variables PM2 sets on its own for an interpreter; the App's env wins.
pub fn implied_by_interpreter(interpreter: Option<&str>) -> Vec<(&'static str, &'static str)> {
    match interpreter {
        // PM2 sets it so Python's output reaches the logs line by line.
        Some(i) if i.contains("python") => vec![("PYTHONUNBUFFERED", "1")],
        _ => Vec::new(),
    }
}

/// `env` overlaid by the selected profile, sorted by name, then `extraEnv`
/// in its own order. An `extraEnv` entry replaces a same-named one from
/// `env` (a list with both would be rejected by server-side apply).
pub fn container_env(spec: &AppSpec, implied: &[(&str, &str)]) -> Result<Vec<EnvVar>, SpecError> {
    let mut merged: BTreeMap<String, String> = implied
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for (name, value) in &spec.env {
        check_name(name, || format!("spec.env.{name}"))?;
        merged.insert(name.clone(), value.clone());
    }
    if let Some(profile) = &spec.profile {
        let overlay = spec.env_profiles.get(profile).ok_or_else(|| {
            SpecError::new(
                "spec.profile",
                format!("{profile:?} is not an entry of spec.envProfiles"),
            )
        })?;
        for (name, value) in overlay {
            check_name(name, || format!("spec.envProfiles.{profile}.{name}"))?;
            merged.insert(name.clone(), value.clone());
        }
    }

    let mut extra_names = BTreeSet::new();
    for (i, var) in spec.extra_env.iter().enumerate() {
        let field = || format!("spec.extraEnv[{i}].name");
        check_name(&var.name, field)?;
        // The CRD keys the list by name now; this guards Apps admitted before.
        if !extra_names.insert(var.name.as_str()) {
            return Err(SpecError::new(
                field(),
                format!("{:?} appears more than once", var.name),
            ));
        }
    }
    let from_env = merged
        .into_iter()
        .filter(|(name, _)| !extra_names.contains(name.as_str()))
        .map(|(name, value)| EnvVar {
            name,
            value: Some(value),
            value_from: None,
        });
    Ok(from_env.chain(spec.extra_env.iter().cloned()).collect())
}

fn check_name(name: &str, field: impl Fn() -> String) -> Result<(), SpecError> {
    if is_env_var_name(name) {
        Ok(())
    } else {
        Err(SpecError::new(
            field(),
            format!("{name:?} is not a valid environment variable name (letters, digits, '_', '-', '.'; not starting with a digit)"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::testing::spec;
    use k8s_openapi::api::core::v1::{EnvVarSource, SecretKeySelector};

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn plain(pairs: &[(&str, &str)]) -> Vec<EnvVar> {
        pairs
            .iter()
            .map(|(k, v)| EnvVar {
                name: k.to_string(),
                value: Some(v.to_string()),
                value_from: None,
            })
            .collect()
    }

    fn secret_ref(name: &str) -> EnvVar {
        EnvVar {
            name: name.into(),
            value: None,
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: "db".into(),
                    key: "password".into(),
                    optional: None,
                }),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn empty_env_is_empty() {
        assert_eq!(container_env(&spec(), &[]).unwrap(), vec![]);
    }

    #[test]
    fn env_is_sorted_and_the_profile_overlays_it() {
        let spec = AppSpec {
            env: map(&[
                ("NODE_ENV", "development"),
                ("A_FIRST", "1"),
                ("PORT", "3000"),
            ]),
            env_profiles: BTreeMap::from([
                (
                    "production".to_string(),
                    map(&[("NODE_ENV", "production"), ("CACHE", "on")]),
                ),
                ("staging".to_string(), map(&[("NODE_ENV", "staging")])),
            ]),
            profile: Some("production".into()),
            ..spec()
        };
        assert_eq!(
            container_env(&spec, &[]).unwrap(),
            plain(&[
                ("A_FIRST", "1"),
                ("CACHE", "on"),
                ("NODE_ENV", "production"),
                ("PORT", "3000"),
            ])
        );
        let unselected = AppSpec {
            profile: None,
            ..spec
        };
        assert_eq!(
            container_env(&unselected, &[]).unwrap(),
            plain(&[
                ("A_FIRST", "1"),
                ("NODE_ENV", "development"),
                ("PORT", "3000")
            ])
        );
    }

    #[test]
    fn extra_env_comes_last_and_replaces_same_named_env() {
        let spec = AppSpec {
            env: map(&[("DB_PASSWORD", "dev"), ("Z", "z")]),
            extra_env: vec![secret_ref("DB_PASSWORD"), plain(&[("B", "b")]).remove(0)],
            ..spec()
        };
        let env = container_env(&spec, &[]).unwrap();
        let mut expected = plain(&[("Z", "z")]);
        expected.push(secret_ref("DB_PASSWORD"));
        expected.extend(plain(&[("B", "b")]));
        assert_eq!(env, expected);
    }

    #[test]
    fn implied_variables_yield_to_the_apps_own() {
        let implied = implied_by_interpreter(Some("python3"));
        assert_eq!(implied, vec![("PYTHONUNBUFFERED", "1")]);
        assert!(implied_by_interpreter(Some("node")).is_empty());
        assert!(implied_by_interpreter(None).is_empty());
        assert_eq!(
            container_env(&spec(), &implied).unwrap(),
            plain(&[("PYTHONUNBUFFERED", "1")])
        );
        let own = AppSpec {
            env: map(&[("PYTHONUNBUFFERED", "0")]),
            ..spec()
        };
        assert_eq!(
            container_env(&own, &implied).unwrap(),
            plain(&[("PYTHONUNBUFFERED", "0")])
        );
    }

    #[test]
    fn bad_names_and_profiles_name_the_field() {
        let cases = [
            (
                AppSpec {
                    env: map(&[("1BAD", "x")]),
                    ..spec()
                },
                "spec.env.1BAD",
            ),
            (
                AppSpec {
                    env: map(&[("A=B", "x")]),
                    ..spec()
                },
                "spec.env.A=B",
            ),
            (
                AppSpec {
                    env_profiles: BTreeMap::from([(
                        "prod".to_string(),
                        map(&[("has space", "x")]),
                    )]),
                    profile: Some("prod".into()),
                    ..spec()
                },
                "spec.envProfiles.prod.has space",
            ),
            (
                AppSpec {
                    profile: Some("missing".into()),
                    ..spec()
                },
                "spec.profile",
            ),
            (
                AppSpec {
                    extra_env: plain(&[("OK", "1"), ("", "2")]),
                    ..spec()
                },
                "spec.extraEnv[1].name",
            ),
            (
                AppSpec {
                    extra_env: plain(&[("DUP", "1"), ("DUP", "2")]),
                    ..spec()
                },
                "spec.extraEnv[1].name",
            ),
        ];
        for (spec, field) in cases {
            assert_eq!(container_env(&spec, &[]).unwrap_err().field, field);
        }
    }
}
