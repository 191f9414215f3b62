//! Every directory under `fixtures/rules/` is a small project named
//! `PCxxx-<case>`: it must produce finding PCxxx, or, when the case starts
//! with `ok-`, must not. The human output of each is snapshotted. How the
//! rules combine on whole projects is covered by `tests/cli.rs` and the demo.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/rules");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("fixtures/rules exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// Runs `check` on a fixture. A fixture is about one rule, so only that rule
/// runs — except PC001, which judges the suppressions of all the others.
fn run(dir: &Path, code: &str, format: &str) -> (String, i32) {
    let mut args = vec!["check", "--color", "never", "--format", format];
    if code != "PC001" {
        args.extend(["--select", code]);
    }
    let output = Command::new(env!("CARGO_BIN_EXE_poolcheck"))
        .args(&args)
        .current_dir(dir)
        .output()
        .expect("poolcheck runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.is_empty(), "{}: stderr: {stderr}", dir.display());
    (
        String::from_utf8(output.stdout).expect("UTF-8 output"),
        output.status.code().expect("exit code"),
    )
}

#[test]
fn each_rule_fixture_fires_or_stays_silent_as_named() {
    let mut problems = Vec::new();
    for dir in fixtures() {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let code = &name[..5];
        let silent = name[5..].starts_with("-ok-");
        let (json, _) = run(&dir, code, "json");
        let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        let codes: Vec<&str> = value["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["code"].as_str().unwrap())
            .collect();
        let fired = codes.contains(&code);
        if silent && fired {
            problems.push(format!("{name}: {code} fired but must stay silent"));
        }
        if !silent && !fired {
            problems.push(format!("{name}: {code} did not fire (got {codes:?})"));
        }
        let (human, _) = run(&dir, code, "human");
        insta::assert_snapshot!(name.as_str(), human);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_rule_has_a_firing_and_a_silent_fixture() {
    let names: Vec<String> = fixtures()
        .iter()
        .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut missing = Vec::new();
    for rule in poolcheck_rules::registry::all() {
        let code = rule.meta.code.as_str();
        let fires = names
            .iter()
            .any(|n| n.starts_with(code) && !n[5..].starts_with("-ok-"));
        let silent = names
            .iter()
            .any(|n| n.starts_with(code) && n[5..].starts_with("-ok-"));
        if !fires || !silent {
            missing.push(format!("{code} (fires: {fires}, silent: {silent})"));
        }
    }
    assert!(
        missing.is_empty(),
        "rules without fixtures: {}",
        missing.join(", ")
    );
}
