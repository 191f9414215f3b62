//! Hover: what a setting resolves to, where that came from, and the budget it
//! takes part in, written out with numbers; over a code in a suppression
//! comment, the rule's summary and link. Everything is read from the same
//! `Analysis` that produced the diagnostics.

use poolcheck_core::facts::pool::PoolCap;
use poolcheck_core::{FileKind, FilePath, IntExpr, Location, SourceFile, Sourced};
use poolcheck_rules::Analysis;
use poolcheck_rules::registry::{self, selector_matches};
use poolcheck_rules::sources::Sources;
use poolcheck_rules::suppress;
use poolcheck_rules::topology::budget::{self, ContributorKind, Count, Cpus, Term};
use poolcheck_rules::topology::capacity;
use poolcheck_rules::topology::{Concurrency, Deployment, LinkedPool, TargetRef};
use poolcheck_workspace::discover;

/// Markdown for a hover at `offset` in `file`, or `None` when nothing there
/// feeds a rule.
pub fn hover(
    file: &SourceFile,
    kind: Option<FileKind>,
    offset: usize,
    analysis: Option<&Analysis>,
    sources: &Sources,
) -> Option<String> {
    if let Some(text) = suppression_hover(file, kind, offset) {
        return Some(text);
    }
    let analysis = analysis?;
    let items = collect(&analysis.deployment, analysis, sources);
    let item = pick(&items, file, offset)?;
    Some(describe(item, analysis, sources))
}

fn suppression_hover(file: &SourceFile, kind: Option<FileKind>, offset: usize) -> Option<String> {
    let kind = kind
        .or_else(|| discover::classify(file.path().as_path()))
        .unwrap_or(FileKind::Python);
    for entry in suppress::parse(file, kind) {
        for (code, span) in &entry.codes {
            if !span.contains(offset) {
                continue;
            }
            let rules: Vec<_> = registry::all()
                .iter()
                .filter(|r| selector_matches(code, r.meta.code))
                .collect();
            if rules.is_empty() {
                return Some(format!("`{code}` matches no poolcheck rule"));
            }
            let mut text = String::new();
            if rules.len() > 1 {
                text.push_str(&format!("`{code}` covers {} rules:\n\n", rules.len()));
            }
            for rule in rules {
                let m = &rule.meta;
                text.push_str(&format!(
                    "**{}** `{}` ({})  \n{}  \n[Documentation]({})\n\n",
                    m.code,
                    m.name,
                    m.severity,
                    m.summary,
                    m.url()
                ));
            }
            return Some(text.trim_end().to_owned());
        }
    }
    None
}

/// A setting the editor can point at.
struct Item {
    spans: Vec<Location>,
    title: String,
    role: Role,
    /// The largest value of this setting that fits, the rest unchanged
    /// (`fits up to pool_size 6`), when the setting scales a service.
    capacity: Option<String>,
}

enum Role {
    /// Multiplies a whole service term (replicas, processes, concurrency),
    /// with its value.
    Multiplier(Count),
    /// An additive per-process factor of a pool (pool_size, max_overflow, max_size).
    PoolFactor(Sourced<IntExpr>),
    /// A setting of database server `index` (max_connections, reservations).
    Server(usize),
    /// PgBouncer `index`'s client limit.
    PgBouncerClients(usize),
    Plain,
}

