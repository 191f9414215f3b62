//! `check --fix` and `check --diff` on copies of the rule fixtures.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/rules")
        .join(name)
}

/// A copy of a fixture project in a fresh temporary directory.
fn copy_of(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_tree(&fixture(name), dir.path());
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("readable fixture") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn poolcheck(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_poolcheck"))
        .args(args)
        .arg("--color=never")
        .current_dir(dir)
        .output()
        .expect("poolcheck runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 stdout")
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("UTF-8 stderr")
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).expect("readable file")
}

/// `(code, message)` of every finding, from the JSON output.
fn findings(dir: &Path) -> Vec<(String, String)> {
    let output = poolcheck(dir, &["check", "--format", "json"]);
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON output");
    value["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .map(|d| {
            (
                d["code"].as_str().expect("code").to_owned(),
                d["message"].as_str().expect("message").to_owned(),
            )
        })
        .collect()
}

/// Every file of a directory tree with its bytes, to prove nothing was written.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).expect("dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("file");
                files.push((path, bytes));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn fix_adds_statement_cache_size_and_the_pc201_finding_is_gone() {
    let dir = copy_of("PC201-asyncpg-pool-old-pgbouncer");
    assert!(findings(dir.path()).iter().any(|(c, _)| c == "PC201"));

    let output = poolcheck(dir.path(), &["check", "--fix"]);
    assert_eq!(
        stdout(&output),
        "Fixed 1 problem (1 file).\nAll checks passed!\n"
    );
    assert_eq!(output.status.code(), Some(0));
    assert!(
        read(dir.path(), "app/db.py")
            .contains("        max_size=10,\n        statement_cache_size=0,\n    )"),
        "{}",
        read(dir.path(), "app/db.py")
    );
    assert!(findings(dir.path()).is_empty());
}

#[test]
fn fix_repairs_pgbouncer_typos_and_the_file_still_parses() {
    let dir = copy_of("PC002-pgbouncer-typos");
    let output = poolcheck(dir.path(), &["check", "--fix"]);
    let out = stdout(&output);
    assert!(
        out.ends_with("Fixed 4 problems (1 file).\nFound 1 problem (1 error).\n"),
        "{out}"
    );
    // `lots` has no fix: it is what remains, and exits 1.
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        read(dir.path(), "pgbouncer.ini"),
        "[databases]\n\
         app = host=db port=5432 dbname=app pool_size=20\n\
         \n\
         [pgbouncer]\n\
         listen_port = 6432\n\
         pool_mode = transaction\n\
         max_client_conn = 500\n\
         default_pool_size = lots\n\
         server_idle_timeout = 600\n"
    );
    assert_eq!(
        findings(dir.path()),
        vec![(
            "PC002".to_owned(),
            "invalid value `lots` for `default_pool_size`: expected an integer".to_owned()
        )]
    );
}

#[test]
fn fix_removes_a_stale_suppression_comment() {
    let dir = copy_of("PC001-stale-ignore");
    let before = read(dir.path(), "pgbouncer.ini");
    let output = poolcheck(dir.path(), &["check", "--fix"]);
    assert_eq!(
        stdout(&output),
        "Fixed 1 problem (1 file).\nAll checks passed!\n"
    );
    let after = read(dir.path(), "pgbouncer.ini");
    assert_eq!(
        after,
        before.replace(
            "; poolcheck: ignore[PC104] the pool was 450 before the database was resized\n",
            ""
        )
    );
    assert_ne!(after, before);
}

#[test]
fn fixing_twice_changes_nothing_the_second_time() {
    let dir = copy_of("PC002-pgbouncer-typos");
    poolcheck(dir.path(), &["check", "--fix"]);
    let once = snapshot(dir.path());
    let second = poolcheck(dir.path(), &["check", "--fix"]);
    assert_eq!(snapshot(dir.path()), once);
    let out = stdout(&second);
    assert!(!out.contains("Fixed"), "{out}");
    assert!(out.ends_with("Found 1 problem (1 error).\n"), "{out}");
}

