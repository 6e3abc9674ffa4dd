//! App names: PM2 allows any string, Kubernetes a DNS-1035 label. A name
//! Kubernetes would refuse is turned into one it accepts, never silently:
//! the caller warns old → new.

/// The rule the CRD enforces on `metadata.name`, in words.
pub const NAME_RULE: &str = "use lowercase letters, digits and '-', starting with a letter and \
     ending with a letter or digit, at most 63 characters";

/// Whether `name` is a DNS-1035 label (what the App CRD accepts).
pub fn is_dns_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_lowercase()
        && bytes[bytes.len() - 1] != b'-'
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// Whether `namespace` is a DNS-1123 label (what Kubernetes accepts).
pub fn is_namespace(namespace: &str) -> bool {
    crate::core::is_dns1123_label(namespace)
}

/// The valid Kubernetes name closest to `name`: lowercase, every run of
/// other characters (`_`, spaces, dots) one `-`, trimmed, `app-` in front
/// of a name that does not start with a letter, at most 63 characters.
pub fn kubernetes_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out = out.trim_matches('-').to_string();
    if !out.starts_with(|c: char| c.is_ascii_lowercase()) {
        out.insert_str(0, "app-");
    }
    out.truncate(63);
    out.trim_end_matches('-').to_string()
}

/// `name` with `-2`, `-3`, ... appended (the base shortened to fit 63
/// characters) until `taken` says no.
pub fn numbered(name: &str, taken: impl Fn(&str) -> bool) -> String {
    (2..)
        .map(|n| {
            let suffix = format!("-{n}");
            let mut base = name[..name.len().min(63 - suffix.len())].to_string();
            while base.ends_with('-') {
                base.pop();
            }
            base + &suffix
        })
        .find(|candidate| !taken(candidate))
        .unwrap_or_else(|| name.to_string())
}

/// PM2's name for an app without one (`Common.renderApplicationName`):
/// `path.basename` of the script, which ignores trailing slashes, cut at
/// its last dot unless that is the first character (`./server.js` is
/// `server`, `dist/` is `dist`).
pub fn from_script(script: &str) -> String {
    let trimmed = script.trim_end_matches('/');
    let base = trimmed.rsplit('/').next().unwrap_or(trimmed);
    match base.rfind('.') {
        Some(dot) if dot > 0 => base[..dot].to_string(),
        _ => base.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels() {
        for ok in ["web", "a", "api-v2", &"a".repeat(63)] {
            assert!(is_dns_label(ok), "{ok}");
        }
        for bad in [
            "",
            "Web",
            "2web",
            "web-",
            "my_app",
            "my.app",
            &"a".repeat(64),
        ] {
            assert!(!is_dns_label(bad), "{bad}");
        }
        assert!(is_namespace("2024-prod"));
        assert!(!is_namespace("Prod"));
    }

    #[test]
    fn names_become_kubernetes_names() {
        assert_eq!(kubernetes_name("My App"), "my-app");
        assert_eq!(kubernetes_name("api_v2"), "api-v2");
        assert_eq!(kubernetes_name("  API  "), "api");
        assert_eq!(kubernetes_name("clustered_http"), "clustered-http");
        assert_eq!(kubernetes_name("app.worker"), "app-worker");
        assert_eq!(kubernetes_name("2fa"), "app-2fa");
        assert_eq!(kubernetes_name("--"), "app");
        for s in [
            "My App",
            "api_v2",
            "2fa",
            "x".repeat(80).as_str(),
            "ÄÖ!",
            "",
        ] {
            let out = kubernetes_name(s);
            assert!(is_dns_label(&out), "{s} -> {out}");
        }
    }

    #[test]
    fn names_come_from_scripts_like_pm2() {
        assert_eq!(from_script("./server.js"), "server");
        assert_eq!(from_script("bin/www"), "www");
        assert_eq!(from_script(".env.js"), ".env");
        assert_eq!(from_script("/srv/app.worker.js"), "app.worker");
        assert_eq!(from_script("dist/"), "dist");
        assert_eq!(from_script("./"), ".");
        assert_eq!(from_script("/"), "");
        assert_eq!(from_script("npm run start"), "npm run start");
    }

    #[test]
    fn collisions_are_numbered() {
        assert_eq!(numbered("web", |n| n == "web-2"), "web-3");
        let long = "a".repeat(63);
        let out = numbered(&long, |_| false);
        assert_eq!(out.len(), 63);
        assert!(out.ends_with("a-2"));
    }
}
