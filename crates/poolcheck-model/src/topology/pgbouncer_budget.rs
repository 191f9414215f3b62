//! A PgBouncer's server side: the most connections it can open to each
//! PostgreSQL server. Pools are per (database, user): a `[databases]` entry
//! with a forced `user=` has one pool, otherwise every user that logs in
//! through it gets its own.

use std::collections::{BTreeMap, BTreeSet};

use poolcheck_core::{Bound, Location, Sourced};
use poolcheck_extract::pgbouncer::view::PgBouncerView;

use super::budget::{Count, Factor, Term};
use super::{Deployment, PgBouncer, TargetRef};
use crate::sources::Sources;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServerSide {
    /// What this PgBouncer can open towards each server (by server index).
    pub per_server: Vec<(usize, Term)>,
    /// The pool size setting of the largest pool, for a finding's primary range.
    pub primary: Option<Location>,
}

impl ServerSide {
    pub fn towards(&self, server: usize) -> Option<&Term> {
        self.per_server
            .iter()
            .find(|(s, _)| *s == server)
            .map(|(_, t)| t)
    }

    pub fn total(&self) -> Count {
        self.per_server
            .iter()
            .fold(Count::Known(0), |acc, (_, t)| acc.plus(t.count.clone()))
    }
}

pub fn max_client_conn(bouncer: &PgBouncer) -> Sourced<i64> {
    PgBouncerView::new(&bouncer.config).max_client_conn()
}

/// One (database, user) pool and what it may open.
#[derive(Debug, Clone, PartialEq)]
pub struct Pool {
    pub database: String,
    /// The login user of the pool; `None` when no client names one.
    pub user: Option<String>,
    pub cap: Sourced<Bound>,
    pub size: Sourced<i64>,
    /// The server the pool connects to (index into `Deployment::servers`).
    pub server: usize,
}

/// Every (database, user) pool of PgBouncer `index` that reaches a server.
pub fn pools(deployment: &Deployment, index: usize) -> Vec<Pool> {
    let bouncer = &deployment.pgbouncers[index];
    let view = PgBouncerView::new(&bouncer.config);

    // Which users reach which database entry, from the clients linked to it.
    let mut users: BTreeMap<String, BTreeSet<Option<String>>> = BTreeMap::new();
    for service in &deployment.services {
        for linked in &service.pools {
            if let TargetRef::PgBouncer { index: i, database } = &linked.target {
                if *i == index {
                    let user = linked
                        .pool
                        .target
                        .value
                        .as_ref()
                        .and_then(|t| t.user.clone());
                    users.entry(database.clone()).or_default().insert(user);
                }
            }
        }
    }
    let mut databases: BTreeSet<String> = bouncer
        .config
        .databases
        .iter()
        .filter(|d| d.name != "*")
        .map(|d| d.name.clone())
        .collect();
    databases.extend(users.keys().cloned());
    if databases.is_empty() && bouncer.config.databases.iter().any(|d| d.name == "*") {
        // A wildcard entry and no client known: count the one pool a client creates.
        databases.insert("*".to_owned());
    }

    let mut pools = Vec::new();
    for database in &databases {
        let Some(server) = server_of_database(deployment, index, database) else {
            continue;
        };
        let forced = view
            .database(database)
            .and_then(|d| d.params.get("user"))
            .map(|e| e.value.clone());
        let logins: Vec<Option<String>> = match forced {
            Some(user) => vec![Some(user)],
            None => users
                .get(database)
                .map(|u| u.iter().cloned().collect())
                .filter(|u: &Vec<_>| !u.is_empty())
                .unwrap_or_else(|| vec![None]),
        };
        for user in logins {
            let cap = view.server_connection_cap(database, user.as_deref());
            let size = view.effective_pool_size(database, user.as_deref());
            pools.push(Pool {
                database: database.clone(),
                user,
                cap,
                size,
                server,
            });
        }
    }
    pools
}

pub fn server_side(deployment: &Deployment, index: usize, sources: &Sources) -> ServerSide {
    let bouncer = &deployment.pgbouncers[index];
    let view = PgBouncerView::new(&bouncer.config);
    let pools = pools(deployment, index);

    let (instances, instances_label) = match bouncer.instances.value {
        Some(n) if n > 1 => (
            n as u64,
            Some(sources.quote_with(&bouncer.instances, "instances")),
        ),
        _ => (1, None),
    };

    let mut primary: Option<(u64, Location)> = None;
    let mut by_server: BTreeMap<usize, Vec<&Pool>> = BTreeMap::new();
    for pool in &pools {
        by_server.entry(pool.server).or_default().push(pool);
        let size = match pool.cap.value {
            Some(Bound::Finite(n)) => n,
            _ => u64::MAX,
        };
        let loc = pool
            .size
            .location
            .clone()
            .unwrap_or_else(|| bouncer.config.location.clone());
        if primary.as_ref().is_none_or(|(s, _)| size > *s) {
            primary = Some((size, loc));
        }
    }

    let per_server = by_server
        .into_iter()
        .map(|(server, pools)| {
            (
                server,
                term_for(&pools, instances, instances_label.as_deref(), view, sources),
            )
        })
        .collect();
    ServerSide {
        per_server,
        primary: primary.map(|(_, l)| l),
    }
}

