use poolcheck_core::facts::pool::PoolCap;
use poolcheck_core::facts::process::ServerKind;
use poolcheck_core::{Diagnostic, IntExpr, Location, Severity, Sourced};

use super::budget_text::{add_related, server_name, totals_text, usable_limit};
use super::pc104_pgbouncer_pool_exceeds_db::single_pgbouncer_explains;
use crate::context::Context;
use crate::registry::{FixAvailability, Rule, RuleMeta};
use crate::topology::budget::{Budget, Contribution, ContributorKind, Count};
use crate::topology::pgbouncer_budget::max_client_conn;
use crate::topology::{Concurrency, Service};

/// The largest CPU count searched: beyond it the finding would not be actionable.
const MAX_CPUS: u32 = 256;

/// One factor of a service that is a function of the host's CPU count.
struct CpuFactor {
    /// `workers = 2 × cpus + 1`
    text: String,
    location: Option<Location>,
}

fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let dependent: Vec<(usize, Vec<CpuFactor>)> = ctx
        .deployment
        .services
        .iter()
        .enumerate()
        .filter(|(_, s)| s.cpu_count.is_none())
        .map(|(i, s)| (i, cpu_factors(s)))
        .filter(|(_, f)| !f.is_empty())
        .collect();
    if dependent.is_empty() {
        return;
    }
    let involved = |contributors: &[Contribution]| -> Vec<usize> {
        contributors
            .iter()
            .filter(|c| c.kind == ContributorKind::Service && c.term.cpu_dependent)
            .filter(|c| dependent.iter().any(|(i, _)| *i == c.index))
            .map(|c| c.index)
            .collect()
    };

    let mut targets: Vec<Target> = Vec::new();
    for budget in &ctx.budget.servers {
        let services = involved(&budget.contributors);
        if !services.is_empty() && budget.usable.is_some() {
            targets.push(Target::Server {
                index: budget.server,
                services,
            });
        }
    }
    for budget in &ctx.budget.pgbouncers {
        let services = involved(&budget.clients);
        if !services.is_empty() {
            targets.push(Target::PgBouncer {
                index: budget.pgbouncer,
                services,
            });
        }
    }
    if targets.is_empty() {
        return;
    }

    // Budgets are computed lazily, one per CPU count, and shared by every target.
    let mut budgets: Vec<Budget> = Vec::new();
    let mut pending: Vec<Target> = targets;
    for cpus in 1..=MAX_CPUS {
        if pending.is_empty() {
            break;
        }
        budgets.push(ctx.budget_with_cpus(cpus));
        let (broken, rest): (Vec<Target>, Vec<Target>) = pending
            .into_iter()
            .partition(|t| t.breaks(&budgets[budgets.len() - 1]));
        pending = rest;
        for target in broken {
            let previous = cpus.checked_sub(2).and_then(|i| budgets.get(i as usize));
            out.extend(target.finding(
                ctx,
                &dependent,
                cpus,
                &budgets[budgets.len() - 1],
                previous,
            ));
        }
    }
}

enum Target {
    Server { index: usize, services: Vec<usize> },
    PgBouncer { index: usize, services: Vec<usize> },
}

impl Target {
    /// Whether PC101 (and not PC104) or PC103 would fire with this budget.
    fn breaks(&self, budget: &Budget) -> bool {
        match self {
            Target::Server { index, .. } => {
                let Some(b) = budget.servers.iter().find(|b| b.server == *index) else {
                    return false;
                };
                match (b.usable, &b.demand) {
                    (Some(usable), Count::Known(demand)) => {
                        *demand > usable.max(0) as u64 && !single_pgbouncer_explains(b, usable)
                    }
                    _ => false,
                }
            }
            Target::PgBouncer { index, .. } => {
                client_limit(budget, *index).is_some_and(|(demand, limit)| demand > limit)
            }
        }
    }

    fn services(&self) -> &[usize] {
        match self {
            Target::Server { services, .. } | Target::PgBouncer { services, .. } => services,
        }
    }