fn collect(deployment: &Deployment, analysis: &Analysis, sources: &Sources) -> Vec<Item> {
    let mut items = Vec::new();
    for (index, service) in deployment.services.iter().enumerate() {
        let fits = capacity::fits(deployment, &analysis.budget, index);
        let (procs, _) = budget::eval_int(&service.processes, service, Cpus::Declared);
        let (one, many) = budget::process_noun(service);
        items.push(Item {
            spans: service.processes.location.iter().cloned().collect(),
            title: budget::factor_label(sources, &service.processes, &procs, one, many),
            role: Role::Multiplier(procs.clone()),
            capacity: fits_line(fits.processes, one, many),
        });
        let replicas = service.replicas.clone().map(IntExpr::Const);
        let (n, _) = budget::eval_int(&replicas, service, Cpus::Declared);
        items.push(Item {
            spans: replicas.location.iter().cloned().collect(),
            title: budget::factor_label(sources, &replicas, &n, "replica", "replicas"),
            role: Role::Multiplier(n.clone()),
            capacity: fits_line(fits.replicas, "replica", "replicas"),
        });
        if let Concurrency::Bounded(c) = &service.concurrency {
            let (n, _) = budget::eval_int(c, service, Cpus::Declared);
            let (one, many) = budget::concurrency_noun(service);
            items.push(Item {
                spans: c.location.iter().cloned().collect(),
                title: budget::factor_label(sources, c, &n, one, many),
                role: Role::Multiplier(n.clone()),
                capacity: None,
            });
        }
        if let Some(class) = &service.worker_class {
            items.push(plain(class, "worker_class", sources));
        }
        let s = &service.settings;
        for (name, value) in [
            ("threads", &s.threads),
            ("worker_connections", &s.worker_connections),
            ("concurrency", &s.concurrency),
            ("limit_concurrency", &s.limit_concurrency),
        ] {
            if let Some(v) = value {
                items.push(plain(v, name, sources));
            }
        }
        if let Some(v) = &s.timeout {
            items.push(plain(v, "timeout", sources));
        }
        if let Some(v) = &s.max_requests {
            items.push(plain(v, "max_requests", sources));
        }

        for linked in &service.pools {
            let pool = &linked.pool;
            let term = budget::per_process(pool, service, Cpus::Declared, sources);
            if let PoolCap::Bounded { size, overflow } = &pool.cap {
                let mut spans: Vec<Location> = size.location.iter().cloned().collect();
                if pool.cap_location != pool.location {
                    spans.push(pool.cap_location.clone());
                }
                // The pool's cap that fits (in every process of every
                // service that opens it), less what the rest of the cap
                // takes, is the largest value of this one setting.
                let cap_now = term.count.known();
                let setting_fits = |value: &Sourced<IntExpr>, name: &str, least: u64| {
                    let value = budget::eval_int(value, service, Cpus::Declared).0.known()?;
                    let now = cap_now?;
                    let fit = shared_pool_fits(analysis, linked, now)?;
                    let largest = fit.checked_sub(now.checked_sub(value)?)?;
                    (largest >= least).then(|| format!("fits up to {name} {largest}"))
                };
                let size_name = budget::bounded_size_name(pool);
                if let Some(label) = term.factors.first() {
                    items.push(Item {
                        spans,
                        title: label.label.clone(),
                        role: Role::PoolFactor(size.clone()),
                        capacity: setting_fits(size, size_name, 1),
                    });
                }
                if let (Some(overflow), Some(label)) = (overflow, term.factors.get(1)) {
                    items.push(Item {
                        spans: overflow.location.iter().cloned().collect(),
                        title: label.label.clone(),
                        role: Role::PoolFactor(overflow.clone()),
                        capacity: setting_fits(overflow, "max_overflow", 0),
                    });
                }
            }
            items.push(Item {
                spans: vec![pool.location.clone()],
                title: format!(
                    "{} `{}`: at most {} connections per process = {}",
                    pool.kind.as_str(),
                    pool.name,
                    term.count,
                    term.quoted
                ),
                role: Role::Plain,
                capacity: None,
            });
            let settings = &pool.settings;
            if let Some(class) = &settings.pool_class {
                items.push(plain(class, "poolclass", sources));
            }
            if let Some(django) = &settings.django {
                let age = &django.conn_max_age;
                items.push(Item {
                    spans: age.location.iter().cloned().collect(),
                    title: format!(
                        "CONN_MAX_AGE {}",
                        sources.quote(age, |v| match v {
                            Some(seconds) => format!("{seconds} s"),
                            None => "None (connections persist for the process's life)".to_owned(),
                        })
                    ),
                    role: Role::Plain,
                    capacity: None,
                });
            }
        }
    }

    for (index, server) in deployment.servers.iter().enumerate() {
        items.push(Item {
            spans: server.max_connections.location.iter().cloned().collect(),
            title: format!(
                "max_connections {}",
                sources.quote_with(&server.max_connections, "")
            ),
            role: Role::Server(index),
            capacity: None,
        });
        for (name, value) in server.reservations() {
            items.push(Item {
                spans: value.location.iter().cloned().collect(),
                title: format!("{name} {}", sources.quote_with(value, "")),
                role: Role::Server(index),
                capacity: None,
            });
        }
    }

    for (index, bouncer) in deployment.pgbouncers.iter().enumerate() {
        let config = &bouncer.config;
        let entries = config.settings.values().chain(
            config
                .databases
                .iter()
                .chain(&config.users)
                .flat_map(|d| d.params.values()),
        );
        for entry in entries {
            let span = entry.key_location.span.cover(entry.value_location.span);
            let role = if entry.key == "max_client_conn" {
                Role::PgBouncerClients(index)
            } else {
                Role::Plain
            };
            items.push(Item {
                spans: vec![Location::new(entry.key_location.file.clone(), span)],
                title: format!(
                    "{} = {} ({})",
                    entry.key,
                    entry.value,
                    sources.describe(&entry.value_location)
                ),
                role,
                capacity: None,
            });
        }
    }

    // Any other factor of a budget term.
    for term in terms(analysis).map(|(_, term)| term) {
        for factor in &term.factors {
            if let Some(location) = &factor.location {
                items.push(Item {
                    spans: vec![location.clone()],
                    title: factor.label.clone(),
                    role: Role::Plain,
                    capacity: None,
                });
            }
        }
    }
    items
}

