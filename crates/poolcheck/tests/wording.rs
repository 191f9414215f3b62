//! Messages read as sentences: one-line messages carry the totals and the
//! limit (the notes carry each factor), counts agree with their nouns, and
//! poolcheck's own assumptions are said plainly.

use std::path::Path;
use std::process::{Command, Output};

fn poolcheck(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_poolcheck"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("poolcheck runs")
}

fn diagnostics(dir: &Path) -> Vec<serde_json::Value> {
    let out = poolcheck(dir, &["check", "--format", "json"]);
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("check prints JSON");
    value["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .clone()
}

fn find<'a>(diagnostics: &'a [serde_json::Value], code: &str) -> &'a serde_json::Value {
    diagnostics
        .iter()
        .find(|d| d["code"] == code)
        .unwrap_or_else(|| panic!("no {code} in {diagnostics:#?}"))
}

#[test]
fn the_budget_message_is_the_totals_and_the_limit() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/projects/demo");
    let found = diagnostics(&demo);
    let pc101 = find(&found, "PC101");
    assert_eq!(
        pc101["message"],
        "565 connections to PostgreSQL server `deploy/postgresql.conf` (service `web` 360 + \
         service `worker` 180 + pgbouncer `deploy/pgbouncer.ini` 25) > 197 usable \
         (max_connections 200 − 3 superuser_reserved_connections)"
    );
    // The factors are still all there, as notes.
    let notes: Vec<&str> = pc101["related"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["message"].as_str().unwrap())
        .collect();
    assert!(notes.len() >= 5, "{notes:?}");
    let pc103 = find(&found, "PC103");
    assert_eq!(
        pc103["message"],
        "120 client connections into PgBouncer `deploy/pgbouncer.ini` (service `web` 80 + \
         service `worker` 40) > max_client_conn 100 (deploy/pgbouncer.ini:10)"
    );
}

#[test]
fn an_implicit_process_and_one_request_are_said_plainly() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("app")).unwrap();
    std::fs::write(
        dir.path().join("app/db.py"),
        "from sqlalchemy import create_engine\n\
         engine = create_engine(\"postgresql://db/app\", pool_size=80, max_overflow=10)\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("postgresql.conf"),
        "max_connections = 100\n",
    )
    .unwrap();
    let found = diagnostics(dir.path());
    // 90 of 97 usable: PC102's one line says that the one process is assumed.
    let pc102 = find(&found, "PC102")["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        pc102.starts_with("1 implicit process × (pool_size 80 + max_overflow 10) = 90 connections"),
        "{pc102}"
    );
    for d in &found {
        let text = format!("{} {}", d["message"], d["fix"]);
        assert!(!text.contains("(s)"), "{text}");
        assert!(!text.contains("poolcheck ("), "{text}");
    }

    std::fs::write(
        dir.path().join("app/db.py"),
        "from sqlalchemy import create_engine\n\
         engine = create_engine(\"postgresql://db/app\", pool_size=300)\n",
    )
    .unwrap();
    let human = String::from_utf8(poolcheck(dir.path(), &["check"]).stdout).unwrap();
    assert!(
        human.contains(": 1 process (`app` (1)) × 97 per process")
            && human.contains("each `app` process serves at most 1 request at a time"),
        "{human}"
    );
}
