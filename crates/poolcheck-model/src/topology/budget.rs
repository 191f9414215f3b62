//! The budget arithmetic of DESIGN: demand at a server = Σ over services that
//! connect directly (replicas × processes × Σ per-process caps) + Σ over
//! PgBouncers of their server-side maximum. Every number keeps the factors it
//! was made of, with their locations, so messages can show the formula.

use poolcheck_core::facts::pool::{ClientPool, PoolCap};
use poolcheck_core::{IntExpr, Location, Sourced};

use super::pgbouncer_budget::{self, ServerSide};
use super::{Concurrency, Deployment, LinkedPool, Service, TargetRef};
use crate::sources::Sources;

/// One factor of a formula, shown as a related location.
#[derive(Debug, Clone, PartialEq)]
pub struct Factor {
    pub label: String,
    pub location: Option<Location>,
}

/// A count that is known, unbounded, or unknown for a stated reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Count {
    Known(u64),
    Unbounded(String),
    Unknown(String),
}

impl Count {
    #[cfg(test)]
    fn is_unbounded(&self) -> bool {
        matches!(self, Count::Unbounded(_))
    }

    /// True for a count made unbounded by arithmetic that overflowed (every
    /// factor known, the product too large), as opposed to a pool or a
    /// concurrency that has no limit: such a count exceeds every limit.
    pub fn is_overflow(&self) -> bool {
        matches!(self, Count::Unbounded(why) if why.ends_with(OVERFLOW))
    }

    pub fn known(&self) -> Option<u64> {
        match self {
            Count::Known(v) => Some(*v),
            _ => None,
        }
    }

    #[must_use]
    pub fn times(self, other: Count) -> Count {
        match (self, other) {
            (Count::Known(0), _) | (_, Count::Known(0)) => Count::Known(0),
            (Count::Unknown(r), _) | (_, Count::Unknown(r)) => Count::Unknown(r),
            (Count::Known(a), Count::Known(b)) => a
                .checked_mul(b)
                .map_or_else(|| Count::Unbounded(overflow(a, '×', b)), Count::Known),
            (Count::Unbounded(r), _) | (_, Count::Unbounded(r)) => Count::Unbounded(r),
        }
    }

    #[must_use]
    pub fn plus(self, other: Count) -> Count {
        match (self, other) {
            (Count::Unknown(r), _) | (_, Count::Unknown(r)) => Count::Unknown(r),
            (Count::Unbounded(r), _) | (_, Count::Unbounded(r)) => Count::Unbounded(r),
            (Count::Known(a), Count::Known(b)) => a
                .checked_add(b)
                .map_or_else(|| Count::Unbounded(overflow(a, '+', b)), Count::Known),
        }
    }
}

const OVERFLOW: &str = "is larger than any count poolcheck can represent";

/// Why a count that no longer fits in 64 bits is treated as unbounded:
/// no server has that many slots, and a wrapped number would be a lie.
fn overflow(a: u64, op: char, b: u64) -> String {
    format!("{a} {op} {b} {OVERFLOW}")
}

impl std::fmt::Display for Count {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Count::Known(v) => write!(f, "{v}"),
            Count::Unbounded(_) => f.write_str("unbounded"),
            Count::Unknown(_) => f.write_str("unknown"),
        }
    }
}

/// How CPU-dependent factors are evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cpus {
    /// Use each service's declared `cpu_count`; CPU-dependent factors of
    /// services without one are unknown.
    Declared,
    /// Pretend every host has this many CPUs (PC107's search).
    Assume(u32),
}

/// A number with its formula: what one pool, one service or one PgBouncer adds.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    pub count: Count,
    /// The arithmetic with numbers only (`8 workers × (pool_size 15 + max_overflow 30)`).
    pub formula: String,
    /// The arithmetic with each factor's provenance, for messages
    /// (`8 workers (gunicorn.conf.py:2) × (pool_size 15 + max_overflow 30) (app/db.py:7)`).
    pub quoted: String,
    pub factors: Vec<Factor>,
    /// True when a factor depends on the host CPU count and none was declared.
    pub cpu_dependent: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContributorKind {
    Service,
    PgBouncer,
}

