use poolcheck_core::{Diagnostic, Edit, Fix, Location, Origin, Severity, Sourced, Span, Version};
use poolcheck_model::fix_edits as edits;

use super::process_support::{describe_pin, pin, provenance, text_at};
use crate::context::Context;
use crate::registry::{FixAvailability, Rule, RuleMeta};
use poolcheck_core::facts::process::ServerKind;

/// The uvicorn release that deprecated its gunicorn workers.
const DEPRECATED_SINCE: Version = Version::new(0, 30, 0);

/// Deprecated class paths and their replacements in the `uvicorn-worker` package.
const REPLACEMENTS: &[(&str, &str)] = &[
    (
        "uvicorn.workers.UvicornWorker",
        "uvicorn_worker.UvicornWorker",
    ),
    (
        "uvicorn.workers.UvicornH11Worker",
        "uvicorn_worker.UvicornH11Worker",
    ),
];

fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let uvicorn = pin(ctx, "uvicorn");
    if uvicorn
        .and_then(|p| p.version)
        .is_some_and(|v| v < DEPRECATED_SINCE)
    {
        return;
    }
    let mut reported: Vec<Location> = Vec::new();
    for service in &ctx.deployment.services {
        if service.server != Some(ServerKind::Gunicorn) {
            continue;
        }
        let Some(class) = &service.settings.worker_class else {
            continue;
        };
        let Some(written) = class.value.as_deref().map(str::trim) else {
            continue;
        };
        let Some(&(old, new)) = REPLACEMENTS.iter().find(|(old, _)| *old == written) else {
            continue;
        };
        let Some(primary) = class.location.clone().or_else(|| service.location.clone()) else {
            continue;
        };
        if reported.contains(&primary) {
            continue;
        }
        reported.push(primary.clone());
        let since = match uvicorn.and_then(|p| p.version) {
            Some(v) => format!("deprecated since uvicorn {DEPRECATED_SINCE} (pinned: {v})"),
            None => format!("deprecated since uvicorn {DEPRECATED_SINCE}"),
        };
        let mut d = Diagnostic::new(
            RULE.meta.code,
            RULE.meta.severity,
            primary,
            format!(
                "gunicorn service `{}` runs the worker class `{old}` ({}), {since}: use `{new}` from the `uvicorn-worker` package",
                service.name,
                provenance(ctx, class),
            ),
        )
        .with_label(format!("deprecated: use `{new}`"))
        .with_help(format!(
            "set the worker class to `{new}` and add `uvicorn-worker` to the dependencies"
        ));
        if let Some(p) = uvicorn {
            d = d.with_related(
                p.location.clone(),
                format!("uvicorn pinned: {}", describe_pin(ctx, p)),
            );
        }
        if let Some(fix) = replacement_fix(ctx, class, old, new) {
            d = d.with_fix(fix);
        }
        out.push(d);
    }
}