/// The largest per-process cap of one pool that keeps its server within
/// usable slots, counting every service that opens the same pool there.
fn shared_pool_fits(analysis: &Analysis, linked: &LinkedPool, cap_now: u64) -> Option<u64> {
    let TargetRef::Server(server) = linked.target else {
        return None;
    };
    let b = analysis
        .budget
        .servers
        .iter()
        .find(|b| b.server == server)?;
    let usable = u64::try_from(b.usable?).ok()?;
    let demand = b.demand.known()?;
    let mut processes = 0u64;
    for s in &analysis.deployment.services {
        let opens = s
            .pools
            .iter()
            .any(|p| p.pool.location == linked.pool.location && p.target == linked.target);
        if opens {
            let replicas = s.replicas.clone().map(IntExpr::Const);
            let r = budget::eval_int(&replicas, s, Cpus::Declared).0.known()?;
            let p = budget::eval_int(&s.processes, s, Cpus::Declared)
                .0
                .known()?;
            processes = processes.checked_add(r.checked_mul(p)?)?;
        }
    }
    let others = demand.checked_sub(processes.checked_mul(cap_now)?)?;
    usable.checked_sub(others)?.checked_div(processes)
}

/// `fits up to 7 replicas (the rest unchanged)`.
fn fits_line(fits: Option<u64>, one: &str, many: &str) -> Option<String> {
    fits.map(|n| format!("fits up to {n} {}", if n == 1 { one } else { many }))
}

fn plain<T: std::fmt::Display>(value: &Sourced<T>, name: &str, sources: &Sources) -> Item {
    Item {
        spans: value.location.iter().cloned().collect(),
        title: format!("{name} {}", sources.quote_with(value, "")),
        role: Role::Plain,
        capacity: None,
    }
}

/// The item under the cursor: the narrowest span that holds the offset, else
/// the narrowest on the same line (the setting's name rather than its value).
fn pick<'a>(items: &'a [Item], file: &SourceFile, offset: usize) -> Option<&'a Item> {
    let path = file.path();
    let line = file.line_col(offset).line;
    let mut best: Option<(u8, usize, &Item)> = None;
    for item in items {
        for span in item.spans.iter().filter(|l| &l.file == path) {
            let rank = if span.span.contains(offset) {
                0
            } else if file.line_col(span.span.start as usize).line == line
                && file.line_col(span.span.end as usize).line == line
            {
                1
            } else {
                continue;
            };
            let key = (rank, span.span.len());
            if best.is_none_or(|(r, l, _)| key < (r, l)) {
                best = Some((rank, span.span.len(), item));
            }
        }
    }
    best.map(|(_, _, item)| item)
}

/// Where a contribution counts.
enum Target {
    Server(usize),
    PgBouncerClients(usize),
}

/// One line per place the term counts: the contributor, its arithmetic and
/// its limit.
struct Contribution<'a> {
    kind: ContributorKind,
    name: &'a str,
    index: usize,
    term: &'a Term,
}

fn terms(analysis: &Analysis) -> impl Iterator<Item = (Target, &Term)> {
    contributions(analysis).map(|(t, c)| (t, c.term))
}

