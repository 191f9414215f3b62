//! Deployment files end to end: compose services, entrypoint scripts and the
//! budget numbers they produce.

use std::path::{Path, PathBuf};
use std::process::Command;

fn project(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/projects")
        .join(name)
}

fn budget(dir: &Path) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_poolcheck"))
        .args(["budget", "--format", "json"])
        .current_dir(dir)
        .output()
        .expect("poolcheck runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("budget JSON")
}

fn service<'a>(budget: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    budget["services"]
        .as_array()
        .expect("services")
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no service {name}: {budget:#}"))
}

/// `postgres -c max_connections=50`, `gunicorn -w 6` and `celery --concurrency 4`,
/// both with `DATABASE_URL` from compose: 47 usable, 60 + 40 = 100 demanded.
#[test]
fn workloads_share_the_compose_postgres() {
    let b = budget(&project("compose-web-and-worker"));
    let db = &b["databases"][0];
    assert_eq!(db["name"], "db");
    assert_eq!(db["max_connections"], 50);
    assert_eq!(db["usable"], 47);
    assert_eq!(db["demand"], 100);
    let web = service(&b, "web");
    assert_eq!(web["processes"], 6);
    assert_eq!(web["pools"][0]["per_process"], 10);
    assert_eq!(web["pools"][0]["target"], "db");
    let worker = service(&b, "worker");
    assert_eq!(worker["processes"], 4);
    assert_eq!(worker["concurrency"], 1);
}

/// dify's entrypoint: `--workers ${SERVER_WORKER_AMOUNT:-1} --worker-class
/// ${SERVER_WORKER_CLASS:-gevent} --worker-connections ${…:-10}` with a
/// Flask-SQLAlchemy pool of 30 + 10: concurrency 10, demand 40.
#[test]
fn entrypoint_script_defaults_drive_the_web_service() {
    let b = budget(&project("entrypoint-gevent"));
    let web = service(&b, "web");
    assert_eq!(web["processes"], 1);
    assert_eq!(web["concurrency"], 10);
    assert_eq!(web["pools"][0]["per_process"], 40);
    let contributors = b["databases"][0]["contributors"].as_array().unwrap();
    let web_share = contributors
        .iter()
        .find(|c| c["name"] == "web")
        .expect("web contributes");
    assert_eq!(web_share["connections"], 40);
}

/// A compose service with `build: .` and no `command:` runs the Dockerfile's
/// CMD under its own name and with its environment (4 workers from compose,
/// not the Dockerfile's 3; DATABASE_URL from compose).
#[test]
fn a_built_service_runs_the_dockerfile_cmd_with_its_compose_environment() {
    let b = budget(&project("compose-build-dockerfile"));
    let api = service(&b, "api");
    assert_eq!(api["processes"], 4);
    assert_eq!(api["pools"][0]["target"], "postgres");
    assert_eq!(b["services"].as_array().unwrap().len(), 1, "{b:#}");
    assert_eq!(b["databases"][0]["usable"], 37);
    assert_eq!(b["databases"][0]["demand"], 40);
}

/// plane's shape: `command: ./bin/start-api.sh` runs a script of the build
/// context, whose `gunicorn -w "$API_WORKERS"` takes the service's
/// environment; an image-only service in another compose file runs
/// `/srv/backend/bin/start-worker.sh`, the one script with that tail.
#[test]
fn compose_commands_that_run_a_script_run_its_server_as_that_service() {
    let b = budget(&project("compose-command-script"));
    let api = service(&b, "api");
    assert_eq!(api["processes"], 3);
    assert_eq!(api["pools"][0]["per_process"], 12);
    let worker = service(&b, "worker");
    assert_eq!(worker["processes"], 5);
    // The scripts are not services of their own as well.
    let names: Vec<&str> = b["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["worker", "api"]);
    assert_eq!(b["databases"][0]["demand"], 96);
}

/// treeherder's shape: one entrypoint whose branches start different celery
/// workers of the same app (`-Q ingest --concurrency=3`, `-Q reports
/// --concurrency=5`): two services, not one counted once.
#[test]
fn an_entrypoint_with_several_worker_types_has_a_service_for_each() {
    let b = budget(&project("entrypoint-process-types"));
    assert_eq!(service(&b, "web")["processes"], 2);
    assert_eq!(service(&b, "worker")["processes"], 3);
    assert_eq!(service(&b, "worker-2")["processes"], 5);
    assert_eq!(b["databases"][0]["demand"], 20);
}

fn check_codes(dir: &Path) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_poolcheck"))
        .args(["check", "--format", "json"])
        .current_dir(dir)
        .output()
        .expect("poolcheck runs");
    let check: serde_json::Value = serde_json::from_slice(&out.stdout).expect("check JSON");
    check["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .map(|d| d["code"].as_str().expect("code").to_owned())
        .collect()
}

/// `api` runs `app.main:app`, which imports app/db.py (10 + 10) with 2
/// workers: 40. `echo` imports no database code: 0. The engine that
/// scripts/backfill.py creates inside `main()` belongs to no service.
#[test]
fn each_service_is_charged_for_the_code_its_entry_point_reaches() {
    let dir = project("service-entry-points");
    let b = budget(&dir);
    let db = &b["databases"][0];
    assert_eq!(db["demand"], 40, "{b:#}");
    let contributors = db["contributors"].as_array().unwrap();
    assert_eq!(contributors.len(), 1, "{b:#}");
    assert_eq!(contributors[0]["name"], "api");
    let api = service(&b, "api");
    assert_eq!(api["entry"], "app.main:app");
    assert_eq!(api["pools"].as_array().unwrap().len(), 1);
    assert_eq!(api["pools"][0]["per_process"], 20);
    let echo = service(&b, "echo");
    assert_eq!(echo["entry"], "echo.main:app");
    assert_eq!(echo["pools"], serde_json::json!([]));
    assert!(!check_codes(&dir).contains(&"PC101".to_owned()));
}

/// `gunicorn app.wsgi:app` where the repository has no `app/wsgi.py`: the
/// service runs all service code, and the human budget and JSON say so.
#[test]
fn an_unresolved_entry_point_is_reported_with_all_service_code() {
    let dir = project("entrypoint-process-types");
    let b = budget(&dir);
    assert_eq!(service(&b, "web")["entry"], serde_json::Value::Null);
    assert_eq!(service(&b, "web")["pools"][0]["per_process"], 2);
    let out = Command::new(env!("CARGO_BIN_EXE_poolcheck"))
        .args(["budget", "--color", "never"])
        .current_dir(&dir)
        .output()
        .expect("poolcheck runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Service web runs all service code")
            && text.contains("`app.wsgi:app` names no module of the repository"),
        "{text}"
    );
    let verbose = Command::new(env!("CARGO_BIN_EXE_poolcheck"))
        .args(["check", "--verbose", "--format", "concise"])
        .current_dir(&dir)
        .output()
        .expect("poolcheck runs");
    let err = String::from_utf8_lossy(&verbose.stderr);
    assert!(err.contains("service `web` runs all service code"), "{err}");
}