fn pool_name(pool: &Pool) -> String {
    match &pool.user {
        Some(user) => format!("`{}` (user {user})", pool.database),
        None => format!("`{}`", pool.database),
    }
}

fn term_for(
    pools: &[&Pool],
    instances: u64,
    instances_label: Option<&str>,
    view: PgBouncerView<'_>,
    sources: &Sources,
) -> Term {
    let mut count = Count::Known(0);
    let mut parts = Vec::new();
    let mut quoted_parts = Vec::new();
    let mut factors = Vec::new();
    for pool in pools {
        let piece = match &pool.cap.value {
            Some(Bound::Finite(n)) => Count::Known(*n),
            Some(Bound::Unbounded) => Count::Unbounded(format!(
                "pool `{}` has no size limit (pool_size 0 means unlimited from PgBouncer 1.24) and no max_db_connections",
                pool_name(pool)
            )),
            None => Count::Unknown(
                pool.cap
                    .unknown_reason()
                    .unwrap_or("a pool setting is unknown")
                    .to_owned(),
            ),
        };
        count = count.plus(piece.clone());
        let describe = describe_cap(pool, view);
        parts.push(if pools.len() == 1 {
            describe.clone()
        } else {
            format!("pool {} {describe} = {piece}", pool_name(pool))
        });
        let loc = pool.size.location.clone();
        quoted_parts.push(format!(
            "pool {} ({describe}{})",
            pool_name(pool),
            loc.as_ref()
                .map(|l| format!(", {}", sources.describe(l)))
                .unwrap_or_default()
        ));
        factors.push(Factor {
            label: format!("pool {}: {describe}", pool_name(pool)),
            location: loc,
        });
    }
    let mut formula = if parts.len() == 1 {
        parts.remove(0)
    } else {
        format!("({})", parts.join(" + "))
    };
    let mut quoted = quoted_parts.join(" + ");
    if instances > 1 {
        formula = format!("{instances} instances × {formula}");
        quoted = format!("{} × ({quoted})", instances_label.unwrap_or("instances"));
        count = count.times(Count::Known(instances));
    }
    Term {
        count,
        formula,
        quoted,
        factors,
        cpu_dependent: false,
    }
}

/// `pool_size 20 + reserve_pool_size 5, capped by max_db_connections 250`.
fn describe_cap(pool: &Pool, view: PgBouncerView<'_>) -> String {
    let user = pool.user.as_deref();
    let size = view.effective_pool_size(&pool.database, user);
    let reserve = view.effective_reserve_pool_size(&pool.database, user);
    let max_db = view.effective_max_db_connections(&pool.database);
    let pool_user = view.pool_user(&pool.database, user);
    let max_user = view.effective_max_user_connections(pool_user);
    let size_name = match &size.location {
        Some(loc) if pool_size_overridden(pool, view, loc) => "pool_size",
        _ => "default_pool_size",
    };
    let mut text = format!(
        "{size_name} {}",
        size.value.map_or_else(|| "?".to_owned(), |v| v.to_string())
    );
    if let Some(r) = reserve.value.filter(|r| *r > 0) {
        text.push_str(&format!(" + reserve_pool_size {r}"));
    }
    let mut caps = Vec::new();
    if let Some(d) = max_db.value.filter(|d| *d > 0) {
        caps.push(format!("max_db_connections {d}"));
    }
    if let Some(u) = max_user.value.filter(|u| *u > 0) {
        caps.push(format!("max_user_connections {u}"));
    }
    if !caps.is_empty() {
        text.push_str(&format!(", capped by {}", caps.join(" and ")));
    }
    text
}

/// True when the pool's size comes from a `[databases]`/`[users]` `pool_size`
/// rather than `default_pool_size`.
fn pool_size_overridden(pool: &Pool, view: PgBouncerView<'_>, size_at: &Location) -> bool {
    let user = view.pool_user(&pool.database, pool.user.as_deref());
    let definitions = [
        view.database(&pool.database),
        user.and_then(|u| view.user(u)),
    ];
    definitions
        .into_iter()
        .flatten()
        .filter_map(|d| d.params.get("pool_size"))
        .any(|e| e.value_location == *size_at)
}

/// The server a PgBouncer database entry connects to, as linked during assembly.
fn server_of_database(deployment: &Deployment, index: usize, database: &str) -> Option<usize> {
    let exact = deployment
        .pgbouncer_links
        .iter()
        .find(|(p, d, _)| *p == index && d == database);
    let wildcard = || {
        deployment
            .pgbouncer_links
            .iter()
            .find(|(p, d, _)| *p == index && d == "*")
    };
    exact.or_else(wildcard).map(|(_, _, s)| *s)
}
