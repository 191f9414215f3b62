//! The configuration never silences the run: a mistake in it is PC003 and
//! the rest of the project is still checked with what remains valid.

use std::path::Path;
use std::process::{Command, Output};

/// A copy of a rule fixture (an over-budget PgBouncer, PC104) with a
/// `poolcheck.toml` of the given bytes.
fn project_with_config(config: &[u8]) -> tempfile::TempDir {
    let source =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/rules/PC104-wildcard-pool");
    let dir = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(&source).expect("fixture") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).expect("copy");
    }
    std::fs::write(dir.path().join("poolcheck.toml"), config).expect("write config");
    dir
}

fn check(dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_poolcheck"))
        .args(["check", "--format", "concise"])
        .current_dir(dir)
        .output()
        .expect("poolcheck runs")
}

/// `file:line:col: CODE` of each finding.
fn findings(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let (place, rest) = line.split_once(": ")?;
            Some(format!("{place}: {}", rest.split(' ').next()?))
        })
        .collect()
}

fn message_of(output: &Output, code: &str) -> String {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find(|l| l.contains(&format!(": {code} ")))
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn a_select_of_the_wrong_type_is_pc003_and_turns_no_rule_off() {
    let dir = project_with_config(b"select = \"PC1\"\n");
    let out = check(dir.path());
    assert_eq!(
        findings(&out),
        ["pgbouncer.ini:12:21: PC104", "poolcheck.toml:1:10: PC003"]
    );
    assert!(message_of(&out, "PC003").contains("must be a list of strings, found a string"));
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_select_of_unknown_codes_is_pc003_and_selects_as_if_absent() {
    let dir = project_with_config(b"select = [\"PC9\"]\n");
    let out = check(dir.path());
    assert_eq!(
        findings(&out),
        ["pgbouncer.ini:12:21: PC104", "poolcheck.toml:1:11: PC003"]
    );
    assert!(message_of(&out, "PC003").contains("no rule code starts with `PC9`"));
}

#[test]
fn the_configuration_is_validated_whatever_select_and_ignore_say() {
    let dir = project_with_config(
        b"select = [\"PC2\"]\nignore = [\"PC0\", \"PC777\"]\nfail-on = \"eror\"\nheadrom = 0.2\n\
          severity = { PC999 = \"info\" }\n",
    );
    let out = check(dir.path());
    assert_eq!(
        findings(&out),
        [
            "poolcheck.toml:2:18: PC003",
            "poolcheck.toml:3:11: PC003",
            "poolcheck.toml:4:1: PC003",
            "poolcheck.toml:5:14: PC003",
        ]
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("unknown rule code `PC777` in `ignore`"),
        "{text}"
    );
    assert!(
        text.contains("unknown rule code `PC999` in `severity`"),
        "{text}"
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_configuration_that_is_not_utf8_is_pc003_and_defaults_apply() {
    // Latin-1 `é` in a comment, and a setting that would otherwise silence PC104.
    let dir = project_with_config(b"# caf\xe9\nignore = [\"PC104\"]\n");
    let out = check(dir.path());
    assert_eq!(
        findings(&out),
        ["pgbouncer.ini:12:21: PC104", "poolcheck.toml:1:6: PC003"]
    );
    assert!(message_of(&out, "PC003").contains("not valid UTF-8 (byte 0xE9)"));
    assert_eq!(out.status.code(), Some(1));
}