fn service_names(b: &serde_json::Value) -> Vec<String> {
    b["services"]
        .as_array()
        .expect("services")
        .iter()
        .map(|s| s["name"].as_str().expect("service name").to_owned())
        .collect()
}

/// `if root: exec gosu app celery … --concurrency 50 else exec celery …
/// --concurrency 50`: one worker of 50 processes × 1, not two (was 100 > 97).
#[test]
fn shell_branches_starting_the_same_worker_are_one_service() {
    let dir = project("shell-branch-worker");
    let b = budget(&dir);
    assert_eq!(service_names(&b), ["worker"], "{b:#}");
    assert_eq!(service(&b, "worker")["processes"], 50);
    assert_eq!(b["databases"][0]["demand"], 50);
    assert!(!check_codes(&dir).contains(&"PC101".to_owned()));
}

/// `if "--single" in sys.argv: uvicorn.run(…) else: uvicorn.run(…, workers=4)`:
/// one service, the larger branch (4 × (5 + 5) = 40), not 10 + 40.
#[test]
fn python_branches_around_uvicorn_run_are_one_service() {
    let b = budget(&project("one-service-alternatives"));
    assert_eq!(service_names(&b), ["web"], "{b:#}");
    assert_eq!(service(&b, "web")["processes"], 4);
    assert_eq!(b["databases"][0]["demand"], 40);
}

/// `WORKDIR /opt/app`, `COPY . /opt/app/`, `CMD ["uwsgi",
/// "/opt/app/docker/uwsgi.ini"]`: the command runs docker/uwsgi.ini (8
/// processes × 5): one service of 40, not 1 × 5 plus the ini's 40.
#[test]
fn a_container_path_to_a_uwsgi_ini_maps_back_to_the_repository_file() {
    let b = budget(&project("uwsgi-container-path"));
    assert_eq!(service_names(&b), ["web"], "{b:#}");
    let web = service(&b, "web");
    assert_eq!(web["processes"], 8);
    assert_eq!(web["entry"], "shop.wsgi:application");
    assert_eq!(b["databases"][0]["demand"], 40);
}

/// The image copies `deploy/uwsgi-production.ini` to `/etc/uwsgi/uwsgi.ini`
/// and runs that: 16 processes × 5 = 80 > 57 usable, though a
/// `deploy/uwsgi.ini` for laptops (2 processes) has the name the command
/// writes. The Dockerfile's COPY says which file it is, not the name.
#[test]
fn a_file_copied_into_the_image_under_another_name_is_the_one_that_runs() {
    let b = budget(&project("uwsgi-container-copy"));
    assert_eq!(service_names(&b), ["web"], "{b:#}");
    let web = service(&b, "web");
    assert_eq!(web["processes"], 16);
    let db = &b["databases"][0];
    assert_eq!(db["usable"], 57);
    assert_eq!(db["demand"], 80);
}

/// `WORKDIR /srv/app/deploy` then `uwsgi --ini uwsgi.ini`: the relative path
/// is `deploy/uwsgi.ini` (8 × 5 = 40 ≤ 57), not `local/uwsgi.ini` (16
/// processes), which has the same name but is not where the command runs.
#[test]
fn a_relative_config_path_is_read_from_the_images_working_directory() {
    let b = budget(&project("uwsgi-container-copy-ok"));
    assert_eq!(service_names(&b), ["web"], "{b:#}");
    let web = service(&b, "web");
    assert_eq!(web["processes"], 8);
    let db = &b["databases"][0];
    assert_eq!(db["usable"], 57);
    assert_eq!(db["demand"], 40);
}

/// contrib/gunicorn.py (6 workers) and contrib/uwsgi.ini (4 processes), both
/// serving `blog.wsgi:application` and started by no deployment file: two
/// ways to run one app, counted as max(40, 60) = 60 rather than 100.
#[test]
fn standalone_server_configurations_are_alternatives() {
    let b = budget(&project("standalone-alternatives"));
    let db = &b["databases"][0];
    assert_eq!(db["demand"], 60, "{b:#}");
    let contributors = db["contributors"].as_array().unwrap();
    assert_eq!(contributors.len(), 1);
    assert_eq!(contributors[0]["connections"], 60);
    let formula = contributors[0]["formula"].as_str().unwrap();
    assert!(formula.starts_with("max("), "{formula}");
}
