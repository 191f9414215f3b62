use poolcheck_core::facts::process::ServerKind;
use poolcheck_core::facts::python::{
    BranchKind, CmpOp, Expr, ExprKind, ImportTimeKind, PythonModule,
};
use poolcheck_core::{Diagnostic, Severity, Sourced, Span};
use poolcheck_model::facts::ImportTimeConnection;

use crate::context::Context;
use crate::registry::{FixAvailability, Rule, RuleMeta};
use crate::topology::Service;

fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    for service in &ctx.deployment.services {
        if service.server != Some(ServerKind::Gunicorn) {
            continue;
        }
        let Some(preload) = &service.settings.preload else {
            continue;
        };
        if preload.value != Some(true) {
            continue;
        }
        let config = service.gunicorn_config.as_ref();
        let disposes = config.is_some_and(|c| c.post_fork_disposes || c.post_fork_closes_django);
        let shared: Vec<&ImportTimeConnection> = service
            .import_time_connections
            .iter()
            .filter(|c| runs_at_import(ctx, c))
            // `dispose(close=False)` / `close_all()` in the child drop
            // inherited engine and Django connections; a psycopg_pool opened
            // on construction has already connected in the parent.
            .filter(|c| c.kind == ImportTimeKind::OpenedPool || !disposes)
            .collect();
        let Some(first) = shared.first() else {
            continue;
        };
        out.push(diagnostic(ctx, service, preload, first, &shared[1..]));
    }
}

fn diagnostic(
    ctx: &Context<'_>,
    service: &Service,
    preload: &Sourced<bool>,
    first: &ImportTimeConnection,
    others: &[&ImportTimeConnection],
) -> Diagnostic {
    let preload_text = match (&preload.location, preload.origin_phrase()) {
        (Some(loc), None) => format!("preload set at {}", ctx.sources.describe(loc)),
        (Some(loc), Some(phrase)) => {
            format!("preload {phrase}, {}", ctx.sources.describe(loc))
        }
        (None, _) => "preload on".to_owned(),
    };
    let what = activity(first);
    let more = match others.len() {
        0 => String::new(),
        1 => " (and 1 more import-time connection)".to_owned(),
        n => format!(" (and {n} more import-time connections)"),
    };
    let consequence = if first.kind == ImportTimeKind::OpenedPool {
        "a pool opened in the master hands the same connections to every worker".to_owned()
    } else {
        format!(
            "{}, so the workers share the parent's sockets",
            hook_text(service)
        )
    };
    let message = format!(
        "gunicorn service `{}` imports the app in the master before forking ({preload_text}), and `{}` {what} at import time{more}; {consequence}: `SSL error: decryption failed or bad record mac`",
        service.name,
        ctx.sources.describe(&first.location),
    );
    let mut d = Diagnostic::new(
        RULE.meta.code,
        RULE.meta.severity,
        first.location.clone(),
        message,
    )
    .with_label("connects in the gunicorn master, before the fork");
    if let Some(loc) = &preload.location {
        d = d.with_related(
            loc.clone(),
            "preload: the app is imported once, in the master",
        );
    }
    for other in others {
        d = d.with_related(
            other.location.clone(),
            format!("also {} at import time", activity(other)),
        );
    }
    if let Some(config) = &service.gunicorn_config {
        for (name, loc) in &config.hooks {
            if matches!(name.as_str(), "post_fork" | "post_worker_init") {
                d = d.with_related(
                    loc.clone(),
                    format!("`{name}` neither disposes engines nor closes Django's connections"),
                );
            }
        }
    }
    let help = if first.kind == ImportTimeKind::OpenedPool {
        "create the pool with `open=False` and open it in the worker (gunicorn `post_fork` or the app's startup), or turn preload off".to_owned()
    } else {
        let config_name = service
            .gunicorn_config
            .as_ref()
            .map_or_else(|| "gunicorn.conf.py".to_owned(), |c| c.path.to_string());
        format!(
            "in {config_name}, add `def post_fork(server, worker): engine.dispose(close=False)` (SQLAlchemy ≥ 1.4.33; Django: `connections.close_all()`), or move the connection out of import time, or turn preload off"
        )
    };
    d.with_help(help)
}