    fn finding(
        &self,
        ctx: &Context<'_>,
        dependent: &[(usize, Vec<CpuFactor>)],
        cpus: u32,
        budget: &Budget,
        previous: Option<&Budget>,
    ) -> Option<Diagnostic> {
        let factors: Vec<&CpuFactor> = dependent
            .iter()
            .filter(|(i, _)| self.services().contains(i))
            .flat_map(|(_, f)| f)
            .collect();
        // The message keeps the factors' words; their locations are notes.
        let factor_text = factors
            .iter()
            .map(|f| f.text.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        let hosts = if cpus == 1 {
            "on every host, already with 1 CPU".to_owned()
        } else {
            format!("on hosts with ≥ {cpus} CPUs")
        };
        let first = self.services()[0];
        let primary = factors
            .iter()
            .find_map(|f| f.location.clone())
            .or_else(|| ctx.deployment.services[first].location.clone())?;
        let services: Vec<String> = self
            .services()
            .iter()
            .map(|i| format!("`{}`", ctx.deployment.services[*i].name))
            .collect();
        let (message, label, contributors, server, holds) = match self {
            Target::Server { index, .. } => {
                let server = &ctx.deployment.servers[*index];
                let b = budget.servers.iter().find(|b| b.server == *index);
                let demand = b.map(|b| b.demand.to_string()).unwrap_or_default();
                let usable = server.usable().unwrap_or(0);
                let contributors = b.map(|b| b.contributors.clone()).unwrap_or_default();
                let message = format!(
                    "the connections to {} exceed its {usable} usable slots {hosts} ({factor_text}): with {cpus} CPU{}, {} > {usable} usable ({})",
                    server_name(server),
                    if cpus == 1 { "" } else { "s" },
                    demand_words(&contributors, &demand),
                    usable_limit(server),
                );
                let holds = previous
                    .and_then(|p| p.servers.iter().find(|b| b.server == *index))
                    .map(|b| {
                        format!(
                            "with {} CPUs the demand is {} ≤ {usable}",
                            cpus - 1,
                            b.demand
                        )
                    });
                (
                    message,
                    format!("{demand} connections > {usable} usable with {cpus} CPUs"),
                    contributors,
                    Some(server),
                    holds,
                )
            }
            Target::PgBouncer { index, .. } => {
                let bouncer = &ctx.deployment.pgbouncers[*index];
                let (demand, limit) = client_limit(budget, *index).unwrap_or((0, 0));
                let contributors = budget
                    .pgbouncers
                    .iter()
                    .find(|b| b.pgbouncer == *index)
                    .map(|b| b.clients.clone())
                    .unwrap_or_default();
                let message = format!(
                    "the client connections into PgBouncer `{}` exceed max_client_conn {} {hosts} ({factor_text}): with {cpus} CPU{}, {} > {limit}",
                    bouncer.config.name,
                    max_client_conn(bouncer)
                        .value
                        .map_or_else(|| "?".to_owned(), |v| v.to_string()),
                    if cpus == 1 { "" } else { "s" },
                    demand_words(&contributors, &demand.to_string()),
                );
                let holds = previous
                    .and_then(|p| client_limit(p, *index))
                    .map(|(d, l)| format!("with {} CPUs the client demand is {d} ≤ {l}", cpus - 1));
                (
                    message,
                    format!("{demand} clients > {limit} allowed with {cpus} CPUs"),
                    contributors,
                    None,
                    holds,
                )
            }
        };
        let mut help = format!(
            "declare the CPUs {} really sees (`[tool.poolcheck.services.{}] cpu_count = N`) or set the count to a fixed number; `os.cpu_count()` and `multiprocessing.cpu_count()` return the host's CPUs, not a container's CPU limit",
            services.join(", "),
            ctx.deployment.services[first].name,
        );
        if let Some(holds) = holds {
            help.push_str(&format!(" ({holds})"));
        }
        let diagnostic = Diagnostic::new(RULE.meta.code, RULE.meta.severity, primary, message)
            .with_label(label)
            .with_help(help);
        let diagnostic = factors.iter().fold(diagnostic, |d, f| match &f.location {
            Some(at) if *at != d.primary => d.with_related(at.clone(), f.text.clone()),
            _ => d,
        });
        Some(add_related(diagnostic, &contributors, server))
    }
}

/// `7 workers × 15 = 105` for one contributor, `105 (service `web` 45 + …)`
/// for several.
fn demand_words(contributors: &[Contribution], demand: &str) -> String {
    if contributors.len() == 1 {
        totals_text(contributors)
    } else {
        format!("{demand} ({})", totals_text(contributors))
    }
}

/// (client demand, max_client_conn × instances) of a PgBouncer, when known.
fn client_limit(budget: &Budget, index: usize) -> Option<(u64, u64)> {
    let b = budget.pgbouncers.iter().find(|b| b.pgbouncer == index)?;
    let demand = b.client_demand.known()?;
    let limit = (b.max_client_conn.value?.max(0) as u64)
        .saturating_mul(b.instances.value.unwrap_or(1).max(1) as u64);
    Some((demand, limit))
}

/// Every factor of `service` that depends on the CPU count, named as its
/// setting: `workers = 2 × cpus + 1`, `concurrency = cpus (Celery default: one per CPU)`.
fn cpu_factors(service: &Service) -> Vec<CpuFactor> {
    let mut factors = Vec::new();
    let mut add = |name: &str, value: &Sourced<IntExpr>, fallback: Option<&Location>| {
        let Some(expr) = value.value.as_ref().filter(|e| e.depends_on_cpus()) else {
            return;
        };
        let mut text = format!("{name} = {expr}");
        // A computed value's phrase repeats the expression just shown.
        if let (Some(phrase), false) = (
            value.origin_phrase(),
            matches!(value.origin, poolcheck_core::Origin::Computed { .. }),
        ) {
            text.push_str(&format!(" ({phrase})"));
        }
        factors.push(CpuFactor {
            text,
            location: value.location.clone().or_else(|| fallback.cloned()),
        });
    };
    let kind = service.server;
    let processes_name = match kind {
        Some(ServerKind::Celery) => "concurrency",
        Some(ServerKind::Uwsgi) => "processes",
        _ => "workers",
    };
    add(
        processes_name,
        &service.processes,
        service.location.as_ref(),
    );
    if let Concurrency::Bounded(c) = &service.concurrency {
        let class = service
            .worker_class
            .as_ref()
            .and_then(|c| c.value.as_deref())
            .unwrap_or("");
        let name = match kind {
            Some(ServerKind::Celery) => "concurrency",
            Some(ServerKind::Uvicorn) => "limit_concurrency",
            Some(ServerKind::Granian) => "blocking_threads",
            _ if class.contains("gevent") || class.contains("eventlet") => "worker_connections",
            _ => "threads",
        };
        add(name, c, service.location.as_ref());
    }
    for linked in &service.pools {
        if let PoolCap::Bounded { size, overflow } = &linked.pool.cap {
            let size_name = if linked.pool.settings.max_size.is_some() {
                "max_size"
            } else {
                "pool_size"
            };
            add(size_name, size, Some(&linked.pool.cap_location));
            if let Some(o) = overflow {
                add("max_overflow", o, Some(&linked.pool.cap_location));
            }
        }
    }
    factors
}

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: poolcheck_core::Code::PC107,
        name: "cpu-dependent-budget",
        severity: Severity::Warning,
        summary: "A worker, thread or concurrency count follows the host's CPU count, and the budget breaks on hosts with enough CPUs.",
        fix: FixAvailability::None,
        what_it_does: "Finds services whose process or concurrency count is computed from the \
CPU count (`workers = multiprocessing.cpu_count() * 2 + 1`, `os.cpu_count()`, \
`len(os.sched_getaffinity(0))`, celery's default `--concurrency`, which is one per CPU) and that \
declare no `cpu_count` in the poolcheck configuration. Such a budget has no single value, so \
PC101/PC103 cannot check it; instead this rule evaluates it for every CPU count from 1 to 256 and \
reports the smallest at which the connections would exceed the PostgreSQL server's usable slots \
(PC101) or a PgBouncer's `max_client_conn` (PC103), with the arithmetic at that count. When the \
budget holds up to 256 CPUs it stays silent: there is nothing to change. With `cpu_count` \
declared, PC101 and PC103 check the budget directly.",
        why: "gunicorn's documentation suggests `(2 × CPUs) + 1` workers, and celery starts one \
prefork process per CPU by default. The count then depends on the machine the code lands on: a \
deploy to a bigger instance, or a container that sees every CPU of its host (`os.cpu_count()` \
ignores cgroup CPU limits), multiplies the processes and each process's pool, until PostgreSQL \
refuses connections with `FATAL: sorry, too many clients already` or PgBouncer with `no more \
connections allowed (max_client_conn)`.",
        example: "```python\n# gunicorn.conf.py\nimport multiprocessing\n\nworkers = multiprocessing.cpu_count() * 2 + 1\n\n# app/db.py: SQLAlchemy defaults, 5 + 10 = 15 per process\nengine = create_engine(DATABASE_URL)\n```\n\n\
With `max_connections = 100` (97 usable) this breaks on hosts with ≥ 3 CPUs: 7 workers × 15 = 105.",
        fix_text: "Declare the CPU count each service really runs with, so that PC101 checks the \
real budget:\n\n```toml\n[tool.poolcheck.services.web]\ncpu_count = 2\n```\n\nor replace the \
formula with a fixed count (`workers = int(os.environ.get(\"WEB_CONCURRENCY\", 4))`, celery \
`--concurrency 4`). In containers, size from the CPU limit, not from `os.cpu_count()`.",
        references: &[
            "gunicorn *Design: How Many Workers?* and the `workers` setting: <https://docs.gunicorn.org/en/stable/design.html#how-many-workers>",
            "Celery worker `--concurrency` (defaults to the number of CPUs): <https://docs.celeryq.dev/en/stable/userguide/workers.html#concurrency>",
            "Python `os.cpu_count()` (the system's CPUs, not the usable ones): <https://docs.python.org/3/library/os.html#os.cpu_count>",
            "fastapi/full-stack-fastapi-template#1 (a worker formula exhausting connections): <https://github.com/fastapi/full-stack-fastapi-template/issues/1>",
            "OasisLMF/OasisPlatform#1324 (pull request): <https://github.com/OasisLMF/OasisPlatform/pull/1324>",
        ],
    },
    check: Some(check),
};
