//! `--format sarif`: a SARIF 2.1.0 log for GitHub code scanning and other
//! SARIF viewers.
//!
//! One run; its driver lists every rule of the registry, so that viewers can
//! show a rule's documentation for any result. Paths are relative to the
//! directory poolcheck ran in, which the log names `%SRCROOT%`. Columns count
//! characters (`columnKind: unicodeCodePoints`), as in every other format.
//! Related locations are linked from the message text (`[file:line](id)`),
//! which is how GitHub decides to show them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use poolcheck_core::{Diagnostic, FilePath, Location, Severity};
use poolcheck_rules::registry::{self, RuleMeta};
use poolcheck_rules::sources::Sources;
use serde_json::{Map, Value, json};

use super::gitlab::fingerprints;
use super::line_cols;

pub const SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";
const SRCROOT: &str = "%SRCROOT%";

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// Percent-encodes everything but unreserved characters and `/`, so a path
/// is a valid URI path whatever it contains (spaces, `#`, `%`, non-ASCII).
fn percent_encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// A `file:` URI for an absolute path written with `/` separators
/// (`/srv/app` or, on Windows, `C:/app`).
fn file_uri(path: &str) -> String {
    let bytes = path.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        format!("file:///{}{}", &path[..2], percent_encode(&path[2..]))
    } else {
        format!("file://{}", percent_encode(path))
    }
}

/// The `%SRCROOT%` URI for the directory relative paths are relative to.
pub fn src_root_uri(dir: &Path) -> String {
    let mut uri = file_uri(&FilePath::new(dir).display_string());
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

fn artifact_location(file: &FilePath) -> Value {
    let path = file.display_string();
    if file.as_path().is_absolute() || path.starts_with('/') {
        json!({"uri": file_uri(&path)})
    } else {
        json!({"uri": percent_encode(&path), "uriBaseId": SRCROOT})
    }
}

fn region(location: &Location, sources: &Sources) -> Value {
    let (start, end) = line_cols(location, sources);
    json!({
        "startLine": start.line,
        "startColumn": start.column,
        "endLine": end.line,
        "endColumn": end.column,
    })
}

fn physical_location(location: &Location, sources: &Sources) -> Value {
    json!({
        "artifactLocation": artifact_location(&location.file),
        "region": region(location, sources),
    })
}

/// Square brackets would otherwise start an embedded link in message text.
fn escape_message(text: &str) -> String {
    text.replace('[', "\\[").replace(']', "\\]")
}

/// The message, a link to each related location and the help.
fn message_text(d: &Diagnostic, sources: &Sources) -> String {
    let mut text = escape_message(&d.message);
    for (id, related) in d.related.iter().enumerate() {
        let (start, _) = line_cols(&related.location, sources);
        let _ = write!(
            text,
            "\n- {}: [{}:{}]({id})",
            escape_message(&related.message),
            escape_message(&related.location.file.to_string()),
            start.line
        );
    }
    if let Some(help) = &d.help {
        let _ = write!(text, "\nhelp: {}", escape_message(help));
    }
    text
}

fn rule_descriptor(rule: &RuleMeta) -> Value {
    let url = rule.url();
    json!({
        "id": rule.code.as_str(),
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.what_it_does.trim()},
        "help": {
            "text": format!("{} See {url}", rule.summary),
            "markdown": rule.docs_page(),
        },
        "helpUri": url,
        "defaultConfiguration": {"level": level(rule.severity)},
    })
}

fn fixes(d: &Diagnostic, sources: &Sources) -> Option<Value> {
    let fix = d.fix.as_ref()?;
    // One artifactChange per file, its replacements in the fix's order.
    let mut by_file: BTreeMap<&FilePath, Vec<Value>> = BTreeMap::new();
    for edit in &fix.edits {
        by_file.entry(&edit.location.file).or_default().push(json!({
            "deletedRegion": region(&edit.location, sources),
            "insertedContent": {"text": edit.new_text},
        }));
    }
    let changes: Vec<Value> = by_file
        .into_iter()
        .map(|(file, replacements)| {
            json!({
                "artifactLocation": artifact_location(file),
                "replacements": replacements,
            })
        })
        .collect();
    Some(json!([{
        "description": {"text": fix.title},
        "artifactChanges": changes,
    }]))
}

