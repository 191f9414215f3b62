//! A typed, version-aware reading of a [`PgBouncerConfig`] for the rules: every
//! value is a [`Sourced`] that points at the line that set it, or says it is
//! PgBouncer's default (and for which version).

use std::fmt;
use std::str::FromStr;

use poolcheck_core::facts::pgbouncer::{PgBouncerConfig, PoolDefinition};
use poolcheck_core::facts::providers::{DocumentedSetting, PoolerSpec};
use poolcheck_core::{Bound, ConfigEntry, Origin, Sourced, Version};

use super::keys::{self, TypedValue, strip_matching_quotes};

const TOOL: &str = "PgBouncer";
/// The first release that supports protocol-level prepared statements.
pub const PREPARED_STATEMENTS_SINCE: Version = Version::new(1, 21, 0);
/// The release whose `max_prepared_statements` default became 200, and where
/// a pool size of 0 started to mean "not limited".
pub const V1_24: Version = Version::new(1, 24, 0);
/// The release that added `track_extra_parameters` (and the `options` startup
/// parameter).
pub const TRACK_EXTRA_PARAMETERS_SINCE: Version = Version::new(1, 20, 0);

/// Startup parameters PgBouncer always tracks (and so always accepts).
pub const ALWAYS_TRACKED_PARAMETERS: &[&str] = &[
    "client_encoding",
    "datestyle",
    "timezone",
    "standard_conforming_strings",
    "application_name",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PoolMode {
    Session,
    Transaction,
    Statement,
}

impl PoolMode {
    /// PgBouncer's spelling, compared case-insensitively as PgBouncer does.
    pub fn parse(value: &str) -> Option<PoolMode> {
        let value = value.trim();
        [
            PoolMode::Session,
            PoolMode::Transaction,
            PoolMode::Statement,
        ]
        .into_iter()
        .find(|mode| mode.as_str().eq_ignore_ascii_case(value))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PoolMode::Session => "session",
            PoolMode::Transaction => "transaction",
            PoolMode::Statement => "statement",
        }
    }

    /// Transaction or statement pooling: a client does not keep its server
    /// connection between transactions.
    pub fn is_transaction_pooling(self) -> bool {
        !matches!(self, PoolMode::Session)
    }
}

impl fmt::Display for PoolMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PoolMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PoolMode::parse(s).ok_or_else(|| {
            format!("invalid pool mode `{s}`: expected one of session, transaction, statement")
        })
    }
}

/// Whether PgBouncer tracks protocol-level prepared statements in transaction
/// pooling (`max_prepared_statements` > 0 on 1.21+).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreparedStatements {
    /// Supported with this many statements per server connection.
    KnownOn { max: i64 },
    /// Not supported; the reason says why (`max_prepared_statements = 0`,
    /// the version's default, or a version before 1.21).
    KnownOff { reason: String },
    /// The setting is absent and the version unknown: treated as off (the
    /// default before 1.24), and messages must say it was assumed.
    AssumedOff { reason: String },
}

impl PreparedStatements {
    pub fn is_supported(&self) -> bool {
        matches!(self, PreparedStatements::KnownOn { .. })
    }
}

/// A [`PgBouncerConfig`] read with PgBouncer's types, defaults and versions.
#[derive(Debug, Clone, Copy)]
pub struct PgBouncerView<'a> {
    config: &'a PgBouncerConfig,
}

impl<'a> PgBouncerView<'a> {
    pub fn new(config: &'a PgBouncerConfig) -> Self {
        Self { config }
    }