impl ContributorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ContributorKind::Service => "service",
            ContributorKind::PgBouncer => "pgbouncer",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Contribution {
    pub kind: ContributorKind,
    pub name: String,
    /// Service or PgBouncer index.
    pub index: usize,
    pub term: Term,
    /// The per-process cap setting of the largest pool, or the PgBouncer pool size line.
    pub primary: Option<Location>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServerBudget {
    pub server: usize,
    pub usable: Option<i64>,
    pub demand: Count,
    pub contributors: Vec<Contribution>,
    /// The demand while the service with the largest surge rolls out;
    /// `None` when no service surges.
    pub rollout: Option<Rollout>,
}

/// A rolling update of one service: old and new replicas hold pools at once.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollout {
    /// The steady demand plus the surge replicas' connections.
    pub demand: Count,
    /// The service that rolls out (index into the deployment's services).
    pub service: usize,
    pub surge: Sourced<i64>,
    pub replicas: i64,
    /// Connections one replica of that service opens towards this server.
    pub per_replica: u64,
}

/// The rollout that adds the most connections to a server's demand: the
/// largest single service's surge × its connections per replica (services
/// roll out one at a time).
fn largest_rollout(
    deployment: &Deployment,
    demand: &Count,
    contributors: &[Contribution],
) -> Option<Rollout> {
    contributors
        .iter()
        .filter(|c| c.kind == ContributorKind::Service)
        .filter_map(|c| {
            let service = deployment.services.get(c.index)?;
            let surge = service.scaling.as_ref()?.surge.clone();
            let extra = surge.value.filter(|s| *s > 0)?;
            let replicas = service.replicas.value.filter(|r| *r > 0)?;
            let per_replica = c.term.count.known()? / replicas as u64;
            Some(Rollout {
                demand: demand
                    .clone()
                    .plus(Count::Known(per_replica.saturating_mul(extra as u64))),
                service: c.index,
                surge,
                replicas,
                per_replica,
            })
        })
        .max_by_key(|r| {
            (
                r.per_replica
                    .saturating_mul(r.surge.value.unwrap_or(0) as u64),
                std::cmp::Reverse(r.service),
            )
        })
}

#[derive(Debug, Clone, PartialEq)]
pub struct PgBouncerBudget {
    pub pgbouncer: usize,
    pub max_client_conn: Sourced<i64>,
    pub instances: Sourced<i64>,
    /// Client connections into this PgBouncer, with their contributions.
    pub client_demand: Count,
    pub clients: Vec<Contribution>,
    pub server_side: ServerSide,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    pub servers: Vec<ServerBudget>,
    pub pgbouncers: Vec<PgBouncerBudget>,
}

/// Evaluates an integer factor of a service, honouring declared CPU counts.
pub fn eval_int(value: &Sourced<IntExpr>, service: &Service, cpus: Cpus) -> (Count, bool) {
    let Some(expr) = &value.value else {
        let reason = value.unknown_reason().unwrap_or("unknown value").to_owned();
        return (Count::Unknown(reason), false);
    };
    if !expr.depends_on_cpus() {
        return match expr.eval(1) {
            Some(v) if v >= 0 => (Count::Known(v as u64), false),
            Some(v) => (Count::Unknown(format!("negative value {v}")), false),
            None => (Count::Unknown(format!("cannot evaluate {expr}")), false),
        };
    }
    // A declared CPU count wins over an assumed one: PC107 varies only the
    // hosts nobody described.
    let declared = service
        .cpu_count
        .as_ref()
        .and_then(|d| d.value.map(|v| v.clamp(1, i64::from(u32::MAX)) as u32));
    let n = match (cpus, declared) {
        (_, Some(declared)) => Some(declared),
        (Cpus::Assume(n), None) => Some(n),
        (Cpus::Declared, None) => None,
    };
    match n.and_then(|n| expr.eval(n)) {
        Some(v) if v >= 0 => (
            Count::Known(v as u64),
            declared.is_none() && matches!(cpus, Cpus::Assume(_)),
        ),
        Some(v) => (Count::Unknown(format!("negative value {v}")), false),
        // A capped formula counts its cap on hosts nobody described; it still
        // depends on the CPU count, so PC107 can say where the budget breaks.
        None if expr.cap().is_some_and(|c| c >= 0) => {
            (Count::Known(expr.cap().unwrap_or_default() as u64), true)
        }
        None => (
            Count::Unknown(format!(
                "{expr} depends on the host CPU count; declare [services.{}] cpu_count",
                service.name
            )),
            true,
        ),
    }
}