fn result(
    d: &Diagnostic,
    sources: &Sources,
    rule_index: Option<usize>,
    fingerprint: &str,
) -> Value {
    let mut result = Map::new();
    result.insert("ruleId".into(), json!(d.code));
    if let Some(index) = rule_index {
        result.insert("ruleIndex".into(), json!(index));
    }
    result.insert("level".into(), json!(level(d.severity)));
    result.insert("message".into(), json!({"text": message_text(d, sources)}));
    let mut primary = json!({"physicalLocation": physical_location(&d.primary, sources)});
    if let Some(label) = &d.label {
        primary["message"] = json!({"text": escape_message(label)});
    }
    result.insert("locations".into(), json!([primary]));
    if !d.related.is_empty() {
        let related: Vec<Value> = d
            .related
            .iter()
            .enumerate()
            .map(|(id, r)| {
                json!({
                    "id": id,
                    "physicalLocation": physical_location(&r.location, sources),
                    "message": {"text": escape_message(&r.message)},
                })
            })
            .collect();
        result.insert("relatedLocations".into(), json!(related));
    }
    result.insert(
        "partialFingerprints".into(),
        json!({"poolcheckFingerprint/v1": fingerprint}),
    );
    if let Some(fixes) = fixes(d, sources) {
        result.insert("fixes".into(), fixes);
    }
    Value::Object(result)
}

/// The log for `diagnostics`, describing `rules`. `src_root` is the URI of
/// the directory relative paths start from, when known.
fn log(
    diagnostics: &[Diagnostic],
    sources: &Sources,
    rules: &[&RuleMeta],
    src_root: Option<&str>,
) -> Value {
    let results: Vec<Value> = diagnostics
        .iter()
        .zip(fingerprints(diagnostics, sources))
        .map(|(d, fingerprint)| {
            let index = rules.iter().position(|r| r.code == d.code);
            result(d, sources, index, &fingerprint)
        })
        .collect();
    let src_root = match src_root {
        Some(uri) => json!({"uri": uri}),
        None => json!({"description": {"text": "The directory poolcheck ran in."}}),
    };
    json!({
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "poolcheck",
                    "version": env!("CARGO_PKG_VERSION"),
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "informationUri": env!("CARGO_PKG_HOMEPAGE"),
                    "rules": rules.iter().map(|r| rule_descriptor(r)).collect::<Vec<_>>(),
                },
            },
            "originalUriBaseIds": {SRCROOT: src_root},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}

fn to_text(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "{}".to_owned());
    text.push('\n');
    text
}

/// The SARIF log with every rule of the registry. `working_dir` is where
/// relative paths start (the current directory).
pub fn render(diagnostics: &[Diagnostic], sources: &Sources, working_dir: Option<&Path>) -> String {
    let rules: Vec<&RuleMeta> = registry::all().iter().map(|r| &r.meta).collect();
    let src_root = working_dir.map(src_root_uri);
    to_text(&log(diagnostics, sources, &rules, src_root.as_deref()))
}

#[cfg(test)]
mod tests {
    use poolcheck_core::Code;
    use poolcheck_rules::registry::FixAvailability;

    use super::*;
    use crate::render::fixture;

