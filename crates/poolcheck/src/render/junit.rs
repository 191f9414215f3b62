//! `--format junit`: a JUnit XML report, which GitLab, Jenkins, Azure
//! Pipelines and most CI dashboards display as test results.
//!
//! One `<testsuite>` per file with findings (named by the path), one failing
//! `<testcase>` per finding (named `CODE: message`, classname the path, with
//! `file` and `line`), whose `<failure>` holds the full text: position,
//! severity, message, related locations and help. A clean run is one passing
//! test case, so that dashboards show success rather than "no tests".

use std::collections::BTreeMap;
use std::fmt::Write as _;

use poolcheck_core::{Diagnostic, FilePath};
use poolcheck_rules::sources::Sources;

use super::concise::{full_text, position};
use super::line_cols;

/// Escapes text for XML content and double-quoted attributes. Line breaks
/// and tabs become character references so attribute values keep them;
/// characters XML 1.0 cannot carry at all become U+FFFD.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            _ => out.push(c),
        }
    }
    out
}

/// Escapes multi-line content, keeping its line breaks readable in the file.
fn escape_content(text: &str) -> String {
    escape(text).replace("&#10;", "\n")
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

pub fn render(diagnostics: &[Diagnostic], sources: &Sources) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    if diagnostics.is_empty() {
        out.push_str(
            "<testsuites name=\"poolcheck\" tests=\"1\" failures=\"0\" errors=\"0\">\n  \
             <testsuite name=\"poolcheck\" tests=\"1\" failures=\"0\" errors=\"0\" skipped=\"0\">\n    \
             <testcase name=\"no findings\" classname=\"poolcheck\"/>\n  \
             </testsuite>\n\
             </testsuites>\n",
        );
        return out;
    }
    let _ = writeln!(
        out,
        "<testsuites name=\"poolcheck\" tests=\"{0}\" failures=\"{0}\" errors=\"0\">",
        diagnostics.len()
    );
    let mut by_file: BTreeMap<&FilePath, Vec<&Diagnostic>> = BTreeMap::new();
    for d in diagnostics {
        by_file.entry(&d.primary.file).or_default().push(d);
    }
    for (file, group) in by_file {
        let path = escape(&file.to_string());
        let _ = writeln!(
            out,
            "  <testsuite name=\"{path}\" tests=\"{0}\" failures=\"{0}\" errors=\"0\" skipped=\"0\">",
            group.len()
        );
        for d in group {
            let (start, _) = line_cols(&d.primary, sources);
            let summary = first_line(&d.message);
            let _ = writeln!(
                out,
                "    <testcase name=\"{}\" classname=\"{path}\" file=\"{path}\" line=\"{}\">",
                escape(&format!("{}: {summary}", d.code)),
                start.line
            );
            let body = format!(
                "{}: {} {}: {}",
                position(&d.primary, sources),
                d.code,
                d.severity,
                full_text(d, sources)
            );
            let _ = writeln!(
                out,
                "      <failure message=\"{}\" type=\"{}\">{}</failure>",
                escape(&d.message),
                escape(d.code),
                escape_content(&body)
            );
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::fixture;

    #[test]
    fn junit_output_snapshot() {
        let sources = fixture::sources();
        insta::assert_snapshot!(render(&fixture::diagnostics(&sources), &sources));
    }

    #[test]
    fn junit_clean_run_snapshot() {
        insta::assert_snapshot!(render(&[], &Sources::default()));
    }

    #[test]
    fn escaping_covers_markup_quotes_and_control_characters() {
        assert_eq!(
            escape("a < b && c > \"d\" 'e'\n\tf\u{7}"),
            "a &lt; b &amp;&amp; c &gt; &quot;d&quot; &apos;e&apos;&#10;&#9;f\u{fffd}"
        );
        assert_eq!(escape_content("one & two\nthree"), "one &amp; two\nthree");
    }

    #[test]
    fn one_suite_per_file_with_its_counts() {
        let sources = fixture::sources();
        let output = render(&fixture::diagnostics(&sources), &sources);
        let suites: Vec<_> = output
            .lines()
            .filter(|l| l.trim_start().starts_with("<testsuite "))
            .map(str::trim)
            .collect();
        assert_eq!(
            suites,
            [
                "<testsuite name=\"app/db.py\" tests=\"2\" failures=\"2\" errors=\"0\" skipped=\"0\">",
                "<testsuite name=\"déploiement/pgbouncer.ini\" tests=\"1\" failures=\"1\" errors=\"0\" skipped=\"0\">",
                "<testsuite name=\"postgres/postgresql.conf\" tests=\"1\" failures=\"1\" errors=\"0\" skipped=\"0\">",
            ]
        );
        assert!(
            output.contains(
                "<testsuites name=\"poolcheck\" tests=\"4\" failures=\"4\" errors=\"0\">"
            )
        );
    }
}