/// Replaces the class path where it is written as a literal: the word on a
/// command line, or the inside of a Python string.
fn replacement_fix(
    ctx: &Context<'_>,
    class: &Sourced<String>,
    old: &str,
    new: &str,
) -> Option<Fix> {
    if class.origin != Origin::Literal {
        return None;
    }
    let location = class.location.as_ref()?;
    let text = text_at(ctx, location)?;
    let edit = if text == old {
        // A word of a command line (Procfile, shell, compose).
        Edit {
            location: location.clone(),
            new_text: new.to_owned(),
        }
    } else {
        let file = ctx.sources.get(&location.file)?;
        let quoted = text.len() == old.len() + 2
            && (text.starts_with('"') && text.ends_with('"')
                || text.starts_with('\'') && text.ends_with('\''))
            && text.get(1..text.len() - 1) == Some(old);
        if !quoted {
            return None;
        }
        if location
            .file
            .as_path()
            .extension()
            .is_some_and(|e| e == "py")
        {
            edits::replace_string_content(file, location.span, new)?
        } else {
            // A quoted word of a shell line or a YAML scalar.
            Edit {
                location: file.location(Span::new(
                    location.span.start as usize + 1,
                    location.span.end as usize - 1,
                )),
                new_text: new.to_owned(),
            }
        }
    };
    // Unsafe: `uvicorn_worker` is a package of its own, which the
    // deployment must install before the new path imports.
    Some(Fix::unsafe_fix(format!("Use `{new}`"), vec![edit]))
}

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: poolcheck_core::Code::PC403,
        name: "deprecated-uvicorn-worker",
        severity: Severity::Info,
        summary: "gunicorn runs `uvicorn.workers.UvicornWorker`, deprecated since uvicorn 0.30: use `uvicorn_worker.UvicornWorker`.",
        fix: FixAvailability::Sometimes,
        what_it_does: "Reports a gunicorn service whose worker class is \
`uvicorn.workers.UvicornWorker` (or `UvicornH11Worker`), unless the repository pins uvicorn below \
0.30. The fix replaces the class path where it is written as a literal (a command-line word or a \
string in the gunicorn config).",
        why: "uvicorn deprecated its built-in gunicorn workers in 0.30.0; they live on in the \
separate `uvicorn-worker` package as `uvicorn_worker.UvicornWorker`. The deprecated module will \
go away in a later uvicorn release, and the service then fails to start. It is also an ASGI \
worker: each process serves requests without limit, so its database pool, not the worker, \
bounds its connections.",
        example: "```sh\ngunicorn -w \"$GUNICORN_WORKERS\" -k uvicorn.workers.UvicornWorker plane.asgi:application\n```",
        fix_text: "Add `uvicorn-worker` to the dependencies and run \
`-k uvicorn_worker.UvicornWorker` (or `worker_class = \"uvicorn_worker.UvicornWorker\"`).",
        references: &[
            "uvicorn `uvicorn/workers.py` (deprecated since 0.30.0, commit 772c24bd): <https://github.com/encode/uvicorn/blob/master/uvicorn/workers.py>",
            "uvicorn deployment docs (gunicorn workers moved to `uvicorn-worker`): <https://www.uvicorn.org/deployment/>",
            "uvicorn-worker package: <https://github.com/Kludex/uvicorn-worker>",
        ],
    },
    check: Some(check),
};

#[cfg(test)]
mod tests {
    use super::super::process_support::testing::Project;

    #[test]
    fn fix_replaces_the_inside_of_a_config_string() {
        let project = Project::new(&[(
            "gunicorn.conf.py",
            "workers = 2\nworker_class = \"uvicorn.workers.UvicornWorker\"\n",
        )]);
        let found = project.findings("PC403");
        assert_eq!(found.len(), 1, "{found:#?}");
        let fix = found[0].fix.as_ref().expect("a fix");
        assert_eq!(fix.edits.len(), 1);
        let text = std::fs::read_to_string(project.on_disk(&fix.edits[0].location.file)).unwrap();
        assert_eq!(
            &text[fix.edits[0].location.span.range()],
            "uvicorn.workers.UvicornWorker"
        );
        assert_eq!(fix.edits[0].new_text, "uvicorn_worker.UvicornWorker");
        project.apply(fix);
        assert!(project.findings("PC403").is_empty());
    }

    #[test]
    fn an_environment_default_gets_no_fix() {
        let project = Project::new(&[(
            "entrypoint.sh",
            "#!/bin/sh\nexec gunicorn -k ${WORKER_CLASS:-uvicorn.workers.UvicornWorker} app.asgi:application\n",
        )]);
        let found = project.findings("PC403");
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].fix.is_none());
    }

    #[test]
    fn uvicorn_before_0_30_is_not_deprecated() {
        let project = Project::new(&[
            (
                "Procfile",
                "web: gunicorn -k uvicorn.workers.UvicornWorker app.asgi:application\n",
            ),
            ("requirements.txt", "uvicorn==0.29.0\n"),
        ]);
        assert!(project.findings("PC403").is_empty());
    }
}
