//! Client pools: who opens connections, how many per process, and to where.

use std::fmt;

use crate::source::Location;
use crate::value::{IntExpr, Sourced};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PoolKind {
    /// `create_engine` / `create_async_engine` / Flask-SQLAlchemy.
    SqlAlchemy,
    /// A Django `DATABASES` alias without `OPTIONS["pool"]`.
    DjangoAlias,
    /// A Django alias with `OPTIONS["pool"]` (5.1+, psycopg_pool).
    DjangoPool,
    AsyncpgPool,
    PsycopgPool,
    Psycopg2Pool,
}

impl PoolKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PoolKind::SqlAlchemy => "sqlalchemy",
            PoolKind::DjangoAlias => "django",
            PoolKind::DjangoPool => "django-pool",
            PoolKind::AsyncpgPool => "asyncpg",
            PoolKind::PsycopgPool => "psycopg_pool",
            PoolKind::Psycopg2Pool => "psycopg2",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Driver {
    Psycopg2,
    Psycopg3,
    Asyncpg,
    /// Another PostgreSQL driver (pg8000, …), by name.
    OtherPostgres(String),
    /// SQLite, MySQL, …: not a PostgreSQL client, never in a budget.
    NotPostgres(String),
}

/// Where a client connects, as far as it is known.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Target {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub dbname: Option<String>,
    pub user: Option<String>,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.host.as_deref().unwrap_or("?"))?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        if let Some(db) = &self.dbname {
            write!(f, "/{db}")?;
        }
        Ok(())
    }
}

/// The most connections one process's pool may hold.
#[derive(Debug, Clone, PartialEq)]
pub enum PoolCap {
    /// QueuePool `pool_size + max_overflow`, or a `max_size` (overflow `None`).
    Bounded {
        size: Sourced<IntExpr>,
        overflow: Option<Sourced<IntExpr>>,
    },
    /// One connection per concurrent request of the process (NullPool, Django
    /// without a pool).
    PerConcurrency { reason: String },
    /// No limit at all (`max_overflow = -1`, QueuePool `pool_size = 0`).
    Unbounded {
        reason: String,
        location: Option<Location>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClientPool {
    pub kind: PoolKind,
    /// Short name for messages and `budget`: the variable or alias (`engine`, `default`).
    pub name: String,
    /// The constructor call, settings dict or alias that defines the pool.
    pub location: Location,
    pub driver: Sourced<Driver>,
    pub is_async: bool,
    pub target: Sourced<Target>,
    pub cap: PoolCap,
    /// The setting to point at as a budget finding's primary range (the
    /// `pool_size` argument when written, else the constructor).
    pub cap_location: Location,
}
