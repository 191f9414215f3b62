//! Linking a client's host/port/dbname to what it reaches: a PgBouncer (by
//! host alias, listen port or name) or a PostgreSQL server (the only one, or
//! the one whose host matches, else a server of its own with defaults).

use poolcheck_core::facts::pool::Target;
use poolcheck_extract::pgbouncer::view::PgBouncerView;

use super::{DatabaseServer, PgBouncer};

/// PostgreSQL's port: a client on it is taken to reach PostgreSQL, not a
/// PgBouncer that happens to listen there.
const POSTGRES_PORT: u16 = 5432;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    PgBouncer {
        index: usize,
        /// The `[databases]` entry reached (its name, or `*`), else the dbname asked for.
        database: String,
    },
    Server(ServerMatch),
}

/// The PostgreSQL server a host reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerMatch {
    Existing(usize),
    /// No described server matches the host: a server of its own is assumed.
    New {
        host: String,
    },
}

fn host_matches(host: &str, alias: &str) -> bool {
    host.eq_ignore_ascii_case(alias)
        || host
            .split('.')
            .next()
            .is_some_and(|first| first.eq_ignore_ascii_case(alias))
}

/// Finds the PgBouncer a client target reaches, if any.
pub fn find_pgbouncer(target: &Target, pgbouncers: &[PgBouncer]) -> Option<usize> {
    let host = target.host.as_deref().unwrap_or("");
    if !host.is_empty()
        && let Some(i) = pgbouncers
            .iter()
            .position(|p| p.config.host_aliases.iter().any(|a| host_matches(host, a)))
    {
        return Some(i);
    }
    if let Some(port) = target.port.filter(|p| *p != POSTGRES_PORT) {
        let by_port: Vec<usize> = pgbouncers
            .iter()
            .enumerate()
            .filter(|(_, p)| PgBouncerView::new(&p.config).listen_port().value == Some(port))
            .map(|(i, _)| i)
            .collect();
        // Several on one port: the first, as a client's connection would
        // reach whichever listens there.
        if let Some(&i) = by_port.first() {
            return Some(i);
        }
    }
    let lower = host.to_ascii_lowercase();
    if pgbouncers.len() == 1 && (lower.contains("pgbouncer") || lower.contains("pooler")) {
        return Some(0);
    }
    None
}

/// Finds the PostgreSQL server a host reaches.
pub fn find_server(host: Option<&str>, servers: &[DatabaseServer]) -> ServerMatch {
    let described: Vec<usize> = servers
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.assumed)
        .map(|(i, _)| i)
        .collect();
    if let Some(host) = host.filter(|h| !h.is_empty()) {
        if let Some(i) = servers
            .iter()
            .position(|s| s.hosts.iter().any(|h| host_matches(host, h)))
        {
            return ServerMatch::Existing(i);
        }
    }
    // One described server: every PostgreSQL target that is not a PgBouncer is it.
    if described.len() == 1 {
        return ServerMatch::Existing(described[0]);
    }
    match host {
        Some(h) if !h.is_empty() => ServerMatch::New { host: h.to_owned() },
        _ => ServerMatch::New {
            host: "localhost".to_owned(),
        },
    }
}

/// Links a client target.
pub fn link(target: &Target, servers: &[DatabaseServer], pgbouncers: &[PgBouncer]) -> Link {
    if let Some(index) = find_pgbouncer(target, pgbouncers) {
        let view = PgBouncerView::new(&pgbouncers[index].config);
        let asked = target.dbname.clone().unwrap_or_else(|| "*".to_owned());
        let database = view.database(&asked).map_or(asked, |d| {
            if d.name == "*" {
                target.dbname.clone().unwrap_or_else(|| "*".to_owned())
            } else {
                d.name.clone()
            }
        });
        return Link::PgBouncer { index, database };
    }
    Link::Server(find_server(target.host.as_deref(), servers))
}
