use std::fmt::Display;

/// `expect` that prints the error with `Display`, so multi-line errors (like a timeout's last
/// seen object) stay readable in the test log. Panicking also makes [`crate::TestNamespace`]
/// print the namespace's state.
pub trait Must<T> {
    fn must(self, context: &str) -> T;
}

impl<T, E: Display> Must<T> for Result<T, E> {
    #[track_caller]
    fn must(self, context: &str) -> T {
        match self {
            Ok(value) => value,
            Err(err) => panic!("{context}: {err}"),
        }
    }
}
