//! Kubernetes' syntax rules for names, label values and env var names,
//! checked here so a bad App is reported with its own field path instead of
//! failing later at the API server with the generated object's path.

/// A label value: empty, or at most 63 characters of `[A-Za-z0-9-_.]`
/// starting and ending with an alphanumeric.
pub fn is_label_value(s: &str) -> bool {
    s.is_empty() || (s.len() <= 63 && is_qualified_name_part(s))
}

/// A label or annotation key: an optional DNS-subdomain prefix and `/`, then
/// a name of at most 63 characters like a label value.
pub fn is_qualified_name(s: &str) -> bool {
    let (prefix, name) = match s.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, s),
    };
    let prefix_ok = prefix.is_none_or(is_dns_subdomain);
    prefix_ok && !name.is_empty() && name.len() <= 63 && is_qualified_name_part(name)
}

fn is_qualified_name_part(s: &str) -> bool {
    let bytes = s.as_bytes();
    let edge_ok = |b: Option<&u8>| b.is_some_and(u8::is_ascii_alphanumeric);
    edge_ok(bytes.first())
        && edge_ok(bytes.last())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// RFC 1123 subdomain: lowercase labels separated by dots, at most 253 characters.
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

/// RFC 1123 label: 1 to 63 lowercase letters, digits and `-`, starting and
/// ending with a letter or digit (namespace names, subdomain parts).
pub fn is_dns1123_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// An environment variable name: `[-._a-zA-Z][-._a-zA-Z0-9]*`, the rule
/// Kubernetes applied before relaxing it, and one every shell accepts.
pub fn is_env_var_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || matches!(b, b'-' | b'.' | b'_'));
    first_ok && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values() {
        for ok in ["", "a", "v1.2.3", "1.0_rc-1", &"a".repeat(63)] {
            assert!(is_label_value(ok), "{ok:?}");
        }
        for bad in [
            "-a",
            "a-",
            ".a",
            "a b",
            "a/b",
            "sha256:abc",
            &"a".repeat(64),
        ] {
            assert!(!is_label_value(bad), "{bad:?}");
        }
    }

    #[test]
    fn qualified_names() {
        for ok in [
            "app",
            "team",
            "example.com/team",
            "app.kubernetes.io/name",
            "a_b.c-d",
        ] {
            assert!(is_qualified_name(ok), "{ok:?}");
        }
        for bad in [
            "",
            "/x",
            "Example.com/x",
            "a/",
            "a/b/c",
            "-x",
            "x.",
            &"a".repeat(64),
        ] {
            assert!(!is_qualified_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn env_var_names() {
        for ok in ["PATH", "_x", "a.b", "-x", "NODE_ENV", "x1"] {
            assert!(is_env_var_name(ok), "{ok:?}");
        }
        for bad in ["", "1X", "A=B", "A B", "é"] {
            assert!(!is_env_var_name(bad), "{bad:?}");
        }
    }
}
