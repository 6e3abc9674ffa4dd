//! One PM2 app entry → one `AppSpec`: sort its keys (mapped, ignored,
//! unknown, profiles), settle the name, then read every mapped option.

use std::collections::BTreeMap;

use crate::crd::AppSpec;

use super::apply_text;
use super::diagnostic::Pos;
use super::fields;
use super::name::{self, NAME_RULE};
use super::options::{self, Meaning, IMAGE_KEY};
use super::report::{join, shown_key, Report};
use super::tree::{Entry, Node};
use super::values;

/// What applies to every app of the file.
pub struct Context<'a> {
    /// `--image`: the image of apps without their own `image` key.
    pub default_image: Option<&'a str>,
    /// `--env`: the PM2 environment profile to select.
    pub profile: Option<&'a str>,
    /// `deploy.<profile>.env` of the file, for the selected profile.
    pub deploy_env: Option<&'a Entry>,
    /// Whether any app defines the selected profile; when none does, one
    /// warning about the file says so instead of one per app.
    pub profile_defined: bool,
}

/// A converted app, before it becomes an `App` object.
pub struct Converted {
    pub name: String,
    pub name_pos: Option<Pos>,
    /// `apps[0]` and the like, for messages about the app as a whole.
    pub path: String,
    pub spec: AppSpec,
}

/// The keys of one app, sorted by what becomes of them.
#[derive(Default)]
pub struct Keys<'a> {
    /// Mapped options by PM2's canonical name.
    pub mapped: BTreeMap<&'static str, &'a Entry>,
    pub image: Option<&'a Entry>,
    /// `env_<profile>` blocks: profile name and entry.
    pub profiles: Vec<(&'a str, &'a Entry)>,
}

pub fn convert(
    node: &Node,
    path: &str,
    ctx: &Context<'_>,
    report: &mut Report,
) -> Option<Converted> {
    let shown = if path.is_empty() { "the app" } else { path };
    let Some(entries) = node.as_map() else {
        report.error(
            node.pos,
            format!(
                "{shown}: expected an app object like {{ \"name\": \"web\", \"script\": \"server.js\" }}, got {}",
                node.describe()
            ),
        );
        return None;
    };
    let errors_before = report.error_count();
    let mut pending = Vec::new();
    let keys = sort_keys(entries, path, report, &mut pending);
    let options = keys.mapped.values().copied().chain(keys.image);
    apply_text::check(
        options.chain(keys.profiles.iter().map(|(_, e)| *e)),
        path,
        report,
    );
    if let (Some(env), Some(profile)) = (ctx.deploy_env, ctx.profile) {
        apply_text::check(std::iter::once(env), &format!("deploy.{profile}"), report);
    }
    let (name, name_pos) = settle_name(&keys, node, path, ctx, report);
    let label = match &name {
        Some(n) if path.is_empty() => format!("app ({n})"),
        Some(n) => format!("{path} ({n})"),
        None if path.is_empty() => "app".to_string(),
        None => path.to_string(),
    };
    for (pos, message) in pending {
        report.warning(pos, format!("{label}: {message}"));
    }
    let mut spec = AppSpec::default();
    let mut fields = fields::Fields {
        keys: &keys,
        path,
        label: &label,
        deploy_env: ctx.deploy_env,
        report,
    };
    fields::apply(&mut fields, &mut spec);
    match keys.image {
        Some(entry) => match values::string(&entry.value) {
            Ok(image) if !image.trim().is_empty() => spec.image = image,
            Ok(_) => report.error(entry.value.pos, format!("{}: must not be empty", join(path, &entry.key))),
            Err(why) => report.error(entry.value.pos, format!("{}: {why}", join(path, &entry.key))),
        },
        None => match ctx.default_image {
            Some(image) => spec.image = image.to_string(),
            None => report.error(
                node.pos,
                format!("{label}: no container image: pass --image IMAGE, or add \"image\": \"...\" to this app"),
            ),
        },
    }
    match ctx.profile {
        Some(p) if spec.env_profiles.contains_key(p) => spec.profile = Some(p.to_string()),
        Some(p) if ctx.profile_defined => report.warning(
            node.pos,
            format!("{label}: has no env_{p}; its env is used as is (PM2 does the same)"),
        ),
        _ => {}
    }
    let name = name?;
    (report.error_count() == errors_before).then(|| Converted {
        name,
        name_pos,
        path: path.to_string(),
        spec,
    })
}