pub fn plural(n: &Count, one: &str, many: &str) -> String {
    match n {
        Count::Known(1) => one.to_owned(),
        _ => many.to_owned(),
    }
}

/// Label for an integer factor: `8 workers (gunicorn.conf.py:2)`.
pub fn factor_label(
    sources: &Sources,
    value: &Sourced<IntExpr>,
    count: &Count,
    one: &str,
    many: &str,
) -> String {
    let noun = plural(count, one, many);
    let shown = match (count, &value.value) {
        (Count::Known(v), Some(expr)) if expr.depends_on_cpus() => format!("{v} {noun} ({expr})"),
        (Count::Known(v), _) => format!("{v} {noun}"),
        (_, Some(expr)) => format!("{expr} {noun}"),
        (_, None) => format!("? {noun}"),
    };
    sources.annotate(shown, value, None)
}

/// The per-process cap of one pool in one service.
pub fn per_process(pool: &ClientPool, service: &Service, cpus: Cpus, sources: &Sources) -> Term {
    match &pool.cap {
        PoolCap::Bounded { size, overflow } => {
            let (size_n, size_cpu) = eval_int(size, service, cpus);
            let mut factors = vec![Factor {
                label: format!(
                    "{} {}",
                    bounded_size_name(pool),
                    sources.quote_with(size, "")
                ),
                location: size
                    .location
                    .clone()
                    .or_else(|| Some(pool.location.clone())),
            }];
            match overflow {
                Some(overflow) => {
                    let (over_n, over_cpu) = eval_int(overflow, service, cpus);
                    factors.push(Factor {
                        label: format!("max_overflow {}", sources.quote_with(overflow, "")),
                        location: overflow
                            .location
                            .clone()
                            .or_else(|| Some(pool.location.clone())),
                    });
                    let formula = format!("(pool_size {size_n} + max_overflow {over_n})");
                    let quoted = quote_pair(pool, size, overflow, &size_n, &over_n, sources);
                    Term {
                        count: size_n.plus(over_n),
                        formula,
                        quoted,
                        factors,
                        cpu_dependent: size_cpu || over_cpu,
                    }
                }
                None => Term {
                    formula: format!("{} {size_n}", bounded_size_name(pool)),
                    quoted: format!(
                        "{} {}",
                        bounded_size_name(pool),
                        quote_count(sources, size, &size_n, Some(&pool.location))
                    ),
                    count: size_n,
                    factors,
                    cpu_dependent: size_cpu,
                },
            }
        }
        PoolCap::PerConcurrency { reason } => match &service.concurrency {
            Concurrency::Bounded(c) => {
                let (n, cpu) = eval_int(c, service, cpus);
                let noun = concurrency_noun(service);
                Term {
                    formula: format!("{n} {}", plural(&n, noun.0, noun.1)),
                    quoted: format!(
                        "{} ({} opens {reason}, {})",
                        factor_label(sources, c, &n, noun.0, noun.1),
                        pool.name,
                        sources.describe(&pool.location)
                    ),
                    factors: vec![
                        Factor {
                            label: factor_label(sources, c, &n, noun.0, noun.1),
                            location: c.location.clone(),
                        },
                        Factor {
                            label: format!("{} opens {reason}", pool.name),
                            location: Some(pool.location.clone()),
                        },
                    ],
                    count: n,
                    cpu_dependent: cpu,
                }
            }
            Concurrency::Unbounded { reason: why } => Term {
                count: Count::Unbounded(format!("{reason}, and {why}")),
                formula: "unbounded concurrency".to_owned(),
                quoted: format!(
                    "unbounded ({} opens {reason}, {}; {why})",
                    pool.name,
                    sources.describe(&pool.location)
                ),
                factors: vec![Factor {
                    label: format!("{} opens {reason}; {why}", pool.name),
                    location: Some(pool.location.clone()),
                }],
                cpu_dependent: false,
            },
        },
        PoolCap::Unbounded { reason, location } => Term {
            count: Count::Unbounded(reason.clone()),
            formula: format!("unbounded ({reason})"),
            quoted: format!(
                "unbounded ({reason}, {})",
                sources.describe(location.as_ref().unwrap_or(&pool.location))
            ),
            factors: vec![Factor {
                label: format!("{}: {reason}", pool.name),
                location: location.clone().or_else(|| Some(pool.location.clone())),
            }],
            cpu_dependent: false,
        },
    }
}

