//! `--format junit`: a JUnit XML report, which GitLab, Jenkins, Azure
//! Pipelines and most CI dashboards display as test results.
//!
//! One `<testsuite>` per file with findings (named by the path), one
//! `<testcase>` per finding, named by its code and the setting it is about
//! (`PC101: pool_size=#, max_overflow=#`, never a line number or the message,
//! so that dashboards track the same test across commits), classname the
//! path, with `file` and `line`. A finding at or above `--fail-on` fails its
//! test case with a `<failure>` holding the full text: position, severity,
//! message, related locations and help; one below it passes, with that text
//! as `<system-out>`, so a run that exits 0 never shows failing tests. A clean
//! run is one passing test case, so that dashboards show success rather than
//! "no tests".

use std::collections::BTreeMap;
use std::fmt::Write as _;

use poolcheck_core::{Diagnostic, FilePath, Severity};
use poolcheck_rules::sources::Sources;

use super::concise::{full_text, position};
use super::{identity, line_cols};

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

/// `CODE: setting`, or the code alone when the setting's text is unknown.
fn test_name(diagnostic: &Diagnostic, sources: &Sources) -> String {
    let key = identity::setting_key(diagnostic, sources);
    if key.is_empty() {
        diagnostic.code.to_string()
    } else {
        format!("{}: {key}", diagnostic.code)
    }
}

pub fn render(diagnostics: &[Diagnostic], sources: &Sources, fail_on: Severity) -> String {
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
    let failing = |d: &Diagnostic| d.severity >= fail_on;
    let _ = writeln!(
        out,
        "<testsuites name=\"poolcheck\" tests=\"{}\" failures=\"{}\" errors=\"0\">",
        diagnostics.len(),
        diagnostics.iter().filter(|d| failing(d)).count()
    );
    let mut by_file: BTreeMap<&FilePath, Vec<&Diagnostic>> = BTreeMap::new();
    for d in diagnostics {
        by_file.entry(&d.primary.file).or_default().push(d);
    }
    for (file, group) in by_file {
        let path = escape(&file.to_string());
        let _ = writeln!(
            out,
            "  <testsuite name=\"{path}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"0\">",
            group.len(),
            group.iter().filter(|d| failing(d)).count()
        );
        for d in group {
            let (start, _) = line_cols(&d.primary, sources);
            let _ = writeln!(
                out,
                "    <testcase name=\"{}\" classname=\"{path}\" file=\"{path}\" line=\"{}\">",
                escape(&test_name(d, sources)),
                start.line
            );
            let body = format!(
                "{}: {} {}: {}",
                position(&d.primary, sources),
                d.code,
                d.severity,
                full_text(d, sources)
            );
            if failing(d) {
                let _ = writeln!(
                    out,
                    "      <failure message=\"{}\" type=\"{}\">{}</failure>",
                    escape(&d.message),
                    escape(d.code),
                    escape_content(&body)
                );
            } else {
                let _ = writeln!(
                    out,
                    "      <system-out>{}</system-out>",
                    escape_content(&body)
                );
            }
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
        insta::assert_snapshot!(render(
            &fixture::diagnostics(&sources),
            &sources,
            Severity::Warning
        ));
    }

    #[test]
    fn junit_clean_run_snapshot() {
        insta::assert_snapshot!(render(&[], &Sources::default(), Severity::Warning));
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
    fn findings_below_fail_on_pass_with_their_text() {
        let sources = fixture::sources();
        let diagnostics = fixture::diagnostics(&sources);
        let only_errors = render(&diagnostics, &sources, Severity::Error);
        let errors = diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        assert!(only_errors.contains(&format!(
            "<testsuites name=\"poolcheck\" tests=\"{}\" failures=\"{errors}\" errors=\"0\">",
            diagnostics.len()
        )));
        assert_eq!(only_errors.matches("<failure ").count(), errors);
        assert_eq!(
            only_errors.matches("<system-out>").count(),
            diagnostics.len() - errors
        );
        let everything = render(&diagnostics, &sources, Severity::Info);
        assert_eq!(everything.matches("<failure ").count(), diagnostics.len());
    }

    #[test]
    fn test_names_carry_no_line_numbers() {
        let sources = fixture::sources();
        let output = render(&fixture::diagnostics(&sources), &sources, Severity::Info);
        for name in output
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("<testcase name=\""))
        {
            let name = name.split('"').next().unwrap_or_default();
            let (code, setting) = name.split_once(": ").unwrap_or((name, ""));
            assert!(code.starts_with("PC"), "{name}");
            assert!(!setting.chars().any(|c| c.is_ascii_digit()), "{name}");
        }
    }

    #[test]
    fn one_suite_per_file_with_its_counts() {
        let sources = fixture::sources();
        let output = render(&fixture::diagnostics(&sources), &sources, Severity::Info);
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
