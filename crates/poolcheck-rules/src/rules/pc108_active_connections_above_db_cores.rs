use poolcheck_core::{Diagnostic, IntExpr, Severity};

use super::budget_text::{add_related, primary_location, server_name};
use crate::context::Context;
use crate::registry::{FixAvailability, Rule, RuleMeta};
use crate::topology::budget::{
    ContributorKind, Count, Cpus, ServerBudget, concurrency_noun, eval_int, per_process, plural,
    process_noun,
};
use crate::topology::{Concurrency, DatabaseServer, TargetRef};

/// How far above the wiki's optimum active connections may go before the
/// finding is worth reporting (RULES: 4 ×).
const TOLERANCE: u64 = 4;

fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    for budget in &ctx.budget.servers {
        let server = &ctx.deployment.servers[budget.server];
        let Some(cores) = server.cores.as_ref().and_then(|c| c.value) else {
            continue;
        };
        let spindles = server.spindles.as_ref().and_then(|s| s.value).unwrap_or(1);
        let optimum = (cores.max(0) as u64)
            .saturating_mul(2)
            .saturating_add(spindles.max(0) as u64);
        let threshold = optimum.saturating_mul(TOLERANCE);
        let Some((active, parts)) = active_connections(ctx, budget) else {
            continue;
        };
        if active <= threshold {
            continue;
        }
        let Some(primary) = primary_location(budget, ctx.deployment) else {
            continue;
        };
        let message = format!(
            "up to {active} connections can be active at once at {} ({}) > {TOLERANCE} × its throughput optimum of {optimum} ({}): beyond about {optimum} active connections PostgreSQL's throughput falls as contention for CPU, locks and memory rises",
            server_name(server),
            parts.join(" + "),
            optimum_text(ctx, server, cores, spindles),
        );
        let all_pooled = budget
            .contributors
            .iter()
            .all(|c| c.kind == ContributorKind::PgBouncer);
        let help = if all_pooled {
            format!(
                "lower PgBouncer's `default_pool_size` (or cap `max_db_connections`) towards {optimum}: clients then wait in PgBouncer for a server connection instead of contending inside PostgreSQL"
            )
        } else {
            format!(
                "put PgBouncer in transaction pooling (`pool_mode = transaction`) in front of the server with `default_pool_size` near {optimum}: clients then wait in PgBouncer for a server connection instead of contending inside PostgreSQL"
            )
        };
        let mut diagnostic = Diagnostic::new(RULE.meta.code, RULE.meta.severity, primary, message)
            .with_label(format!(
                "{active} active connections > {TOLERANCE} × {optimum}"
            ))
            .with_help(help);
        if let Some(at) = server.cores.as_ref().and_then(|c| c.location.clone()) {
            diagnostic = diagnostic.with_related(at, format!("cores = {cores}"));
        }
        if let Some(at) = server.spindles.as_ref().and_then(|s| s.location.clone()) {
            diagnostic = diagnostic.with_related(at, format!("spindles = {spindles}"));
        }
        out.push(add_related(diagnostic, &budget.contributors, Some(server)));
    }
}

/// `cores 4 × 2 + 1 effective spindle (assumed), poolcheck.toml:3`
fn optimum_text(ctx: &Context<'_>, server: &DatabaseServer, cores: i64, spindles: i64) -> String {
    let spindle_text = match &server.spindles {
        Some(s) if s.value.is_some() => format!(
            "{spindles} effective spindle{}",
            if spindles == 1 { "" } else { "s" }
        ),
        _ => "1 effective spindle (assumed; declare `spindles`)".to_owned(),
    };
    let mut text = format!("cores {cores} × 2 + {spindle_text}");
    if let Some(at) = server.cores.as_ref().and_then(|c| c.location.as_ref()) {
        text.push_str(&format!(", {}", ctx.sources.describe(at)));
    }
    text
}