/// `(pool_size 15 + max_overflow 30) (app/db.py:7)` when both come from one
/// place, else each with its own provenance.
fn quote_pair(
    pool: &ClientPool,
    size: &Sourced<IntExpr>,
    overflow: &Sourced<IntExpr>,
    size_n: &Count,
    over_n: &Count,
    sources: &Sources,
) -> String {
    let same_line = |a: &Option<Location>, b: &Option<Location>| match (a, b) {
        (Some(a), Some(b)) => sources.describe(a) == sources.describe(b),
        _ => false,
    };
    let both_literal = matches!(size.origin, poolcheck_core::Origin::Literal)
        && matches!(overflow.origin, poolcheck_core::Origin::Literal);
    if both_literal && same_line(&size.location, &overflow.location) {
        let loc = size.location.as_ref().unwrap_or(&pool.location);
        return format!(
            "(pool_size {size_n} + max_overflow {over_n}) ({})",
            sources.describe(loc)
        );
    }
    if let (Some(a), Some(b)) = (size.origin_phrase(), overflow.origin_phrase())
        && a == b
        && size.location.is_none()
        && overflow.location.is_none()
    {
        return format!(
            "(pool_size {size_n} + max_overflow {over_n}) ({a}s, {})",
            sources.describe(&pool.location)
        );
    }
    format!(
        "(pool_size {} + max_overflow {})",
        quote_count(sources, size, size_n, Some(&pool.location)),
        quote_count(sources, overflow, over_n, Some(&pool.location))
    )
}

/// `15 (app/db.py:7)`, `5 (SQLAlchemy default, app/db.py:7)`.
fn quote_count(
    sources: &Sources,
    value: &Sourced<IntExpr>,
    count: &Count,
    fallback: Option<&Location>,
) -> String {
    sources.annotate(count.to_string(), value, fallback)
}

/// The name of a bounded pool's size setting (`pool_size`, `maxconn`, `max_size`).
pub fn bounded_size_name(pool: &ClientPool) -> &'static str {
    use poolcheck_core::facts::pool::PoolKind;
    match pool.kind {
        PoolKind::SqlAlchemy => "pool_size",
        PoolKind::Psycopg2Pool => "maxconn",
        _ => "max_size",
    }
}

