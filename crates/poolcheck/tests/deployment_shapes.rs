//! Deployment files in the shapes real repositories write them: templates
//! that are not deployments yet, compose files for test runs, supervisord
//! started inside an image that a workload scales, and `numprocs` read from
//! the environment. Each fixture has a twin that fits.

mod support;

use support::{fixture, poolcheck, stderr, stdout};

fn project(name: &str) -> std::path::PathBuf {
    fixture("projects").join(name)
}

fn budget(name: &str) -> serde_json::Value {
    let out = poolcheck(&project(name), &["budget", "--format", "json"]);
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("budget JSON")
}

/// (code, severity, message) of every finding.
fn findings(name: &str) -> Vec<(String, String, String)> {
    let out = poolcheck(&project(name), &["check", "--format", "json"]);
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("check JSON");
    value["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap_or_default().to_owned(),
                d["severity"].as_str().unwrap_or_default().to_owned(),
                d["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn codes(name: &str) -> Vec<String> {
    findings(name)
        .into_iter()
        .map(|(code, _, _)| code)
        .collect()
}

/// (name, replicas, processes) of every service.
fn services(b: &serde_json::Value) -> Vec<(String, i64, i64)> {
    b["services"]
        .as_array()
        .expect("services")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or_default().to_owned(),
                s["replicas"].as_i64().unwrap_or(-1),
                s["processes"].as_i64().unwrap_or(-1),
            )
        })
        .collect()
}

fn demand(b: &serde_json::Value) -> i64 {
    b["databases"][0]["demand"].as_i64().unwrap_or(-1)
}

/// A cookiecutter tree (`{{cookiecutter.project_slug}}/…`) and a Jinja
/// compose file (`{% if celery_enabled %}`) are templates, not deployments:
/// only the root compose file's web counts, 8 × (10 + 5) = 120 > 97; with
/// 4 workers 60. Without the skip, the template's 16-process worker (and
/// its 80-connection engine) would be counted, or the Jinja file reported
/// as unreadable.
#[test]
fn template_files_are_not_deployments() {
    for (dir, workers, expected, fires) in [
        ("template-files", 8, 120, true),
        ("template-files-ok", 4, 60, false),
    ] {
        let b = budget(dir);
        assert_eq!(services(&b), [("web".to_owned(), 1, workers)], "{b:#}");
        assert_eq!(demand(&b), expected, "{b:#}");
        let codes = codes(dir);
        assert_eq!(codes.contains(&"PC101".to_owned()), fires, "{codes:?}");
        assert!(!codes.contains(&"PC004".to_owned()), "{codes:?}");
    }
    let out = poolcheck(&project("template-files"), &["check", "--verbose"]);
    let said = stderr(&out);
    assert!(
        said.contains("skipped 4 template files (cookiecutter or Jinja")
            && said.contains("deploy/docker-compose.prod.yml"),
        "{said}"
    );
    let quiet = poolcheck(&project("template-files"), &["check"]);
    assert!(!stderr(&quiet).contains("template"), "{}", stderr(&quiet));
}

/// `docker-compose.test.yml` and `compose.ci.yaml` run the test suite: their
/// worker (16 processes), web (12 workers) and database are not counted.
/// The deployment's web alone: 8 × 15 = 120 > 97 of the production
/// database's 100; with 4 workers 60.
#[test]
fn compose_files_for_tests_are_not_counted() {
    for (dir, workers, expected, fires) in [
        ("compose-test-files", 8, 120, true),
        ("compose-test-files-ok", 4, 60, false),
    ] {
        let b = budget(dir);
        assert_eq!(services(&b), [("web".to_owned(), 1, workers)], "{b:#}");
        assert_eq!(b["databases"].as_array().map(Vec::len), Some(1), "{b:#}");
        assert_eq!(b["databases"][0]["max_connections"], 100, "{b:#}");
        assert_eq!(demand(&b), expected, "{b:#}");
        assert_eq!(codes(dir).contains(&"PC101".to_owned()), fires, "{dir}");
    }
    let human = poolcheck(&project("compose-test-files"), &["budget"]);
    let text = stdout(&human);
    for file in ["docker-compose.test.yml", "compose.ci.yaml"] {
        assert!(
            text.contains(&format!(
                "Not counted: {file} describes test runs (its name says so)"
            )),
            "{text}"
        );
    }
    let verbose = poolcheck(&project("compose-test-files"), &["check", "--verbose"]);
    assert!(
        stderr(&verbose).contains(
            "left out docker-compose.test.yml: a compose file for test runs, so its services are not counted"
        ),
        "{}",
        stderr(&verbose)
    );
}

