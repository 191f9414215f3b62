//! Typed reading of a merged PostgreSQL server's settings, with PostgreSQL's
//! defaults when a setting is absent.

use poolcheck_core::facts::postgres::PostgresServer;
use poolcheck_core::{ConfigEntry, Sourced};

use super::units::{
    GucUnit, MemoryUnit, TimeUnit, TypedValue, check_value, known_guc, parse_bool_guc,
    parse_guc_integer,
};

const TOOL: &str = "PostgreSQL";

/// Typed accessors over a [`PostgresServer`]'s settings. A value that does not
/// parse is unknown with the reason (its PC002 was reported at extraction).
#[derive(Debug, Clone, Copy)]
pub struct PgSettings<'a> {
    server: &'a PostgresServer,
}

/// `server.typed().max_connections()`.
pub trait PostgresServerExt {
    fn typed(&self) -> PgSettings<'_>;
}

impl PostgresServerExt for PostgresServer {
    fn typed(&self) -> PgSettings<'_> {
        PgSettings { server: self }
    }
}

impl<'a> PgSettings<'a> {
    pub fn new(server: &'a PostgresServer) -> Self {
        Self { server }
    }

    /// The last definition of a setting, by case-insensitive name.
    pub fn entry(&self, name: &str) -> Option<&'a ConfigEntry> {
        self.server.settings.get(&name.to_ascii_lowercase())
    }

    /// An integer setting in its base unit, range-checked when poolcheck knows
    /// the parameter; `default` when absent.
    pub fn integer(&self, name: &str, unit: GucUnit, default: i64) -> Sourced<i64> {
        let Some(entry) = self.entry(name) else {
            return Sourced::tool_default(default, TOOL);
        };
        let parsed = match known_guc(name) {
            Some(spec) => check_value(spec, &entry.value).map(|v| match v {
                TypedValue::Integer(i) => i,
                TypedValue::Bool(b) => i64::from(b),
            }),
            None => parse_guc_integer(&entry.value, unit),
        };
        match parsed {
            Ok(value) => Sourced::literal(value, entry.value_location.clone()),
            Err(error) => Sourced::unknown(
                format!("`{name} = {}` is invalid: {error}", entry.value),
                Some(entry.value_location.clone()),
            ),
        }
    }

    /// A time setting in milliseconds; a plain number counts in `base_unit`.
    pub fn duration_ms(&self, name: &str, base_unit: TimeUnit, default_ms: i64) -> Sourced<i64> {
        if self.entry(name).is_none() {
            return Sourced::tool_default(default_ms, TOOL);
        }
        let factor = base_unit.microseconds() / 1e3;
        self.integer(name, GucUnit::Time(base_unit), 0)
            .map(|in_base| (in_base as f64 * factor).floor() as i64)
    }

    /// A memory setting in bytes; a plain number counts in `base_unit`.
    pub fn memory_bytes(
        &self,
        name: &str,
        base_unit: MemoryUnit,
        default_bytes: i64,
    ) -> Sourced<i64> {
        if self.entry(name).is_none() {
            return Sourced::tool_default(default_bytes, TOOL);
        }
        self.integer(name, GucUnit::Memory(base_unit), 0)
            .map(|in_base| in_base.saturating_mul(base_unit.bytes() as i64))
    }

    pub fn boolean(&self, name: &str, default: bool) -> Sourced<bool> {
        let Some(entry) = self.entry(name) else {
            return Sourced::tool_default(default, TOOL);
        };
        match parse_bool_guc(&entry.value) {
            Ok(value) => Sourced::literal(value, entry.value_location.clone()),
            Err(error) => Sourced::unknown(
                format!("`{name} = {}` is invalid: {error}", entry.value),
                Some(entry.value_location.clone()),
            ),
        }
    }

    /// Default 100.
    pub fn max_connections(&self) -> Sourced<i64> {
        self.integer("max_connections", GucUnit::None, 100)
    }

    /// Default 3.
    pub fn superuser_reserved_connections(&self) -> Sourced<i64> {
        self.integer("superuser_reserved_connections", GucUnit::None, 3)
    }

    /// Default 0. Only PostgreSQL 16 and later have this parameter (older
    /// servers refuse to start with it), so it is read as written.
    pub fn reserved_connections(&self) -> Sourced<i64> {
        self.integer("reserved_connections", GucUnit::None, 0)
    }

    /// Default 0 (disabled); PostgreSQL 14 and later.
    pub fn idle_session_timeout_ms(&self) -> Sourced<i64> {
        self.duration_ms("idle_session_timeout", TimeUnit::Milliseconds, 0)
    }

    /// Default 0 (disabled).
    pub fn idle_in_transaction_session_timeout_ms(&self) -> Sourced<i64> {
        self.duration_ms(
            "idle_in_transaction_session_timeout",
            TimeUnit::Milliseconds,
            0,
        )
    }

    /// Default 0 (disabled).
    pub fn statement_timeout_ms(&self) -> Sourced<i64> {
        self.duration_ms("statement_timeout", TimeUnit::Milliseconds, 0)
    }

    /// Default on (PostgreSQL 12 and later).
    pub fn jit(&self) -> Sourced<bool> {
        self.boolean("jit", true)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use poolcheck_core::value::Origin;
    use poolcheck_core::{SourceFile, Span};

    use super::*;
    use crate::pgconf::parse;

    fn server(text: &str) -> (SourceFile, PostgresServer) {
        let file = SourceFile::new("postgresql.conf", text);
        let (conf, _) = parse(&file);
        let settings: BTreeMap<_, _> = conf
            .entries
            .into_iter()
            .map(|e| (e.key.clone(), e))
            .collect();
        let server = PostgresServer {
            name: "postgresql.conf".to_owned(),
            location: file.location(Span::empty(0)),
            settings,
            version: None,
            host_aliases: Vec::new(),
        };
        (file, server)
    }

    #[test]
    fn absent_settings_are_postgresql_defaults() {
        let (_, server) = server("# nothing\n");
        let pg = server.typed();
        let max = pg.max_connections();
        assert_eq!(max.value, Some(100));
        assert_eq!(
            max.origin,
            Origin::ToolDefault {
                tool: "PostgreSQL".to_owned()
            }
        );
        assert_eq!(pg.superuser_reserved_connections().value, Some(3));
        assert_eq!(pg.reserved_connections().value, Some(0));
        assert_eq!(pg.idle_session_timeout_ms().value, Some(0));
        assert_eq!(pg.idle_in_transaction_session_timeout_ms().value, Some(0));
        assert_eq!(pg.statement_timeout_ms().value, Some(0));
        assert_eq!(pg.jit().value, Some(true));
    }

    #[test]
    fn written_settings_are_literals_at_their_value() {
        let (file, server) = server(
            "MAX_CONNECTIONS = 250\nsuperuser_reserved_connections 5\nreserved_connections = 2\n\
             idle_session_timeout = '10min'\nidle_in_transaction_session_timeout = 30s\n\
             statement_timeout = 1500\njit = off\n",
        );
        let pg = server.typed();
        let max = pg.max_connections();
        assert_eq!(max.value, Some(250));
        assert_eq!(max.origin, Origin::Literal);
        assert_eq!(file.slice(max.location.unwrap().span), "250");
        assert_eq!(pg.superuser_reserved_connections().value, Some(5));
        assert_eq!(pg.reserved_connections().value, Some(2));
        let idle = pg.idle_session_timeout_ms();
        assert_eq!(idle.value, Some(600_000));
        assert_eq!(file.slice(idle.location.unwrap().span), "10min");
        assert_eq!(
            pg.idle_in_transaction_session_timeout_ms().value,
            Some(30_000)
        );
        assert_eq!(pg.statement_timeout_ms().value, Some(1500));
        assert_eq!(pg.jit().value, Some(false));
    }

    #[test]
    fn invalid_values_are_unknown_with_the_reason() {
        let (_, server) = server("max_connections = 100MB\njit = maybe\n");
        let pg = server.typed();
        assert_eq!(
            pg.max_connections().unknown_reason(),
            Some("`max_connections = 100MB` is invalid: unit `MB` on a parameter without units")
        );
        assert_eq!(
            pg.jit().unknown_reason(),
            Some("`jit = maybe` is invalid: not a boolean")
        );
    }

    #[test]
    fn generic_memory_and_duration_accessors() {
        let (_, server) = server("shared_buffers = 1GB\ntcp_keepalives_idle = 2min\n");
        let pg = server.typed();
        assert_eq!(
            pg.memory_bytes("shared_buffers", MemoryUnit::Blocks, 128 << 20)
                .value,
            Some(1 << 30)
        );
        assert_eq!(
            pg.duration_ms("tcp_keepalives_idle", TimeUnit::Seconds, 0)
                .value,
            Some(120_000)
        );
        assert_eq!(
            pg.memory_bytes("work_mem", MemoryUnit::Kilobytes, 4 << 20)
                .value,
            Some(4 << 20)
        );
    }
}