/// The connections that can run a query at the same moment: a process
/// uses at most one connection of a pool per request in flight, so each
/// direct pool counts min(cap, concurrency); a PgBouncer counts its server
/// side. `None` when any part is unknown or unbounded (PC004/PC106 say why).
fn active_connections(ctx: &Context<'_>, budget: &ServerBudget) -> Option<(u64, Vec<String>)> {
    let target = TargetRef::Server(budget.server);
    let mut total = 0u64;
    let mut parts = Vec::new();
    for c in &budget.contributors {
        match c.kind {
            ContributorKind::PgBouncer => {
                let n = c.term.count.known()?;
                total = total.saturating_add(n);
                parts.push(format!("PgBouncer `{}`: {} = {n}", c.name, c.term.formula));
            }
            ContributorKind::Service => {
                let service = &ctx.deployment.services[c.index];
                let replicas = eval_int(
                    &service.replicas.clone().map(IntExpr::Const),
                    service,
                    Cpus::Declared,
                )
                .0
                .known()?;
                let processes = eval_int(&service.processes, service, Cpus::Declared).0;
                let processes_n = processes.known()?;
                let concurrency = match &service.concurrency {
                    Concurrency::Bounded(v) => eval_int(v, service, Cpus::Declared).0,
                    Concurrency::Unbounded { reason } => Count::Unbounded(reason.clone()),
                };
                let (one, many) = concurrency_noun(service);
                let mut per_process_active = 0u64;
                let mut pieces = Vec::new();
                for linked in service.pools.iter().filter(|p| p.target == target) {
                    let cap = per_process(&linked.pool, service, Cpus::Declared, ctx.sources).count;
                    let n = match (cap, &concurrency) {
                        (Count::Known(cap), Count::Known(k)) if *k < cap => {
                            pieces.push(format!(
                                "{k} {} (pool `{}` allows {cap})",
                                if *k == 1 { one } else { many },
                                linked.pool.name
                            ));
                            *k
                        }
                        (Count::Known(cap), Count::Known(_) | Count::Unbounded(_)) => {
                            pieces.push(format!("pool `{}` {cap}", linked.pool.name));
                            cap
                        }
                        (Count::Unbounded(_), Count::Known(k)) => {
                            pieces.push(format!(
                                "{k} {} (one connection each)",
                                if *k == 1 { one } else { many }
                            ));
                            *k
                        }
                        _ => return None,
                    };
                    per_process_active = per_process_active.saturating_add(n);
                }
                let n = replicas
                    .saturating_mul(processes_n)
                    .saturating_mul(per_process_active);
                total = total.saturating_add(n);
                let (process_one, process_many) = process_noun(service);
                let replicas_text = if replicas == 1 {
                    String::new()
                } else {
                    format!("{replicas} replicas × ")
                };
                let per_process_text = if pieces.len() == 1 {
                    pieces.remove(0)
                } else {
                    format!("({})", pieces.join(" + "))
                };
                parts.push(format!(
                    "`{}`: {replicas_text}{processes_n} {} × {per_process_text} = {n}",
                    service.name,
                    plural(&processes, process_one, process_many),
                ));
            }
        }
    }
    Some((total, parts))
}

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: poolcheck_core::Code::PC108,
        name: "active-connections-above-db-cores",
        severity: Severity::Info,
        summary: "More connections can be active at once than the database server's cores can serve efficiently.",
        fix: FixAvailability::None,
        what_it_does: "Runs only for database servers whose `cores` is declared in the poolcheck \
configuration (`[database] cores`, optionally `spindles`). It counts the connections that can \
run a query at the same moment at that server: for each service that connects directly, replicas \
× processes × the smaller of each pool's cap and the process's concurrency (a request uses one \
connection of a pool at a time), plus the server-side pools of every PgBouncer in front of it. It \
reports when that exceeds 4 × the PostgreSQL wiki's throughput optimum, `cores × 2 + effective \
spindles` (spindles 1 unless declared).",
        why: "The PostgreSQL wiki: \"for optimal throughput the number of active connections \
should be somewhere near ((core_count * 2) + effective_spindle_count)\". Past that point more \
active connections do not add throughput: they contend for CPU, locks and memory, and latency \
and throughput get worse (the wiki's and Instagram's measurements; later PostgreSQL versions \
move the knee, \"anywhere from 2 to maybe 10 times the number of cores\"). The check is \
advisory: the connections must actually be busy at once for it to matter.",
        example: "```toml\n[tool.poolcheck.database]\nmax_connections = 500\ncores = 4\n```\n\n\
```python\n# gunicorn.conf.py: 4 workers × 16 threads, each with a connection\nworkers = 4\nthreads = 16\n```\n\n\
64 connections can be active against an optimum of 4 × 2 + 1 = 9.",
        fix_text: "Put PgBouncer in transaction pooling in front of the server and size its \
`default_pool_size` near the optimum, so that requests wait in PgBouncer for a server connection \
instead of contending inside PostgreSQL; behind PgBouncer, lower `default_pool_size` or cap \
`max_db_connections`. Declare `spindles` (0 when the data set is fully cached) for a sharper \
optimum.",
        references: &[
            "PostgreSQL wiki, *Number Of Database Connections*: <https://wiki.postgresql.org/wiki/Number_Of_Database_Connections>",
            "HikariCP, *About Pool Sizing* (linked from the psycopg pool docs): <https://github.com/brettwooldridge/HikariCP/wiki/About-Pool-Sizing>",
            "PgBouncer `default_pool_size`, `max_db_connections`: <https://www.pgbouncer.org/config.html>",
        ],
    },
    check: Some(check),
};
