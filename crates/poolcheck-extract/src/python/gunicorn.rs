//! gunicorn Python config files (`gunicorn.conf.py`, `-c path`) and
//! `uvicorn.run(...)` calls.

use std::path::Path;

use poolcheck_core::facts::process::ServerSettings;
use poolcheck_core::{FilePath, IntExpr, Location, Sourced};

use super::Unresolved;
use super::eval::Evaluator;
use super::sqlalchemy::{sourced_bool, sourced_int, sourced_string};
use super::value::Value;

/// Settings a gunicorn config file sets, plus its server hooks.
#[derive(Debug, Clone, PartialEq)]
pub struct GunicornConfig {
    pub path: FilePath,
    /// Only what the file sets; gunicorn's defaults are applied by the caller.
    pub settings: ServerSettings,
    /// `post_fork` (or `post_worker_init`) disposes engines: `engine.dispose(...)`.
    pub post_fork_disposes: bool,
    /// `post_fork` closes Django's connections (`connections.close_all()`).
    pub post_fork_closes_django: bool,
    /// Server hooks the file defines (`post_fork`, `pre_fork`, `when_ready`, …), with locations.
    pub hooks: Vec<(String, Location)>,
    pub unresolved: Vec<Unresolved>,
}

/// gunicorn's own config file names: `gunicorn.conf.py`, `gunicorn_config.py`,
/// `gunicorn-prod.py`, `config/gunicorn.py`.
pub fn is_gunicorn_config_name(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    // Asked of every parsed module of the tree on every analysis: decided
    // on the name's bytes, without allocating.
    name.len() >= "gunicorn".len()
        && name.as_bytes()[.."gunicorn".len()].eq_ignore_ascii_case(b"gunicorn")
        && Path::new(name)
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("py"))
}

const HOOKS: &[&str] = &[
    "on_starting",
    "on_reload",
    "when_ready",
    "pre_fork",
    "post_fork",
    "post_worker_init",
    "worker_int",
    "worker_abort",
    "pre_exec",
    "pre_request",
    "post_request",
    "child_exit",
    "worker_exit",
    "nworkers_changed",
    "on_exit",
];

pub fn gunicorn_config(eval: &Evaluator<'_, '_>, module: usize) -> GunicornConfig {
    let path = eval.project().path(module).clone();
    let mut unresolved = Vec::new();
    let mut settings = ServerSettings::default();
    let defined = |name: &str| eval.module_defines(module, name);
    // The value of a setting the file defines, noting why it is unknown if it is.
    let mut setting = |name: &str| -> Option<Sourced<Value>> {
        if !defined(name) {
            return None;
        }
        let v = eval.module_value(module, name);
        if let Some(reason) = v.unknown_reason() {
            unresolved.push(Unresolved {
                assumed: None,
                location: v.location.clone().unwrap_or_else(|| {
                    Location::new(path.clone(), poolcheck_core::Span::default())
                }),
                what: format!("gunicorn `{name}`"),
                reason: reason.to_owned(),
            });
        }
        Some(v)
    };
    let constant = |v: Sourced<IntExpr>| v.and_then("not a constant", |e: IntExpr| e.constant());
    settings.workers = setting("workers").map(|v| sourced_int(&v));
    settings.threads = setting("threads").map(|v| sourced_int(&v));
    settings.worker_connections = setting("worker_connections").map(|v| sourced_int(&v));
    settings.timeout = setting("timeout").map(|v| constant(sourced_int(&v)));
    settings.max_requests = setting("max_requests").map(|v| constant(sourced_int(&v)));
    settings.worker_class = setting("worker_class").map(|v| sourced_string(&v));
    for key in ["preload_app", "preload"] {
        if let Some(v) = setting(key) {
            settings.preload = Some(sourced_bool(&v));
        }
    }
    if let Some(v) = setting("bind") {
        let first = match &v.value {
            Some(Value::List(items)) => items.first().cloned().unwrap_or(v.clone()),
            _ => v.clone(),
        };
        settings.bind = Some(sourced_string(&first));
    }
    settings.app = setting("wsgi_app").map(|v| sourced_string(&v));

    let m = eval.project().module(module);
    let mut hooks = Vec::new();
    let mut post_fork_disposes = false;
    let mut post_fork_closes_django = false;
    for func in m.functions.iter().filter(|f| f.class.is_none()) {
        if !HOOKS.contains(&func.name.as_str()) {
            continue;
        }
        hooks.push((func.name.clone(), eval.location(module, func.name_span)));
        if matches!(func.name.as_str(), "post_fork" | "post_worker_init") {
            post_fork_disposes |= func.calls_dispose || calls_helper(m, func, |f| f.calls_dispose);
            post_fork_closes_django |= func.closes_django_connections
                || calls_helper(m, func, |f| f.closes_django_connections);
        }
    }
    GunicornConfig {
        path,
        settings,
        post_fork_disposes,
        post_fork_closes_django,
        hooks,
        unresolved,
    }
}

/// Whether a hook calls a module-level helper function with the property
/// (`def post_fork(server, worker): _reset_pools()`).
fn calls_helper(
    m: &poolcheck_core::facts::PythonModule,
    hook: &poolcheck_core::facts::python::FunctionDef,
    property: impl Fn(&poolcheck_core::facts::python::FunctionDef) -> bool,
) -> bool {
    m.functions.iter().any(|helper| {
        helper.class.is_none()
            && helper.name != hook.name
            && hook.called.contains(&helper.name)
            && property(helper)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gunicorn_config_names() {
        assert!(is_gunicorn_config_name(Path::new("gunicorn.conf.py")));
        assert!(is_gunicorn_config_name(Path::new(
            "deploy/gunicorn_config.py"
        )));
        assert!(is_gunicorn_config_name(Path::new("contrib/gunicorn.py")));
        assert!(!is_gunicorn_config_name(Path::new("gunicorn.conf")));
        assert!(!is_gunicorn_config_name(Path::new("settings.py")));
    }
}
