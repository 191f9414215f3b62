//! A finding's identity across commits, for the CI formats that compare one
//! pipeline's report with the next (GitLab's fingerprints, SARIF's partial
//! fingerprints, JUnit's test names).
//!
//! The identity is the rule code, the file and the *setting* the finding is
//! about — the source text under its primary range with every number blanked
//! (`pool_size=#, max_overflow=#`). Line numbers and messages are left out on
//! purpose: messages quote values and `file:line` provenance, so inserting a
//! line above a pool, or raising `workers` from 4 to 8, would otherwise make
//! every CI system report the finding as fixed and a new one as introduced.

use poolcheck_core::Diagnostic;
use poolcheck_rules::sources::Sources;

/// The setting a finding is about, with numbers blanked and white space
/// folded; the code alone when the file's text is not at hand.
pub fn setting_key(diagnostic: &Diagnostic, sources: &Sources) -> String {
    let Some(file) = sources.get(&diagnostic.primary.file) else {
        return String::new();
    };
    let text = file.slice(diagnostic.primary.span);
    let mut key = String::with_capacity(text.len());
    let mut in_number = false;
    let mut in_space = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                key.push('#');
            }
            in_number = true;
            in_space = false;
        } else if c.is_whitespace() {
            in_number = false;
            if !in_space && !key.is_empty() {
                key.push(' ');
            }
            in_space = true;
        } else {
            in_number = false;
            in_space = false;
            key.push(c);
        }
    }
    let trimmed = key.trim_end().len();
    key.truncate(trimmed);
    key
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use poolcheck_core::{Severity, SourceFile, Span};

    use super::*;

    fn key_of(text: &str, needle: &str) -> String {
        let file = Arc::new(SourceFile::new("app/db.py", text));
        let start = text.find(needle).expect("needle in text");
        let d = Diagnostic::new(
            poolcheck_core::Code::PC101,
            Severity::Error,
            file.location(Span::new(start, start + needle.len())),
            "message",
        );
        let mut sources = Sources::default();
        sources.insert(file);
        setting_key(&d, &sources)
    }

    #[test]
    fn numbers_and_layout_do_not_change_the_key() {
        assert_eq!(
            key_of(
                "e = create_engine(u, pool_size=15, max_overflow=30)\n",
                "pool_size=15, max_overflow=30"
            ),
            "pool_size=#, max_overflow=#"
        );
        assert_eq!(
            key_of(
                "\n\ne = create_engine(u, pool_size=150,\n   max_overflow=3)\n",
                "pool_size=150,\n   max_overflow=3"
            ),
            "pool_size=#, max_overflow=#"
        );
    }

    #[test]
    fn different_settings_have_different_keys() {
        assert_ne!(
            key_of("workers = 4\n", "workers = 4"),
            key_of("threads = 4\n", "threads = 4")
        );
    }
}
