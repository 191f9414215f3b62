//! What a team pastes into a pull request or feeds to CI: capacity answers,
//! what-if runs, Markdown reports, `--output-file`, and CI formats whose
//! identities survive unrelated edits.

use std::fs;
use std::path::Path;
use std::process::Output;

mod support;
use support::{fixture, poolcheck, stderr, stdout};

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_str(&stdout(output)).expect("JSON on stdout")
}

/// A copy of a fixture project in a temporary directory, for runs that edit it.
fn copy_of(name: &str) -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        fs::create_dir_all(to).expect("mkdir");
        for entry in fs::read_dir(from).expect("readable fixture") {
            let entry = entry.expect("entry");
            let target = to.join(entry.file_name());
            if entry.file_type().expect("type").is_dir() {
                copy(&entry.path(), &target);
            } else {
                fs::copy(entry.path(), target).expect("copy");
            }
        }
    }
    let dir = tempfile::tempdir().expect("temp dir");
    copy(&fixture(name), dir.path());
    dir
}

fn service<'a>(budget: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    budget["services"]
        .as_array()
        .expect("services")
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no service {name} in {budget}"))
}

#[test]
fn capacity_says_how_many_replicas_processes_and_connections_fit() {
    // web: 3 replicas × 4 workers × (5 + 5) = 120; worker: 4 × (5 + 5) = 40;
    // 197 usable. web may grow to 3 replicas ((197 − 40) / 40), 5 workers
    // ((197 − 40) / 30) or 13 per process ((197 − 40) / 12); worker to 1
    // replica ((197 − 120) / 40), 7 processes or 19 per process.
    let dir = fixture("projects/compose-capacity");
    let budget = json(&poolcheck(&dir, &["budget", "--format", "json"]));
    assert_eq!(budget["databases"][0]["demand"], 160);
    assert_eq!(
        service(&budget, "web")["fits"],
        serde_json::json!({"replicas": 3, "processes": 5, "per_process": 13})
    );
    assert_eq!(
        service(&budget, "worker")["fits"],
        serde_json::json!({"replicas": 1, "processes": 7, "per_process": 19})
    );
    let human = stdout(&poolcheck(&dir, &["budget"]));
    assert!(
        human.contains(
            "`web` fits up to 3 replicas (now 3), or 5 processes per replica (now 4), or 13 connections per process (now 10)"
        ),
        "{human}"
    );
}

#[test]
fn nothing_fits_is_null_not_zero() {
    // The demo's other contributors alone exceed the server: no size of
    // `web` fits.
    let budget = json(&poolcheck(
        &fixture("projects/demo"),
        &["budget", "--format", "json"],
    ));
    assert_eq!(
        service(&budget, "web")["fits"],
        serde_json::json!({"replicas": null, "processes": null, "per_process": null})
    );
}

#[test]
fn set_tries_a_number_without_editing_files() {
    let dir = fixture("projects/compose-capacity");
    let more = poolcheck(
        &dir,
        &[
            "check",
            "--set",
            "services.web.replicas=5",
            "--format",
            "concise",
        ],
    );
    assert_eq!(more.status.code(), Some(1), "{}", stderr(&more));
    assert!(stdout(&more).contains("PC101"), "{}", stdout(&more));
    let human = stdout(&poolcheck(
        &dir,
        &["check", "--set", "services.web.replicas=5"],
    ));
    assert!(human.contains("note: 5 replicas (<--set>:1)"), "{human}");
    let fewer = poolcheck(
        &dir,
        &[
            "check",
            "--set",
            "services.web.replicas=2",
            "--format",
            "concise",
        ],
    );
    assert!(!stdout(&fewer).contains("PC101"), "{}", stdout(&fewer));
    let budget = json(&poolcheck(
        &dir,
        &[
            "budget",
            "--format",
            "json",
            "--set",
            "database.max_connections=300",
        ],
    ));
    assert_eq!(budget["databases"][0]["usable"], 297);
}

