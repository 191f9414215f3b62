//! Settings written in the shapes real projects use (issue 13): each shape has
//! a project that breaks the budget and a silent twin, and the budget is the
//! number a person computes from the files.

mod support;

use support::{fixture, poolcheck, stdout};

fn budget(name: &str) -> serde_json::Value {
    let out = poolcheck(
        &fixture(&format!("projects/{name}")),
        &["budget", "--format", "json"],
    );
    assert!(out.status.success(), "{}", support::stderr(&out));
    serde_json::from_slice(&out.stdout).expect("budget JSON")
}

/// The error and warning codes `check` reports (infos are advice, not breakage).
fn problems(name: &str) -> Vec<String> {
    let text = stdout(&poolcheck(
        &fixture(&format!("projects/{name}")),
        &["check"],
    ));
    text.lines()
        .filter(|l| l.starts_with("error[") || l.starts_with("warning["))
        .map(|l| l.split(']').next().unwrap_or(l).to_owned() + "]")
        .collect()
}

fn service<'a>(budget: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    budget["services"]
        .as_array()
        .expect("services")
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no service {name}: {budget:#}"))
}

fn demand(budget: &serde_json::Value) -> &serde_json::Value {
    &budget["databases"][0]["demand"]
}

/// A fired project breaks the budget with PC101; its twin reports nothing.
fn fires_and_twin_is_silent(name: &str) {
    assert!(
        problems(name).contains(&"error[PC101]".to_owned()),
        "{name}: {:?}",
        problems(name)
    );
    let twin = format!("{name}-silent");
    assert_eq!(problems(&twin), Vec::<String>::new(), "{twin}");
}

