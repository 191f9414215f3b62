//! The texts of every file read, so that locations can be printed as
//! `file:line` in messages and rendered as snippets.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::sync::Arc;

use poolcheck_core::{FilePath, Location, Origin, SourceFile, Sourced};

#[derive(Debug, Clone, Default)]
pub struct Sources {
    files: BTreeMap<FilePath, Arc<SourceFile>>,
}

impl Sources {
    pub fn insert(&mut self, file: Arc<SourceFile>) {
        self.files.insert(file.path().clone(), file);
    }

    pub fn get(&self, path: &FilePath) -> Option<&Arc<SourceFile>> {
        self.files.get(path)
    }

    pub fn remove(&mut self, path: &FilePath) -> Option<Arc<SourceFile>> {
        self.files.remove(path)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<SourceFile>> {
        self.files.values()
    }

    /// `path:line` of a location (just the path when the file is unknown).
    pub fn describe(&self, location: &Location) -> String {
        match self.files.get(&location.file) {
            Some(file) => format!(
                "{}:{}",
                location.file,
                file.line_col(location.span.start as usize).line
            ),
            None => location.file.to_string(),
        }
    }

    /// A value with its provenance for a message: `8 workers (gunicorn.conf.py:2)`,
    /// `pool_size 5 (SQLAlchemy default)`, `12 workers (default of $GUNICORN_WORKERS,
    /// gunicorn.conf.py:3)`. `render` turns the value into the quoted phrase.
    pub fn quote<T>(&self, value: &Sourced<T>, render: impl FnOnce(&T) -> String) -> String {
        let Some(v) = &value.value else {
            let reason = value.unknown_reason().unwrap_or("unknown");
            return format!("unknown ({reason})");
        };
        let text = render(v);
        let mut notes = Vec::new();
        match &value.origin {
            Origin::Literal | Origin::Declared => {}
            Origin::ToolDefault { tool } => notes.push(format!("{tool} default")),
            Origin::EnvDefault { var } => notes.push(format!("default of ${var}")),
            Origin::EnvValue { var, source } => notes.push(format!("${var} from {source}")),
            Origin::Computed { expr } => notes.push(format!("= {expr}")),
            Origin::Unknown { reason } => notes.push(reason.clone()),
        }
        if let Some(loc) = &value.location {
            notes.push(self.describe(loc));
        }
        if notes.is_empty() {
            text
        } else {
            format!("{text} ({})", notes.join(", "))
        }
    }

    /// Shorthand for values that print themselves followed by a noun.
    pub fn quote_with<T: Display>(&self, value: &Sourced<T>, noun: &str) -> String {
        self.quote(value, |v| {
            if noun.is_empty() {
                v.to_string()
            } else {
                format!("{v} {noun}")
            }
        })
    }
}
