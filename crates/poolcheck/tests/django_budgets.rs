//! Django projects end to end: settings selection, aliases as client pools,
//! and the budget the CLI reports for them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::json;

fn project(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/projects")
        .join(name)
}

fn poolcheck(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_poolcheck"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("poolcheck runs")
}

fn json_of(output: &Output) -> serde_json::Value {
    assert!(
        output.stderr.is_empty(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON output")
}

/// The budget findings (PC1xx): the other families have fixtures of their own.
fn budget_codes(dir: &Path) -> Vec<String> {
    let check = json_of(&poolcheck(
        dir,
        &["check", "--format", "json", "--select", "PC1"],
    ));
    check["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .map(|d| d["code"].as_str().expect("code").to_owned())
        .collect()
}

/// Four sync workers, one thread each, `CONN_MAX_AGE = 60`: four connections.
/// `wsgi.py` selects `shop.settings.prod` (which holds no trigger word of its
/// own) over `manage.py`'s SQLite `dev` settings.
#[test]
fn wsgi_sync_workers_open_one_connection_each() {
    let dir = project("django-wsgi-sync");
    let budget = json_of(&poolcheck(&dir, &["budget", "--format", "json"]));
    assert_eq!(
        budget,
        json!({
            "version": 1,
            "databases": [{
                "name": "db",
                "max_connections": 100,
                "source": "default",
                "provider": null,
                "size": null,
                "reserved": 3,
                "usable": 97,
                "demand": 4,
                "rollout_demand": 4,
                "contributors": [{
                    "kind": "service",
                    "name": "web",
                    "connections": 4,
                    "formula": "4 workers × 1 request at a time"
                }]
            }],
            "pgbouncers": [],
            "services": [{
                "name": "web",
                "replicas": 1,
                "scaling": null,
                "processes": 4,
                "concurrency": 1,
                "fits": {"replicas": 24, "processes": 97, "per_process": 24},
                "entry": "shop.wsgi:application",
                "pools": [{
                    "kind": "django",
                    "target": "db",
                    "per_process": 1,
                    "location": "shop/settings/base.py:16"
                }]
            }]
        })
    );
    assert!(budget_codes(&dir).is_empty(), "{:?}", budget_codes(&dir));
}

/// 3 replicas × 12 gthread workers × 4 threads, persistent connections:
/// 144 connections against 97 usable slots.
#[test]
fn persistent_connections_per_thread_exceed_the_server() {
    let dir = project("django-gthread-replicas");
    let budget = json_of(&poolcheck(&dir, &["budget", "--format", "json"]));
    assert_eq!(
        budget,
        json!({
            "version": 1,
            "databases": [{
                "name": "db",
                "max_connections": 100,
                "source": "default",
                "provider": null,
                "size": null,
                "reserved": 3,
                "usable": 97,
                "demand": 144,
                "rollout_demand": 144,
                "contributors": [{
                    "kind": "service",
                    "name": "web",
                    "connections": 144,
                    "formula": "3 replicas × 12 workers × 4 threads"
                }]
            }],
            "pgbouncers": [],
            "services": [{
                "name": "web",
                "replicas": 3,
                "scaling": null,
                "processes": 12,
                "concurrency": 4,
                "fits": {"replicas": 2, "processes": 8, "per_process": 2},
                "entry": "shop.wsgi:application",
                "pools": [{
                    "kind": "django",
                    "target": "db",
                    "per_process": 4,
                    "location": "shop/settings/base.py:7"
                }]
            }]
        })
    );
    assert_eq!(budget_codes(&dir), ["PC101"]);
}

/// paperless-ngx's shape: ASGI (uvicorn, 2 workers) with Django 5.1's pool
/// sized from the environment (`PAPERLESS_DB_POOLSIZE=8` in the Dockerfile):
/// the pool, not the unbounded concurrency, caps each process.
#[test]
fn an_asgi_pool_caps_each_process_at_max_size() {
    let dir = project("django-asgi-pool");
    let budget = json_of(&poolcheck(&dir, &["budget", "--format", "json"]));
    assert_eq!(
        budget,
        json!({
            "version": 1,
            "databases": [{
                "name": "broker-db",
                "max_connections": 100,
                "source": "default",
                "provider": null,
                "size": null,
                "reserved": 3,
                "usable": 97,
                "demand": 16,
                "rollout_demand": 16,
                "contributors": [{
                    "kind": "service",
                    "name": "web",
                    "connections": 16,
                    "formula": "2 workers × max_size 8"
                }]
            }],
            "pgbouncers": [],
            "services": [{
                "name": "web",
                "replicas": 1,
                "scaling": null,
                "processes": 2,
                "concurrency": null,
                "fits": {"replicas": 6, "processes": 12, "per_process": 48},
                "entry": "paperless.asgi:application",
                "pools": [{
                    "kind": "django-pool",
                    "target": "broker-db",
                    "per_process": 8,
                    "location": "src/paperless/settings.py:21"
                }]
            }]
        })
    );
    assert!(budget_codes(&dir).is_empty(), "{:?}", budget_codes(&dir));
}

/// Nothing sets `DJANGO_SETTINGS_MODULE`, so `prod` (a pool of 10) and
/// `staging` (one connection per thread, 4 threads) are both checked; only
/// one of them is deployed, so the budget counts the larger of the two
/// `default` aliases, not their sum (3 × (10 + 4) = 42).
#[test]
fn alternative_settings_modules_count_their_largest_alias_once() {
    let dir = project("django-unselected-settings");
    let budget = json_of(&poolcheck(&dir, &["budget", "--format", "json"]));
    assert_eq!(
        budget["databases"][0]["contributors"],
        json!([{
            "kind": "service",
            "name": "web",
            "connections": 30,
            "formula": "3 workers × max(max_size 10, 4 threads)"
        }])
    );
    assert_eq!(budget["databases"][0]["demand"], json!(30));
    assert_eq!(
        budget["services"][0]["pools"]
            .as_array()
            .expect("pools")
            .iter()
            .map(|p| p["per_process"].clone())
            .collect::<Vec<_>>(),
        [json!(10), json!(4)]
    );
    assert!(budget_codes(&dir).is_empty(), "{:?}", budget_codes(&dir));
}

/// A `src/` layout: `ledger.config.env` lives in `src/ledger/config/env.py`,
/// holds no trigger word (so discovery skips it) and is still read, so
/// `CONN_MAX_AGE` from its helper is known and nothing is reported unknown.
#[test]
fn src_layout_helper_module_is_read_through_its_import() {
    let dir = project("django-src-layout");
    let check = json_of(&poolcheck(&dir, &["check", "--format", "json"]));
    assert_eq!(check["diagnostics"], json!([]));
    let budget = json_of(&poolcheck(&dir, &["budget", "--format", "json"]));
    assert_eq!(budget["databases"][0]["demand"], json!(12));
    assert_eq!(
        budget["databases"][0]["contributors"][0]["formula"],
        json!("3 workers × 4 threads")
    );
}

/// Two aliases whose hosts come from different unresolvable calls
/// (`secret("shop/primary-host")`, `secret("shop/analytics-host")`) are two
/// assumed servers of 97 usable slots each, 50 workers on each: no PC101.
/// The `replica` alias exists only `if env("DB_REPLICA_HOST", default="")`,
/// which is false with the known environment: no third database.
#[test]
fn different_unknown_hosts_are_different_assumed_servers() {
    let dir = project("django-unknown-hosts");
    let budget = json_of(&poolcheck(&dir, &["budget", "--format", "json"]));
    let databases = budget["databases"].as_array().expect("databases");
    let summary: Vec<(String, i64)> = databases
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap().to_owned(),
                d["demand"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("unknown host secret(\"shop/primary-host\")".to_owned(), 50),
            (
                "unknown host secret(\"shop/analytics-host\")".to_owned(),
                50
            ),
        ],
        "{budget:#}"
    );
    assert!(databases.iter().all(|d| d["usable"] == 97));
    assert!(budget_codes(&dir).is_empty(), "{:?}", budget_codes(&dir));
}
