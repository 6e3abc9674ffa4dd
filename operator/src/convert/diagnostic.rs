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

/// One message about the input, printed as `error: FILE:LINE:COLUMN: message`
/// or `warning: ...` (without `LINE:COLUMN` when no position is known, e.g.
/// for JavaScript files). Every line of a message of several lines starts
/// with the severity too, so a reader can filter stderr by it.
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

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut lines = self.message.lines();
        let first = lines.next().unwrap_or_default();
        match self.pos {
            Some(Pos { line, column }) => write!(
                f,
                "{}: {}:{line}:{column}: {first}",
                self.severity, self.file
            )?,
            None => write!(f, "{}: {}: {first}", self.severity, self.file)?,
        }
        for line in lines {
            write!(f, "\n{}: {}:   {line}", self.severity, self.file)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_position_when_known() {
        let d = Diagnostic::error("e.json", Some(Pos { line: 3, column: 7 }), "bad");
        assert_eq!(d.to_string(), "error: e.json:3:7: bad");
        let d = Diagnostic::warning("e.js", None, "odd\n  more");
        assert_eq!(d.to_string(), "warning: e.js: odd\nwarning: e.js:     more");
    }
}
