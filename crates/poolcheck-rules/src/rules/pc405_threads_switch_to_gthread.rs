use poolcheck_core::facts::process::ServerKind;
use poolcheck_core::{Diagnostic, IntExpr, Severity};

use crate::context::Context;
use crate::registry::{FixAvailability, Rule, RuleMeta};

fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let mut reported = Vec::new();
    for service in &ctx.deployment.services {
        if service.server != Some(ServerKind::Gunicorn) {
            continue;
        }
        let class = &service.settings.worker_class;
        let sync = match class {
            None => true,
            Some(c) => c
                .value
                .as_deref()
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("sync")),
        };
        if !sync {
            continue;
        }
        let Some(threads) = &service.settings.threads else {
            continue;
        };
        // The fewest threads the expression gives on any host.
        let Some(fewest) = threads.value.as_ref().and_then(fewest_threads) else {
            continue;
        };
        if fewest <= 1 {
            continue;
        }
        let Some(primary) = threads
            .location
            .clone()
            .or_else(|| service.location.clone())
        else {
            continue;
        };
        if reported.contains(&primary) {
            continue;
        }
        reported.push(primary.clone());
        let threads_text = ctx.sources.quote_with(threads, "threads");
        let class_text = match class {
            Some(c) => ctx.sources.quote(c, |v| format!("worker_class `{v}`")),
            None => "the default `sync` worker class".to_owned(),
        };
        let per_process = threads
            .value
            .as_ref()
            .map_or_else(|| fewest.to_string(), ToString::to_string);
        let mut d = Diagnostic::new(
            RULE.meta.code,
            RULE.meta.severity,
            primary,
            format!(
                "gunicorn service `{}` sets {threads_text} with {class_text}: gunicorn silently runs the `gthread` worker instead, so each process serves up to {per_process} requests at once and the connection budget counts {per_process} per process",
                service.name
            ),
        )
        .with_label("threads > 1 turns the sync worker into gthread")
        .with_help(
            "say what runs: set `worker_class = \"gthread\"` (`-k gthread`), and size each process's pool for its threads",
        );
        if let Some(loc) = class.as_ref().and_then(|c| c.location.clone()) {
            d = d.with_related(loc, "the sync worker class, replaced by gthread");
        }
        out.push(d);
    }
}

fn fewest_threads(expr: &IntExpr) -> Option<i64> {
    match expr.constant() {
        Some(v) => Some(v),
        None => (1..=256).filter_map(|cpus| expr.eval(cpus)).min(),
    }
}

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: poolcheck_core::Code::PC405,
        name: "threads-switch-to-gthread",
        severity: Severity::Info,
        summary: "gunicorn `threads` > 1 with the sync worker silently runs the gthread worker.",
        fix: FixAvailability::None,
        what_it_does: "Reports a gunicorn service that sets `threads` (`--threads`) above 1 while \
its worker class is `sync`, written or by default. poolcheck's budgets already count the thread \
count as each process's concurrency; this finding makes the switch visible where the setting is.",
        why: "gunicorn's `threads` setting only applies to the gthread worker, and when it is \
greater than 1 with `worker_class = sync`, gunicorn uses gthread without saying so. Each process \
then serves up to `threads` requests at once, each wanting its own database connection: a pool \
sized for one request per process (SQLAlchemy's 5 + 10, Django's one connection per thread) is \
now shared by every thread, and the service's share of `max_connections` grows by that factor.",
        example: "```python\n# contrib/gunicorn.py\nworkers = 5\nthreads = 3\ntimeout = 120\n```",
        fix_text: "Write `worker_class = \"gthread\"` (or `-k gthread`) next to `threads`, and make \
each process's pool at least as large as its thread count (`pool_size + max_overflow ≥ threads`).",
        references: &[
            "gunicorn `threads` (default 1; with `sync` and threads > 1, gthread is used): <https://docs.gunicorn.org/en/stable/settings.html#threads>",
            "gunicorn `config.py` (`WorkerThreads`): <https://github.com/benoitc/gunicorn/blob/master/gunicorn/config.py>",
        ],
    },
    check: Some(check),
};

#[cfg(test)]
mod tests {
    use super::super::process_support::testing::Project;

    #[test]
    fn threads_on_the_command_line_with_the_default_class() {
        let project = Project::new(&[(
            "Procfile",
            "web: gunicorn --workers 3 --threads 4 app.wsgi:application\n",
        )]);
        let found = project.findings("PC405");
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(project.primary_text(&found[0]), "4");
        assert!(found[0].message.contains("up to 4 requests at once"));
    }

    #[test]
    fn explicit_gthread_and_single_threads_are_silent() {
        for line in [
            "web: gunicorn -k gthread --threads 4 app.wsgi:application\n",
            "web: gunicorn --threads 1 app.wsgi:application\n",
        ] {
            let project = Project::new(&[("Procfile", line)]);
            assert!(project.findings("PC405").is_empty(), "{line}");
        }
    }
}