    /// The published schema, shipped with the tests (origin in `tests/data/README.md`).
    const SCHEMA_PATH: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/sarif-schema-2.1.0.json"
    );

    const fn rule(code: Code, name: &'static str, severity: Severity) -> RuleMeta {
        RuleMeta {
            code,
            name,
            severity,
            summary: "Finds a problem.",
            fix: FixAvailability::None,
            what_it_does: "Finds a problem.",
            why: "Problems hurt.",
            example: "`x = 1`",
            fix_text: "Change it.",
            references: &[],
        }
    }

    /// Fixed metadata, so that the snapshot does not change whenever a rule's
    /// documentation does.
    const RULES: [RuleMeta; 4] = [
        rule(Code::PC002, "invalid-setting", Severity::Error),
        rule(Code::PC004, "unresolved-value", Severity::Info),
        rule(Code::PC101, "db-connections-exceeded", Severity::Error),
        rule(Code::PC102, "db-headroom-low", Severity::Warning),
    ];

    fn fixture_log() -> Value {
        let sources = fixture::sources();
        let rules: Vec<&RuleMeta> = RULES.iter().collect();
        log(
            &fixture::diagnostics(&sources),
            &sources,
            &rules,
            Some("file:///home/ci/project/"),
        )
    }

    fn schema_errors(log: &Value) -> Vec<String> {
        let schema_text = std::fs::read_to_string(SCHEMA_PATH)
            .unwrap_or_else(|e| panic!("cannot read the SARIF schema at {SCHEMA_PATH}: {e}"));
        let schema: Value = serde_json::from_str(&schema_text).expect("the schema is JSON");
        let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
        validator
            .iter_errors(log)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }

    fn assert_valid(log: &Value) {
        let errors = schema_errors(log);
        assert!(errors.is_empty(), "invalid SARIF:\n{}", errors.join("\n"));
    }

    #[test]
    fn sarif_output_snapshot() {
        let mut log = fixture_log();
        // The version changes with every release; the rest must not.
        let driver = &mut log["runs"][0]["tool"]["driver"];
        assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
        driver["version"] = json!("[version]");
        driver["semanticVersion"] = json!("[version]");
        insta::assert_snapshot!(to_text(&log));
    }

    #[test]
    fn sarif_output_matches_the_2_1_0_schema() {
        assert_valid(&fixture_log());
    }

    #[test]
    fn sarif_with_the_whole_registry_matches_the_schema() {
        let sources = fixture::sources();
        let text = render(
            &fixture::diagnostics(&sources),
            &sources,
            Some(Path::new("/home/ci/project")),
        );
        let log: Value = serde_json::from_str(&text).expect("valid JSON");
        assert_valid(&log);
        let driver_rules = log["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .expect("rules");
        assert_eq!(driver_rules.len(), registry::all().len());
        for result in log["runs"][0]["results"].as_array().expect("results") {
            let index = result["ruleIndex"].as_u64().expect("every code is known") as usize;
            assert_eq!(driver_rules[index]["id"], result["ruleId"]);
        }
    }

    #[test]
    fn the_schema_check_rejects_a_wrong_level() {
        let mut log = fixture_log();
        log["runs"][0]["results"][0]["level"] = json!("fatal");
        assert_eq!(
            schema_errors(&log).len(),
            1,
            "an unknown level must not validate"
        );
    }

    #[test]
    fn a_clean_run_is_a_valid_log_with_no_results() {
        let text = render(&[], &Sources::default(), None);
        let log: Value = serde_json::from_str(&text).expect("valid JSON");
        assert_valid(&log);
        assert_eq!(log["runs"][0]["results"], json!([]));
    }

    #[test]
    fn brackets_in_messages_are_not_links() {
        assert_eq!(
            escape_message("duplicate section [pgbouncer]"),
            "duplicate section \\[pgbouncer\\]"
        );
    }

    #[test]
    fn paths_become_uris() {
        assert_eq!(
            percent_encode("déploiement/pg bouncer#1.ini"),
            "d%C3%A9ploiement/pg%20bouncer%231.ini"
        );
        assert_eq!(
            artifact_location(&FilePath::new("app/100%.py")),
            json!({"uri": "app/100%25.py", "uriBaseId": "%SRCROOT%"})
        );
        assert_eq!(file_uri("/srv/my app"), "file:///srv/my%20app");
        assert_eq!(file_uri("C:/work/app"), "file:///C:/work/app");
        assert_eq!(
            src_root_uri(Path::new("/home/ci/project")),
            "file:///home/ci/project/"
        );
    }

    #[test]
    fn results_carry_regions_related_locations_and_fixes() {
        let log = fixture_log();
        let results = &log["runs"][0]["results"];
        let error = &results[1];
        assert_eq!(error["ruleId"], "PC101");
        assert_eq!(error["ruleIndex"], 2);
        assert_eq!(error["level"], "error");
        assert_eq!(
            error["locations"][0]["physicalLocation"]["region"],
            json!({"startLine": 5, "startColumn": 5, "endLine": 5, "endColumn": 17})
        );
        let related = error["relatedLocations"].as_array().expect("related");
        assert_eq!(related.len(), 2);
        assert_eq!(related[1]["id"], 1);
        assert_eq!(
            related[1]["physicalLocation"]["artifactLocation"]["uri"],
            "postgres/postgresql.conf"
        );
        let text = error["message"]["text"].as_str().expect("text");
        assert!(
            text.contains("\n- 8 workers: [gunicorn.conf.py:2](0)"),
            "{text}"
        );

        let warning = &results[2];
        assert_eq!(warning["level"], "warning");
        let change = &warning["fixes"][0]["artifactChanges"][0];
        assert_eq!(
            change["artifactLocation"]["uri"],
            "d%C3%A9ploiement/pgbouncer.ini"
        );
        assert_eq!(
            change["replacements"][0],
            json!({
                "deletedRegion": {"startLine": 4, "startColumn": 21, "endLine": 4, "endColumn": 23},
                "insertedContent": {"text": "87"},
            })
        );
        assert_eq!(results[0]["level"], "note");
    }
}