/// The Dockerfile's `CMD ["supervisord", "-c", "/etc/supervisor/conf.d/app.conf"]`
/// reads `deploy/supervisord.conf` (COPY), and compose runs that image as
/// `app` with 3 replicas and `WORKER_PROCS=2`: web 3 × 2 × 15 = 90, worker
/// (numprocs 2 per replica) 6 × 2 × 15 = 180, 270 > 97. The twin: 2
/// replicas, one process each, `WORKER_PROCS=1`: 2 × 15 + 2 × 15 = 60.
#[test]
fn supervisord_in_an_image_runs_once_per_replica() {
    for (dir, web, worker, expected, fires) in [
        ("supervisord-image-replicas", (3, 2), (6, 2), 270, true),
        ("supervisord-image-replicas-ok", (2, 1), (2, 1), 60, false),
    ] {
        let b = budget(dir);
        assert_eq!(
            services(&b),
            [
                ("web".to_owned(), web.0, web.1),
                ("worker".to_owned(), worker.0, worker.1)
            ],
            "{b:#}"
        );
        assert_eq!(demand(&b), expected, "{b:#}");
        let codes = codes(dir);
        assert_eq!(codes.contains(&"PC101".to_owned()), fires, "{codes:?}");
        assert!(!codes.contains(&"PC004".to_owned()), "{codes:?}");
    }
    let b = budget("supervisord-image-replicas");
    let source = b["services"][1]["scaling"]["source"].as_str().unwrap_or("");
    assert!(
        source.contains("supervisord [program:worker] numprocs"),
        "{b:#}"
    );
}

/// `numprocs=%(ENV_CELERY_PROCS)s` reads the known environment: 4 from
/// `.env` gives 4 × 2 × 15 = 120 > 97; 2 from `[env]` gives 60. Unset, it
/// stays a PC004 info naming the variable, and the program counts once.
#[test]
fn supervisord_numprocs_from_the_environment() {
    for (dir, copies, expected, fires) in [
        ("supervisord-numprocs-env", 4, 120, true),
        ("supervisord-numprocs-env-ok", 2, 60, false),
        ("supervisord-numprocs-env-unknown", 1, 30, false),
    ] {
        let b = budget(dir);
        assert_eq!(services(&b), [("worker".to_owned(), copies, 2)], "{b:#}");
        assert_eq!(demand(&b), expected, "{b:#}");
        let found = findings(dir);
        assert_eq!(
            found.iter().any(|(code, _, _)| code == "PC101"),
            fires,
            "{found:?}"
        );
        let unresolved: Vec<_> = found
            .iter()
            .filter(|(code, _, _)| code == "PC004")
            .collect();
        if dir.ends_with("unknown") {
            assert_eq!(unresolved.len(), 1, "{found:?}");
            let (_, severity, message) = unresolved[0];
            assert_eq!(severity, "info");
            assert!(
                message.contains("`numprocs = %(ENV_CELERY_PROCS)s`")
                    && message.contains("`CELERY_PROCS` is not set in the known environment")
                    && message.contains("`[program:worker]` is counted as 1 process"),
                "{message}"
            );
        } else {
            assert!(unresolved.is_empty(), "{found:?}");
        }
    }
}

/// Docker and PyYAML read a compose file whose service merges two anchors
/// with two `<<:` keys in one mapping, and whose quoted scalar spans lines
/// closing at its key's column; saphyr refuses both as written. Read as
/// Docker reads it: 3 replicas × 4 workers × 15 = 180 > 97; one replica 60.
#[test]
fn compose_yaml_as_docker_reads_it() {
    for (dir, replicas, expected, fires) in [
        ("compose-repeated-merge-keys", 3, 180, true),
        ("compose-repeated-merge-keys-ok", 1, 60, false),
    ] {
        let b = budget(dir);
        assert_eq!(services(&b), [("web".to_owned(), replicas, 4)], "{b:#}");
        assert_eq!(demand(&b), expected, "{b:#}");
        let codes = codes(dir);
        assert_eq!(codes.contains(&"PC101".to_owned()), fires, "{codes:?}");
        assert!(!codes.contains(&"PC004".to_owned()), "{codes:?}");
    }
}

/// A compose `env_file: .env` that the repository does not hold (the user
/// copies `.env.example` at deploy time; Docker refuses to start without
/// it) is read from the example beside it, and stderr says so: here the
/// example selects PostgreSQL, 3 sync workers × 1 connection. With `.env`
/// present, the example is not read. With neither, a warning says the
/// variables are unknown (the settings fall back to SQLite).
#[test]
fn a_missing_env_file_is_read_from_its_example() {
    let out = poolcheck(
        &project("compose-env-file-example"),
        &["budget", "--format", "json"],
    );
    let said = stderr(&out);
    assert!(
        said.contains(
            "poolcheck: .env (an env_file of docker-compose.yml) is not in the repository: read .env.example in its place"
        ),
        "{said}"
    );
    let b: serde_json::Value = serde_json::from_slice(&out.stdout).expect("budget JSON");
    assert_eq!(demand(&b), 3, "{b:#}");

    assert_eq!(demand(&budget("compose-env-file-example-ok")), 3);

    let dir = tempfile::tempdir().expect("temp dir");
    let source = project("compose-env-file-example");
    for file in [
        "poolcheck.toml",
        "docker-compose.yml",
        "shop/__init__.py",
        "shop/wsgi.py",
        "shop/settings.py",
    ] {
        let to = dir.path().join(file);
        std::fs::create_dir_all(to.parent().expect("a directory")).expect("mkdir");
        std::fs::copy(source.join(file), to).expect("copy");
    }
    let out = poolcheck(dir.path(), &["budget", "--format", "json"]);
    let said = stderr(&out);
    assert!(
        said.contains(
            "poolcheck: warning: .env (an env_file of docker-compose.yml) is not in the repository: the variables it sets are unknown"
        ),
        "{said}"
    );
    let b: serde_json::Value = serde_json::from_slice(&out.stdout).expect("budget JSON");
    assert_eq!(demand(&b), 0, "{b:#}");
}