fn activity(connection: &ImportTimeConnection) -> String {
    let receiver = connection
        .receiver
        .as_deref()
        .map(|r| format!(" on `{r}`"))
        .unwrap_or_default();
    match connection.kind {
        ImportTimeKind::Connect => format!("opens a connection{receiver}"),
        ImportTimeKind::Execute => format!("runs a query{receiver}"),
        ImportTimeKind::Metadata => format!("creates or reflects tables{receiver}"),
        ImportTimeKind::OpenedPool => {
            "opens a psycopg_pool pool (it connects on construction without `open=False`)"
                .to_owned()
        }
    }
}

fn hook_text(service: &Service) -> String {
    match &service.gunicorn_config {
        Some(config)
            if config
                .hooks
                .iter()
                .any(|(name, _)| matches!(name.as_str(), "post_fork" | "post_worker_init")) =>
        {
            format!(
                "the `post_fork` hook in {} does not dispose them",
                config.path
            )
        }
        Some(config) => format!("{} has no `post_fork` hook that disposes them", config.path),
        None => "no `post_fork` hook disposes them".to_owned(),
    }
}

/// Module-level code that runs when the app imports the module: not tests,
/// and not the body of `if __name__ == "__main__":`.
fn runs_at_import(ctx: &Context<'_>, connection: &ImportTimeConnection) -> bool {
    if connection.location.file.is_python_test() {
        return false;
    }
    let module = ctx
        .facts
        .iter()
        .find(|f| f.path == connection.location.file)
        .and_then(|f| f.python.as_ref());
    !module.is_some_and(|m| under_main_guard(m, connection.location.span))
}

fn under_main_guard(module: &PythonModule, span: Span) -> bool {
    module.branches.iter().any(|branch| {
        branch.kind == BranchKind::If
            // With an `else`, the activity may sit in the arm that runs on import.
            && branch.conditions.len() == 1
            && branch.span.start <= span.start
            && span.end <= branch.span.end
            && branch.conditions[0].as_ref().is_some_and(is_main_test)
    })
}

fn is_main_test(condition: &Expr) -> bool {
    let ExprKind::Compare(left, rest) = &condition.kind else {
        return false;
    };
    let [(CmpOp::Eq, right)] = rest.as_slice() else {
        return false;
    };
    let is_name = |e: &Expr| matches!(&e.kind, ExprKind::Name(n) if n == "__name__");
    let is_main = |e: &Expr| e.as_str_literal() == Some("__main__");
    (is_name(left) && is_main(right)) || (is_main(left) && is_name(right))
}

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: poolcheck_core::Code::PC401,
        name: "preload-shares-connections",
        severity: Severity::Warning,
        summary: "gunicorn preloads the app, the app connects at import time, and no post_fork hook disposes the connections: forked workers share sockets.",
        fix: FixAvailability::None,
        what_it_does: "Reports a gunicorn service with `preload_app = True` (or `--preload`) whose \
code opens database connections at module level — `engine.connect()`/`begin()`, \
`metadata.create_all(`/`reflect(`, a query, a `psycopg_pool.ConnectionPool(...)` without \
`open=False` — when no `post_fork` (or `post_worker_init`) hook in the gunicorn config disposes \
SQLAlchemy engines (`engine.dispose(close=False)`) or closes Django's connections \
(`connections.close_all()`). Test modules and code under `if __name__ == \"__main__\":` are not \
counted. A psycopg_pool pool opened at import is reported even with such a hook: it has already \
connected in the master.",
        why: "With preload, gunicorn imports the application once in the master process and then \
forks the workers. A connection opened during that import is a socket (and TLS session) that \
every worker inherits, and several processes then write to and read from the same connection. \
The protocol streams interleave: `SSL error: decryption failed or bad record mac`, \
`SSL SYSCALL error: EOF detected`, random protocol errors. SQLAlchemy pools do not pre-create \
connections, so an engine merely created at import is safe until it is used; uvicorn's own \
`--workers` spawns rather than forks and is not affected.",
        example: "```python\n# gunicorn.conf.py\nworkers = 4\npreload_app = True\n```\n\n\
```python\n# app/db.py\nengine = create_engine(DATABASE_URL)\nBase.metadata.create_all(engine)  # connects in the master\n```",
        fix_text: "Dispose inherited connections in each worker — SQLAlchemy ≥ 1.4.33:\n\n\
```python\n# gunicorn.conf.py\ndef post_fork(server, worker):\n    from app.db import engine\n    engine.dispose(close=False)\n```\n\n\
Django: call `connections.close_all()` in `post_fork`. For psycopg_pool, create the pool with \
`open=False` and open it after the fork. Or move the import-time work (table creation, warm-up \
queries) out of the import, or turn preload off.",
        references: &[
            "SQLAlchemy \"Using Connection Pools with Multiprocessing or os.fork()\": <https://docs.sqlalchemy.org/en/20/core/pooling.html#using-connection-pools-with-multiprocessing-or-os-fork>",
            "psycopg: create connections after the worker process is forked: <https://www.psycopg.org/psycopg3/docs/advanced/async.html>",
            "uvicorn deployment (workers are spawned): <https://www.uvicorn.org/deployment/>",
            "benoitc/gunicorn#1953: <https://github.com/benoitc/gunicorn/issues/1953>",
            "nautobot/nautobot#127: <https://github.com/nautobot/nautobot/issues/127>",
            "Reproduced against PostgreSQL 15 by `verify/scenarios/PC401-preload-shares-ssl-connection` (`verify/run PC401`)",
        ],
    },
    check: Some(check),
};

