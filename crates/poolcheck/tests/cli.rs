//! The command line as users and CI see it: exit codes, formats, errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name)
}

fn poolcheck(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_poolcheck"))
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .output()
        .expect("poolcheck runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8")
}

fn budget_json(dir: &Path) -> serde_json::Value {
    let out = poolcheck(dir, &["budget", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    serde_json::from_str(&stdout(&out)).expect("budget JSON")
}

#[test]
fn findings_exit_1_and_a_clean_project_exits_0() {
    let dirty = poolcheck(&fixture("rules/PC104-wildcard-pool"), &["check"]);
    assert_eq!(dirty.status.code(), Some(1));
    let clean = poolcheck(
        &fixture("rules/PC104-ok-capped-by-max-db-connections"),
        &["check"],
    );
    assert_eq!(clean.status.code(), Some(0));
    assert!(stdout(&clean).contains("All checks passed!"));
}

#[test]
fn exit_zero_and_fail_on_change_the_status_not_the_output() {
    let dir = fixture("rules/PC104-wildcard-pool");
    let zero = poolcheck(&dir, &["check", "--exit-zero", "--format", "concise"]);
    assert_eq!(zero.status.code(), Some(0));
    assert!(stdout(&zero).contains("PC104"));
    // PC102 is a warning: failing only on errors lets it pass.
    let warn_only = fixture("rules/PC102-little-headroom");
    assert_eq!(poolcheck(&warn_only, &["check"]).status.code(), Some(1));
    assert_eq!(
        poolcheck(&warn_only, &["check", "--fail-on", "error"])
            .status
            .code(),
        Some(0)
    );
    // PC004 is info: only --fail-on info fails on it.
    let info = fixture("rules/PC004-env-without-default");
    assert_eq!(poolcheck(&info, &["check"]).status.code(), Some(0));
    assert_eq!(
        poolcheck(&info, &["check", "--fail-on", "info"])
            .status
            .code(),
        Some(1)
    );
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    let dir = fixture("rules");
    let missing = poolcheck(&dir, &["check", "does/not/exist"]);
    assert_eq!(missing.status.code(), Some(2));
    let err = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("does/not/exist: no such file or directory"),
        "{err}"
    );

    let bad_code = poolcheck(&dir, &["check", "--select", "PC9"]);
    assert_eq!(bad_code.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_code.stderr).contains("`PC9` matches no rule code"));

    let bad_flag = poolcheck(&dir, &["check", "--format", "xml"]);
    assert_eq!(bad_flag.status.code(), Some(2));
}

#[test]
fn select_and_ignore_filter_by_code_and_prefix() {
    let dir = fixture("rules/PC002-pgbouncer-typos");
    let all = stdout(&poolcheck(&dir, &["check", "--format", "concise"]));
    assert_eq!(all.lines().count(), 5, "{all}");
    let ignored = poolcheck(&dir, &["check", "--ignore", "PC0", "--format", "concise"]);
    assert_eq!(stdout(&ignored), "");
    assert_eq!(ignored.status.code(), Some(0));
    let selected = stdout(&poolcheck(
        &dir,
        &["check", "--select", "PC1", "--format", "concise"],
    ));
    assert_eq!(selected, "");
}

#[test]
fn json_output_follows_the_contract() {
    let out = poolcheck(
        &fixture("rules/PC101-workers-times-pool"),
        &["check", "--format", "json"],
    );
    let value: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(value["version"], 1);
    let d = &value["diagnostics"][0];
    assert_eq!(d["code"], "PC101");
    assert_eq!(d["name"], "db-connections-exceeded");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["file"], "app/db.py");
    assert_eq!(d["range"]["start"]["line"], 8);
    assert_eq!(d["range"]["start"]["column"], 38);
    assert_eq!(
        d["message"],
        "8 workers × (pool_size 15 + max_overflow 30) = 360 connections to PostgreSQL server `postgresql.conf` > 197 usable (max_connections 200 − 3 superuser_reserved_connections)"
    );
    let related: Vec<&str> = d["related"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["file"].as_str().unwrap())
        .collect();
    assert!(related.contains(&"gunicorn.conf.py"), "{related:?}");
    assert!(related.contains(&"postgresql.conf"), "{related:?}");
    assert!(d["fix"].is_null());
    assert!(d["url"].as_str().unwrap().ends_with("/PC101.md"));
}

