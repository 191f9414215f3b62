use poolcheck_core::facts::pool::PoolCap;
use poolcheck_core::{Diagnostic, IntExpr, Severity};

use super::budget_text::{add_related, primary_location, server_name, totals_text, usable_limit};
use super::pc104_pgbouncer_pool_exceeds_db::single_pgbouncer_explains;
use crate::context::Context;
use crate::registry::{FixAvailability, Rule, RuleMeta};
use crate::topology::budget::{ContributorKind, Count, Cpus, ServerBudget, eval_int};
use crate::topology::{Concurrency, TargetRef, capacity};

fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    for budget in &ctx.budget.servers {
        let server = &ctx.deployment.servers[budget.server];
        if budget.demand.is_overflow() {
            report_overflow(ctx, budget, out);
            continue;
        }
        let (Some(usable), Count::Known(demand)) = (budget.usable, &budget.demand) else {
            continue;
        };
        let demand = *demand;
        if demand <= usable as u64 || single_pgbouncer_explains(budget, usable) {
            continue;
        }
        let Some(primary) = primary_location(budget, ctx.deployment) else {
            continue;
        };
        // Short: the totals and the limit. Every factor, with its location,
        // is a note.
        let limit = usable_limit(server);
        let name = server_name(server);
        let message = if budget.contributors.len() == 1 {
            format!(
                "{} connections to {name} > {usable} usable ({limit})",
                totals_text(&budget.contributors)
            )
        } else {
            format!(
                "{demand} connections to {name} ({}) > {usable} usable ({limit})",
                totals_text(&budget.contributors)
            )
        };
        let mut diagnostic = Diagnostic::new(RULE.meta.code, RULE.meta.severity, primary, message)
            .with_label(format!(
                "{demand} connections > {usable} usable on {}",
                server_name(server)
            ));
        let help = [
            fit_help(ctx, budget, usable as u64, demand),
            capacity_help(ctx, budget),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
        if !help.is_empty() {
            diagnostic = diagnostic.with_help(help.join("; "));
        }
        out.push(add_related(diagnostic, &budget.contributors, Some(server)));
    }
}

/// The capacity answer (as `budget` prints it) for the service that takes
/// the most here: how many replicas or processes would fit, the rest
/// unchanged.
fn capacity_help(ctx: &Context<'_>, budget: &ServerBudget) -> Option<String> {
    let largest = budget
        .contributors
        .iter()
        .filter(|c| c.kind == ContributorKind::Service)
        .max_by_key(|c| c.term.count.known().unwrap_or(0))?;
    let fits = capacity::fits(ctx.deployment, ctx.budget, largest.index);
    let name = &ctx.deployment.services[largest.index].name;
    let mut parts = Vec::new();
    if let (Some(fit), Some(now)) = (fits.replicas, fits.now.replicas)
        && fit < now
    {
        parts.push(format!("{fit} of its {now} replicas"));
    }
    if let (Some(fit), Some(now)) = (fits.processes, fits.now.processes)
        && fit < now
    {
        parts.push(format!("{fit} of its {now} processes per replica"));
    }
    if parts.is_empty() {
        return None;
    }
    Some(format!(
        "`{name}` fits with {}, everything else unchanged",
        parts.join(", or ")
    ))
}

/// Factors so large that their product cannot be counted: every limit is
/// exceeded, and the message says why instead of printing a wrapped number.
fn report_overflow(ctx: &Context<'_>, budget: &ServerBudget, out: &mut Vec<Diagnostic>) {
    let server = &ctx.deployment.servers[budget.server];
    let Count::Unbounded(why) = &budget.demand else {
        return;
    };
    let Some(primary) = primary_location(budget, ctx.deployment) else {
        return;
    };
    let usable = budget
        .usable
        .map_or_else(|| "the usable slots".to_owned(), |u| format!("{u} usable"));
    let diagnostic = Diagnostic::new(
        RULE.meta.code,
        RULE.meta.severity,
        primary,
        format!(
            "more connections to {} than can be counted ({why}) > {usable}",
            server_name(server)
        ),
    )
    .with_label("too many connections to count");
    out.push(add_related(diagnostic, &budget.contributors, Some(server)));
}