#[test]
fn a_bad_set_is_a_usage_error_that_names_it() {
    let dir = fixture("projects/compose-capacity");
    for (pair, says) in [
        ("nonsense=1", "unknown key `nonsense`"),
        ("database.max_connections=many", "must be an integer"),
        ("replicas", "expected KEY=VALUE"),
    ] {
        let out = poolcheck(&dir, &["check", "--set", pair]);
        assert_eq!(out.status.code(), Some(2), "{pair}");
        let err = stderr(&out);
        assert!(err.contains(&format!("--set {pair}")), "{err}");
        assert!(err.contains(says), "{err}");
    }
}

fn gitlab_fingerprints(dir: &Path) -> Vec<String> {
    let report = json(&poolcheck(dir, &["check", "--format", "gitlab"]));
    let mut prints: Vec<String> = report
        .as_array()
        .expect("an array")
        .iter()
        .map(|issue| {
            issue["fingerprint"]
                .as_str()
                .expect("fingerprint")
                .to_owned()
        })
        .collect();
    prints.sort();
    prints
}

#[test]
fn gitlab_fingerprints_survive_a_line_inserted_above_every_finding() {
    let dir = copy_of("projects/demo");
    let before = gitlab_fingerprints(dir.path());
    assert!(before.len() >= 5, "{before:?}");
    for file in ["shop/db.py", "gunicorn.conf.py", "deploy/pgbouncer.ini"] {
        let path = dir.path().join(file);
        let text = fs::read_to_string(&path).expect("fixture file");
        fs::write(&path, format!("# a comment added above everything\n{text}")).expect("write");
    }
    assert_eq!(gitlab_fingerprints(dir.path()), before);
}

#[test]
fn junit_counts_only_findings_at_or_above_fail_on_as_failures() {
    let dir = fixture("rules/PC004-env-without-default");
    let out = poolcheck(&dir, &["check", "--format", "junit"]);
    assert_eq!(out.status.code(), Some(0));
    let xml = stdout(&out);
    assert!(xml.contains("failures=\"0\""), "{xml}");
    assert!(!xml.contains("<failure"), "{xml}");
    let strict = stdout(&poolcheck(
        &dir,
        &["check", "--format", "junit", "--fail-on", "info"],
    ));
    assert!(strict.contains("<failure"), "{strict}");
}

#[test]
fn output_file_writes_the_report_and_still_prints_the_findings() {
    let out_dir = tempfile::tempdir().expect("temp dir");
    let report = out_dir.path().join("reports/poolcheck.sarif");
    let report_arg = report.to_str().expect("UTF-8 path");
    let out = poolcheck(
        &fixture("projects/demo"),
        &["check", "--format", "sarif", "--output-file", report_arg],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("error[PC101]"), "{}", stdout(&out));
    let sarif: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&report).expect("report written"))
            .expect("SARIF JSON");
    assert_eq!(sarif["version"], "2.1.0");
    let budget_md = out_dir.path().join("budget.md");
    let out = poolcheck(
        &fixture("projects/demo"),
        &[
            "budget",
            "--format",
            "markdown",
            "--output-file",
            budget_md.to_str().expect("UTF-8 path"),
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).starts_with("Database "), "{}", stdout(&out));
    assert!(
        fs::read_to_string(&budget_md)
            .expect("written")
            .starts_with("### poolcheck budget")
    );
}

#[test]
fn budget_human_and_markdown_snapshots() {
    let dir = fixture("projects");
    for project in ["demo", "compose-capacity"] {
        let human = stdout(&poolcheck(&dir, &["budget", project]));
        insta::assert_snapshot!(format!("budget_human_{project}"), human);
        let markdown = stdout(&poolcheck(
            &dir,
            &["budget", project, "--format", "markdown"],
        ));
        insta::assert_snapshot!(format!("budget_markdown_{project}"), markdown);
    }
    let check = stdout(&poolcheck(&dir, &["check", "demo", "--format", "markdown"]));
    insta::assert_snapshot!("check_markdown_demo", check);
    let what_if = stdout(&poolcheck(
        &dir,
        &[
            "budget",
            "compose-capacity",
            "--set",
            "services.web.replicas=5",
        ],
    ));
    insta::assert_snapshot!("budget_human_set_replicas", what_if);
}