#[test]
fn budget_numbers_for_a_pgbouncer_in_front_of_postgres() {
    let over = budget_json(&fixture("rules/PC104-wildcard-pool"));
    let db = &over["databases"][0];
    assert_eq!(db["max_connections"], 300);
    assert_eq!(db["reserved"], 3);
    assert_eq!(db["usable"], 297);
    assert_eq!(db["demand"], 450);
    assert_eq!(db["contributors"][0]["kind"], "pgbouncer");
    assert_eq!(db["contributors"][0]["connections"], 450);
    assert_eq!(over["pgbouncers"][0]["server_demand"], 450);
    assert_eq!(over["pgbouncers"][0]["max_client_conn"], 5000);

    let capped = budget_json(&fixture("rules/PC104-ok-capped-by-max-db-connections"));
    assert_eq!(capped["databases"][0]["demand"], 250);
}

#[test]
fn budget_numbers_for_workers_times_pools() {
    let v = budget_json(&fixture("rules/PC101-workers-times-pool"));
    assert_eq!(v["databases"][0]["usable"], 197);
    assert_eq!(v["databases"][0]["demand"], 360);
    let web = &v["services"][0];
    assert_eq!(web["name"], "web");
    assert_eq!(web["replicas"], 1);
    assert_eq!(web["processes"], 8);
    assert_eq!(web["concurrency"], 1);
    assert_eq!(web["pools"][0]["kind"], "sqlalchemy");
    assert_eq!(web["pools"][0]["per_process"], 45);
    assert_eq!(web["pools"][0]["location"], "app/db.py:8");

    let bouncer = budget_json(&fixture("rules/PC103-default-client-limit"));
    assert_eq!(bouncer["pgbouncers"][0]["client_demand"], 160);
    assert_eq!(bouncer["pgbouncers"][0]["max_client_conn"], 100);
}

#[test]
fn unknown_values_give_null_demand_and_no_guessed_finding() {
    let v = budget_json(&fixture("rules/PC004-env-without-default"));
    assert!(v["databases"][0]["demand"].is_null());
    let formula = v["databases"][0]["contributors"][0]["formula"]
        .as_str()
        .unwrap();
    assert!(formula.contains("WEB_CONCURRENCY"), "{formula}");
    let check = stdout(&poolcheck(
        &fixture("rules/PC004-env-without-default"),
        &["check", "--format", "concise"],
    ));
    assert!(!check.contains("PC101"), "{check}");
    assert!(check.contains("$WEB_CONCURRENCY"), "{check}");
}

#[test]
fn rules_and_explain_come_from_the_registry() {
    let dir = fixture("rules");
    let rules = stdout(&poolcheck(&dir, &["rules"]));
    for rule in poolcheck_rules::registry::all() {
        assert!(rules.contains(rule.meta.code.as_str()) && rules.contains(rule.meta.name));
    }
    let page = stdout(&poolcheck(&dir, &["explain", "pc101"]));
    assert!(
        page.starts_with("# PC101 db-connections-exceeded"),
        "{page}"
    );
    assert!(page.contains("sorry, too many clients already"));
    let unknown = poolcheck(&dir, &["explain", "PC999"]);
    assert_eq!(unknown.status.code(), Some(2));
}

#[test]
fn a_binary_or_unreadable_file_does_not_stop_the_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pgbouncer.ini"), b"[pgbouncer]\0\x01\x02").unwrap();
    std::fs::write(
        dir.path().join("postgresql.conf"),
        "max_connections = 100\nidle_session_timeout = 5 parsecs\n",
    )
    .unwrap();
    let out = poolcheck(dir.path(), &["check", "--format", "concise", "--verbose"]);
    let text = stdout(&out);
    assert!(text.contains("postgresql.conf:2:24: PC002"), "{text}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("skipped pgbouncer.ini: binary"), "{err}");
}

