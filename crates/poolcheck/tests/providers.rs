//! Managed PostgreSQL: the provider's documented limit for the size Terraform
//! or the configuration declares, and nothing guessed for other hosts.

use std::path::{Path, PathBuf};
use std::process::Command;

fn project(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/projects")
        .join(name)
}

fn run(dir: &Path, args: &[&str]) -> (String, String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_poolcheck"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("poolcheck runs");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().expect("exit code"),
    )
}

fn budget(dir: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["budget", "--format", "json"];
    args.extend(extra);
    let (stdout, stderr, code) = run(dir, &args);
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str(&stdout).expect("budget JSON")
}

/// 8 workers × 30 = 240 connections: over PostgreSQL's default 100, but an
/// RDS db.t4g.medium (from a Terraform variable's default) allows 450.
#[test]
fn terraform_rds_size_makes_the_budget_fit() {
    let dir = project("provider-terraform-rds");
    let b = budget(&dir, &[]);
    let db = &b["databases"][0];
    assert_eq!(db["provider"], "rds");
    assert_eq!(db["source"], "provider");
    assert_eq!(db["size"], "db.t4g.medium");
    assert_eq!(db["max_connections"], 450);
    // 3 superuser slots and RDS's own 2.
    assert_eq!(db["usable"], 445);
    assert_eq!(db["demand"], 240);

    let (_, _, code) = run(&dir, &["check", "--select", "PC101"]);
    assert_eq!(code, 0, "fits on the RDS size");
    // The same project on PostgreSQL's default fails: the size is what decides.
    let (_, _, code) = run(
        &dir,
        &[
            "check",
            "--select",
            "PC101",
            "--set",
            "database.max_connections=100",
        ],
    );
    assert_eq!(code, 1);

    let (human, _, _) = run(&dir, &["budget", "--color", "never"]);
    assert!(human.contains("on Amazon RDS db.t4g.medium"), "{human}");
    assert!(
        human.contains("LEAST(DBInstanceClassMemory/9531392, 5000) ≈ 450"),
        "{human}"
    );
    assert!(
        human.contains("override with [database] max_connections"),
        "{human}"
    );
}

/// Azure B1ms: 50 connections, 15 kept by Azure: 35 usable < 40 demanded.
#[test]
fn azure_burstable_sku_makes_the_budget_fail() {
    let dir = project("provider-terraform-azure-burstable");
    let b = budget(&dir, &[]);
    let db = &b["databases"][0];
    assert_eq!(db["provider"], "azure");
    assert_eq!(db["max_connections"], 50);
    assert_eq!(db["usable"], 35);
    let (stdout, _, code) = run(&dir, &["check", "--select", "PC101", "--color", "never"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("40 connections"), "{stdout}");
    assert!(stdout.contains("B_Standard_B1ms"), "{stdout}");
}

/// A host that names no provider keeps PostgreSQL's defaults, and port 6543
/// alone does not make it Supabase's pooler.
#[test]
fn unknown_host_guesses_no_provider() {
    let b = budget(&project("provider-unknown-host"), &[]);
    let db = &b["databases"][0];
    assert_eq!(db["provider"], serde_json::Value::Null);
    assert_eq!(db["source"], "default");
    assert_eq!(db["max_connections"], 100);
    assert_eq!(b["pgbouncers"], serde_json::json!([]));
}

/// `[database] provider/size` in the configuration, through `--set`.
#[test]
fn configured_provider_and_size() {
    let dir = project("provider-unknown-host");
    let b = budget(
        &dir,
        &[
            "--set",
            "database.provider=supabase",
            "--set",
            "database.size=nano",
        ],
    );
    let db = &b["databases"][0];
    assert_eq!(db["provider"], "supabase");
    assert_eq!(db["max_connections"], 60);
    assert_eq!(db["source"], "provider");
}

#[test]
fn unknown_provider_and_size_list_the_known_ones() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("poolcheck.toml"),
        "[database]\nprovider = \"oracle\"\n\n[databases.reports]\nprovider = \"rds\"\nsize = \"db.q9.huge\"\n",
    )
    .expect("write");
    let (stdout, _, _) = run(
        dir.path(),
        &["check", "--select", "PC003", "--color", "never"],
    );
    assert!(
        stdout.contains("not a known provider: `oracle`"),
        "{stdout}"
    );
    assert!(stdout.contains("known providers: rds, aurora"), "{stdout}");
    assert!(
        stdout.contains("no documented size `db.q9.huge`"),
        "{stdout}"
    );
    assert!(stdout.contains("db.r6g.xlarge"), "{stdout}");
}