    pub fn config(&self) -> &'a PgBouncerConfig {
        self.config
    }

    /// The release, when the config, an image tag or `[tool.poolcheck]` says.
    pub fn version(&self) -> Option<Version> {
        self.config.version.as_ref().and_then(|v| v.value)
    }

    /// The provider's pooler this view reads, when it is one.
    pub fn provider(&self) -> Option<&'a PoolerSpec> {
        self.config.provider.as_ref()
    }

    /// `Supabase transaction pooler (Supavisor, port 6543)` for a provider's pooler.
    pub fn provider_label(&self) -> Option<&'a str> {
        self.provider().map(|p| p.label.as_str())
    }

    /// What the provider documents for `name`, standing in for PgBouncer's default.
    pub fn documented(&self, name: &str) -> Option<&'a DocumentedSetting> {
        self.provider()?.settings.iter().find(|s| s.key == name)
    }

    /// The `[pgbouncer]` line that sets `name`, if any.
    pub fn entry(&self, name: &str) -> Option<&'a ConfigEntry> {
        self.config.settings.get(name)
    }

    /// A `[pgbouncer]` setting as PgBouncer reads it: the written value, or the
    /// default; unknown when the written value is invalid (PC002 reports it).
    /// Quotes around a value are ignored here so a reported mistake does not
    /// also hide the value the user meant.
    pub fn typed(&self, name: &str) -> Sourced<TypedValue> {
        let Some(spec) = keys::setting(name) else {
            return Sourced::unknown(format!("PgBouncer has no setting `{name}`"), None);
        };
        if let Some(entry) = self.entry(name) {
            let value = strip_matching_quotes(&entry.value).unwrap_or(&entry.value);
            return match keys::parse_value(spec, value) {
                Ok(typed) => Sourced::literal(typed, entry.value_location.clone()),
                Err(problem) => {
                    Sourced::unknown(problem.message, Some(entry.value_location.clone()))
                }
            };
        }
        if let Some(documented) = self.documented(name) {
            let tool = self.provider_label().unwrap_or(TOOL);
            return match &documented.value {
                Some(value) => match keys::parse_value(spec, value) {
                    Ok(typed) => Sourced::tool_default(typed, tool),
                    Err(problem) => Sourced::unknown(problem.message, None),
                },
                None => Sourced::unknown(format!("{tool}: {}", documented.note), None),
            };
        }
        match spec.default.map(|d| keys::parse_value(spec, d)) {
            Some(Ok(typed)) => Sourced::tool_default(typed, TOOL),
            _ => Sourced::unknown(format!("`{name}` has no fixed default"), None),
        }
    }

    pub fn int(&self, name: &str) -> Sourced<i64> {
        self.typed(name)
            .and_then("not an integer setting", |v| match v {
                TypedValue::Int(n) => Some(n),
                _ => None,
            })
    }

    pub fn seconds(&self, name: &str) -> Sourced<f64> {
        self.typed(name)
            .and_then("not a time setting", |v| match v {
                TypedValue::Seconds(s) => Some(s),
                _ => None,
            })
    }

    pub fn switch(&self, name: &str) -> Sourced<bool> {
        self.typed(name)
            .and_then("not an on/off setting", |v| match v {
                TypedValue::Bool(b) => Some(b),
                _ => None,
            })
    }

    pub fn list(&self, name: &str) -> Sourced<Vec<String>> {
        self.typed(name)
            .and_then("not a list setting", |v| match v {
                TypedValue::List(items) => Some(items),
                _ => None,
            })
    }

    pub fn listen_port(&self) -> Sourced<u16> {
        self.int("listen_port")
            .and_then("`listen_port` is not a port number", |p| {
                u16::try_from(p).ok()
            })
    }

    /// Addresses PgBouncer listens on; empty (the default) means Unix sockets only.
    pub fn listen_addr(&self) -> Sourced<Vec<String>> {
        match self.entry("listen_addr") {
            Some(entry) => {
                Sourced::literal(keys::split_list(&entry.value), entry.value_location.clone())
            }
            None => Sourced::tool_default(Vec::new(), TOOL),
        }
    }

    /// The global `pool_mode`.
    pub fn pool_mode(&self) -> Sourced<PoolMode> {
        self.typed("pool_mode")
            .and_then("not a pool mode", |v| match v {
                TypedValue::Enum(word) => PoolMode::parse(word),
                _ => None,
            })
    }

    pub fn max_client_conn(&self) -> Sourced<i64> {
        self.int("max_client_conn")
    }

    pub fn default_pool_size(&self) -> Sourced<i64> {
        self.int("default_pool_size")
    }

    pub fn min_pool_size(&self) -> Sourced<i64> {
        self.int("min_pool_size")
    }

    pub fn reserve_pool_size(&self) -> Sourced<i64> {
        self.int("reserve_pool_size")
    }

    /// The global `max_db_connections`; 0 means unlimited.
    pub fn max_db_connections(&self) -> Sourced<i64> {
        self.int("max_db_connections")
    }

    /// The global `max_user_connections`; 0 means unlimited.
    pub fn max_user_connections(&self) -> Sourced<i64> {
        self.int("max_user_connections")
    }

    pub fn ignore_startup_parameters(&self) -> Sourced<Vec<String>> {
        self.list("ignore_startup_parameters")
    }

    /// `track_extra_parameters`: `IntervalStyle` by default from 1.20; nothing
    /// before 1.20, which did not have the setting.
    pub fn track_extra_parameters(&self) -> Sourced<Vec<String>> {
        if self.entry("track_extra_parameters").is_none()
            && self
                .version()
                .is_some_and(|v| v < TRACK_EXTRA_PARAMETERS_SINCE)
        {
            return self.versioned_default(Vec::new());
        }
        self.list("track_extra_parameters")
    }

    /// True when PgBouncer accepts `parameter` in a startup packet because it
    /// tracks it (always-tracked names and `track_extra_parameters`, compared
    /// case-insensitively).
    pub fn tracks_parameter(&self, parameter: &str) -> bool {
        ALWAYS_TRACKED_PARAMETERS
            .iter()
            .any(|p| p.eq_ignore_ascii_case(parameter))
            || self
                .track_extra_parameters()
                .value
                .is_some_and(|extra| extra.iter().any(|p| p.eq_ignore_ascii_case(parameter)))
    }

    pub fn client_idle_timeout(&self) -> Sourced<f64> {
        self.seconds("client_idle_timeout")
    }

    pub fn query_wait_timeout(&self) -> Sourced<f64> {
        self.seconds("query_wait_timeout")
    }

    pub fn server_reset_query_always(&self) -> Sourced<bool> {
        self.switch("server_reset_query_always")
    }

    /// `max_prepared_statements` with the default of the known version: 200
    /// from 1.24, 0 before (and no support at all before 1.21). With the version
    /// unknown the value is 0 and the origin says that was assumed.
    pub fn max_prepared_statements(&self) -> Sourced<i64> {
        if self.entry("max_prepared_statements").is_some()
            || self.documented("max_prepared_statements").is_some()
        {
            return self.int("max_prepared_statements");
        }
        match self.version() {
            Some(v) if v >= V1_24 => self.versioned_default(200),
            Some(_) => self.versioned_default(0),
            None => Sourced::with_origin(
                0,
                Origin::ToolDefault {
                    tool: "PgBouncer (version unknown, assumed before 1.24)".to_owned(),
                },
                None,
            ),
        }
    }

    /// Whether prepared statements survive transaction pooling here.
    pub fn prepared_statements(&self) -> PreparedStatements {
        let version = self.version();
        if let Some(v) = version.filter(|v| *v < PREPARED_STATEMENTS_SINCE) {
            return PreparedStatements::KnownOff {
                reason: format!("PgBouncer {v} has no prepared statement support (added in 1.21)"),
            };
        }
        let max = self.max_prepared_statements();
        let Some(value) = max.value else {
            return PreparedStatements::AssumedOff {
                reason: max
                    .unknown_reason()
                    .unwrap_or("`max_prepared_statements` is not readable")
                    .to_owned(),
            };
        };
        if value > 0 {
            return PreparedStatements::KnownOn { max: value };
        }
        if let (Some(label), Some(documented)) = (
            self.provider_label(),
            self.documented("max_prepared_statements"),
        ) {
            return PreparedStatements::KnownOff {
                reason: format!("{label}: {}", documented.note),
            };
        }
        if max.location.is_some() {
            return PreparedStatements::KnownOff {
                reason: "`max_prepared_statements = 0` turns prepared statement support off"
                    .to_owned(),
            };
        }
        match version {
            Some(v) => PreparedStatements::KnownOff {
                reason: format!(
                    "`max_prepared_statements` is not set and defaults to 0 on PgBouncer {v} (200 from 1.24)"
                ),
            },
            None => PreparedStatements::AssumedOff {
                reason: "`max_prepared_statements` is not set and the PgBouncer version is unknown: assumed before 1.24, where it defaults to 0".to_owned(),
            },
        }
    }

    /// The `[databases]` entry a client reaches by `dbname`: the exact name,
    /// else the `*` fallback.
    pub fn database(&self, dbname: &str) -> Option<&'a PoolDefinition> {
        let databases = &self.config.databases;
        databases
            .iter()
            .find(|d| d.name == dbname)
            .or_else(|| databases.iter().find(|d| d.name == "*"))
    }

    /// The `[users]` entry of `user`.
    pub fn user(&self, user: &str) -> Option<&'a PoolDefinition> {
        self.config.users.iter().find(|u| u.name == user)
    }

    /// The user a pool of `dbname` belongs to: the entry's forced `user=`,
    /// else the user the client logs in as.
    pub fn pool_user<'u>(&self, dbname: &str, client_user: Option<&'u str>) -> Option<&'u str>
    where
        'a: 'u,
    {
        self.database(dbname)
            .and_then(|d| d.params.get("user"))
            .map(|e| e.value.as_str())
            .or(client_user)
    }

    /// The pool mode of the pool a client of `dbname` (as `client_user`) uses:
    /// the user's override, else the database's, else the global one.
    pub fn effective_pool_mode(
        &self,
        dbname: &str,
        client_user: Option<&str>,
    ) -> Sourced<PoolMode> {
        let user = self
            .pool_user(dbname, client_user)
            .and_then(|u| self.user(u));
        for definition in [user, self.database(dbname)].into_iter().flatten() {
            if let Some(entry) = definition.params.get("pool_mode") {
                return match PoolMode::parse(&entry.value) {
                    Some(mode) => Sourced::literal(mode, entry.value_location.clone()),
                    None => Sourced::unknown(
                        format!("invalid pool_mode `{}`", entry.value),
                        Some(entry.value_location.clone()),
                    ),
                };
            }
        }
        self.pool_mode()
    }

    /// The pool size of (database, user): the user's `pool_size`, else the
    /// database's, else `default_pool_size`. 0 means unlimited from 1.24 (see
    /// [`Self::pool_limit`]).
    pub fn effective_pool_size(&self, dbname: &str, client_user: Option<&str>) -> Sourced<i64> {
        let user = self
            .pool_user(dbname, client_user)
            .and_then(|u| self.user(u));
        let overrides = [
            user.and_then(|u| param(u, &["pool_size"])),
            self.database(dbname).and_then(|d| param(d, &["pool_size"])),
        ];
        overrides
            .into_iter()
            .flatten()
            .find(|s| s.value.is_some_and(|v| v >= 0))
            .unwrap_or_else(|| self.default_pool_size())
    }

    /// The reserve pool of (database, user): user, else database (`reserve_pool_size`
    /// or its older name `reserve_pool`), else global.
    pub fn effective_reserve_pool_size(
        &self,
        dbname: &str,
        client_user: Option<&str>,
    ) -> Sourced<i64> {
        let user = self
            .pool_user(dbname, client_user)
            .and_then(|u| self.user(u));
        let overrides = [
            user.and_then(|u| param(u, &["reserve_pool_size"])),
            self.database(dbname)
                .and_then(|d| param(d, &["reserve_pool_size", "reserve_pool"])),
        ];
        overrides
            .into_iter()
            .flatten()
            .find(|s| s.value.is_some_and(|v| v >= 0))
            .unwrap_or_else(|| self.reserve_pool_size())
    }

    /// The database's `min_pool_size`, else the global one.
    pub fn effective_min_pool_size(&self, dbname: &str) -> Sourced<i64> {
        self.database(dbname)
            .and_then(|d| param(d, &["min_pool_size"]))
            .filter(|s| s.value.is_some_and(|v| v >= 0))
            .unwrap_or_else(|| self.min_pool_size())
    }

    /// The database's `max_db_connections` when positive, else the global one
    /// (0 = unlimited).
    pub fn effective_max_db_connections(&self, dbname: &str) -> Sourced<i64> {
        self.database(dbname)
            .and_then(|d| param(d, &["max_db_connections"]))
            .filter(|s| s.value.is_some_and(|v| v > 0))
            .unwrap_or_else(|| self.max_db_connections())
    }

    /// The user's `max_user_connections` when positive, else the global one
    /// (0 = unlimited).
    pub fn effective_max_user_connections(&self, user: Option<&str>) -> Sourced<i64> {
        user.and_then(|u| self.user(u))
            .and_then(|u| param(u, &["max_user_connections"]))
            .filter(|s| s.value.is_some_and(|v| v > 0))
            .unwrap_or_else(|| self.max_user_connections())
    }

    /// A pool size as a bound: 0 is unlimited from 1.24, and when the version
    /// is unknown (the larger reading, so budgets are not understated); before
    /// 1.24 a pool of size 0 opens no connection.
    pub fn pool_limit(&self, size: Sourced<i64>) -> Sourced<Bound> {
        let before_1_24 = self.version().is_some_and(|v| v < V1_24);
        size.map(|n| match n {
            0 if !before_1_24 => Bound::Unbounded,
            n => Bound::Finite(n.max(0) as u64),
        })
    }

    /// The most server connections one (database, user) pool may open:
    /// min(pool size + reserve, max_db_connections, max_user_connections),
    /// with 0 limits read as unlimited.
    pub fn server_connection_cap(&self, dbname: &str, client_user: Option<&str>) -> Sourced<Bound> {
        let pool_user = self.pool_user(dbname, client_user);
        let size = self.effective_pool_size(dbname, client_user);
        let reserve = self.effective_reserve_pool_size(dbname, client_user);
        let max_db = self.effective_max_db_connections(dbname);
        let max_user = self.effective_max_user_connections(pool_user);
        let (Some(s), Some(r), Some(d), Some(u)) =
            (size.value, reserve.value, max_db.value, max_user.value)
        else {
            let reason = [&size, &reserve, &max_db, &max_user]
                .into_iter()
                .find_map(|s| s.unknown_reason())
                .unwrap_or("a pool setting is unknown")
                .to_owned();
            return Sourced::unknown(reason, size.location);
        };
        let as_limit = |n: i64| {
            if n > 0 {
                Bound::Finite(n as u64)
            } else {
                Bound::Unbounded
            }
        };
        let pool = self
            .pool_limit(size.clone())
            .value
            .unwrap_or(Bound::Unbounded)
            .saturating_add(Bound::Finite(r.max(0) as u64));
        let cap = pool.min(as_limit(d)).min(as_limit(u));
        let expr = format!(
            "min(pool_size {s} + reserve_pool_size {r}, max_db_connections {}, max_user_connections {})",
            if d > 0 {
                d.to_string()
            } else {
                "unlimited".to_owned()
            },
            if u > 0 {
                u.to_string()
            } else {
                "unlimited".to_owned()
            },
        );
        Sourced::computed(cap, expr, size.location)
    }

    fn versioned_default<T>(self, value: T) -> Sourced<T> {
        match self.version() {
            Some(v) => Sourced::tool_default(value, format!("{TOOL} {v}")),
            None => Sourced::tool_default(value, TOOL),
        }
    }
}

