//! gunicorn worker classes written in the repository: `-k app.workers.QuietWorker`
//! where `class QuietWorker(UvicornWorker)` runs what its base runs.

use poolcheck_core::Environment;

use super::eval::Evaluator;
use super::project::PythonProject;
use super::value::Value;

/// The worker class outside the repository that the repository class `dotted`
/// (`pkg.module.ClassName`) derives from, e.g. `uvicorn.workers.UvicornWorker`.
/// `None` when `dotted` is no repository class or derives from nothing known.
pub fn inherited_worker_class(
    project: &PythonProject<'_>,
    env: &Environment,
    dotted: &str,
) -> Option<String> {
    let (module, class) = dotted.trim().rsplit_once('.')?;
    let index = project
        .index_of_name(module)
        .or_else(|| project.resolve_absolute(0, module))?;
    let eval = Evaluator::new(project, env);
    let Some(Value::Class(class)) = eval.module_value(index, class).value else {
        return None;
    };
    let (_, externals) = eval.mro(class);
    externals.into_iter().find(|base| is_worker_class(base))
}

fn is_worker_class(path: &str) -> bool {
    let last = path.rsplit('.').next().unwrap_or(path);
    path.starts_with("uvicorn")
        || path.starts_with("gunicorn.workers")
        || last.ends_with("Worker") && (path.contains("gevent") || path.contains("eventlet"))
}
