//! A celery worker's concurrency written in the app's configuration rather
//! than on its command line: `app.conf.worker_concurrency = 8`,
//! `app.conf.update(worker_concurrency=8)`, Django settings read through
//! `app.config_from_object("django.conf:settings", namespace="CELERY")`
//! (`CELERY_WORKER_CONCURRENCY`), or a `celeryconfig` module.

use poolcheck_core::facts::python::{Accessor, StmtKind};
use poolcheck_core::{Environment, IntExpr, Sourced};

use super::django;
use super::eval::{EvalCtx, Evaluator, ScopeKind};
use super::project::PythonProject;
use super::sqlalchemy::sourced_int;
use super::value::Value;

/// The concurrency the app `app_target` (`proj`, `proj.celery:app`)
/// configures, when it sets one that is known.
pub fn configured_concurrency(
    project: &PythonProject<'_>,
    env: &Environment,
    app_target: &str,
    service_code: &[usize],
) -> Option<Sourced<IntExpr>> {
    let eval = Evaluator::new(project, env);
    let module = app_target.split(':').next().unwrap_or(app_target).trim();
    let package = module.split('.').next().unwrap_or(module);
    let known = |v: Sourced<Value>| {
        let v = sourced_int(&v);
        v.value.is_some().then_some(v)
    };
    for m in project.package_modules(package) {
        // `worker_concurrency` is a trigger word: a module read only for its
        // imports sets none.
        let Some(module) = project.activity(m) else {
            continue;
        };
        for stmt in &module.body {
            let at = EvalCtx::at(m, ScopeKind::Module, stmt.span.start, stmt.guards.clone());
            let found = match &stmt.kind {
                StmtKind::Assign { target, value, .. }
                    if is_conf(&target.path, Some("worker_concurrency")) =>
                {
                    Some(eval.eval(value, &at))
                }
                StmtKind::Update { target, value, .. } if is_conf(&target.path, None) => {
                    match eval.eval(value, &at).value {
                        Some(Value::Dict(d)) => d.get("worker_concurrency").cloned(),
                        _ => None,
                    }
                }
                _ => None,
            };
            if let Some(v) = found.and_then(known) {
                return Some(v);
            }
        }
    }
    let mut ignored = Vec::new();
    for config in django::configurations(&eval, service_code, &mut ignored) {
        for name in ["CELERY_WORKER_CONCURRENCY", "CELERYD_CONCURRENCY"] {
            if eval.module_defines(config.module, name)
                && let Some(v) = known(eval.module_value(config.module, name))
            {
                return Some(v);
            }
        }
    }
    let config_module = project.index_of_name("celeryconfig")?;
    ["worker_concurrency", "CELERYD_CONCURRENCY"]
        .into_iter()
        .filter(|name| eval.module_defines(config_module, name))
        .find_map(|name| known(eval.module_value(config_module, name)))
}

/// `X.conf` (`setting` `None`) or `X.conf.<setting>`.
fn is_conf(path: &[Accessor], setting: Option<&str>) -> bool {
    match (path, setting) {
        ([Accessor::Attr(conf)], None) => conf == "conf",
        ([Accessor::Attr(conf), Accessor::Attr(name)], Some(setting)) => {
            conf == "conf" && name == setting
        }
        _ => false,
    }
}