#[cfg(test)]
mod tests {
    use super::super::process_support::testing::Project;

    const DB: &str = "from sqlalchemy import create_engine, MetaData\n\nengine = create_engine(\"postgresql+psycopg2://app@db:5432/app\")\nmetadata = MetaData()\n";

    #[test]
    fn fires_on_create_all_at_import_with_preload() {
        let db = format!("{DB}metadata.create_all(engine)\n");
        let project = Project::new(&[
            ("gunicorn.conf.py", "workers = 4\npreload_app = True\n"),
            ("app/__init__.py", ""),
            ("app/db.py", &db),
        ]);
        let found = project.findings("PC401");
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(
            project.primary_text(&found[0]),
            "metadata.create_all(engine)"
        );
        assert!(
            found[0]
                .message
                .contains("creates or reflects tables on `metadata`")
        );
        assert!(
            found[0]
                .message
                .contains("gunicorn.conf.py has no `post_fork` hook")
        );
    }

    #[test]
    fn a_post_fork_helper_that_disposes_silences_it() {
        let db = format!("{DB}metadata.create_all(engine)\n");
        let config = "preload_app = True\n\ndef _reset():\n    from app.db import engine\n    engine.dispose(close=False)\n\ndef post_fork(server, worker):\n    _reset()\n";
        let project = Project::new(&[
            ("gunicorn.conf.py", config),
            ("app/__init__.py", ""),
            ("app/db.py", &db),
        ]);
        assert!(project.findings("PC401").is_empty());
    }

    #[test]
    fn main_guarded_and_test_code_does_not_count() {
        let db = format!("{DB}\nif __name__ == \"__main__\":\n    metadata.create_all(engine)\n");
        let project = Project::new(&[
            ("gunicorn.conf.py", "preload_app = True\n"),
            ("app/__init__.py", ""),
            ("app/db.py", &db),
            (
                "tests/test_db.py",
                "from app.db import engine\nconn = engine.connect()\n",
            ),
        ]);
        assert!(project.findings("PC401").is_empty());
    }

    #[test]
    fn without_preload_nothing_is_shared() {
        let db = format!("{DB}metadata.create_all(engine)\n");
        let project = Project::new(&[
            ("gunicorn.conf.py", "workers = 4\npreload_app = False\n"),
            ("app/__init__.py", ""),
            ("app/db.py", &db),
        ]);
        assert!(project.findings("PC401").is_empty());
    }
}