/// An integer parameter of a `[databases]`/`[users]` entry as PgBouncer reads
/// it (C `atoi`: `lots` is 0); of several names, the one written last wins.
fn param(definition: &PoolDefinition, names: &[&str]) -> Option<Sourced<i64>> {
    names
        .iter()
        .filter_map(|n| definition.params.get(*n))
        .max_by_key(|e| e.key_location.span.start)
        .map(|e| Sourced::literal(keys::c_atoi(&e.value), e.value_location.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pgbouncer::{include, parse};
    use poolcheck_core::SourceFile;
    use std::path::Path;

    fn config(text: &str, version: Option<&str>) -> (SourceFile, PgBouncerConfig) {
        let file = SourceFile::new("pgbouncer.ini", text);
        let (parsed, _) = parse(&file);
        let mut no_includes = |_: &Path| Err(poolcheck_core::decode::ReadProblem::Missing);
        let (mut config, _) = include::resolve(&file, &parsed, &mut no_includes, Path::new("."));
        config.version =
            version.map(|v| Sourced::tool_default(Version::parse_lenient(v).unwrap(), "test"));
        (file, config)
    }

    const MEDIACLOUD_SHAPE: &str = "\
[databases]
* = host=postgresql-server port=5432 user=mediacloud

[pgbouncer]
pool_mode = session
max_client_conn = 5000
default_pool_size = 450
max_db_connections = 500
idle_transaction_timeout = 600
ignore_startup_parameters = extra_float_digits
";

    #[test]
    fn written_values_point_at_their_text() {
        let (file, config) = config(MEDIACLOUD_SHAPE, None);
        let view = PgBouncerView::new(&config);
        let clients = view.max_client_conn();
        assert_eq!(clients.value, Some(5000));
        assert_eq!(file.slice(clients.location.unwrap().span), "5000");
        assert_eq!(view.pool_mode().value, Some(PoolMode::Session));
        assert_eq!(
            view.ignore_startup_parameters().value,
            Some(vec!["extra_float_digits".to_owned()])
        );
    }

    #[test]
    fn absent_settings_are_pgbouncer_defaults() {
        let (_, config) = config("[pgbouncer]\n", None);
        let view = PgBouncerView::new(&config);
        let port = view.listen_port();
        assert_eq!(port.value, Some(6432));
        assert_eq!(port.origin_phrase().as_deref(), Some("PgBouncer default"));
        assert_eq!(view.max_client_conn().value, Some(100));
        assert_eq!(view.default_pool_size().value, Some(20));
        assert_eq!(view.pool_mode().value, Some(PoolMode::Session));
        assert_eq!(view.query_wait_timeout().value, Some(120.0));
        assert_eq!(view.client_idle_timeout().value, Some(0.0));
        assert_eq!(view.server_reset_query_always().value, Some(false));
        assert_eq!(view.listen_addr().value, Some(Vec::new()));
        assert_eq!(
            view.track_extra_parameters().value,
            Some(vec!["IntervalStyle".to_owned()])
        );
        assert!(view.tracks_parameter("intervalstyle"));
        assert!(view.tracks_parameter("application_name"));
        assert!(!view.tracks_parameter("jit"));
    }

    #[test]
    fn wildcard_database_and_forced_user() {
        let (_, config) = config(MEDIACLOUD_SHAPE, None);
        let view = PgBouncerView::new(&config);
        let db = view.database("mediawords").unwrap();
        assert_eq!(db.name, "*");
        assert_eq!(
            view.pool_user("mediawords", Some("someone")),
            Some("mediacloud")
        );
        let size = view.effective_pool_size("mediawords", None);
        assert_eq!(size.value, Some(450));
        let cap = view.server_connection_cap("mediawords", None);
        assert_eq!(cap.value, Some(Bound::Finite(450)));
    }

    #[test]
    fn overrides_user_over_database_over_global() {
        let text = "[databases]\napp = host=db pool_size=10 pool_mode=session reserve_pool=2 max_db_connections=11\nreports = host=db\n[users]\nworker = pool_mode=statement pool_size=3\n[pgbouncer]\npool_mode = transaction\ndefault_pool_size = 25\n";
        let (file, config) = config(text, None);
        let view = PgBouncerView::new(&config);
        let mode = view.effective_pool_mode("app", Some("worker"));
        assert_eq!(mode.value, Some(PoolMode::Statement));
        assert_eq!(
            view.effective_pool_mode("app", Some("web")).value,
            Some(PoolMode::Session)
        );
        assert_eq!(
            view.effective_pool_mode("reports", Some("web")).value,
            Some(PoolMode::Transaction)
        );
        assert_eq!(view.database("missing").map(|d| d.name.as_str()), None);

        let size = view.effective_pool_size("app", Some("worker"));
        assert_eq!(size.value, Some(3));
        let app_size = view.effective_pool_size("app", Some("web"));
        assert_eq!(app_size.value, Some(10));
        assert_eq!(file.slice(app_size.location.unwrap().span), "10");
        assert_eq!(view.effective_pool_size("reports", None).value, Some(25));
        assert_eq!(view.effective_reserve_pool_size("app", None).value, Some(2));
        assert_eq!(view.effective_max_db_connections("app").value, Some(11));
        assert_eq!(
            view.server_connection_cap("app", Some("web")).value,
            Some(Bound::Finite(11))
        );
    }

    #[test]
    fn pool_size_zero_depends_on_version() {
        let text = "[pgbouncer]\ndefault_pool_size = 0\n";
        let (_, old) = config(text, Some("1.23.1"));
        let (_, new) = config(text, Some("1.24.0"));
        let old = PgBouncerView::new(&old);
        let new = PgBouncerView::new(&new);
        assert_eq!(
            old.pool_limit(old.default_pool_size()).value,
            Some(Bound::Finite(0))
        );
        assert_eq!(
            new.pool_limit(new.default_pool_size()).value,
            Some(Bound::Unbounded)
        );
    }

    #[test]
    fn prepared_statement_support_by_version() {
        let (_, unknown) = config("[pgbouncer]\n", None);
        let view = PgBouncerView::new(&unknown);
        let max = view.max_prepared_statements();
        assert_eq!(max.value, Some(0));
        assert_eq!(
            max.origin_phrase().as_deref(),
            Some("PgBouncer (version unknown, assumed before 1.24) default")
        );
        assert!(matches!(
            view.prepared_statements(),
            PreparedStatements::AssumedOff { .. }
        ));

        let (_, v125) = config("[pgbouncer]\n", Some("v1.25.2-p0"));
        let view = PgBouncerView::new(&v125);
        let max = view.max_prepared_statements();
        assert_eq!(max.value, Some(200));
        assert_eq!(
            max.origin_phrase().as_deref(),
            Some("PgBouncer 1.25.2 default")
        );
        assert_eq!(
            view.prepared_statements(),
            PreparedStatements::KnownOn { max: 200 }
        );

        let (_, v122) = config("[pgbouncer]\n", Some("1.22.0"));
        let view = PgBouncerView::new(&v122);
        assert_eq!(view.max_prepared_statements().value, Some(0));
        assert!(matches!(
            view.prepared_statements(),
            PreparedStatements::KnownOff { .. }
        ));

        let (_, v120) = config("[pgbouncer]\n", Some("1.20.1"));
        let view = PgBouncerView::new(&v120);
        assert_eq!(
            view.prepared_statements(),
            PreparedStatements::KnownOff {
                reason: "PgBouncer 1.20.1 has no prepared statement support (added in 1.21)"
                    .to_owned()
            }
        );

        let (_, set) = config("[pgbouncer]\nmax_prepared_statements = 100\n", None);
        let view = PgBouncerView::new(&set);
        assert_eq!(
            view.prepared_statements(),
            PreparedStatements::KnownOn { max: 100 }
        );

        let (_, off) = config("[pgbouncer]\nmax_prepared_statements = 0\n", Some("1.25.0"));
        let view = PgBouncerView::new(&off);
        assert!(matches!(
            view.prepared_statements(),
            PreparedStatements::KnownOff { .. }
        ));
    }

    #[test]
    fn invalid_written_values_are_unknown_with_the_reason() {
        let (_, config) = config(
            "[pgbouncer]\npool_mode = transactions\nmax_client_conn = \"500\"\n",
            None,
        );
        let view = PgBouncerView::new(&config);
        let mode = view.pool_mode();
        assert_eq!(mode.value, None);
        assert_eq!(
            mode.unknown_reason(),
            Some(
                "invalid value `transactions` for `pool_mode`: expected one of session, transaction, statement"
            )
        );
        assert_eq!(view.max_client_conn().value, Some(500));
    }

    #[test]
    fn pool_mode_parsing() {
        assert_eq!(
            PoolMode::parse(" Transaction "),
            Some(PoolMode::Transaction)
        );
        assert_eq!("statement".parse::<PoolMode>(), Ok(PoolMode::Statement));
        assert!("transactions".parse::<PoolMode>().is_err());
        assert!(PoolMode::Statement.is_transaction_pooling());
        assert!(!PoolMode::Session.is_transaction_pooling());
    }

    #[test]
    fn track_extra_parameters_before_1_20() {
        let (_, config) = config("[pgbouncer]\n", Some("1.19.0"));
        let view = PgBouncerView::new(&config);
        assert_eq!(view.track_extra_parameters().value, Some(Vec::new()));
        assert!(!view.tracks_parameter("IntervalStyle"));
    }
}
