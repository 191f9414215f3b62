//! Process kinds end to end: each server or task queue a deployment file
//! starts gives the processes, concurrency and demand a person computes from
//! its documented defaults. Each fixture has a twin (`-ok`) that fits.

use std::path::{Path, PathBuf};
use std::process::Command;

fn project(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/projects")
        .join(name)
}

fn run(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_poolcheck"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("poolcheck runs");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn budget(name: &str) -> serde_json::Value {
    let stdout = run(&project(name), &["budget", "--format", "json"]);
    serde_json::from_slice(&stdout).expect("budget JSON")
}

fn codes(name: &str) -> Vec<String> {
    let stdout = run(&project(name), &["check", "--format", "json"]);
    let value: serde_json::Value = serde_json::from_slice(&stdout).expect("check JSON");
    value["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .map(|d| d["code"].as_str().expect("code").to_owned())
        .collect()
}

/// The one service's (processes, concurrency, per-process cap) and the demand.
fn shape(b: &serde_json::Value) -> (serde_json::Value, serde_json::Value, i64, i64) {
    let services = b["services"].as_array().expect("services");
    assert_eq!(services.len(), 1, "{b:#}");
    let service = &services[0];
    (
        service["processes"].clone(),
        service["concurrency"].clone(),
        service["pools"][0]["per_process"]
            .as_i64()
            .unwrap_or_else(|| panic!("{b:#}")),
        b["databases"][0]["demand"].as_i64().unwrap_or(-1),
    )
}

fn assert_pair(name: &str, firing: (i64, i64, i64, i64), silent: (i64, i64, i64, i64)) {
    for (dir, expected, fires) in [
        (name.to_owned(), firing, true),
        (format!("{name}-ok"), silent, false),
    ] {
        let b = budget(&dir);
        let (processes, concurrency, per_process, demand) = shape(&b);
        assert_eq!(
            (
                processes.as_i64(),
                concurrency.as_i64(),
                per_process,
                demand
            ),
            (
                Some(expected.0),
                // -1: unbounded (the server takes requests without limit).
                (expected.1 >= 0).then_some(expected.1),
                expected.2,
                expected.3
            ),
            "{dir}: {b:#}"
        );
        assert_eq!(
            codes(&dir).contains(&"PC101".to_owned()),
            fires,
            "{dir}: PC101"
        );
    }
}

/// `fastapi run app/main.py --workers 8`: uvicorn with 8 workers, each with
/// the engine app/main.py imports (10 + 5): 120 > 97; 4 workers: 60.
#[test]
fn fastapi_run_workers() {
    assert_pair("fastapi-run-workers", (8, -1, 15, 120), (4, -1, 15, 60));
    assert_eq!(
        budget("fastapi-run-workers")["services"][0]["entry"],
        "app/main.py"
    );
}

/// `dramatiq app.tasks --processes 8 --threads 8` with SQLAlchemy's default
/// pool (5 + 10): 8 × 15 = 120 > 97; 4 processes: 60.
#[test]
fn dramatiq_processes_and_threads() {
    assert_pair("dramatiq-worker", (8, 8, 15, 120), (4, 8, 15, 60));
    assert_eq!(
        budget("dramatiq-worker")["services"][0]["entry"],
        "app.tasks"
    );
}

/// `rq worker-pool -n 4`: four workers, each with the work-horse it forks for
/// the current job, 8 processes × 10 = 80 > 47; one `rq worker`: 2 × 10 = 20.
#[test]
fn rq_workers_count_their_work_horse() {
    assert_pair("rq-worker-pool", (8, 1, 10, 80), (2, 1, 10, 20));
}

/// `huey_consumer app.tasks.huey -w 16 -k process`: 16 processes × 16 =
/// 256 > 97; `-k thread`: one process of 16 threads sharing its pool = 16.
#[test]
fn huey_worker_types() {
    assert_pair("huey-process-workers", (16, 1, 16, 256), (1, 16, 16, 16));
    assert_eq!(
        budget("huey-process-workers")["services"][0]["entry"],
        "app.tasks:huey"
    );
}

/// Django under granian's WSGI interface with 2 workers and no
/// `--blocking-threads`: backlog 1024 ÷ 2 workers ÷ 2 = 256 threads each, one
/// connection per thread: 512 > 97. With `--blocking-threads 8`: 16.
#[test]
fn granian_wsgi_blocking_threads_default() {
    assert_pair("granian-django-wsgi", (2, 256, 256, 512), (2, 8, 8, 16));
}

/// `python manage.py process_tasks` in compose with 120 replicas is a service
/// running the settings module (one connection per process): 120 > 97; the
/// `migrate` service is a one-off and no service.
#[test]
fn django_long_running_management_command() {
    for (dir, replicas, fires) in [
        ("django-management-command", 120, true),
        ("django-management-command-ok", 10, false),
    ] {
        let b = budget(dir);
        let services = b["services"].as_array().expect("services");
        assert_eq!(services.len(), 1, "{b:#}");
        assert_eq!(services[0]["name"], "tasks");
        assert_eq!(services[0]["processes"], 1);
        assert_eq!(b["databases"][0]["demand"], replicas, "{b:#}");
        assert_eq!(codes(dir).contains(&"PC101".to_owned()), fires, "{dir}");
    }
}

/// `celery worker -c 0` means one process per CPU, not zero processes: the
/// budget depends on the CPU count (PC107) instead of being 0.
#[test]
fn celery_concurrency_zero_is_the_cpu_count() {
    let b = budget("celery-concurrency-zero");
    let worker = &b["services"][0];
    assert_ne!(worker["processes"], 0, "{b:#}");
    assert!(codes("celery-concurrency-zero").contains(&"PC107".to_owned()));
    let ok = budget("celery-concurrency-zero-ok");
    assert_eq!(ok["services"][0]["processes"], 4);
    assert_eq!(ok["databases"][0]["demand"], 60);
    assert!(!codes("celery-concurrency-zero-ok").contains(&"PC107".to_owned()));
}

/// A compose file whose quoted scalars continue on lines indented no deeper
/// than their key, which Docker and PyYAML accept, is read: 8 gunicorn
/// workers × (10 + 5) = 120 > 97; 4 workers: 60.
#[test]
fn compose_quoted_scalars_spanning_lines_are_read() {
    assert_pair("compose-quoted-multiline", (8, 1, 15, 120), (4, 1, 15, 60));
    assert!(!codes("compose-quoted-multiline").contains(&"PC004".to_owned()));
}

/// supervisord started by the Dockerfile: `[program:web]` (gunicorn, 4
/// workers) and `[program:worker]` (celery --concurrency 4, numprocs 3) are
/// two services named after their programs, numprocs counting as copies:
/// 60 + 3 × 4 × 15 = 240 > 97; numprocs 1 and concurrency 1: 60 + 15 = 75.
#[test]
fn supervisord_programs_are_services() {
    for (dir, worker, demand, fires) in [
        ("supervisord-programs", (3, 4), 240, true),
        ("supervisord-programs-ok", (1, 1), 75, false),
    ] {
        let b = budget(dir);
        let services = b["services"].as_array().expect("services");
        let names: Vec<&str> = services.iter().filter_map(|s| s["name"].as_str()).collect();
        assert_eq!(names, ["web", "worker"], "{b:#}");
        assert_eq!(services[0]["processes"], 4);
        assert_eq!(
            (
                services[1]["replicas"].as_i64(),
                services[1]["processes"].as_i64()
            ),
            (Some(worker.0), Some(worker.1)),
            "{b:#}"
        );
        assert_eq!(b["databases"][0]["demand"], demand, "{b:#}");
        assert_eq!(codes(dir).contains(&"PC101".to_owned()), fires, "{dir}");
    }
}

/// `attach-daemon = celery -A app.tasks worker --concurrency 4` in the uwsgi
/// ini: a worker beside the 4 uwsgi processes, 60 + 60 = 120 > 97; with
/// concurrency 1: 60 + 15 = 75.
#[test]
fn uwsgi_attached_daemons_are_services() {
    for (dir, demand, fires) in [
        ("uwsgi-attach-daemon", 120, true),
        ("uwsgi-attach-daemon-ok", 75, false),
    ] {
        let b = budget(dir);
        let mut names: Vec<&str> = b["services"]
            .as_array()
            .expect("services")
            .iter()
            .filter_map(|s| s["name"].as_str())
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["web", "worker"], "{b:#}");
        assert_eq!(b["databases"][0]["demand"], demand, "{b:#}");
        assert_eq!(codes(dir).contains(&"PC101".to_owned()), fires, "{dir}");
    }
}
