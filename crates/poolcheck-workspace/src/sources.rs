//! The texts of every file read, so that locations can be printed as
//! `file:line` in messages and rendered as snippets.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;
use std::sync::Arc;

use poolcheck_core::{FilePath, Location, SourceFile, Sourced};

/// What every suppression comment holds (`# poolcheck: ignore[PC101]`).
pub const SUPPRESSION_MARKER: &str = "poolcheck:";

#[derive(Debug, Clone, Default)]
pub struct Sources {
    files: BTreeMap<FilePath, Arc<SourceFile>>,
    /// The files whose text holds [`SUPPRESSION_MARKER`], found once per
    /// text when it is inserted: every analysis reads the suppressions, and
    /// searching every text again for each (the language server's edits in
    /// a 21k-file tree) cost more than the rest of the analysis.
    with_marker: BTreeSet<FilePath>,
}

impl Sources {
    pub fn insert(&mut self, file: Arc<SourceFile>) {
        if file.text().contains(SUPPRESSION_MARKER) {
            self.with_marker.insert(file.path().clone());
        } else {
            self.with_marker.remove(file.path());
        }
        self.files.insert(file.path().clone(), file);
    }

    pub fn get(&self, path: &FilePath) -> Option<&Arc<SourceFile>> {
        self.files.get(path)
    }

    pub fn remove(&mut self, path: &FilePath) -> Option<Arc<SourceFile>> {
        self.with_marker.remove(path);
        self.files.remove(path)
    }

    /// The files that may hold suppression comments: those whose text
    /// mentions [`SUPPRESSION_MARKER`], in path order.
    pub fn with_suppression_marker(&self) -> impl Iterator<Item = &Arc<SourceFile>> {
        self.with_marker
            .iter()
            .filter_map(|path| self.files.get(path))
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
        self.annotate(render(v), value, None)
    }

    /// `text (provenance, file:line)`: `text` followed by how `value` was
    /// decided and where it is written (`fallback` when it is written nowhere).
    pub fn annotate<T>(
        &self,
        text: String,
        value: &Sourced<T>,
        fallback: Option<&Location>,
    ) -> String {
        let notes = self.provenance_at(value, fallback);
        if notes.is_empty() {
            text
        } else {
            format!("{text} ({notes})")
        }
    }

    /// How a value was decided and where it is written, for a parenthesis
    /// after it: `gunicorn.conf.py:5`, `default of $X, entrypoint.sh:10`,
    /// `gunicorn default`; empty for a literal written nowhere.
    pub fn provenance<T>(&self, value: &Sourced<T>) -> String {
        self.provenance_at(value, None)
    }

    fn provenance_at<T>(&self, value: &Sourced<T>, fallback: Option<&Location>) -> String {
        let mut notes = Vec::new();
        if let Some(phrase) = value.origin_phrase() {
            notes.push(phrase);
        }
        if let Some(loc) = value.location.as_ref().or(fallback) {
            notes.push(self.describe(loc));
        }
        notes.join(", ")
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
