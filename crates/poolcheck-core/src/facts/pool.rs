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
    /// The rest is what the pitfall rules read. `None` means the setting does
    /// not apply to this kind of client; settings with a fixed tool default
    /// are filled with it (`Origin::ToolDefault`) when absent.
    pub settings: PoolSettings,
    /// A direct `connect()` call rather than a pool: one connection per call.
    pub single_connection: bool,
    /// Set when branches offered several configurations and the worst was
    /// kept: says which ones and where (`poolclass is NullPool or QueuePool
    /// (app/db.py:14): the larger cap is used`).
    pub alternatives: Option<String>,
    /// SQL run by `@event.listens_for(engine, "connect"/"checkout"/"begin")`
    /// handlers attached to this engine (or to every `Engine`).
    pub event_sql: Vec<EventSql>,
}

impl ClientPool {
    /// A pool with no settings beyond its cap (front-ends fill `settings` after).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        kind: PoolKind,
        name: impl Into<String>,
        location: Location,
        driver: Sourced<Driver>,
        is_async: bool,
        target: Sourced<Target>,
        cap: PoolCap,
        cap_location: Location,
    ) -> Self {
        Self {
            kind,
            name: name.into(),
            location,
            driver,
            is_async,
            target,
            cap,
            cap_location,
            settings: PoolSettings::default(),
            single_connection: false,
            alternatives: None,
            event_sql: Vec::new(),
        }
    }
}

/// Settings of a client pool beyond its cap, as written or defaulted.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PoolSettings {
    /// SQLAlchemy pool class name (`QueuePool`, `AsyncAdaptedQueuePool`, `NullPool`).
    pub pool_class: Option<Sourced<String>>,
    /// SQLAlchemy `pool_timeout` (seconds, default 30).
    pub pool_timeout: Option<Sourced<f64>>,
    /// SQLAlchemy `pool_recycle` (seconds, default -1 = never).
    pub pool_recycle: Option<Sourced<i64>>,
    /// SQLAlchemy `pool_pre_ping` (default false).
    pub pool_pre_ping: Option<Sourced<bool>>,
    /// SQLAlchemy `pool_use_lifo` (default false).
    pub pool_use_lifo: Option<Sourced<bool>>,
    /// SQLAlchemy `isolation_level` (`AUTOCOMMIT`, `READ COMMITTED`); `None` when not set.
    pub isolation_level: Option<Sourced<String>>,
    /// asyncpg's own statement cache (`statement_cache_size`, default 100).
    pub statement_cache_size: Option<Sourced<i64>>,
    /// SQLAlchemy's asyncpg-dialect cache (`prepared_statement_cache_size`, default 100).
    pub prepared_statement_cache_size: Option<Sourced<i64>>,
    /// Where `prepared_statement_cache_size` was set, when it was.
    pub prepared_statement_cache_size_source: Option<SettingSource>,
    /// `prepared_statement_name_func` is set (SQLAlchemy asyncpg dialect): its location.
    pub prepared_statement_name_func: Option<Location>,
    /// psycopg 3 `prepare_threshold`: `Some(None)` is an explicit `None` (preparing off); default 5.
    pub prepare_threshold: Option<Sourced<Option<i64>>>,
    /// Startup parameters the client sends in its startup packet.
    pub startup_parameters: Vec<StartupParameter>,
    /// libpq/asyncpg connect timeout in seconds (`connect_timeout`, asyncpg `timeout`).
    pub connect_timeout: Option<Sourced<f64>>,
    /// psycopg_pool / asyncpg / psycopg2 pool sizes as written or defaulted.
    pub min_size: Option<Sourced<IntExpr>>,
    pub max_size: Option<Sourced<IntExpr>>,
    /// psycopg_pool `timeout` (seconds to wait for a connection, default 30).
    pub timeout: Option<Sourced<f64>>,
    /// psycopg_pool `max_idle` (default 600), asyncpg `max_inactive_connection_lifetime` (300).
    pub max_idle: Option<Sourced<f64>>,
    /// psycopg_pool `max_lifetime` (default 3600).
    pub max_lifetime: Option<Sourced<f64>>,
    /// psycopg_pool `check` callback is set: its location.
    pub check: Option<Location>,
    /// psycopg_pool `open` (default true: connects on construction).
    pub open: Option<Sourced<bool>>,
    /// The dict literal where a fix inserts a connect argument (`connect_args={...}`,
    /// psycopg_pool `kwargs={...}`), when there is one.
    pub connect_args_location: Option<Location>,
    /// The constructor's argument list `(...)`, where a fix inserts a keyword
    /// argument when no dict exists.
    pub arguments_location: Option<Location>,
    /// What a Django `DATABASES` alias says (kinds `DjangoAlias` and `DjangoPool`).
    pub django: Option<DjangoAliasSettings>,
}