pub fn concurrency_noun(service: &Service) -> (&'static str, &'static str) {
    let class = service
        .worker_class
        .as_ref()
        .and_then(|c| c.value.as_deref())
        .unwrap_or("");
    if class.contains("gevent") || class.contains("eventlet") {
        ("greenlet", "greenlets")
    } else if service.server == Some(poolcheck_core::facts::process::ServerKind::Celery) {
        ("task slot", "task slots")
    } else if class == "gthread"
        || service.server == Some(poolcheck_core::facts::process::ServerKind::Uwsgi)
    {
        ("thread", "threads")
    } else {
        // A sync worker, or a process with no server command: one request at a time.
        ("request at a time", "requests at a time")
    }
}

/// What one service opens towards one target: replicas × processes × Σ pools.
pub fn service_term(
    service: &Service,
    target: &TargetRef,
    cpus: Cpus,
    sources: &Sources,
) -> Option<(Term, Option<Location>)> {
    let pools: Vec<_> = service
        .pools
        .iter()
        .filter(|p| &p.target == target)
        .collect();
    if pools.is_empty() {
        return None;
    }
    let (replicas, _) = eval_int(&service.replicas.clone().map(IntExpr::Const), service, cpus);
    let (processes, proc_cpu) = eval_int(&service.processes, service, cpus);

    let mut factors = Vec::new();
    let replicas_shown = replicas != Count::Known(1);
    if replicas_shown {
        factors.push(Factor {
            label: factor_label(
                sources,
                &service.replicas.clone().map(IntExpr::Const),
                &replicas,
                "replica",
                "replicas",
            ),
            location: service.replicas.location.clone(),
        });
    }
    let (one, many) = process_noun(service);
    factors.push(Factor {
        label: factor_label(sources, &service.processes, &processes, one, many),
        location: service
            .processes
            .location
            .clone()
            .or_else(|| service.location.clone()),
    });

    let mut per_process_total = Count::Known(0);
    let mut formulas = Vec::new();
    let mut quoteds = Vec::new();
    let mut cpu_dependent = proc_cpu;
    let mut largest: Option<(u64, Location)> = None;
    for group in alternative_groups(&pools) {
        let (term, cap_location) = group_term(&group, service, cpus, sources);
        cpu_dependent |= term.cpu_dependent;
        let size = match &term.count {
            Count::Known(v) => *v,
            _ => u64::MAX,
        };
        if largest.as_ref().is_none_or(|(s, _)| size > *s) {
            largest = Some((size, cap_location));
        }
        per_process_total = per_process_total.plus(term.count.clone());
        formulas.push(term.formula);
        quoteds.push(term.quoted);
        factors.extend(term.factors);
    }
    let join = |mut parts: Vec<String>| {
        if parts.len() == 1 {
            parts.remove(0)
        } else {
            format!("({})", parts.join(" + "))
        }
    };
    let mut formula = String::new();
    let mut quoted = String::new();
    if replicas_shown {
        formula.push_str(&format!("{replicas} replicas × "));
        quoted.push_str(&factors[0].label);
        quoted.push_str(" × ");
    }
    formula.push_str(&format!(
        "{processes} {} × {}",
        plural(&processes, one, many),
        join(formulas)
    ));
    quoted.push_str(&format!(
        "{} × {}",
        factor_label(sources, &service.processes, &processes, one, many),
        join(quoteds)
    ));
    let count = replicas.times(processes).times(per_process_total);
    Some((
        Term {
            count,
            formula,
            quoted,
            factors,
            cpu_dependent,
        },
        largest.map(|(_, l)| l),
    ))
}

/// The pools of a service, grouped so that alternatives count once: when
/// `DJANGO_SETTINGS_MODULE` is unknown, every unselected settings module is
/// checked, but only one of them is deployed, so the same alias from several
/// of them is one group. Every other pool is a group of its own.
fn alternative_groups<'a>(pools: &[&'a LinkedPool]) -> Vec<Vec<&'a LinkedPool>> {
    let alternative_alias = |linked: &LinkedPool| {
        linked
            .pool
            .settings
            .django
            .as_ref()
            .filter(|d| d.configurations > 1 && d.selected_by.is_none())
            .map(|d| d.alias.clone())
    };
    let mut groups: Vec<(Option<String>, Vec<&LinkedPool>)> = Vec::new();
    for &linked in pools {
        let alias = alternative_alias(linked);
        match groups
            .iter_mut()
            .find(|(a, _)| alias.is_some() && *a == alias)
        {
            Some((_, members)) => members.push(linked),
            None => groups.push((alias, vec![linked])),
        }
    }
    groups.into_iter().map(|(_, members)| members).collect()
}

