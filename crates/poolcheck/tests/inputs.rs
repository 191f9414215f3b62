//! Inputs as users hand them over: odd bytes, paths inside a project,
//! missing paths, include graphs. Whatever poolcheck cannot read is said,
//! and nothing it can read is dropped.

use std::path::Path;
use std::process::{Command, Output};

mod support;
use support::{poolcheck, stderr, stdout};

fn write(root: &Path, path: &str, content: impl AsRef<[u8]>) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().expect("a file in a directory")).expect("mkdir");
    std::fs::write(path, content).expect("write");
}

/// A project marked by `.git`, so that its root is found from below.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join(".git")).expect("mkdir .git");
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

fn diagnostics(out: &Output) -> Vec<serde_json::Value> {
    let json: serde_json::Value = serde_json::from_str(&stdout(out)).expect("check JSON");
    json["diagnostics"].as_array().cloned().unwrap_or_default()
}

fn codes(out: &Output) -> Vec<String> {
    diagnostics(out)
        .iter()
        .map(|d| d["code"].as_str().expect("a code").to_owned())
        .collect()
}

/// A server that allows 20 connections and an app whose pool wants 40.
fn over_budget_project() -> tempfile::TempDir {
    let dir = project();
    write(
        dir.path(),
        "db/postgresql.conf",
        "max_connections = 20\nsuperuser_reserved_connections = 3\n",
    );
    write(
        dir.path(),
        "app/db.py",
        "from sqlalchemy import create_engine\nengine = create_engine('postgresql://db/app', pool_size=30, max_overflow=10)\n",
    );
    dir
}

#[test]
fn a_latin1_byte_in_a_comment_does_not_hide_max_connections() {
    let dir = project();
    write(
        dir.path(),
        "postgresql.conf",
        b"# r\xe9glages de production\nmax_connections = 42\n",
    );
    let json = budget_json(dir.path(), &[]);
    assert_eq!(json["databases"][0]["max_connections"], 42, "{json}");
}

#[test]
fn a_python_file_with_a_latin1_coding_cookie_is_read() {
    let dir = project();
    write(
        dir.path(),
        "db.py",
        b"# -*- coding: latin-1 -*-\n# caf\xe9\nfrom sqlalchemy import create_engine\nengine = create_engine('postgresql://db/app', pool_size=7, max_overflow=0)\n",
    );
    let json = budget_json(dir.path(), &[]);
    let pools = &json["services"][0]["pools"];
    assert_eq!(pools[0]["per_process"], 7, "{json}");
}

#[test]
fn a_file_that_cannot_be_decoded_is_said_without_verbose() {
    let dir = project();
    write(
        dir.path(),
        "db.py",
        b"# coding: shift_jis\n# \x82\xa0\nengine = create_engine('postgresql://db/app')\n",
    );
    let out = poolcheck(dir.path(), &["check"]);
    let err = stderr(&out);
    assert!(
        err.contains("db.py was not read") && err.contains("shift_jis"),
        "{err}"
    );
}

#[test]
fn a_named_file_over_the_size_limit_is_said() {
    let dir = project();
    let big = "# padding\n".repeat(600_000);
    write(dir.path(), "postgresql.conf", big);
    let out = poolcheck(dir.path(), &["check", "postgresql.conf"]);
    let err = stderr(&out);
    assert!(
        err.contains("postgresql.conf was not read") && err.contains("larger than 5 MiB"),
        "{err}"
    );
}

#[test]
fn a_file_inside_the_project_is_checked_against_the_whole_project() {
    let dir = over_budget_project();
    let whole = poolcheck(dir.path(), &["check", "--format", "json"]);
    assert!(
        codes(&whole).contains(&"PC101".to_owned()),
        "{}",
        stdout(&whole)
    );

    let file = poolcheck(dir.path(), &["check", "--format", "json", "app/db.py"]);
    assert_eq!(file.status.code(), Some(1), "{}", stderr(&file));
    assert!(
        codes(&file).contains(&"PC101".to_owned()),
        "{}",
        stdout(&file)
    );
    // Only findings that point into the named path.
    for d in diagnostics(&file) {
        let mut files = vec![d["file"].as_str().unwrap().to_owned()];
        for r in d["related"].as_array().unwrap() {
            files.push(r["file"].as_str().unwrap().to_owned());
        }
        assert!(files.iter().any(|f| f == "app/db.py"), "{d}");
    }

    let below = poolcheck(&dir.path().join("app"), &["check", "--format", "json"]);
    assert_eq!(below.status.code(), Some(1), "{}", stderr(&below));
    let found = diagnostics(&below);
    let pc101 = found
        .iter()
        .find(|d| d["code"] == "PC101")
        .unwrap_or_else(|| panic!("{}", stdout(&below)));
    // Paths stay relative to where the user stands.
    let mut files = vec![pc101["file"].as_str().unwrap().to_owned()];
    for r in pc101["related"].as_array().unwrap() {
        files.push(r["file"].as_str().unwrap().to_owned());
    }
    assert!(files.iter().any(|f| f == "db.py"), "{pc101}");

    let budget = budget_json(&dir.path().join("app"), &[]);
    assert_eq!(budget["databases"][0]["max_connections"], 20, "{budget}");
}

