//! Collects every diagnostic of one conversion, so all problems are shown
//! at once and nothing is printed unless the whole file converts.

use super::diagnostic::{Diagnostic, Pos};

pub struct Report {
    file: String,
    items: Vec<Diagnostic>,
}

impl Report {
    pub fn new(file: &str) -> Self {
        Report {
            file: file.to_string(),
            items: Vec::new(),
        }
    }

    pub fn error(&mut self, pos: Option<Pos>, message: impl Into<String>) {
        let d = Diagnostic::error(&self.file, pos, message);
        self.items.push(d);
    }

    pub fn warning(&mut self, pos: Option<Pos>, message: impl Into<String>) {
        let d = Diagnostic::warning(&self.file, pos, message);
        self.items.push(d);
    }

    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.is_error()).count()
    }

    pub fn into_items(self) -> Vec<Diagnostic> {
        self.items
    }
}

/// `apps[0]` + `kill_timeout` = `apps[0].kill_timeout`; an app at the top
/// of the file has no prefix.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// A key as messages show it: a key of a megabyte is cut, not echoed.
pub fn shown_key(key: &str) -> String {
    const MAX: usize = 60;
    match key.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}... ({} characters)", &key[..cut], key.chars().count()),
        None => key.to_string(),
    }
}