/// The per-process term of one group: the pool itself, or the largest of
/// alternative settings modules' pools, shown as `max(…)`.
fn group_term(
    group: &[&LinkedPool],
    service: &Service,
    cpus: Cpus,
    sources: &Sources,
) -> (Term, Location) {
    let terms: Vec<(Term, &LinkedPool)> = group
        .iter()
        .map(|linked| (per_process(&linked.pool, service, cpus, sources), *linked))
        .collect();
    let rank = |count: &Count| match count {
        Count::Known(v) => (0, *v),
        Count::Unknown(_) => (1, 0),
        Count::Unbounded(_) => (2, 0),
    };
    let chosen = terms
        .iter()
        .enumerate()
        .max_by_key(|(i, (term, _))| (rank(&term.count), std::cmp::Reverse(*i)))
        .map_or(0, |(i, _)| i);
    if terms.len() == 1 {
        let (term, linked) = terms.into_iter().next().expect("a group has a pool");
        return (term, linked.pool.cap_location.clone());
    }
    let modules: Vec<String> = terms
        .iter()
        .filter_map(|(_, l)| l.pool.settings.django.as_ref())
        .map(|d| format!("`{}`", d.settings_module))
        .collect();
    let formula = format!(
        "max({})",
        terms
            .iter()
            .map(|(t, _)| t.formula.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let quoted = format!(
        "max({}) (only one of the settings modules {} is deployed: the largest is counted)",
        terms
            .iter()
            .map(|(t, _)| t.quoted.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        modules.join(", ")
    );
    let cpu_dependent = terms.iter().any(|(t, _)| t.cpu_dependent);
    let (term, linked) = terms
        .into_iter()
        .nth(chosen)
        .expect("chosen is an index of terms");
    (
        Term {
            count: term.count,
            formula,
            quoted,
            factors: term.factors,
            cpu_dependent,
        },
        linked.pool.cap_location.clone(),
    )
}

pub fn process_noun(service: &Service) -> (&'static str, &'static str) {
    use poolcheck_core::facts::process::ServerKind;
    match service.server {
        // No server command anywhere: say that the one process is assumed.
        None if service.location.is_none() => ("implicit process", "implicit processes"),
        Some(ServerKind::Celery) => ("worker process", "worker processes"),
        Some(ServerKind::Uwsgi) | None => ("process", "processes"),
        _ => ("worker", "workers"),
    }
}

/// Computes every server's and PgBouncer's budget.
/// Alternative ways to run one app count once, as the largest of them:
/// `max(web: 6 workers × 10, web-2: 4 processes × 10)`.
fn largest_alternative(mut group: Vec<Contribution>) -> Contribution {
    let rank = |c: &Contribution| match &c.term.count {
        Count::Unbounded(_) => (2, 0),
        Count::Unknown(_) => (1, 0),
        Count::Known(n) => (0, *n),
    };
    if group.len() == 1 {
        return group.remove(0);
    }
    let describe = |c: &Contribution, text: &str| format!("{}: {text} = {}", c.name, c.term.count);
    let formula = group
        .iter()
        .map(|c| describe(c, &c.term.formula))
        .collect::<Vec<_>>()
        .join(", ");
    let quoted = group
        .iter()
        .map(|c| describe(c, &c.term.quoted))
        .collect::<Vec<_>>()
        .join(", ");
    let at = (0..group.len())
        .max_by_key(|&i| (rank(&group[i]), std::cmp::Reverse(i)))
        .unwrap_or(0);
    let mut largest = group.swap_remove(at);
    largest.term.formula = format!("max({formula})");
    largest.term.quoted = format!(
        "max({quoted}) (standalone server configurations no deployment file starts: alternative ways to run one app)"
    );
    largest
}

pub fn compute(deployment: &Deployment, cpus: Cpus, sources: &Sources) -> Budget {
    let mut pgbouncers = Vec::new();
    for (index, bouncer) in deployment.pgbouncers.iter().enumerate() {
        let mut clients = Vec::new();
        let mut client_demand = Count::Known(0);
        for (s, service) in deployment.services.iter().enumerate() {
            let databases: std::collections::BTreeSet<_> = service
                .pools
                .iter()
                .filter_map(|p| match &p.target {
                    TargetRef::PgBouncer { index: i, database } if *i == index => {
                        Some(database.clone())
                    }
                    _ => None,
                })
                .collect();
            for database in databases {
                let target = TargetRef::PgBouncer {
                    index,
                    database: database.clone(),
                };
                if let Some((term, primary)) = service_term(service, &target, cpus, sources) {
                    client_demand = client_demand.plus(term.count.clone());
                    clients.push(Contribution {
                        kind: ContributorKind::Service,
                        name: service.name.clone(),
                        index: s,
                        term,
                        primary,
                    });
                }
            }
        }
        let server_side = pgbouncer_budget::server_side(deployment, index, sources);
        pgbouncers.push(PgBouncerBudget {
            pgbouncer: index,
            max_client_conn: pgbouncer_budget::max_client_conn(bouncer),
            instances: bouncer.instances.clone(),
            client_demand,
            clients,
            server_side,
        });
    }

    let mut servers = Vec::new();
    for (index, server) in deployment.servers.iter().enumerate() {
        let mut contributors = Vec::new();
        let mut demand = Count::Known(0);
        let mut alternatives: std::collections::BTreeMap<usize, Vec<Contribution>> =
            std::collections::BTreeMap::new();
        for (s, service) in deployment.services.iter().enumerate() {
            if let Some((term, primary)) =
                service_term(service, &TargetRef::Server(index), cpus, sources)
            {
                let contribution = Contribution {
                    kind: ContributorKind::Service,
                    name: service.name.clone(),
                    index: s,
                    term,
                    primary,
                };
                if let Some(group) = service.alternative_group {
                    alternatives.entry(group).or_default().push(contribution);
                } else {
                    demand = demand.plus(contribution.term.count.clone());
                    contributors.push(contribution);
                }
            }
        }
        for (_, group) in alternatives {
            let largest = largest_alternative(group);
            demand = demand.plus(largest.term.count.clone());
            contributors.push(largest);
        }
        for pb in &pgbouncers {
            if let Some(term) = pb.server_side.towards(index) {
                demand = demand.plus(term.count.clone());
                contributors.push(Contribution {
                    kind: ContributorKind::PgBouncer,
                    name: deployment.pgbouncers[pb.pgbouncer].config.name.clone(),
                    index: pb.pgbouncer,
                    term: term.clone(),
                    primary: pb.server_side.primary.clone(),
                });
            }
        }
        let rollout = largest_rollout(deployment, &demand, &contributors);
        servers.push(ServerBudget {
            server: index,
            usable: server.usable(),
            demand,
            contributors,
            rollout,
        });
    }
    Budget {
        servers,
        pgbouncers,
    }
}

#[cfg(test)]
mod overflow_tests {
    use super::*;

    #[test]
    fn products_and_sums_past_u64_are_unbounded_not_wrapped() {
        let workers = Count::Known(5_000_000_000);
        let cap = Count::Known(10_000_000_000);
        let product = workers.clone().times(cap);
        assert!(product.is_unbounded(), "{product:?}");
        assert!(Count::Known(u64::MAX).plus(Count::Known(1)).is_unbounded());
        assert_eq!(workers.times(Count::Known(2)), Count::Known(10_000_000_000));
    }
}
