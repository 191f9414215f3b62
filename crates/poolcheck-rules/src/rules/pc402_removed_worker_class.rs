use poolcheck_core::{Diagnostic, Severity, Version};

use super::process_support::{describe_pin, gunicorn_worker_class, pin, provenance};
use crate::context::Context;
use crate::registry::{FixAvailability, Rule, RuleMeta};

/// The release that deprecated the eventlet worker.
const DEPRECATED_IN: Version = Version::new(25, 0, 0);
/// The release that removed it.
const REMOVED_IN: Version = Version::new(26, 0, 0);

fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let gunicorn = pin(ctx, "gunicorn");
    for service in &ctx.deployment.services {
        if gunicorn_worker_class(service).as_deref() != Some("eventlet") {
            continue;
        }
        let Some(class) = &service.settings.worker_class else {
            continue;
        };
        let Some(primary) = class.location.clone().or_else(|| service.location.clone()) else {
            continue;
        };
        let written = format!(
            "the worker class `{}` ({})",
            class.value.as_deref().unwrap_or("eventlet"),
            provenance(ctx, class)
        );
        let (severity, status) = match gunicorn.and_then(|p| p.version) {
            Some(v) if v >= REMOVED_IN => (
                Severity::Error,
                format!(
                    "gunicorn {v} has no eventlet worker (removed in {REMOVED_IN}): the workers fail to start"
                ),
            ),
            // Deprecated or still supported in the pinned release.
            Some(_) => continue,
            None => (
                Severity::Warning,
                format!(
                    "the eventlet worker is deprecated since gunicorn {DEPRECATED_IN} and removed in {REMOVED_IN}; the gunicorn version is not pinned, so it is unknown whether this deployment still has it"
                ),
            ),
        };
        let mut d = Diagnostic::new(
            RULE.meta.code,
            severity,
            primary,
            format!("gunicorn service `{}` runs {written}: {status}", service.name),
        )
        .with_label(if severity == Severity::Error {
            "removed in gunicorn 26"
        } else {
            "deprecated in gunicorn 25, removed in 26"
        })
        .with_help(
            "switch to `gevent` (with the gevent package) or `gthread`, and size the database pool for its concurrency; or pin gunicorn below 26",
        );
        if let Some(p) = gunicorn {
            let label = match p.version {
                Some(_) => format!("gunicorn pinned: {}", describe_pin(ctx, p)),
                None => format!(
                    "gunicorn required without an exact version: {}",
                    describe_pin(ctx, p)
                ),
            };
            d = d.with_related(p.location.clone(), label);
        }
        out.push(d);
    }
}

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: poolcheck_core::Code::PC402,
        name: "removed-worker-class",
        severity: Severity::Error,
        summary: "gunicorn runs the eventlet worker, which gunicorn 26 removed.",
        fix: FixAvailability::None,
        what_it_does: "Reports a gunicorn service whose `worker_class` (`-k`, `--worker-class`, \
the config file or `GUNICORN_CMD_ARGS`) is `eventlet` when the repository pins gunicorn 26 or \
later. When gunicorn's version is not pinned it reports a warning instead, saying the worker is \
deprecated since 25.0.0 and removed in 26.0.0. Pins are read from requirements files, \
`pyproject.toml` and lock files.",
        why: "The eventlet worker was deprecated in gunicorn 25.0.0 (2026-02-01) and removed in \
26.0.0 (2026-05-05). A deployment that upgrades gunicorn, or installs it unpinned, stops \
starting its workers. The worker class also decides each process's concurrency, and so its \
share of the database connection budget.",
        example: "```python\n# gunicorn.conf.py\nworker_class = \"eventlet\"\nworker_connections = 100\n```\n\n\
```text\n# requirements.txt\ngunicorn==26.1.0\n```",
        fix_text: "Move to the `gevent` worker (install gevent) or to `gthread`, and size the \
database pool for the concurrency it gives (`worker_connections` for gevent, `threads` for \
gthread). Until then, pin `gunicorn<26`.",
        references: &[
            "gunicorn 2026 news, `docs/content/2026-news.md` (eventlet deprecated in 25.0.0, removed in 26.0.0): <https://github.com/benoitc/gunicorn/blob/master/docs/content/2026-news.md>",
            "gunicorn settings (`worker_class`): <https://docs.gunicorn.org/en/stable/settings.html#worker-class>",
        ],
    },
    check: Some(check),
};

#[cfg(test)]
mod tests {
    use poolcheck_core::Severity;

    use super::super::process_support::testing::Project;

    #[test]
    fn unpinned_gunicorn_gives_a_warning() {
        let project = Project::new(&[(
            "Procfile",
            "web: gunicorn -k eventlet -w 2 app.wsgi:application\n",
        )]);
        let found = project.findings("PC402");
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].severity, Severity::Warning);
        assert_eq!(project.primary_text(&found[0]), "eventlet");
    }

    #[test]
    fn gunicorn_25_still_has_it() {
        let project = Project::new(&[
            (
                "Procfile",
                "web: gunicorn -k eventlet app.wsgi:application\n",
            ),
            ("requirements.txt", "gunicorn==25.1.0\n"),
        ]);
        assert!(project.findings("PC402").is_empty());
    }
}