#[test]
fn diff_shows_the_hunk_writes_nothing_and_exits_1() {
    let dir = copy_of("PC002-pgbouncer-typos");
    let before = snapshot(dir.path());
    let output = poolcheck(dir.path(), &["check", "--diff"]);
    assert_eq!(
        stdout(&output),
        "--- pgbouncer.ini\n\
         +++ pgbouncer.ini\n\
         @@ -1,9 +1,9 @@\n \
         [databases]\n\
         -app = host=db port=5432 dbname=app pool_sise=20\n\
         +app = host=db port=5432 dbname=app pool_size=20\n \
         \n \
         [pgbouncer]\n \
         listen_port = 6432\n\
         -pool_mode = transactions\n\
         -max_client_connections = 500\n\
         +pool_mode = transaction\n\
         +max_client_conn = 500\n \
         default_pool_size = lots\n\
         -server_idle_timeout = 10min\n\
         +server_idle_timeout = 600\n"
    );
    assert_eq!(stderr(&output), "Would fix 4 problems (1 file).\n");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn diff_with_nothing_to_fix_prints_no_diff_and_exits_0() {
    let dir = copy_of("PC101-ok-pool-fits");
    let output = poolcheck(dir.path(), &["check", "--diff"]);
    assert_eq!(stdout(&output), "");
    assert_eq!(stderr(&output), "No fixes to apply.\n");
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn diff_and_fix_respect_the_rule_selection() {
    let dir = copy_of("PC002-pgbouncer-typos");
    let output = poolcheck(dir.path(), &["check", "--diff", "--select", "PC1"]);
    assert_eq!(stdout(&output), "");
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn diff_does_not_combine_with_a_format() {
    let dir = copy_of("PC002-pgbouncer-typos");
    let output = poolcheck(dir.path(), &["check", "--diff", "--format", "json"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--format"), "{}", stderr(&output));
}

#[test]
fn the_summary_counts_fixable_findings() {
    let dir = copy_of("PC002-pgbouncer-typos");
    let out = stdout(&poolcheck(dir.path(), &["check"]));
    assert!(
        out.ends_with("Found 5 problems (5 errors).\n4 fixable with `poolcheck check --fix`.\n"),
        "{out}"
    );
}

#[test]
fn machine_formats_keep_the_fix_count_off_stdout() {
    let dir = copy_of("PC002-pgbouncer-typos");
    let output = poolcheck(dir.path(), &["check", "--fix", "--format", "json"]);
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON output");
    assert_eq!(value["diagnostics"].as_array().map(Vec::len), Some(1));
    assert_eq!(stderr(&output), "Fixed 4 problems (1 file).\n");
}

/// PC201 and PC501 both insert at the end of the same call: the second fix
/// waits for a second round, after the analysis has seen the first.
fn engine_behind_pgbouncer(dir: &Path) {
    std::fs::create_dir_all(dir.join("app")).expect("mkdir");
    std::fs::write(
        dir.join("Procfile"),
        "web: uvicorn app.main:app --host 0.0.0.0 --port 8000\n",
    )
    .expect("write");
    std::fs::write(dir.join("app/__init__.py"), "").expect("write");
    std::fs::write(
        dir.join("app/db.py"),
        "from sqlalchemy.ext.asyncio import create_async_engine\n\
         \n\
         engine = create_async_engine(\n    \
         \"postgresql+asyncpg://app:secret@pgbouncer:6432/app\",\n    \
         pool_size=5,\n\
         )\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("pgbouncer.ini"),
        "[databases]\n\
         app = host=postgres port=5432 dbname=app\n\
         \n\
         [pgbouncer]\n\
         listen_port = 6432\n\
         pool_mode = transaction\n\
         max_client_conn = 500\n\
         default_pool_size = 20\n\
         client_idle_timeout = 300\n",
    )
    .expect("write");
}

#[test]
fn colliding_fixes_apply_over_two_rounds() {
    let dir = tempfile::tempdir().expect("temp dir");
    engine_behind_pgbouncer(dir.path());
    let codes: Vec<String> = findings(dir.path()).into_iter().map(|(c, _)| c).collect();
    assert!(
        codes.contains(&"PC201".to_owned()) && codes.contains(&"PC501".to_owned()),
        "{codes:?}"
    );

    let diff = stdout(&poolcheck(dir.path(), &["check", "--diff"]));
    let output = poolcheck(dir.path(), &["check", "--fix"]);
    assert!(
        stdout(&output).contains("Fixed 2 problems (1 file).\n"),
        "{}",
        stdout(&output)
    );
    let fixed = read(dir.path(), "app/db.py");
    assert!(fixed.contains("statement_cache_size"), "{fixed}");
    assert!(fixed.contains("pool_pre_ping=True"), "{fixed}");
    let remaining: Vec<String> = findings(dir.path()).into_iter().map(|(c, _)| c).collect();
    assert!(
        !remaining.contains(&"PC201".to_owned()) && !remaining.contains(&"PC501".to_owned()),
        "{remaining:?}"
    );
    // Each keyword on a line of its own, as the call writes its arguments.
    assert!(
        fixed.contains("    pool_size=5,\n    connect_args={"),
        "{fixed}"
    );
    // --diff previews the same rounds in memory.
    for added in [5, 6] {
        assert!(
            diff.contains(&format!(
                "+{}\n",
                fixed.lines().nth(added).expect("an added line")
            )),
            "{diff}"
        );
    }
}

#[test]
fn diff_wins_over_fix_and_writes_nothing() {
    let dir = copy_of("PC201-asyncpg-pool-old-pgbouncer");
    let before = snapshot(dir.path());
    let output = poolcheck(dir.path(), &["check", "--fix", "--diff"]);
    assert!(
        stdout(&output).contains("+        statement_cache_size=0,\n"),
        "{}",
        stdout(&output)
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn a_keyword_is_added_before_a_trailing_comment_not_inside_it() {
    let dir = copy_of("PC201-asyncpg-pool-old-pgbouncer");
    std::fs::write(
        dir.path().join("app/db.py"),
        "import asyncpg\n\n\nasync def startup():\n    \
         return await asyncpg.create_pool(\"postgresql://app:secret@pgbouncer:5432/app\", max_size=10  # sized for two workers\n    )\n",
    )
    .expect("write");
    let output = poolcheck(dir.path(), &["check", "--fix"]);
    assert_eq!(
        stdout(&output),
        "Fixed 1 problem (1 file).\nAll checks passed!\n"
    );
    assert!(
        read(dir.path(), "app/db.py")
            .contains("max_size=10, statement_cache_size=0  # sized for two workers\n    )\n"),
        "{}",
        read(dir.path(), "app/db.py")
    );
}

#[test]
fn an_unsafe_fix_waits_for_unsafe_fixes_and_then_keeps_the_dict_layout() {
    let dir = copy_of("PC203-sentry-pgbouncer");
    let before = snapshot(dir.path());
    let output = poolcheck(dir.path(), &["check"]);
    assert!(
        stdout(&output).contains("1 fixable with `poolcheck check --fix --unsafe-fixes`"),
        "{}",
        stdout(&output)
    );
    let output = poolcheck(dir.path(), &["check", "--fix"]);
    assert!(!stdout(&output).contains("Fixed"), "{}", stdout(&output));
    assert!(
        stdout(&output).contains("1 more fixable with `--unsafe-fixes`"),
        "{}",
        stdout(&output)
    );
    assert_eq!(snapshot(dir.path()), before, "a safe-only run left it");

    let output = poolcheck(dir.path(), &["check", "--fix", "--unsafe-fixes"]);
    assert!(
        stdout(&output).contains("Fixed 1 problem (1 file)."),
        "{}",
        stdout(&output)
    );
    let fixed = read(dir.path(), "sentry/sentry.conf.py");
    assert!(
        fixed.lines().all(|l| l == l.trim_end()),
        "no trailing whitespace: {fixed}"
    );
    assert!(
        fixed.contains("\n        \"DISABLE_SERVER_SIDE_CURSORS\": True,\n    }"),
        "{fixed}"
    );
    assert!(!findings(dir.path()).iter().any(|(c, _)| c == "PC203"));
}

#[test]
fn json_fixes_say_whether_they_are_safe() {
    let dir = copy_of("PC203-sentry-pgbouncer");
    let output = poolcheck(dir.path(), &["check", "--format", "json"]);
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON output");
    let pc203 = value["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .find(|d| d["code"] == "PC203")
        .expect("PC203");
    assert_eq!(pc203["fix"]["applicability"], "unsafe");
    let dir = copy_of("PC201-asyncpg-pool-old-pgbouncer");
    let output = poolcheck(dir.path(), &["check", "--format", "json"]);
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON output");
    assert_eq!(value["diagnostics"][0]["fix"]["applicability"], "safe");
}

#[cfg(unix)]
#[test]
fn a_read_only_file_is_reported_not_fixed_and_left_alone() {
    use std::os::unix::fs::PermissionsExt;
    let dir = copy_of("PC201-asyncpg-pool-old-pgbouncer");
    let db = dir.path().join("app/db.py");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o444)).expect("chmod");
    let before = snapshot(dir.path());
    let output = poolcheck(dir.path(), &["check", "--fix"]);
    assert!(
        stderr(&output).contains("app/db.py: not fixed: the file is read-only"),
        "{}",
        stderr(&output)
    );
    assert!(!stdout(&output).contains("Fixed"), "{}", stdout(&output));
    assert_eq!(output.status.code(), Some(1), "the finding remains");
    assert_eq!(snapshot(dir.path()), before);
}
