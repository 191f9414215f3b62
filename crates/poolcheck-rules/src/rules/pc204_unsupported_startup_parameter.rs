use poolcheck_core::Diagnostic;
use poolcheck_core::Severity;
use poolcheck_core::facts::pool::StartupVia;

use super::pgbouncer_text::{
    StartupFate, bouncer_clients, client_phrase, startup_fate, startup_via_phrase, within,
};
use crate::context::Context;
use crate::registry::{FixAvailability, Rule, RuleMeta};

fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let sources = ctx.sources;
    for client in bouncer_clients(ctx) {
        let pool = client.pool();
        let mut refused_options = false;
        for parameter in &pool.settings.startup_parameters {
            let StartupFate::Rejected { error } = startup_fate(&client.view, parameter) else {
                continue;
            };
            let options_itself = error.ends_with("parameter: options");
            if options_itself {
                // One finding for the `options` parameter, not one per `-c` in it.
                if refused_options {
                    continue;
                }
                refused_options = true;
            }
            let version = client.view.version();
            let message = if options_itself {
                format!(
                    "{} sends the `options` startup parameter ({}) to {}, which{} does not \
accept `options` (supported from 1.20): every connection fails with `{error}`",
                    client_phrase(pool, sources),
                    startup_via_phrase(parameter),
                    client.bouncer_phrase(),
                    version.map_or_else(String::new, |v| format!(" as PgBouncer {v}"))
                )
            } else {
                format!(
                    "{} sends {} to {}, which neither tracks `{}` nor lists it in \
`ignore_startup_parameters`: every connection fails with `{error}`",
                    client_phrase(pool, sources),
                    startup_via_phrase(parameter),
                    client.bouncer_phrase(),
                    parameter.name,
                )
            };
            let primary = parameter
                .location
                .clone()
                .unwrap_or_else(|| pool.location.clone());
            let name = &parameter.name;
            let help = if options_itself {
                "upgrade PgBouncer to 1.20 or later, or set these parameters server-side \
(`ALTER ROLE … SET`, postgresql.conf) instead of in `options`"
                    .to_owned()
            } else {
                let value = parameter.value.as_deref().unwrap_or("…");
                let unknown_version = if parameter.via == StartupVia::Options && version.is_none() {
                    " (PgBouncer before 1.20 refuses `options` altogether)"
                } else {
                    ""
                };
                format!(
                    "set `{name}` server-side instead — `ALTER ROLE <user> SET {name} = {value}` \
or postgresql.conf — and stop sending it, or add it to `track_extra_parameters` if PostgreSQL \
reports it to clients{unknown_version}"
                )
            };
            let mut d =
                Diagnostic::new(RULE.meta.code, RULE.meta.severity, primary.clone(), message)
                    .with_label(format!(
                        "PgBouncer refuses `{}`",
                        if options_itself { "options" } else { name }
                    ))
                    .with_help(help);
            let ignore = client.view.ignore_startup_parameters();
            if !options_itself {
                d = d.with_related(
                    ignore
                        .location
                        .clone()
                        .unwrap_or_else(|| client.bouncer.config.location.clone()),
                    match (&ignore.value, &ignore.location) {
                        (Some(names), Some(_)) => {
                            format!("ignore_startup_parameters = {}", names.join(", "))
                        }
                        _ => "ignore_startup_parameters is not set".to_owned(),
                    },
                );
            }
            if options_itself
                && let Some(version) = &client.bouncer.version
                && let (Some(v), Some(at)) = (&version.value, &version.location)
            {
                d = d.with_related(at.clone(), format!("PgBouncer {v}"));
            }
            if !within(&primary, &pool.location) {
                d = d.with_related(
                    pool.location.clone(),
                    format!("`{}` is created here", pool.name),
                );
            }
            out.push(d);
        }
    }
}

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: poolcheck_core::Code::PC204,
        name: "unsupported-startup-parameter",
        severity: Severity::Error,
        summary: "A client sends a startup parameter that the PgBouncer it reaches refuses.",
        fix: FixAvailability::None,
        what_it_does: "Collects the startup parameters each client sends — asyncpg \
`server_settings` keys, libpq/psycopg `options=\"-c name=value\"` (in `connect_args`, Django \
`OPTIONS[\"options\"]` or `?options=` in a URL) — and checks them against the PgBouncer the \
client reaches, in any pool mode. PgBouncer accepts the parameters it tracks \
(`client_encoding`, `datestyle`, `timezone`, `standard_conforming_strings`, \
`application_name`, plus `track_extra_parameters`, by default `IntervalStyle`) and drops those \
listed in `ignore_startup_parameters`; it refuses anything else. PgBouncer before 1.20 refuses \
the `options` parameter itself.",
        why: "The refusal happens at connect time, for every connection: \
`FATAL: unsupported startup parameter: jit`, `unsupported startup parameter in options: \
statement_timeout` (1.20+), or before 1.20 `unsupported startup parameter: options`. asyncpg \
surfaces it as `asyncpg.exceptions.ProtocolViolationError: unsupported startup parameter: \
jit`. SQLAlchemy's own asyncpg documentation suggests `server_settings={\"jit\": \"off\"}`, so \
the setting is common, and it breaks the moment a PgBouncer is put in front of the database.",
        example: "```python\nengine = create_async_engine(\n    \"postgresql+asyncpg://app@pgbouncer:6432/app\",\n    connect_args={\"server_settings\": {\"jit\": \"off\"}},\n)\n```",
        fix_text: "Set the parameter server-side instead: `ALTER ROLE app SET jit = off`, or in \
postgresql.conf. If PostgreSQL reports the parameter to clients, add it to \
`track_extra_parameters` so PgBouncer tracks it per client. Listing it in \
`ignore_startup_parameters` makes the connection succeed but drops the value (see PC205).",
        references: &[
            "PgBouncer `ignore_startup_parameters` and `track_extra_parameters`: <https://www.pgbouncer.org/config.html#ignore_startup_parameters>",
            "PgBouncer changelog 1.20.0/1.20.1 (`options` and `track_extra_parameters`): <https://www.pgbouncer.org/changelog.html>",
            "SQLAlchemy asyncpg dialect, *Disabling the PostgreSQL JIT*: <https://docs.sqlalchemy.org/en/20/dialects/postgresql.html#module-sqlalchemy.dialects.postgresql.asyncpg>",
            "PrefectHQ/prefect#14602: <https://github.com/PrefectHQ/prefect/issues/14602>",
            "Reproduced against PostgreSQL 15 and PgBouncer 1.18 by `verify/scenarios/PC204-asyncpg-jit-startup-parameter` (`verify/run PC204`)",
        ],
    },
    check: Some(check),
};
