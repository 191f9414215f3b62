//! Inputs as users hand them over: odd bytes, paths inside a project,
//! missing paths, include graphs. Whatever poolcheck cannot read is said,
//! and nothing it can read is dropped.

use std::path::Path;
use std::process::{Command, Output};

fn poolcheck(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_poolcheck"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("poolcheck runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn write(root: &Path, path: &str, content: impl AsRef<[u8]>) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// A project marked by `.git`, so that its root is found from below.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    dir
}

fn budget_json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["budget", "--format", "json"];
    all.extend(args);
    let out = poolcheck(dir, &all);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).expect("budget JSON")
}

#[test]
fn a_settings_module_that_names_no_file_is_pc004_not_a_crash() {
    let dir = project();
    write(
        dir.path(),
        ".env",
        "DJANGO_SETTINGS_MODULE=mysite.settings\n",
    );
    let out = poolcheck(dir.path(), &["check", "--format", "concise"]);
    assert_ne!(out.status.code(), Some(101), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("PC004") && stdout(&out).contains("mysite.settings"),
        "{}",
        stdout(&out)
    );
}