/// `options.update(pool_size=2, max_overflow=0)` in a factory and
/// `kwargs.setdefault("pool_size", 1)` + `kwargs.update(max_overflow=1)`:
/// 8 workers × ((2 + 0) + (1 + 1)) = 32, not SQLAlchemy's 5 + 10 per engine.
#[test]
fn dict_mutations_and_kwargs_set_the_pool() {
    for name in ["evaluator-dict-mutation", "evaluator-dict-mutation-silent"] {
        let b = budget(name);
        assert_eq!(demand(&b), 32, "{name}");
        let pools: Vec<i64> = service(&b, "web")["pools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["per_process"].as_i64().unwrap())
            .collect();
        assert_eq!(pools, [2, 2], "{name}");
    }
    fires_and_twin_is_silent("evaluator-dict-mutation");
}

/// `make_engine(dsn=…, pool_size=30)` and `make_engine(…, pool_size=10,
/// max_overflow=0)`: the factory's engine counts its largest caller, 30 + 5
/// (the default `max_overflow=5`); `engine_for(url)` takes its defaults 3 + 0.
/// 2 workers × (35 + 3) = 76.
#[test]
fn arguments_come_from_the_callers_of_a_factory() {
    let b = budget("evaluator-caller-args");
    assert_eq!(demand(&b), 76);
    assert_eq!(service(&b, "web")["pools"][0]["per_process"], 35);
    assert_eq!(service(&b, "web")["pools"][1]["per_process"], 3);
    fires_and_twin_is_silent("evaluator-caller-args");
}

/// `class Env(environ.FileAwareEnv)` and `environ.FileAwareEnv()` read the
/// environment like `environ.Env`: 4 workers × 10 threads = 40.
#[test]
fn file_aware_env_and_its_subclasses_read_the_database() {
    let b = budget("evaluator-django-environ");
    assert_eq!(demand(&b), 40);
    assert_eq!(
        budget("evaluator-django-environ-silent")["databases"][0]["demand"],
        16
    );
    fires_and_twin_is_silent("evaluator-django-environ");
}

/// python-decouple's `config(..., cast=int)` and `Csv()`.
#[test]
fn decouple_settings_are_read() {
    assert_eq!(demand(&budget("evaluator-django-decouple")), 40);
    assert_eq!(demand(&budget("evaluator-django-decouple-silent")), 16);
    fires_and_twin_is_silent("evaluator-django-decouple");
}

/// `include("components/base.py", "components/database.py",
/// optional("local.py"))`: one settings module; `database.py` sees
/// `DB_HOST` bound by `base.py`, and no PC004 says it is not defined.
#[test]
fn split_settings_includes_form_one_settings_module() {
    let b = budget("evaluator-django-split");
    assert_eq!(demand(&b), 40);
    assert_eq!(service(&b, "web")["pools"].as_array().unwrap().len(), 1);
    assert_eq!(demand(&budget("evaluator-django-split-silent")), 16);
    let text = stdout(&poolcheck(
        &fixture("projects/evaluator-django-split-silent"),
        &["check"],
    ));
    assert!(!text.contains("PC004"), "{text}");
    fires_and_twin_is_silent("evaluator-django-split");
}

/// `if env("DB_REPLICA_HOST", default=""):` adds the `replica` alias only
/// where the environment sets the host: 16 without it, 32 with it.
#[test]
fn an_alias_under_a_false_condition_does_not_exist() {
    let silent = budget("evaluator-django-condition-silent");
    assert_eq!(demand(&silent), 16);
    assert_eq!(
        service(&silent, "web")["pools"].as_array().unwrap().len(),
        1
    );
    assert_eq!(demand(&budget("evaluator-django-condition")), 32);
    fires_and_twin_is_silent("evaluator-django-condition");
}

/// `from .values import *` in `app/config/__init__.py` and `from .engine
/// import *` (with `__all__`) in `app/db/__init__.py`: pool 12 + 8.
#[test]
fn names_re_exported_through_package_star_imports_are_defined() {
    assert_eq!(demand(&budget("evaluator-reexport")), 100);
    assert_eq!(demand(&budget("evaluator-reexport-silent")), 80);
    fires_and_twin_is_silent("evaluator-reexport");
}

/// SQLModel's `create_engine` is SQLAlchemy's: 4 × (20 + 10) = 120.
#[test]
fn sqlmodel_create_engine_is_an_engine() {
    assert_eq!(demand(&budget("evaluator-sqlmodel")), 120);
    assert_eq!(demand(&budget("evaluator-sqlmodel-silent")), 60);
    fires_and_twin_is_silent("evaluator-sqlmodel");
}

/// `workers = min(int(1.5 * cpu_count()) + 1, 9)`: the cap bounds the
/// budget at 9 × 5 = 45, and PC107 says it breaks from 5 CPUs on
/// (8 workers × 5 = 40 > 37).
#[test]
fn a_capped_cpu_formula_is_bounded_and_pc107_names_the_cpu_count() {
    let b = budget("evaluator-cpu-formula");
    assert_eq!(service(&b, "web")["processes"], 9);
    assert_eq!(demand(&b), 45);
    let text = stdout(&poolcheck(
        &fixture("projects/evaluator-cpu-formula"),
        &["check"],
    ));
    assert!(text.contains("on hosts with ≥ 5 CPUs"), "{text}");
    assert_eq!(demand(&budget("evaluator-cpu-formula-silent")), 45);
    fires_and_twin_is_silent("evaluator-cpu-formula");
}

/// `CELERY_WORKER_CONCURRENCY` in Django settings read through
/// `config_from_object(..., namespace="CELERY")` sets the worker's processes
/// when the command line has no `--concurrency`: 12 by default, 40 where
/// compose sets it.
#[test]
fn celery_concurrency_comes_from_the_apps_configuration() {
    let silent = budget("evaluator-celery-config-silent");
    assert_eq!(service(&silent, "worker")["processes"], 12);
    assert_eq!(demand(&silent), 14);
    let fired = budget("evaluator-celery-config");
    assert_eq!(service(&fired, "worker")["processes"], 40);
    assert_eq!(demand(&fired), 42);
    fires_and_twin_is_silent("evaluator-celery-config");
}

/// `-k app.workers.QuietWorker` where `class QuietWorker(UvicornWorker)`:
/// an ASGI worker (no per-process request limit), named as written.
#[test]
fn a_repository_subclass_of_uvicorn_worker_is_an_asgi_worker() {
    let b = budget("evaluator-worker-subclass");
    let web = service(&b, "web");
    assert_eq!(web["processes"], 4);
    assert!(web["concurrency"].is_null(), "{web:#}");
    assert_eq!(demand(&b), 40);
    assert_eq!(demand(&budget("evaluator-worker-subclass-silent")), 30);
    fires_and_twin_is_silent("evaluator-worker-subclass");
}
