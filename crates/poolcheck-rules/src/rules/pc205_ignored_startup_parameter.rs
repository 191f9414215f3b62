use poolcheck_core::{Diagnostic, Severity};

use super::pgbouncer_text::{
    StartupFate, bouncer_clients, client_phrase, startup_fate, startup_via_phrase, within,
};
use crate::context::Context;
use crate::registry::{FixAvailability, Rule, RuleMeta};

fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let sources = ctx.sources;
    for client in bouncer_clients(ctx) {
        let pool = client.pool();
        for parameter in &pool.settings.startup_parameters {
            let StartupFate::Ignored { listed, location } = startup_fate(&client.view, parameter)
            else {
                continue;
            };
            let name = &parameter.name;
            let because = if listed == *name {
                format!("`{name}` is listed in `ignore_startup_parameters`")
            } else {
                format!("`{listed}` is listed in `ignore_startup_parameters`")
            };
            let message = format!(
                "{} sends {}, but it reaches {}, where {because}{}: PgBouncer drops the \
parameter and the setting silently has no effect",
                client_phrase(pool, sources),
                startup_via_phrase(parameter),
                client.bouncer_phrase(),
                location
                    .as_ref()
                    .map(|at| format!(" ({})", sources.describe(at)))
                    .unwrap_or_default(),
            );
            let primary = parameter
                .location
                .clone()
                .unwrap_or_else(|| pool.location.clone());
            let value = parameter.value.as_deref().unwrap_or("…");
            let mut d =
                Diagnostic::new(RULE.meta.code, RULE.meta.severity, primary.clone(), message)
                    .with_label(format!("`{name}` never reaches PostgreSQL"))
                    .with_help(format!(
                        "set `{name}` server-side — `ALTER ROLE <user> SET {name} = {value}` or \
postgresql.conf — or run `SET LOCAL {name} = {value}` inside the transactions that need it"
                    ));
            if let Some(at) = location {
                d = d.with_related(at, format!("ignore_startup_parameters lists `{listed}`"));
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
        code: poolcheck_core::Code::PC205,
        name: "ignored-startup-parameter",
        severity: Severity::Warning,
        summary: "A client sends a startup parameter that PgBouncer's `ignore_startup_parameters` drops.",
        fix: FixAvailability::None,
        what_it_does: "Collects the startup parameters each client sends (asyncpg \
`server_settings`, libpq `options=\"-c name=value\"`, `?options=` in a URL) and reports those \
the PgBouncer it reaches drops because `ignore_startup_parameters` lists them — by name, or as \
`options`, which makes PgBouncer drop the parameters it does not track inside `options`.",
        why: "`ignore_startup_parameters` is the usual cure for `unsupported startup parameter` \
errors (PC204), but it does not apply the value: PgBouncer accepts the connection and forgets \
the parameter. A `statement_timeout` or `jit = off` that the code relies on then silently does \
nothing, and nothing in the logs says so.",
        example: "```python\nengine = create_engine(\n    \"postgresql+psycopg2://app@pgbouncer:6543/app\",\n    connect_args={\"options\": \"-c statement_timeout=5s\"},\n)\n```\n\n\
```ini\n[pgbouncer]\nignore_startup_parameters = extra_float_digits, options\n```",
        fix_text: "Set the parameter where it takes effect: server-side (`ALTER ROLE app SET \
statement_timeout = '5s'`, `ALTER DATABASE`, postgresql.conf), or with `SET LOCAL` inside each \
transaction. Parameters PostgreSQL reports to clients can instead be tracked with \
`track_extra_parameters`.",
        references: &[
            "PgBouncer `ignore_startup_parameters`: <https://www.pgbouncer.org/config.html#ignore_startup_parameters>",
            "Reproduced against PostgreSQL 15 and PgBouncer 1.18 by `verify/scenarios/PC205-options-dropped-by-ignore-startup-parameters` (`verify/run PC205`)",
            "PrefectHQ/prefect#14602 (issue): <https://github.com/PrefectHQ/prefect/issues/14602>",
        ],
    },
    check: Some(check),
};
