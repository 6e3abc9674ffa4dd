//! App names: PM2 allows any string, Kubernetes a DNS-1035 label. A name
//! is never changed silently; an invalid one is refused with a suggestion.

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

/// A valid name close to `name`, offered in the error message.
pub fn suggestion(name: &str) -> String {
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

/// PM2's name for an app without one: the script's file name without its
/// extension (`./server.js` is `server`).
pub fn from_script(script: &str) -> String {
    let base = script.rsplit(['/', '\\']).next().unwrap_or(script);
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
    fn suggestions_are_valid() {
        assert_eq!(suggestion("My App"), "my-app");
        assert_eq!(suggestion("api_v2"), "api-v2");
        assert_eq!(suggestion("2fa"), "app-2fa");
        assert_eq!(suggestion("--"), "app");
        for s in ["My App", "api_v2", "2fa", "x".repeat(80).as_str(), "ÄÖ!"] {
            let out = suggestion(s);
            assert!(is_dns_label(&out), "{s} -> {out}");
        }
    }

    #[test]
    fn names_come_from_scripts_like_pm2() {
        assert_eq!(from_script("./server.js"), "server");
        assert_eq!(from_script("bin/www"), "www");
        assert_eq!(from_script(".env.js"), ".env");
        assert_eq!(from_script("/srv/app.worker.js"), "app.worker");
    }
}