/// A project checked in its site-packages: the installed packages are not
/// read (their engines are libraries, not this deployment), and `--verbose`
/// says which directories were skipped.
#[test]
fn installed_packages_in_the_project_root_are_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("poolcheck.toml"), "# marks the project root\n").unwrap();
    std::fs::create_dir_all(root.join("sqlalchemy")).unwrap();
    std::fs::write(
        root.join("sqlalchemy/pool.py"),
        "from sqlalchemy import create_engine\nengine = create_engine('postgresql://db/x', pool_size=500)\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("SQLAlchemy-2.0.36.dist-info")).unwrap();
    std::fs::write(
        root.join("SQLAlchemy-2.0.36.dist-info/RECORD"),
        "sqlalchemy/pool.py,sha256=x,80\n",
    )
    .unwrap();
    std::fs::write(root.join("postgresql.conf"), "max_connections = 100\n").unwrap();
    let out = poolcheck(root, &["check", "--format", "concise", "--verbose"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("visited 2 files"), "{err}");
    assert!(
        err.contains("skipped 2 directories of installed packages"),
        "{err}"
    );
    assert!(!stdout(&out).contains("pool.py"), "{}", stdout(&out));
}

#[test]
fn json_outputs_are_stable() {
    let check = poolcheck(
        &fixture("rules/PC104-wildcard-pool"),
        &["check", "--format", "json"],
    );
    insta::assert_snapshot!("check_json_pc104", stdout(&check));
    let budget = poolcheck(&fixture("projects/demo"), &["budget", "--format", "json"]);
    insta::assert_snapshot!("budget_json_demo", stdout(&budget));
}

#[test]
fn engines_in_test_suites_are_not_service_pools() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("app")).unwrap();
    std::fs::create_dir_all(root.join("tests")).unwrap();
    std::fs::write(root.join("gunicorn.conf.py"), "workers = 4\n").unwrap();
    std::fs::write(
        root.join("app/db.py"),
        "from sqlalchemy import create_engine\nengine = create_engine(\"postgresql://app@db/app?connect_timeout=5\", pool_size=5, max_overflow=0)\n",
    )
    .unwrap();
    std::fs::write(
        root.join("tests/conftest.py"),
        "import os\nfrom sqlalchemy import create_engine\nengine = create_engine(os.environ[\"TEST_DATABASE_URL\"], pool_size=50)\n",
    )
    .unwrap();
    let budget: serde_json::Value =
        serde_json::from_str(&stdout(&poolcheck(root, &["budget", "--format", "json"]))).unwrap();
    assert_eq!(budget["databases"][0]["demand"], 20, "{budget:#}");
    let check = stdout(&poolcheck(root, &["check", "--format", "concise"]));
    assert!(!check.contains("TEST_DATABASE_URL"), "{check}");
}

#[test]
fn counts_too_large_for_64_bits_are_reported_not_wrapped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    std::fs::write(root.join("poolcheck.toml"), "").expect("write");
    std::fs::write(root.join("gunicorn.conf.py"), "workers = 5000000000\n").expect("write");
    std::fs::create_dir(root.join("app")).expect("mkdir");
    std::fs::write(root.join("app/__init__.py"), "").expect("write");
    std::fs::write(
        root.join("app/db.py"),
        "from sqlalchemy import create_engine\nengine = create_engine(\"postgresql://u@db/x\", pool_size=5000000000, max_overflow=5000000000)\n",
    )
    .expect("write");
    std::fs::write(root.join("postgresql.conf"), "max_connections = 100\n").expect("write");
    let out = poolcheck(root, &["check", "--format", "concise"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("PC101"), "{text}");
    assert!(text.contains("larger than any count"), "{text}");
    assert!(!text.contains("18446744073709551615"), "{text}");
    let budget = budget_json(root);
    assert_eq!(budget["databases"][0]["demand"], serde_json::Value::Null);
}

/// A service with thousands of pools has a formula longer than any column
/// can be padded to: the human budget prints it whole, aligned as far as
/// the column allows, and does not crash.
#[test]
fn a_formula_of_thousands_of_pools_prints_without_padding_to_its_length() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    std::fs::create_dir(root.join("app")).expect("mkdir");
    let mut module = String::from("from sqlalchemy import create_engine\n");
    for i in 0..4000 {
        module.push_str(&format!(
            "engine_{i} = create_engine(\"postgresql://u@db/x\", pool_size=1, max_overflow=0)\n"
        ));
    }
    std::fs::write(root.join("app/db.py"), module).expect("write");
    let out = poolcheck(root, &["budget"]);
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let demand_line = text
        .lines()
        .find(|l| l.trim_start().starts_with("demand"))
        .unwrap_or_else(|| panic!("no demand line: {}", &text[..text.len().min(2000)]));
    assert!(demand_line.contains("4000 /"), "{demand_line}");
    assert!(demand_line.len() < 300, "{demand_line}");
}
