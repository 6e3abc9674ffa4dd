//! Messages about an ecosystem file, each tied to the file and, when known,
//! the line and column it is about.

use std::fmt;

/// A 1-based line and column in the source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// How much a diagnostic matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// The file cannot be converted.
    Error,
    /// Converted, but something in the file has no effect (or changed
    /// meaning) in Kubernetes; the user should know.
    Warning,
}

/// One message about the input, printed as `FILE:LINE:COLUMN: message`
/// (or `FILE: message` when no position is known, e.g. for JavaScript files).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: String,
    pub pos: Option<Pos>,
    pub message: String,
}

impl Diagnostic {
    pub fn error(file: &str, pos: Option<Pos>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            file: file.to_string(),
            pos,
            message: message.into(),
        }
    }

    pub fn warning(file: &str, pos: Option<Pos>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            file: file.to_string(),
            pos,
            message: message.into(),
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pos {
            Some(Pos { line, column }) => {
                write!(f, "{}:{line}:{column}: {}", self.file, self.message)
            }
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_position_when_known() {
        let d = Diagnostic::error("e.json", Some(Pos { line: 3, column: 7 }), "bad");
        assert_eq!(d.to_string(), "e.json:3:7: bad");
        let d = Diagnostic::warning("e.js", None, "odd");
        assert_eq!(d.to_string(), "e.js: odd");
    }
}