/// The settings of one Django `DATABASES` alias that the Django rules read
/// (PC301–PC304, PC203, PC202, PC206). Connection settings that other
/// clients share live in [`PoolSettings`]: `OPTIONS["connect_timeout"]` in
/// `connect_timeout`, `OPTIONS["options"]` (`-c k=v`) and
/// `OPTIONS["application_name"]` in `startup_parameters`,
/// `OPTIONS["prepare_threshold"]` in `prepare_threshold`, and the pool dict's
/// `min_size`/`max_size`/`timeout`/`max_idle`/`max_lifetime`/`check` in the
/// fields of those names.
#[derive(Debug, Clone, PartialEq)]
pub struct DjangoAliasSettings {
    /// The alias (`default`, `replica`).
    pub alias: String,
    /// The settings module it was read from, by dotted name (`shop.settings.prod`).
    pub settings_module: String,
    /// How that module was chosen: the `DJANGO_SETTINGS_MODULE` value with its
    /// provenance, or `None` when nothing names it and it is checked because no
    /// other settings module imports it.
    pub selected_by: Option<Sourced<String>>,
    /// How many settings modules are checked as configurations (more than one
    /// only when `DJANGO_SETTINGS_MODULE` is not known).
    pub configurations: usize,
    /// `ENGINE` as written (`django.db.backends.postgresql`, `sentry.db.postgres`).
    pub engine: Sourced<String>,
    /// `CONN_MAX_AGE` in seconds: `Some(None)` is `None` (unlimited); default 0.
    pub conn_max_age: Sourced<Option<i64>>,
    /// `CONN_HEALTH_CHECKS` (Django 4.1+, default False).
    pub conn_health_checks: Sourced<bool>,
    /// `DISABLE_SERVER_SIDE_CURSORS` (default False).
    pub disable_server_side_cursors: Sourced<bool>,
    /// `ATOMIC_REQUESTS` (default False).
    pub atomic_requests: Sourced<bool>,
    /// `OPTIONS["pool"]` when it is truthy (Django 5.1+).
    pub pool: Option<DjangoPoolOption>,
    /// `OPTIONS["server_side_binding"]` (default False: client-side binding
    /// cursors, which never prepare statements).
    pub server_side_binding: Sourced<bool>,
    /// `OPTIONS["sslmode"]` when written.
    pub sslmode: Option<Sourced<String>>,
    /// `ASGI_APPLICATION` of the settings module, when it defines one (the
    /// project is meant to be served over ASGI).
    pub asgi_application: Option<Sourced<String>>,
    /// The alias's dict literal, where a fix inserts a key
    /// (`"DISABLE_SERVER_SIDE_CURSORS": True`); `None` when the alias is built
    /// by a call (`dj_database_url.config(...)`).
    pub alias_dict: Option<Location>,
    /// The `OPTIONS` dict literal, where a fix inserts an option
    /// (`"prepare_threshold": None`).
    pub options_dict: Option<Location>,
}

/// `OPTIONS["pool"]` of a Django alias.
#[derive(Debug, Clone, PartialEq)]
pub struct DjangoPoolOption {
    /// The value as written: `True`, a dict, or another truthy value (PC303
    /// flags anything that is neither `True` nor a dict).
    pub value: Sourced<String>,
    /// True when the value is a dict (passed to `psycopg_pool.ConnectionPool`).
    pub is_dict: bool,
    /// The dict's keys with where each is written (PC303: `kwargs`, `open`,
    /// `configure`, `check` collide with Django's own arguments).
    pub keys: Vec<(String, Option<Location>)>,
    /// `min_size` (psycopg_pool default 4).
    pub min_size: Sourced<IntExpr>,
    /// `max_size` when written and not `None` (unset means fixed at `min_size`).
    pub max_size: Option<Sourced<IntExpr>>,
    /// Where the value (the dict literal, or `True`) is written.
    pub location: Option<Location>,
}

/// Where a setting was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingSource {
    /// A query parameter of the URL (`?prepared_statement_cache_size=0`).
    Url,
    /// `connect_args={...}` or a driver keyword argument.
    ConnectArgs,
}

/// One startup parameter a client sends (`jit` in `options=-c jit=off`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartupParameter {
    pub name: String,
    pub value: Option<String>,
    pub via: StartupVia,
    pub location: Option<Location>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartupVia {
    /// asyncpg `server_settings={...}` keys.
    ServerSettings,
    /// libpq `options=-c k=v` (connect_args, OPTIONS, or `?options=` in a URL).
    Options,
    /// A parameter given directly (`application_name=` in a DSN or kwargs).
    Direct,
}

/// SQL a pool's event handler runs on its connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSql {
    /// `connect`, `checkout`, `begin`, …
    pub event: String,
    pub handler: String,
    pub sql: String,
    pub location: Location,
}
