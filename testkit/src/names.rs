//! Names Kubernetes accepts, and names close to them.

use proptest::prelude::*;

/// A DNS-1035 label: an App's `metadata.name` (up to the 63-character limit).
pub fn app_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z][a-z0-9]{0,8}",
        2 => "[a-z]([-a-z0-9]{0,20}[a-z0-9])?",
        1 => "[a-z][-a-z0-9]{61}[a-z0-9]",
    ]
}

/// A DNS-1123 subdomain of a few labels (ServiceAccounts, Secrets, classes).
pub fn subdomain() -> impl Strategy<Value = String> {
    "[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?(\\.[a-z0-9]{1,8}){0,2}"
}

/// A label or annotation key, with or without a DNS prefix.
pub fn qualified_key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9]([-_.a-zA-Z0-9]{0,20}[a-zA-Z0-9])?",
        "[a-z0-9]{1,8}(\\.[a-z0-9]{1,8}){0,2}/[a-zA-Z0-9]([-_.a-zA-Z0-9]{0,20}[a-zA-Z0-9])?",
    ]
}

/// A label value (empty allowed).
pub fn label_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-zA-Z0-9]([-_.a-zA-Z0-9]{0,30}[a-zA-Z0-9])?",
    ]
}

/// An environment variable name as the CRD's rule allows.
pub fn env_name() -> impl Strategy<Value = String> {
    "[-._a-zA-Z][-._a-zA-Z0-9]{0,20}"
}

/// Any text a person might write: printable characters of every script,
/// sometimes empty, sometimes long.
pub fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "\\PC{0,24}",
        // ASCII controls, which JSON escapes, and DEL and the C1 controls,
        // which it leaves raw: the API server's YAML reader of apply bodies
        // refuses those, so the CRD, the core and `convert` refuse them
        // naming the field (docs/fuzzing.md).
        1 => "[\\x{0}-\\x{7f}]{0,8}",
        1 => "[a-z\\x{7f}-\\x{9f}]{1,4}",
        1 => "\\PC{200,2000}",
    ]
}