/// The largest pool size that fits for the biggest pool (the same engine may
/// run in several services); and, when a pool permits more than its process
/// can use, how much shrinking it frees.
fn fit_help(ctx: &Context<'_>, budget: &ServerBudget, usable: u64, demand: u64) -> Option<String> {
    let target = TargetRef::Server(budget.server);
    // (service index, multiplier, pool, size, overflow) for every bounded pool.
    let mut uses = Vec::new();
    for c in budget
        .contributors
        .iter()
        .filter(|c| c.kind == ContributorKind::Service)
    {
        let service = &ctx.deployment.services[c.index];
        let replicas = eval_int(
            &service.replicas.clone().map(IntExpr::Const),
            service,
            Cpus::Declared,
        )
        .0;
        let processes = eval_int(&service.processes, service, Cpus::Declared).0;
        let multiplier = replicas.known()?.checked_mul(processes.known()?)?;
        for linked in service.pools.iter().filter(|p| p.target == target) {
            let PoolCap::Bounded { size, overflow } = &linked.pool.cap else {
                return None;
            };
            let size = eval_int(size, service, Cpus::Declared).0.known()?;
            let overflow = match overflow {
                Some(o) => eval_int(o, service, Cpus::Declared).0.known()?,
                None => 0,
            };
            uses.push((c.index, multiplier, &linked.pool, size, overflow));
        }
    }
    let (_, _, biggest, _, overflow) = *uses
        .iter()
        .max_by_key(|(_, m, _, s, o)| m.saturating_mul(s.saturating_add(*o)))?;
    let same: Vec<_> = uses
        .iter()
        .filter(|(_, _, p, _, _)| p.location == biggest.location)
        .collect();
    let multiplier: u64 = same
        .iter()
        .fold(0u64, |acc, (_, m, ..)| acc.saturating_add(*m));
    let own: u64 = same.iter().fold(0u64, |acc, (_, m, _, s, o)| {
        acc.saturating_add(m.saturating_mul(s.saturating_add(*o)))
    });
    let room = usable.saturating_sub(demand.saturating_sub(own));
    let per_process = room.checked_div(multiplier)?;
    let services: Vec<String> = same
        .iter()
        .map(|(i, m, ..)| format!("`{}` ({m})", ctx.deployment.services[*i].name))
        .collect();
    let processes = count_of(multiplier, "process", "processes");
    let mut help = if per_process > overflow {
        format!(
            "the largest pool_size of `{}` that fits is {} with max_overflow {overflow}: {} ({}) × {per_process} per process ≤ {room} slots left by everything else",
            biggest.name,
            per_process - overflow,
            processes,
            services.join(" + "),
        )
    } else if per_process >= 1 {
        format!(
            "`{}` fits only with pool_size {per_process} and max_overflow 0 ({}: {}; {room} slots left by everything else)",
            biggest.name,
            processes,
            services.join(" + "),
        )
    } else {
        format!(
            "no pool size of `{}` fits: {} ({}) share {room} slots left by everything else; reduce workers or replicas, or put PgBouncer in transaction mode in front",
            biggest.name,
            processes,
            services.join(" + "),
        )
    };
    let (index, multiplier, _, size, overflow) = **same.iter().max_by_key(|(_, m, ..)| *m)?;
    let service = &ctx.deployment.services[index];
    if let Concurrency::Bounded(c) = &service.concurrency
        && let Some(concurrency) = eval_int(c, service, Cpus::Declared).0.known()
        && size.saturating_add(overflow) > concurrency
        && concurrency > 0
    {
        let cap = size.saturating_add(overflow);
        help.push_str(&format!(
            "; each `{}` process serves at most {} at a time, so a cap of {concurrency} per process frees {multiplier} × ({cap} − {concurrency}) = {} connections there",
            service.name,
            count_of(concurrency, "request", "requests"),
            multiplier.saturating_mul(cap - concurrency)
        ));
    }
    Some(help)
}

/// `1 request`, `8 requests`.
fn count_of(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: poolcheck_core::Code::PC101,
        name: "db-connections-exceeded",
        severity: Severity::Error,
        summary: "The connections the deployment can open exceed the PostgreSQL server's usable slots.",
        fix: FixAvailability::None,
        what_it_does: "Adds up, for each PostgreSQL server, every connection the deployment can \
open: for each service that connects directly, replicas × processes × the per-process cap of each \
pool (`pool_size + max_overflow` for SQLAlchemy's QueuePool, one per thread for Django without a \
pool, `max_size` for psycopg_pool, asyncpg and Django's pool), plus the server-side maximum of \
every PgBouncer in front of it. It compares the sum with the usable slots: `max_connections` − \
`superuser_reserved_connections` − `reserved_connections` (PostgreSQL 16+) − a provider reserve − \
other clients. The message shows the arithmetic with the file and line of every factor.",
        why: "Every gunicorn worker, uvicorn process, thread and replica owns its own pool. When \
all of them open their pools under load, PostgreSQL refuses the connections beyond its limit with \
`FATAL: sorry, too many clients already` (SQLSTATE 53300), or, when only the reserved slots are \
left, `FATAL: remaining connection slots are reserved for non-replication superuser connections` \
(PostgreSQL ≤ 15) / `remaining connection slots are reserved for roles with the SUPERUSER \
attribute` (16+). The failure appears only at peak load or during a deploy, when old and new \
processes overlap.",
        example: "```python\n# gunicorn.conf.py\nworkers = 8\n\n# app/db.py\nengine = create_engine(DATABASE_URL, pool_size=15, max_overflow=30)\n```\n\n\
```ini\n# postgresql.conf\nmax_connections = 200\n```\n\n\
8 workers × (15 + 30) = 360 connections against 200 − 3 = 197 usable slots.",
        fix_text: "Shrink the per-process cap to what a process can use (a sync worker serves one \
request at a time), reduce workers or replicas, or put PgBouncer in transaction mode in front and \
size its pool to the server. Raising `max_connections` needs a restart and costs memory per \
connection. The help line gives the largest pool size that fits.",
        references: &[
            "PostgreSQL `postinit.c` messages, *Connections and Authentication*: <https://www.postgresql.org/docs/current/runtime-config-connection.html>",
            "SQLAlchemy pool sizing (`pool_size`, `max_overflow`): <https://docs.sqlalchemy.org/en/20/core/pooling.html>",
            "Django: *Persistent connections* (one connection per thread): <https://docs.djangoproject.com/en/stable/ref/databases/#persistent-connections>",
            "fastapi/full-stack-fastapi-template#1 (asyncpg `TooManyConnectionsError` from a worker formula): <https://github.com/fastapi/full-stack-fastapi-template/issues/1>",
            "Reproduced against PostgreSQL 15 by `verify/scenarios/PC101-gthread-workers-times-pool` (`verify/run PC101`)",
            "OasisLMF/OasisPlatform#1324 (pull request): <https://github.com/OasisLMF/OasisPlatform/pull/1324>",
        ],
    },
    check: Some(check),
};