#[test]
fn a_missing_path_is_reported_and_the_others_are_checked() {
    let dir = over_budget_project();
    let out = poolcheck(
        dir.path(),
        &["check", "--format", "json", ".", "nonexistent"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("nonexistent: no such file or directory"),
        "{}",
        stderr(&out)
    );
    assert!(
        codes(&out).contains(&"PC101".to_owned()),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_symlink_to_itself_is_a_loop() {
    let dir = project();
    std::os::unix::fs::symlink("loop.conf", dir.path().join("loop.conf")).unwrap();
    std::os::unix::fs::symlink("nowhere.conf", dir.path().join("broken.conf")).unwrap();
    let out = poolcheck(dir.path(), &["check", "loop.conf", "broken.conf"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("loop.conf: a symlink loop"), "{err}");
    assert!(err.contains("broken.conf: a broken symbolic link"), "{err}");
}

#[test]
fn a_run_that_reads_nothing_says_so() {
    let dir = project();
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    write(dir.path(), "postgresql.conf", "max_connections = 10\n");
    let out = poolcheck(dir.path(), &["check", "empty"]);
    assert!(
        stderr(&out).contains("no configuration files found under empty"),
        "{}",
        stderr(&out)
    );
    let alone = tempfile::tempdir().unwrap();
    write(alone.path(), "blob.py", b"create_engine\0");
    let out = poolcheck(alone.path(), &["check"]);
    assert!(
        stderr(&out).contains("no configuration files found under ."),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_postgresql_conf_that_includes_itself_keeps_its_server() {
    let dir = over_budget_project();
    write(
        dir.path(),
        "db/postgresql.conf",
        "max_connections = 20\nsuperuser_reserved_connections = 3\ninclude 'postgresql.conf'\n",
    );
    let budget = budget_json(dir.path(), &[]);
    assert_eq!(budget["databases"][0]["max_connections"], 20, "{budget}");
    let out = poolcheck(dir.path(), &["check", "--format", "json"]);
    let found = diagnostics(&out);
    let cycle = found
        .iter()
        .find(|d| d["code"] == "PC002")
        .unwrap_or_else(|| panic!("{}", stdout(&out)));
    assert_eq!(cycle["file"], "db/postgresql.conf");
    assert_eq!(cycle["range"]["start"]["line"], 3);
    assert!(codes(&out).contains(&"PC101".to_owned()));
}

#[test]
fn pgbouncer_configs_that_include_each_other_stay_pgbouncers() {
    let dir = project();
    write(
        dir.path(),
        "pgbouncer/pgbouncer.ini",
        "[databases]\napp = host=db pool_size=50\n[pgbouncer]\npool_mode = transaction\nmax_client_conn = 100\n%include common.ini\n",
    );
    write(
        dir.path(),
        "pgbouncer/common.ini",
        "[pgbouncer]\ndefault_pool_size = 20\n%include pgbouncer.ini\n",
    );
    let budget = budget_json(dir.path(), &[]);
    assert_eq!(
        budget["pgbouncers"].as_array().unwrap().len(),
        1,
        "{budget}"
    );
    assert_eq!(budget["pgbouncers"][0]["max_client_conn"], 100, "{budget}");
    let out = poolcheck(dir.path(), &["check", "--format", "json"]);
    let cycle = diagnostics(&out)
        .into_iter()
        .find(|d| d["code"] == "PC002")
        .unwrap_or_else(|| panic!("{}", stdout(&out)));
    assert_eq!(cycle["file"], "pgbouncer/common.ini");
    assert_eq!(cycle["range"]["start"]["line"], 3);
}

#[test]
fn a_pgbouncer_ini_that_includes_itself_stays_a_pgbouncer() {
    let dir = project();
    write(
        dir.path(),
        "pgbouncer.ini",
        "[databases]\napp = host=db\n[pgbouncer]\nmax_client_conn = 120\n%include pgbouncer.ini\n",
    );
    let budget = budget_json(dir.path(), &[]);
    assert_eq!(budget["pgbouncers"][0]["max_client_conn"], 120, "{budget}");
    let out = poolcheck(dir.path(), &["check", "--format", "json"]);
    assert!(
        codes(&out).contains(&"PC002".to_owned()),
        "{}",
        stdout(&out)
    );
}

#[test]
fn an_include_fan_out_is_read_once_per_file() {
    // 6 includes per file, 10 levels: 6^10 (60 million) paths through 11
    // small files, hours if each path were read.
    let dir = project();
    for level in 0..10 {
        let line = format!("include 'f{}.conf'\n", level + 1);
        let name = if level == 0 {
            "postgresql.conf".to_owned()
        } else {
            format!("f{level}.conf")
        };
        write(
            dir.path(),
            &name,
            format!("work_mem = {level}MB\n{}", line.repeat(6)),
        );
    }
    write(
        dir.path(),
        "f10.conf",
        "max_connections = 77\nwork_mem = 1MB\n",
    );
    let budget = budget_json(dir.path(), &[]);
    assert_eq!(budget["databases"][0]["max_connections"], 77, "{budget}");
}

#[test]
fn includes_read_only_regular_files_inside_the_project() {
    let dir = project();
    let outside = tempfile::tempdir().unwrap();
    write(
        outside.path(),
        "secret.conf",
        "max_connections = 999 # s3cr3t\n",
    );
    write(
        dir.path(),
        "postgresql.conf",
        "max_connections = 30\ninclude 'zero.conf'\ninclude 'pipe.conf'\ninclude 'linked.conf'\n",
    );
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.conf")).unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret.conf"),
        dir.path().join("linked.conf"),
    )
    .unwrap();
    let made = Command::new("mkfifo")
        .arg(dir.path().join("pipe.conf"))
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let out = poolcheck(dir.path(), &["check", "--format", "json"]);
    let text = stdout(&out);
    assert!(!text.contains("s3cr3t") && !text.contains("999"), "{text}");
    let found = diagnostics(&out);
    let about = |line: u64| {
        let d = found
            .iter()
            .find(|d| d["file"] == "postgresql.conf" && d["range"]["start"]["line"] == line)
            .unwrap_or_else(|| panic!("nothing at line {line}: {text}"));
        (
            d["code"].as_str().unwrap().to_owned(),
            d["message"].as_str().unwrap().to_owned(),
        )
    };
    assert_eq!(about(2).0, "PC004", "{text}");
    assert!(about(3).1.contains("not a regular file"), "{text}");
    assert_eq!(about(4).0, "PC004", "{text}");
    let budget = budget_json(dir.path(), &[]);
    assert_eq!(budget["databases"][0]["max_connections"], 30, "{budget}");
}

#[test]
fn findings_inside_included_files_are_placed_at_their_line() {
    let dir = project();
    write(dir.path(), "postgresql.conf", "include 'tuning.inc'\n");
    write(
        dir.path(),
        "tuning.inc",
        "# tuning\nmax_connections = lots\n",
    );
    let out = poolcheck(dir.path(), &["check", "--format", "json"]);
    let found = diagnostics(&out);
    let bad = found
        .iter()
        .find(|d| d["file"] == "tuning.inc")
        .unwrap_or_else(|| panic!("{}", stdout(&out)));
    assert_eq!(bad["range"]["start"]["line"], 2, "{bad}");
    assert_eq!(bad["range"]["start"]["column"], 19, "{bad}");
}

#[test]
fn every_fixture_is_a_project_of_its_own() {
    // poolcheck reads the whole project that holds a path; a fixture without
    // a marker would be read together with the repository around it.
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let mut unmarked = Vec::new();
    for group in ["rules", "projects"] {
        for entry in std::fs::read_dir(fixtures.join(group)).unwrap() {
            let dir = entry.unwrap().path();
            if !dir.is_dir() {
                continue;
            }
            let pyproject = std::fs::read_to_string(dir.join("pyproject.toml")).unwrap_or_default();
            if !dir.join("poolcheck.toml").is_file() && !pyproject.contains("tool.poolcheck") {
                unmarked.push(dir.display().to_string());
            }
        }
    }
    assert!(
        unmarked.is_empty(),
        "add a poolcheck.toml (a comment is enough) to: {unmarked:?}"
    );
}

/// Each finding as (code, file on disk, range): the file as shown is
/// relative to the directory the run stood in, or absolute.
fn findings_on_disk(out: &Output, cwd: &Path) -> Vec<(String, std::path::PathBuf, String)> {
    let mut found: Vec<_> = diagnostics(out)
        .iter()
        .map(|d| {
            (
                d["code"].as_str().expect("a code").to_owned(),
                cwd.join(d["file"].as_str().expect("a file")),
                d["range"].to_string(),
            )
        })
        .collect();
    found.sort();
    found
}

/// The numbers of a budget: what must not depend on where poolcheck runs
/// (names are paths, shown from there).
fn budget_numbers(budget: &serde_json::Value) -> Vec<String> {
    let mut numbers = Vec::new();
    for database in budget["databases"].as_array().expect("databases") {
        for key in ["max_connections", "usable", "demand", "rollout_demand"] {
            numbers.push(format!("{key} {}", database[key]));
        }
    }
    for service in budget["services"].as_array().expect("services") {
        for key in ["name", "replicas", "processes", "concurrency"] {
            numbers.push(format!("{key} {}", service[key]));
        }
        for pool in service["pools"].as_array().expect("pools") {
            numbers.push(format!("per_process {}", pool["per_process"]));
        }
    }
    numbers
}

/// The analysis names files from the project root wherever poolcheck runs:
/// from the root, from below it and from outside it, the same findings at
/// the same places (each file shown from where the user stands) and the
/// same budget, `include`s resolved alike.
#[test]
fn findings_and_budget_do_not_depend_on_where_poolcheck_runs() {
    let outer = tempfile::tempdir().expect("tempdir");
    let root = outer.path().join("proj");
    std::fs::create_dir_all(root.join(".git")).expect("mkdir .git");
    write(
        &root,
        "db/postgresql.conf",
        "include 'limits.conf'\nsuperuser_reserved_connections = 3\n",
    );
    write(&root, "db/limits.conf", "max_connections = 20\n");
    write(
        &root,
        "app/db.py",
        "from sqlalchemy import create_engine\nengine = create_engine('postgresql://db/app', pool_size=30, max_overflow=10)\n",
    );
    let below = root.join("app");

    let at_root = poolcheck(&root, &["check", "--format", "json"]);
    let from_below = poolcheck(&below, &["check", "--format", "json", ".."]);
    let from_outside = poolcheck(outer.path(), &["check", "--format", "json", "proj"]);
    let expected = findings_on_disk(&at_root, &root);
    assert!(
        expected.iter().any(|(code, _, _)| code == "PC101"),
        "{}",
        stdout(&at_root)
    );
    assert_eq!(findings_on_disk(&from_below, &below), expected);
    assert_eq!(findings_on_disk(&from_outside, outer.path()), expected);
    // Shown from where the user stands, as before (primary or related).
    let files = |out: &Output| -> Vec<String> {
        let mut files = Vec::new();
        for d in diagnostics(out) {
            files.push(d["file"].as_str().expect("a file").to_owned());
            for r in d["related"].as_array().expect("related") {
                files.push(r["file"].as_str().expect("a file").to_owned());
            }
        }
        files
    };
    assert!(files(&at_root).contains(&"app/db.py".to_owned()));
    assert!(files(&from_below).contains(&"db.py".to_owned()));
    assert!(files(&from_outside).contains(&"proj/app/db.py".to_owned()));

    let budget = budget_json(&root, &[]);
    assert_eq!(budget["databases"][0]["max_connections"], 20, "{budget}");
    assert_eq!(budget["databases"][0]["demand"], 40, "{budget}");
    let numbers = budget_numbers(&budget);
    assert_eq!(budget_numbers(&budget_json(&below, &[])), numbers);
    assert_eq!(
        budget_numbers(&budget_json(outer.path(), &["proj"])),
        numbers
    );
}
