//! `--format concise`: one `file:line:col: CODE message` line per finding and
//! nothing else, for grep, editors' quickfix lists and `wc -l`.
//!
//! Also home of the plain-text pieces the CI formats share: a location as
//! `file:line:col` and the details (related locations, help, fix) under a
//! message.

use std::fmt::Write as _;

use poolcheck_core::{Diagnostic, Location};
use poolcheck_rules::sources::Sources;

use super::line_cols;

/// `file:line:col` of the start of a location.
pub fn position(location: &Location, sources: &Sources) -> String {
    let (start, _) = line_cols(location, sources);
    format!("{}:{}:{}", location.file, start.line, start.column)
}

/// The message and everything the human output shows around it, as plain
/// lines: each related location, the help and the fix title.
pub fn full_text(d: &Diagnostic, sources: &Sources) -> String {
    let mut text = d.message.clone();
    for related in &d.related {
        let _ = write!(
            text,
            "\n  {}: {}",
            position(&related.location, sources),
            related.message
        );
    }
    if let Some(help) = &d.help {
        let _ = write!(text, "\nhelp: {help}");
    }
    if let Some(fix) = &d.fix {
        let _ = write!(text, "\n{}", super::human::fix_line(fix));
    }
    text
}

/// Line breaks inside a message would start a new record; they become spaces.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn render(diagnostics: &[Diagnostic], sources: &Sources) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let _ = writeln!(
            out,
            "{}: {} {}",
            position(&d.primary, sources),
            d.code,
            one_line(&d.message)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::fixture;

    #[test]
    fn concise_output_snapshot() {
        let sources = fixture::sources();
        insta::assert_snapshot!(render(&fixture::diagnostics(&sources), &sources));
    }

    #[test]
    fn a_clean_run_prints_nothing() {
        assert_eq!(render(&[], &fixture::sources()), "");
    }

    #[test]
    fn full_text_lists_related_locations_help_and_fix() {
        let sources = fixture::sources();
        let diagnostics = fixture::diagnostics(&sources);
        assert_eq!(
            full_text(&diagnostics[1], &sources),
            "8 workers × (pool_size 20 + max_overflow 10) = 240 connections, over the 97 that max_connections allows\n  \
             gunicorn.conf.py:2:1: 8 workers\n  \
             postgres/postgresql.conf:1:1: max_connections = 100\n\
             help: lower pool_size to 9 or less, or put PgBouncer in front of the database"
        );
        assert_eq!(
            full_text(&diagnostics[2], &sources),
            "default_pool_size 95 leaves 2 of 97 usable connections free (2%, below the 10% headroom)\n\
             fix available: set default_pool_size to 87"
        );
    }
}
