//! The one error the pure core returns: a spec field that cannot be turned
//! into Kubernetes objects, named so the user can find it.

/// An App field that cannot be built, e.g. `spec.cronRestart: ...`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SpecError {
    /// Path of the offending field, as the user writes it (`spec.env.FOO`).
    pub field: String,
    /// What is wrong and, where it helps, how to fix it.
    pub message: String,
}

impl SpecError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        SpecError {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_starts_with_the_field() {
        let err = SpecError::new("spec.cronRestart", "not a cron expression");
        assert_eq!(err.to_string(), "spec.cronRestart: not a cron expression");
    }
}
