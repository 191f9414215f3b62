//! `--format gitlab`: a GitLab Code Quality report (a JSON array of issues in
//! the Code Climate shape), for `artifacts: reports: codequality:`.
//!
//! Severity mapping: error → `major`, warning → `minor`, info → `info`.
//! `critical` and `blocker` are left to security scanners, which share the
//! merge-request widget with us.
//!
//! GitLab matches issues between the base and the head pipeline by their
//! fingerprint alone, so it must be unique within a report and stable while
//! code moves: it hashes the path, the code and the setting the finding is
//! about ([`identity::setting_key`]), never the line or the message (which
//! quotes values and `file:line` provenance). Findings that hash alike (the
//! same setting twice in one file) are told apart by a counter salted into
//! the hash, in report order.

use std::collections::HashSet;

use poolcheck_core::{Diagnostic, Severity};
use poolcheck_rules::sources::Sources;
use serde_json::{Value, json};

use super::{identity, line_cols};

/// 64-bit FNV-1a: tiny, and its output depends on nothing but the bytes,
/// unlike std's randomly seeded hasher.
#[derive(Clone, Copy)]
struct Fnv1a(u64);

impl Fnv1a {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    fn new() -> Self {
        Self(Self::OFFSET_BASIS)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }

    /// A field followed by a separator that no UTF-8 text contains, so that
    /// ("ab", "c") and ("a", "bc") hash differently.
    fn write_field(&mut self, text: &str) {
        self.write(text.as_bytes());
        self.write(&[0xff]);
    }
}

/// One fingerprint per diagnostic, in the same order, unique within the
/// list: 16 lowercase hex digits.
pub fn fingerprints(diagnostics: &[Diagnostic], sources: &Sources) -> Vec<String> {
    let mut seen = HashSet::with_capacity(diagnostics.len());
    diagnostics
        .iter()
        .map(|d| {
            let mut base = Fnv1a::new();
            base.write_field(&d.primary.file.to_string());
            base.write_field(d.code);
            base.write_field(&identity::setting_key(d, sources));
            let mut hash = base.0;
            let mut salt: u64 = 0;
            while !seen.insert(hash) {
                salt += 1;
                let mut salted = base;
                salted.write(&salt.to_le_bytes());
                hash = salted.0;
            }
            format!("{hash:016x}")
        })
        .collect()
}

fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "major",
        Severity::Warning => "minor",
        Severity::Info => "info",
    }
}

pub fn render(diagnostics: &[Diagnostic], sources: &Sources) -> String {
    let issues: Vec<Value> = diagnostics
        .iter()
        .zip(fingerprints(diagnostics, sources))
        .map(|(d, fingerprint)| {
            let (start, end) = line_cols(&d.primary, sources);
            json!({
                "type": "issue",
                "check_name": d.code,
                "description": format!("{}: {}", d.code, d.message),
                "severity": severity(d.severity),
                "fingerprint": fingerprint,
                "location": {
                    "path": d.primary.file.to_string(),
                    "lines": {"begin": start.line, "end": end.line},
                },
            })
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&issues).unwrap_or_else(|_| "[]".to_owned());
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use poolcheck_core::{SourceFile, Span};

    use super::*;
    use crate::render::fixture;

    #[test]
    fn gitlab_output_snapshot() {
        let sources = fixture::sources();
        insta::assert_snapshot!(render(&fixture::diagnostics(&sources), &sources));
    }

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        let hash = |bytes: &[u8]| {
            let mut h = Fnv1a::new();
            h.write(bytes);
            h.0
        };
        assert_eq!(hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hash(b"foobar"), 0x8594_4171_f739_67e8);
    }

    fn repeated(lines: &[u32]) -> (Sources, Vec<Diagnostic>) {
        let text = "[pgbouncer]\n".repeat(20);
        let file = Arc::new(SourceFile::new("pgbouncer.ini", text));
        let diagnostics = lines
            .iter()
            .map(|&line| {
                let span: Span = file.line_span(line).expect("line exists");
                Diagnostic::new(
                    poolcheck_core::Code::PC002,
                    Severity::Error,
                    file.location(span),
                    "duplicate section `[pgbouncer]`",
                )
            })
            .collect();
        let mut sources = Sources::default();
        sources.insert(file);
        (sources, diagnostics)
    }

    #[test]
    fn fingerprints_are_the_same_on_every_run() {
        let sources = fixture::sources();
        let diagnostics = fixture::diagnostics(&sources);
        assert_eq!(
            fingerprints(&diagnostics, &sources),
            fingerprints(&diagnostics, &sources)
        );
        // Pinned, so a change of hash or of hashed fields shows up here: it
        // would make GitLab report every finding as new.
        assert_eq!(
            fingerprints(&diagnostics[..1], &sources),
            ["49a587fdbca88013"]
        );
    }

    #[test]
    fn identical_settings_on_different_lines_get_distinct_fingerprints() {
        let (sources, diagnostics) = repeated(&[2, 5, 9]);
        let prints = fingerprints(&diagnostics, &sources);
        let unique: HashSet<_> = prints.iter().collect();
        assert_eq!(unique.len(), 3, "{prints:?}");
    }

    #[test]
    fn fingerprints_do_not_depend_on_line_numbers() {
        let (sources, before) = repeated(&[2, 5]);
        let (_, after) = repeated(&[7, 15]);
        assert_eq!(
            fingerprints(&before, &sources),
            fingerprints(&after, &sources)
        );
    }

    #[test]
    fn fingerprints_do_not_depend_on_the_message() {
        // Messages quote values and `file:line` provenance, which move with
        // every unrelated edit.
        let sources = fixture::sources();
        let original = fixture::diagnostics(&sources).swap_remove(0);
        let mut reworded = original.clone();
        reworded.message = format!("{} (app/db.py:99)", original.message);
        assert_eq!(
            fingerprints(std::slice::from_ref(&original), &sources),
            fingerprints(&[reworded], &sources)
        );
    }

    #[test]
    fn fingerprints_change_with_path_code_or_setting() {
        let sources = fixture::sources();
        let original = fixture::diagnostics(&sources).swap_remove(0);
        let base = fingerprints(std::slice::from_ref(&original), &sources);
        let mut other_code = original.clone();
        other_code.code = "PC005";
        let mut other_file = original.clone();
        other_file.primary.file = "app/other.py".into();
        let mut other_setting = original.clone();
        other_setting.primary.span = Span::new(0, 4);
        for changed in [other_code, other_file, other_setting] {
            assert_ne!(fingerprints(&[changed], &sources), base);
        }
    }

    #[test]
    fn report_lists_lines_and_mapped_severities() {
        let sources = fixture::sources();
        let report: Value =
            serde_json::from_str(&render(&fixture::diagnostics(&sources), &sources))
                .expect("valid JSON");
        let severities: Vec<_> = report
            .as_array()
            .expect("an array")
            .iter()
            .map(|i| i["severity"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(severities, ["info", "major", "minor", "major"]);
        assert_eq!(
            report[1]["location"]["lines"],
            json!({"begin": 5, "end": 5})
        );
        assert_eq!(report[2]["location"]["path"], "déploiement/pgbouncer.ini");
    }

    #[test]
    fn a_clean_run_is_an_empty_array() {
        assert_eq!(render(&[], &Sources::default()), "[]\n");
    }
}
