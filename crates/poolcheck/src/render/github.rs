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

use poolcheck_core::{Diagnostic, Severity};
use poolcheck_rules::registry;
use poolcheck_rules::sources::Sources;

use super::concise::full_text;
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

pub fn render(diagnostics: &[Diagnostic], sources: &Sources) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let (start, end) = line_cols(&d.primary, sources);
        let mut properties = format!(
            "file={},line={}",
            escape_property(&d.primary.file.to_string()),
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
        let title = match registry::by_code(d.code) {
            Some(rule) => format!("{} ({})", d.code, rule.meta.name),
            None => d.code.to_owned(),
        };
        let _ = writeln!(
            out,
            "::{} {properties},title={}::{}",
            command(d.severity),
            escape_property(&title),
            escape_data(&full_text(d, sources))
        );
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
            "PC101",
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