fn contributions(analysis: &Analysis) -> impl Iterator<Item = (Target, Contribution<'_>)> {
    let servers = analysis.budget.servers.iter().flat_map(|s| {
        s.contributors.iter().map(move |c| {
            (
                Target::Server(s.server),
                Contribution {
                    kind: c.kind,
                    name: &c.name,
                    index: c.index,
                    term: &c.term,
                },
            )
        })
    });
    let clients = analysis.budget.pgbouncers.iter().flat_map(|p| {
        p.clients.iter().map(move |c| {
            (
                Target::PgBouncerClients(p.pgbouncer),
                Contribution {
                    kind: c.kind,
                    name: &c.name,
                    index: c.index,
                    term: &c.term,
                },
            )
        })
    });
    servers.chain(clients)
}

fn overlaps(a: &Location, b: &Location) -> bool {
    a.file == b.file && a.span.start <= b.span.end && b.span.start <= a.span.end
}

fn describe(item: &Item, analysis: &Analysis, sources: &Sources) -> String {
    let deployment = &analysis.deployment;
    let mut text = format!("**{}**", item.title);
    let mut lines = Vec::new();
    let mut targets: Vec<usize> = Vec::new();
    for (target, c) in contributions(analysis) {
        let takes_part = c.term.factors.iter().any(|f| {
            f.location
                .as_ref()
                .is_some_and(|l| item.spans.iter().any(|s| overlaps(s, l)))
        });
        if !takes_part {
            continue;
        }
        let limit = match target {
            Target::Server(i) => {
                if !targets.contains(&i) {
                    targets.push(i);
                }
                let usable = analysis
                    .budget
                    .servers
                    .iter()
                    .find(|s| s.server == i)
                    .and_then(|s| s.usable)
                    .map_or_else(|| "unknown".to_owned(), |u| u.to_string());
                format!(
                    "{usable} usable at `{}`",
                    deployment.servers.get(i).map_or("?", |s| s.name.as_str())
                )
            }
            Target::PgBouncerClients(i) => {
                let max = analysis
                    .budget
                    .pgbouncers
                    .iter()
                    .find(|p| p.pgbouncer == i)
                    .map(|p| sources.quote_with(&p.max_client_conn, ""))
                    .unwrap_or_default();
                format!(
                    "max_client_conn {max} at PgBouncer `{}`",
                    deployment
                        .pgbouncers
                        .get(i)
                        .map_or("?", |p| p.config.name.as_str())
                )
            }
        };
        let mut line = format!(
            "{} `{}`: {} = {} of {limit}",
            c.kind.as_str(),
            c.name,
            c.term.formula,
            c.term.count
        );
        if let Some(share) = share(item, &c, deployment) {
            line.push_str(&format!(" (this factor: {share})"));
        }
        lines.push(line);
    }
    match item.role {
        Role::Server(i) => {
            if let Some(b) = analysis.budget.servers.iter().find(|s| s.server == i) {
                let server = &deployment.servers[i];
                let reserved: Vec<String> = server
                    .reservations()
                    .iter()
                    .map(|(name, v)| format!(" − {} {name}", v.value.unwrap_or(0)))
                    .collect();
                lines.push(format!(
                    "`{}`{}: max_connections {}{} = {} usable",
                    server.name,
                    server.provider_suffix(),
                    server
                        .max_connections
                        .value
                        .map_or_else(|| "unknown".to_owned(), |v| v.to_string()),
                    reserved.concat(),
                    b.usable
                        .map_or_else(|| "unknown".to_owned(), |v| v.to_string()),
                ));
                if !targets.contains(&i) {
                    targets.push(i);
                }
            }
        }
        Role::PgBouncerClients(i) => {
            if let Some(p) = analysis.budget.pgbouncers.iter().find(|p| p.pgbouncer == i) {
                let parts: Vec<String> = p
                    .clients
                    .iter()
                    .map(|c| format!("{} {}", c.name, c.term.count))
                    .collect();
                lines.push(format!(
                    "clients: {} of max_client_conn {}{}",
                    p.client_demand,
                    p.max_client_conn
                        .value
                        .map_or_else(|| "unknown".to_owned(), |v| v.to_string()),
                    if parts.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", parts.join(" + "))
                    }
                ));
            }
        }
        _ => {}
    }
    for i in targets {
        if let Some(b) = analysis.budget.servers.iter().find(|s| s.server == i) {
            let parts: Vec<String> = b
                .contributors
                .iter()
                .map(|c| format!("{} `{}` {}", c.kind.as_str(), c.name, c.term.count))
                .collect();
            let usable = b
                .usable
                .map_or_else(|| "unknown".to_owned(), |v| v.to_string());
            let verdict = match (&b.demand, b.usable) {
                (Count::Known(d), Some(u)) if *d > u as u64 => {
                    format!(" — {} over", *d - u as u64)
                }
                (Count::Known(_), Some(_)) => " — fits".to_owned(),
                _ => String::new(),
            };
            lines.push(format!(
                "demand at `{}`: {} of {usable} usable ({}){verdict}",
                deployment.servers[i].name,
                b.demand,
                parts.join(" + ")
            ));
        }
    }
    if let Some(capacity) = &item.capacity {
        lines.push(format!("**{capacity}**, everything else unchanged"));
    }
    for line in lines {
        text.push_str("\n\n");
        text.push_str(&line);
    }
    text
}