/// Sorts keys, reporting clashing aliases at once; warnings about ignored
/// and unknown keys wait in `pending` until the app's name is known.
fn sort_keys<'a>(
    entries: &'a [Entry],
    path: &str,
    report: &mut Report,
    pending: &mut Vec<(Option<Pos>, String)>,
) -> Keys<'a> {
    let mut keys = Keys::default();
    // PM2 treats `null` as "not set" (Config.validateJSON), so does convert.
    for entry in entries.iter().filter(|e| !e.value.is_null()) {
        let key = entry.key.as_str();
        if key == IMAGE_KEY {
            keys.image = Some(entry);
        } else if let Some(option) = options::lookup(key) {
            match option.meaning {
                Meaning::Mapped => {
                    if let Some(first) = keys.mapped.get(option.name) {
                        if !first.value.same_data(&entry.value) {
                            report.error(
                                entry.key_pos,
                                format!(
                                    "{}: '{}' and '{key}' are the same PM2 option ({}) with different values; keep one",
                                    join(path, key),
                                    first.key,
                                    option.name
                                ),
                            );
                        }
                    } else {
                        keys.mapped.insert(option.name, entry);
                    }
                }
                Meaning::Ignored(why) => {
                    pending.push((entry.key_pos, format!("ignored option '{key}': {why}")))
                }
            }
        } else if let Some(profile) = options::env_profile(key) {
            if profile.is_empty() {
                report.error(
                    entry.key_pos,
                    format!(
                        "{}: a profile needs a name, as in env_production",
                        join(path, key)
                    ),
                );
            } else {
                keys.profiles.push((profile, entry));
            }
        } else {
            let hint = match options::closest(key) {
                Some(near) => format!("; did you mean '{near}'?"),
                None => String::new(),
            };
            pending.push((
                entry.key_pos,
                format!(
                    "unknown option '{}' ignored: it is not a PM2 option{hint}",
                    shown_key(key)
                ),
            ));
        }
    }
    keys
}

/// The App's name: PM2's `name` (or PM2's default, the script's file name),
/// with `-<profile>` appended under `append_env_to_name`, turned into a
/// name Kubernetes accepts, with a warning when that changes it.
fn settle_name(
    keys: &Keys<'_>,
    node: &Node,
    path: &str,
    ctx: &Context<'_>,
    report: &mut Report,
) -> (Option<String>, Option<Pos>) {
    let given = match keys.mapped.get("name") {
        Some(entry) => match values::string(&entry.value) {
            // PM2 names an app with an empty name after its script, too.
            Ok(name) if name.is_empty() => None,
            Ok(name) => Some((name, entry.value.pos, join(path, &entry.key))),
            Err(why) => {
                report.error(
                    entry.value.pos,
                    format!("{}: {why}", join(path, &entry.key)),
                );
                return (None, entry.value.pos);
            }
        },
        None => None,
    };
    let script = keys
        .mapped
        .get("script")
        .and_then(|e| values::string(&e.value).ok());
    let (mut name, pos, origin) = match (given, script) {
        (Some(given), _) => given,
        (None, Some(script)) => (
            name::from_script(&script),
            node.pos,
            format!(
                "{} (PM2 names an app without a name after its script)",
                join(path, "name")
            ),
        ),
        (None, None) => {
            let shown = if path.is_empty() { "the app" } else { path };
            report.error(
                node.pos,
                format!("{shown}: needs a name (or a script to name it after)"),
            );
            return (None, node.pos);
        }
    };
    let mut appended = String::new();
    if let (Some(entry), Some(profile)) = (keys.mapped.get("append_env_to_name"), ctx.profile) {
        if values::boolean(&entry.value) == Ok(true) {
            name = format!("{name}-{profile}");
            appended = format!(" (with -{profile} appended by append_env_to_name)");
        }
    }
    if !name::is_dns_label(&name) {
        let valid = name::kubernetes_name(&name);
        report.warning(
            pos,
            format!(
                "{origin}: {name:?}{appended} becomes {valid:?}: a Kubernetes name must {NAME_RULE}; it names \
                 the Deployment, Service and PodDisruptionBudget"
            ),
        );
        name = valid;
    }
    (Some(name), pos)
}
