//! `--format github`: GitHub Actions workflow commands, which the runner turns
//! into annotations on the pull request's changed lines:
//!
//! ```text
//! ::error file=app/db.py,line=5,col=5,endLine=5,endColumn=17,title=PC101 (db-connections-exceeded)::8 workers × …
//! ```
//!
//! Errors become `::error`, warnings `::warning` and infos `::notice`. The
//! message carries the related locations and the help on further lines.
//!
//! GitHub shows at most 10 annotations of each type per step (and 50 per
//! job); the rest are only counted in the log. Run `poolcheck check` a
//! second time with another format (or upload SARIF) when a project has more.

use std::fmt::Write as _;

use std::collections::HashSet;

use poolcheck_core::{Diagnostic, Location, Severity};
use poolcheck_rules::registry;
use poolcheck_rules::sources::Sources;

use super::concise::{full_text, position};
use super::line_cols;

fn command(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "notice",
    }
}

/// Escapes a command's message, as the runner unescapes it.
fn escape_data(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            _ => out.push(c),
        }
    }
    out
}

/// Escapes a property value, where `:` and `,` are separators too.
fn escape_property(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            ':' => out.push_str("%3A"),
            ',' => out.push_str("%2C"),
            _ => out.push(c),
        }
    }
    out
}

/// `file=…,line=…[,col=…,endLine=…,endColumn=…]` of a location.
fn position_properties(location: &Location, sources: &Sources) -> String {
    let (start, end) = line_cols(location, sources);
    let mut properties = format!(
        "file={},line={}",
        escape_property(&location.file.to_string()),
        start.line
    );
    // The runner rejects columns on an annotation that spans lines.
    if start.line == end.line {
        let _ = write!(
            properties,
            ",col={},endLine={},endColumn={}",
            start.column, end.line, end.column
        );
    } else {
        let _ = write!(properties, ",endLine={}", end.line);
    }
    properties
}

/// Budget findings (PC1xx) are decided by settings in several files, and a
/// pull request may change only one of them (`workers` in gunicorn.conf.py):
/// GitHub shows annotations only on lines the pull request touches, so each
/// factor's own line gets one too, pointing back at the finding.
fn is_budget_finding(d: &Diagnostic) -> bool {
    d.code.starts_with("PC1")
}

pub fn render(diagnostics: &[Diagnostic], sources: &Sources) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let title = match registry::by_code(d.code) {
            Some(rule) => format!("{} ({})", d.code, rule.meta.name),
            None => d.code.to_owned(),
        };
        let _ = writeln!(
            out,
            "::{} {},title={}::{}",
            command(d.severity),
            position_properties(&d.primary, sources),
            escape_property(&title),
            escape_data(&full_text(d, sources))
        );
        if !is_budget_finding(d) {
            continue;
        }
        let primary_line = (&d.primary.file, line_cols(&d.primary, sources).0.line);
        let mut annotated = HashSet::from([primary_line]);
        for related in &d.related {
            let line = line_cols(&related.location, sources).0.line;
            if sources.get(&related.location.file).is_none()
                || !annotated.insert((&related.location.file, line))
            {
                continue;
            }
            let _ = writeln!(
                out,
                "::{} {},title={}::{}",
                command(d.severity),
                position_properties(&related.location, sources),
                escape_property(&format!("{title} factor")),
                escape_data(&format!(
                    "{} is a factor of {} at {}: {}",
                    related.message,
                    d.code,
                    position(&d.primary, sources),
                    d.message
                ))
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use poolcheck_core::{Location, Span};

    use super::*;
    use crate::render::fixture;

    #[test]
    fn github_output_snapshot() {
        let sources = fixture::sources();
        insta::assert_snapshot!(render(&fixture::diagnostics(&sources), &sources));
    }

    #[test]
    fn every_factor_line_of_a_budget_finding_is_annotated_once() {
        let sources = fixture::sources();
        let output = render(&fixture::diagnostics(&sources), &sources);
        let budget = fixture::diagnostics(&sources)
            .into_iter()
            .find(|d| d.code.starts_with("PC1"))
            .expect("the fixture has a budget finding");
        let factor_lines: Vec<&str> = output
            .lines()
            .filter(|l| l.contains(&format!("title={} (", budget.code)) && l.contains(") factor::"))
            .collect();
        // One per related location on a line of its own (the fixture's are
        // in other files than the primary range).
        assert_eq!(factor_lines.len(), budget.related.len(), "{output}");
        assert!(
            factor_lines
                .iter()
                .any(|l| l.contains(&format!("file={}", fixture::GUNICORN))),
            "{output}"
        );
        // The finding itself still appears exactly once.
        let primary = output
            .lines()
            .filter(|l| {
                l.contains(&format!("title={} (", budget.code)) && !l.contains(") factor::")
            })
            .count();
        assert_eq!(primary, 1);
    }

    #[test]
    fn message_escaping_keeps_separators_and_line_breaks_intact() {
        assert_eq!(
            escape_data("50% done\r\nnext: a, b"),
            "50%25 done%0D%0Anext: a, b"
        );
        assert_eq!(escape_property("C:\\a,b%\n"), "C%3A\\a%2Cb%25%0A");
    }

    #[test]
    fn nasty_message_is_one_command_line() {
        let sources = fixture::sources();
        let output = render(&fixture::diagnostics(&sources), &sources);
        let line = output
            .lines()
            .find(|l| l.contains("PC002"))
            .expect("the PC002 finding is rendered");
        assert_eq!(
            line,
            "::error file=postgres/postgresql.conf,line=2,col=34,endLine=2,endColumn=38,\
             title=PC002 (invalid-setting)::invalid value `50%25` for `superuser_reserved_connections`: \
             expected an integer, got \"half\" & <unset>%0Asee the 'reserved' notes"
        );
    }

    #[test]
    fn multi_line_spans_carry_no_columns() {
        let sources = fixture::sources();
        let db = sources.get(&fixture::DB_PY.into()).expect("fixture file");
        let start = db.text().find("create_engine(").expect("call");
        let d = Diagnostic::new(
            poolcheck_core::Code::PC101,
            Severity::Warning,
            Location::new(db.path().clone(), Span::new(start, db.text().len() - 1)),
            "spans the call",
        );
        assert_eq!(
            render(&[d], &sources),
            "::warning file=app/db.py,line=3,endLine=7,title=PC101 (db-connections-exceeded)::spans the call\n"
        );
    }
}