/// Inlay hints: after each budget factor written in `file`, what it
/// multiplies into at the first limit it counts against
/// (`8 workers × (pool_size 15 + max_overflow 30) = 360 of 197 usable`).
pub fn inlay_hints(
    file: &SourceFile,
    analysis: &Analysis,
    sources: &Sources,
) -> Vec<(usize, String)> {
    let items = collect(&analysis.deployment, analysis, sources);
    let mut hints: Vec<(usize, String)> = Vec::new();
    for item in items
        .iter()
        .filter(|i| matches!(i.role, Role::Multiplier(_) | Role::PoolFactor(_)))
    {
        for span in item.spans.iter().filter(|l| &l.file == file.path()) {
            let hint = contributions(analysis).find_map(|(target, c)| {
                let takes_part = c
                    .term
                    .factors
                    .iter()
                    .any(|f| f.location.as_ref().is_some_and(|l| overlaps(span, l)));
                if !takes_part {
                    return None;
                }
                let limit = match target {
                    Target::Server(i) => analysis
                        .budget
                        .servers
                        .iter()
                        .find(|s| s.server == i)
                        .and_then(|s| s.usable)
                        .map(|u| format!("{u} usable")),
                    Target::PgBouncerClients(i) => analysis
                        .budget
                        .pgbouncers
                        .iter()
                        .find(|p| p.pgbouncer == i)
                        .and_then(|p| p.max_client_conn.value)
                        .map(|m| format!("max_client_conn {m}")),
                };
                Some(match limit {
                    Some(limit) => format!(" {} = {} of {limit}", c.term.formula, c.term.count),
                    None => format!(" {} = {}", c.term.formula, c.term.count),
                })
            });
            if let Some(hint) = hint {
                let at = span.span.end as usize;
                if !hints.iter().any(|(offset, _)| *offset == at) {
                    hints.push((at, hint));
                }
            }
        }
    }
    hints.sort();
    hints
}

/// This factor's part of a contribution, in numbers.
fn share(item: &Item, c: &Contribution<'_>, deployment: &Deployment) -> Option<String> {
    let count = c.term.count.known()?;
    match &item.role {
        Role::Multiplier(value) => {
            let value = value.known()?;
            // A multiplier of only some pools (threads for a NullPool beside
            // a QueuePool) has no clean share.
            if value == 0 || count % value != 0 {
                return None;
            }
            Some(format!("{value} × {} = {count}", count / value))
        }
        Role::PoolFactor(value) if c.kind == ContributorKind::Service => {
            let service = deployment.services.get(c.index)?;
            let replicas = service.replicas.clone().map(IntExpr::Const);
            let (replicas, _) = budget::eval_int(&replicas, service, Cpus::Declared);
            let (processes, _) = budget::eval_int(&service.processes, service, Cpus::Declared);
            let (value, _) = budget::eval_int(value, service, Cpus::Declared);
            let (r, p, v) = (replicas.known()?, processes.known()?, value.known()?);
            let product = r.saturating_mul(p).saturating_mul(v);
            Some(if r == 1 {
                format!("{p} × {v} = {product}")
            } else {
                format!("{r} × {p} × {v} = {product}")
            })
        }
        _ => None,
    }
}

/// The hover's file kind: the workspace's, else the name's.
pub fn kind_of(path: &FilePath, workspace_kind: Option<FileKind>) -> Option<FileKind> {
    workspace_kind.or_else(|| discover::classify(path.as_path()))
}
