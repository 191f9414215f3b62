//! What PgBouncer accepts: every `[pgbouncer]` setting up to 1.25 (and the few
//! newer ones already documented upstream, so a valid key is never flagged),
//! the parameters of `[databases]`, `[users]` and `[peers]` entries, and the
//! value checks PgBouncer applies when it loads its config.
//!
//! Shared by the INI front-end and the compose front-end (settings given as
//! environment variables), so both report the same problems in the same words.

use poolcheck_core::Version;

/// How PgBouncer reads a setting's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// A C `strtol` integer: decimal, `0x` hex or `0` octal, nothing after it.
    Int,
    /// An integer used as a switch: PgBouncer reads `0`/`1`, never `yes`/`true`.
    Bool,
    /// Seconds as a non-negative decimal number (`0.5` allowed), without a unit.
    Seconds,
    /// One of the listed words, compared case-insensitively.
    Enum(&'static [&'static str]),
    /// Free text (file names, queries, cipher lists).
    Text,
    /// A comma-separated list of names.
    List,
}

/// One `[pgbouncer]` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettingSpec {
    pub name: &'static str,
    pub kind: ValueKind,
    /// The default PgBouncer 1.25 applies, as its docs write it; `None` when the
    /// setting is unset by default.
    pub default: Option<&'static str>,
    /// The first release that accepts the key; `None` when every release
    /// poolcheck knows about does.
    pub since: Option<Version>,
    /// Version-dependent behaviour worth quoting in messages.
    pub notes: &'static str,
}

pub const POOL_MODES: &[&str] = &["session", "transaction", "statement"];
pub const AUTH_TYPES: &[&str] = &[
    "any",
    "trust",
    "plain",
    "md5",
    "cert",
    "hba",
    "ldap",
    "pam",
    "scram-sha-256",
];
pub const SSL_MODES: &[&str] = &[
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];
pub const LOAD_BALANCE_HOSTS: &[&str] = &["disable", "round-robin"];

#[allow(
    clippy::unnecessary_wraps,
    reason = "table rows read `since: v(1, 21)` next to `None`"
)]
const fn v(major: u32, minor: u32) -> Option<Version> {
    Some(Version::new(major, minor, 0))
}

const fn spec(
    name: &'static str,
    kind: ValueKind,
    default: Option<&'static str>,
    since: Option<Version>,
    notes: &'static str,
) -> SettingSpec {
    SettingSpec {
        name,
        kind,
        default,
        since,
        notes,
    }
}

/// Every `[pgbouncer]` setting, sorted by name (binary-searched by [`setting`]).
static SETTINGS: &[SettingSpec] = {
    use ValueKind::{Bool, Enum, Int, List, Seconds, Text};
    &[
        spec("admin_users", List, Some(""), None, ""),
        spec("application_name_add_host", Bool, Some("0"), None, ""),
        spec("auth_dbname", Text, None, v(1, 19), ""),
        spec("auth_file", Text, None, None, ""),
        spec("auth_hba_file", Text, None, None, ""),
        spec("auth_ident_file", Text, None, v(1, 23), ""),
        spec(
            "auth_ldap_options",
            Text,
            None,
            v(1, 25),
            "LDAP authentication was added in 1.25",
        ),
        spec(
            "auth_query",
            Text,
            Some(
                "SELECT rolname, CASE WHEN rolvaliduntil < now() THEN NULL ELSE rolpassword END FROM pg_authid WHERE rolname=$1 AND rolcanlogin",
            ),
            None,
            "the default takes VALID UNTIL into account from 1.24.1",
        ),
        spec("auth_type", Enum(AUTH_TYPES), Some("md5"), None, ""),
        spec("auth_user", Text, None, None, ""),
        spec("autodb_idle_timeout", Seconds, Some("3600"), None, ""),
        spec("cancel_wait_timeout", Seconds, Some("10"), v(1, 19), ""),
        spec(
            "client_idle_timeout",
            Seconds,
            Some("0"),
            None,
            "0 disables; settable per user from 1.24",
        ),
        spec("client_login_timeout", Seconds, Some("60"), None, ""),
        spec("client_tls13_ciphers", Text, None, v(1, 25), ""),
        spec("client_tls_ca_file", Text, None, None, ""),
        spec("client_tls_cert_file", Text, None, None, ""),
        spec("client_tls_ciphers", Text, Some("default"), None, ""),
        spec("client_tls_dheparams", Text, Some("auto"), None, ""),
        spec("client_tls_ecdhcurve", Text, Some("auto"), None, ""),
        spec("client_tls_key_file", Text, None, None, ""),
        spec("client_tls_protocols", Text, Some("secure"), None, ""),
        spec(
            "client_tls_sslmode",
            Enum(SSL_MODES),
            Some("disable"),
            None,
            "",
        ),
        spec("conffile", Text, None, None, ""),
        spec(
            "default_pool_size",
            Int,
            Some("20"),
            None,
            "per (database, user) pair; from 1.24, 0 means the pool size is not limited",
        ),
        spec("disable_pqexec", Bool, Some("0"), None, ""),
        spec("dns_max_ttl", Seconds, Some("15"), None, ""),
        spec("dns_nxdomain_ttl", Seconds, Some("15"), None, ""),
        spec("dns_zone_check_period", Seconds, Some("0"), None, ""),
        spec("idle_transaction_timeout", Seconds, Some("0"), None, ""),
        spec("ignore_startup_parameters", List, Some(""), None, ""),
        spec("job_name", Text, Some("pgbouncer"), None, ""),
        spec("listen_addr", List, None, None, ""),
        spec("listen_backlog", Int, Some("128"), None, ""),
        spec("listen_port", Int, Some("6432"), None, ""),
        spec("log_connections", Bool, Some("1"), None, ""),
        spec("log_disconnections", Bool, Some("1"), None, ""),
        spec("log_pooler_errors", Bool, Some("1"), None, ""),
        spec("log_stats", Bool, Some("1"), None, ""),
        spec("logfile", Text, None, None, ""),
        spec(
            "login_notify_message",
            Text,
            None,
            None,
            "documented upstream after 1.25.2",
        ),
        spec("max_client_conn", Int, Some("100"), None, ""),
        spec("max_db_client_connections", Int, Some("0"), v(1, 24), ""),
        spec(
            "max_db_connections",
            Int,
            Some("0"),
            None,
            "0 means unlimited",
        ),
        spec("max_packet_size", Int, Some("2147483647"), None, ""),
        spec(
            "max_prepared_statements",
            Int,
            Some("200"),
            v(1, 21),
            "default 0 (prepared statements not supported) in 1.21–1.23, 200 from 1.24",
        ),
        spec("max_user_client_connections", Int, Some("0"), v(1, 24), ""),
        spec(
            "max_user_connections",
            Int,
            Some("0"),
            None,
            "0 means unlimited",
        ),
        spec("min_pool_size", Int, Some("0"), None, ""),
        spec("peer_id", Int, Some("0"), v(1, 19), ""),
        spec("pidfile", Text, None, None, ""),
        spec("pkt_buf", Int, Some("4096"), None, ""),
        spec(
            "pool_idle_timeout",
            Seconds,
            Some("0"),
            None,
            "documented upstream after 1.25.2",
        ),
        spec("pool_mode", Enum(POOL_MODES), Some("session"), None, ""),
        spec("query_timeout", Seconds, Some("0"), None, ""),
        spec("query_wait_notify", Int, Some("5"), v(1, 25), "seconds"),
        spec("query_wait_timeout", Seconds, Some("120"), None, ""),
        spec(
            "reserve_pool_size",
            Int,
            Some("0"),
            None,
            "the per-database option was called reserve_pool before 1.24",
        ),
        spec("reserve_pool_timeout", Seconds, Some("5"), None, ""),
        spec("resolv_conf", Text, None, None, ""),
        spec("sbuf_loopcnt", Int, Some("5"), None, ""),
        spec("scram_iterations", Int, Some("4096"), v(1, 25), ""),
        spec("server_check_delay", Seconds, Some("30"), None, ""),
        spec(
            "server_check_query",
            Text,
            Some("<empty>"),
            None,
            "default SELECT 1 before 1.25, an empty query from 1.25",
        ),
        spec("server_connect_timeout", Seconds, Some("15"), None, ""),
        spec("server_fast_close", Bool, Some("0"), None, ""),
        spec("server_idle_timeout", Seconds, Some("600"), None, ""),
        spec(
            "server_lifetime",
            Seconds,
            Some("3600"),
            None,
            "settable per database from 1.23",
        ),
        spec("server_login_retry", Seconds, Some("15"), None, ""),
        spec(
            "server_reset_query",
            Text,
            Some("DISCARD ALL"),
            None,
            "not run in transaction pooling since 1.7",
        ),
        spec("server_reset_query_always", Bool, Some("0"), None, ""),
        spec("server_round_robin", Bool, Some("0"), None, ""),
        spec("server_tls13_ciphers", Text, None, v(1, 25), ""),
        spec("server_tls_ca_file", Text, None, None, ""),
        spec("server_tls_cert_file", Text, None, None, ""),
        spec("server_tls_ciphers", Text, Some("default"), None, ""),
        spec("server_tls_key_file", Text, None, None, ""),
        spec("server_tls_protocols", Text, Some("secure"), None, ""),
        spec(
            "server_tls_sslmode",
            Enum(SSL_MODES),
            Some("prefer"),
            None,
            "",
        ),
        spec(
            "service_name",
            Text,
            Some("pgbouncer"),
            None,
            "Windows only; alias of job_name",
        ),
        spec("so_reuseport", Bool, Some("0"), None, ""),
        spec("stats_period", Int, Some("60"), None, "seconds"),
        spec("stats_users", List, Some(""), None, ""),
        spec("suspend_timeout", Seconds, Some("10"), None, ""),
        spec("syslog", Bool, Some("0"), None, ""),
        spec("syslog_facility", Text, Some("daemon"), None, ""),
        spec("syslog_ident", Text, Some("pgbouncer"), None, ""),
        spec(
            "tcp_defer_accept",
            Int,
            None,
            None,
            "seconds; the default depends on the platform",
        ),
        spec("tcp_keepalive", Bool, Some("1"), None, ""),
        spec("tcp_keepcnt", Int, Some("0"), None, ""),
        spec("tcp_keepidle", Int, Some("0"), None, ""),
        spec("tcp_keepintvl", Int, Some("0"), None, ""),
        spec("tcp_socket_buffer", Int, Some("0"), None, ""),
        spec("tcp_user_timeout", Int, Some("0"), None, "milliseconds"),
        spec(
            "track_extra_parameters",
            List,
            Some("IntervalStyle"),
            v(1, 20),
            "",
        ),
        spec("transaction_timeout", Seconds, Some("0"), v(1, 25), ""),
        spec("unix_socket_dir", Text, Some("/tmp"), None, ""),
        spec("unix_socket_group", Text, None, None, ""),
        spec("unix_socket_mode", Int, Some("0777"), None, ""),
        spec("user", Text, None, None, ""),
        spec("verbose", Int, Some("0"), None, ""),
    ]
};

/// The `[pgbouncer]` setting called exactly `name` (PgBouncer's names are
/// case-sensitive).
pub fn setting(name: &str) -> Option<&'static SettingSpec> {
    SETTINGS
        .binary_search_by(|s| s.name.cmp(name))
        .ok()
        .map(|i| &SETTINGS[i])
}

/// Every `[pgbouncer]` setting, sorted by name.
pub fn settings() -> &'static [SettingSpec] {
    SETTINGS
}

/// Where a connection-string parameter may appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamScope {
    Database,
    User,
    Peer,
}

impl ParamScope {
    pub fn section_name(self) -> &'static str {
        match self {
            ParamScope::Database => "[databases]",
            ParamScope::User => "[users]",
            ParamScope::Peer => "[peers]",
        }
    }
}

/// How PgBouncer reads a connection-string parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// C `atoi`: a leading integer, anything else silently reads as 0.
    Int,
    /// `atoi` too, but 0 is refused (`invalid port`).
    Port,
    /// Whole seconds read with `atoi`.
    Seconds,
    Enum(&'static [&'static str]),
    Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamSpec {
    pub name: &'static str,
    pub kind: ParamKind,
    pub since: Option<Version>,
    pub notes: &'static str,
}

const fn param(
    name: &'static str,
    kind: ParamKind,
    since: Option<Version>,
    notes: &'static str,
) -> ParamSpec {
    ParamSpec {
        name,
        kind,
        since,
        notes,
    }
}

static DATABASE_PARAMS: &[ParamSpec] = &[
    param("application_name", ParamKind::Text, None, ""),
    param("auth_dbname", ParamKind::Text, v(1, 19), ""),
    param("auth_query", ParamKind::Text, None, ""),
    param("auth_user", ParamKind::Text, None, ""),
    param("client_encoding", ParamKind::Text, None, ""),
    param("connect_query", ParamKind::Text, None, ""),
    param("datestyle", ParamKind::Text, None, ""),
    param("dbname", ParamKind::Text, None, ""),
    param("host", ParamKind::Text, None, ""),
    param(
        "load_balance_hosts",
        ParamKind::Enum(LOAD_BALANCE_HOSTS),
        v(1, 24),
        "",
    ),
    param("max_db_client_connections", ParamKind::Int, v(1, 24), ""),
    param("max_db_connections", ParamKind::Int, None, ""),
    param("min_pool_size", ParamKind::Int, None, ""),
    param("password", ParamKind::Text, None, ""),
    param("pool_mode", ParamKind::Enum(POOL_MODES), None, ""),
    param("pool_size", ParamKind::Int, None, ""),
    param("port", ParamKind::Port, None, ""),
    param(
        "query_wait_timeout",
        ParamKind::Seconds,
        None,
        "documented upstream after 1.25.2",
    ),
    param(
        "reserve_pool",
        ParamKind::Int,
        None,
        "alias of reserve_pool_size from 1.24",
    ),
    param(
        "reserve_pool_size",
        ParamKind::Int,
        v(1, 24),
        "called reserve_pool before 1.24",
    ),
    param("server_lifetime", ParamKind::Seconds, v(1, 23), ""),
    param("timezone", ParamKind::Text, None, ""),
    param("user", ParamKind::Text, None, ""),
];

static USER_PARAMS: &[ParamSpec] = &[
    param("client_idle_timeout", ParamKind::Seconds, v(1, 24), ""),
    param(
        "idle_transaction_timeout",
        ParamKind::Seconds,
        None,
        "documented upstream after 1.25.2",
    ),
    param("max_user_client_connections", ParamKind::Int, v(1, 24), ""),
    param("max_user_connections", ParamKind::Int, None, ""),
    param("pool_mode", ParamKind::Enum(POOL_MODES), None, ""),
    param("pool_size", ParamKind::Int, v(1, 23), ""),
    param("query_timeout", ParamKind::Seconds, v(1, 24), ""),
    param(
        "query_wait_timeout",
        ParamKind::Seconds,
        None,
        "documented upstream after 1.25.2",
    ),
    param("reserve_pool_size", ParamKind::Int, v(1, 24), ""),
    param("transaction_timeout", ParamKind::Seconds, v(1, 25), ""),
];

static PEER_PARAMS: &[ParamSpec] = &[
    param("host", ParamKind::Text, None, ""),
    param("pool_size", ParamKind::Int, None, ""),
    param("port", ParamKind::Port, None, ""),
];

/// Parameters PgBouncer accepts in entries of `scope`, sorted by name.
pub fn params(scope: ParamScope) -> &'static [ParamSpec] {
    match scope {
        ParamScope::Database => DATABASE_PARAMS,
        ParamScope::User => USER_PARAMS,
        ParamScope::Peer => PEER_PARAMS,
    }
}

/// The parameter called exactly `name` in entries of `scope`.
pub fn param_spec(scope: ParamScope, name: &str) -> Option<&'static ParamSpec> {
    let table = params(scope);
    table
        .binary_search_by(|p| p.name.cmp(name))
        .ok()
        .map(|i| &table[i])
}

/// The closest of `candidates` to `word`, when it is close enough to be what
/// the user meant.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    let mut best: Option<(f64, &str)> = None;
    for candidate in candidates {
        if candidate == word {
            continue;
        }
        let (shorter, longer) = if lower.len() <= candidate.len() {
            (lower.as_str(), candidate)
        } else {
            (candidate, lower.as_str())
        };
        // A truncated or extended name (`max_client_connections` for
        // `max_client_conn`) is the likeliest mistake; edit distance alone
        // prefers a longer name that shares more letters.
        let score = if candidate.eq_ignore_ascii_case(word) {
            1.0
        } else if shorter.len() >= 5 && longer.starts_with(shorter) {
            0.99
        } else {
            strsim::jaro_winkler(&lower, candidate)
        };
        if score >= 0.85 && best.is_none_or(|(b, _)| score > b) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// A value PgBouncer would refuse (or misread), described for a diagnostic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueProblem {
    /// A lowercase-first sentence without a trailing period.
    pub message: String,
    pub help: Option<String>,
    /// The value to write instead, when one is certain enough to offer as a fix.
    pub replacement: Option<String>,
}

impl ValueProblem {
    fn new(message: String) -> Self {
        Self {
            message,
            help: None,
            replacement: None,
        }
    }

    fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    fn replace_with(mut self, value: impl Into<String>) -> Self {
        self.replacement = Some(value.into());
        self
    }
}

/// A typed `[pgbouncer]` value as PgBouncer reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum TypedValue {
    Int(i64),
    Bool(bool),
    Seconds(f64),
    /// The allowed word, in the table's spelling.
    Enum(&'static str),
    Text(String),
    List(Vec<String>),
}

/// Reads `value` the way PgBouncer reads `spec`'s setting.
pub fn parse_value(spec: &SettingSpec, value: &str) -> Result<TypedValue, ValueProblem> {
    let name = spec.name;
    if let Some(inner) = strip_matching_quotes(value) {
        let shown = if inner.is_empty() { "" } else { inner };
        return Err(ValueProblem::new(format!(
            "PgBouncer keeps the quotes of `{name} = {value}`: the value would be `{value}`"
        ))
        .help(format!("remove the quotes: `{name} = {shown}`"))
        .replace_with(inner));
    }
    if let Some(quote) = value.chars().next().filter(|c| matches!(c, '"' | '\''))
        && value.matches(quote).count() % 2 == 1
    {
        return Err(ValueProblem::new(format!(
            "unterminated quote in the value of `{name}`"
        ))
        .help("PgBouncer takes `[pgbouncer]` values literally to the end of the line, quotes included"));
    }
    match spec.kind {
        ValueKind::Int => parse_c_long(value)
            .filter(|n| i32::try_from(*n).is_ok())
            .map(TypedValue::Int)
            .ok_or_else(|| {
                let digits = value.strip_prefix('-').unwrap_or(value);
                let too_large = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
                ValueProblem::new(if too_large {
                    format!("value `{value}` for `{name}` is out of range: PgBouncer stores it in a 32-bit integer")
                } else {
                    format!("invalid value `{value}` for `{name}`: expected an integer")
                })
            }),
        ValueKind::Bool => parse_c_long(value)
            .map(|n| TypedValue::Bool(n != 0))
            .ok_or_else(|| {
                let problem = ValueProblem::new(format!(
                    "invalid value `{value}` for `{name}`: expected 0 or 1"
                ));
                let digit = match value.to_ascii_lowercase().as_str() {
                    "true" | "yes" | "on" | "t" | "y" => "1",
                    "false" | "no" | "off" | "f" | "n" => "0",
                    _ => return problem,
                };
                problem
                    .help(format!(
                        "PgBouncer reads switches as integers: write `{name} = {digit}`"
                    ))
                    .replace_with(digit)
            }),
        ValueKind::Seconds => parse_seconds(value).map(TypedValue::Seconds).ok_or_else(|| {
            let problem = ValueProblem::new(format!(
                "invalid value `{value}` for `{name}`: expected a number of seconds"
            ));
            match seconds_with_unit(value) {
                Some(seconds) => {
                    let plain = format_seconds(seconds);
                    problem
                        .help(format!(
                            "PgBouncer time settings are plain seconds without a unit: write `{name} = {plain}`"
                        ))
                        .replace_with(plain)
                }
                None => problem,
            }
        }),
        ValueKind::Enum(allowed) => allowed
            .iter()
            .find(|a| a.eq_ignore_ascii_case(value))
            .map(|a| TypedValue::Enum(a))
            .ok_or_else(|| {
                let problem = ValueProblem::new(format!(
                    "invalid value `{value}` for `{name}`: expected one of {}",
                    allowed.join(", ")
                ));
                match suggest(value, allowed.iter().copied()) {
                    Some(s) => problem.help(format!("did you mean `{s}`?")).replace_with(s),
                    None => problem,
                }
            }),
        ValueKind::Text => Ok(TypedValue::Text(value.to_owned())),
        ValueKind::List => Ok(TypedValue::List(split_list(value))),
    }
}

/// The problem with `name = value` in `[pgbouncer]`, if PgBouncer would refuse it.
/// For the compose front-end, which reads settings from environment variables.
pub fn check_setting(name: &str, value: &str) -> Result<TypedValue, ValueProblem> {
    match setting(name) {
        Some(spec) => parse_value(spec, value),
        None => Err(unknown_setting(name)),
    }
}

/// The problem of a key PgBouncer does not know in `[pgbouncer]`.
pub fn unknown_setting(name: &str) -> ValueProblem {
    let problem = ValueProblem::new(format!("unknown PgBouncer setting `{name}`"));
    let per_database = matches!(
        name,
        "pool_size" | "reserve_pool" | "dbname" | "host" | "port"
    );
    if per_database {
        return problem.help(format!(
            "`{name}` is a connection-string parameter of `[databases]` entries, not a `[pgbouncer]` setting"
        ));
    }
    match suggest(name, SETTINGS.iter().map(|s| s.name)) {
        Some(s) => problem.help(format!("did you mean `{s}`?")).replace_with(s),
        None => problem,
    }
}

/// The comma-separated names of a list setting, trimmed, empty ones dropped.
pub fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The inside of a value wholly wrapped in one kind of quote.
pub(crate) fn strip_matching_quotes(value: &str) -> Option<&str> {
    let bytes = value.as_bytes();
    if bytes.len() >= 2 {
        let (first, last) = (bytes[0], bytes[bytes.len() - 1]);
        if (first == b'"' || first == b'\'') && first == last {
            return Some(&value[1..value.len() - 1]);
        }
    }
    None
}

/// C `strtol(value, &end, 0)` that must consume the whole (already trimmed)
/// value: optional sign, then `0x` hex, `0` octal or decimal digits.
pub fn parse_c_long(value: &str) -> Option<i64> {
    let s = value.trim_start();
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, body) = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        (16, hex)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i64::from_str_radix(body, radix).ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

/// C `atoi`: the leading integer of `value`, 0 when there is none.
pub fn c_atoi(value: &str) -> i64 {
    let s = value.trim_start();
    let (negative, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let digits: &str = &rest[..rest.bytes().take_while(u8::is_ascii_digit).count()];
    let magnitude = digits
        .parse::<i64>()
        .unwrap_or(if digits.is_empty() { 0 } else { i64::MAX });
    if negative { -magnitude } else { magnitude }
}

/// Seconds as PgBouncer's `strtod`-based parser reads them: a non-negative
/// decimal number and nothing else.
pub fn parse_seconds(value: &str) -> Option<f64> {
    let looks_numeric = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    if !looks_numeric {
        return None;
    }
    let seconds: f64 = value.parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then_some(seconds)
}

/// `300s`, `5min`, `1.5 h`, `250ms`: the seconds the user meant, for the help
/// of a value PgBouncer refuses.
fn seconds_with_unit(value: &str) -> Option<f64> {
    let split = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter(|&i| i > 0)?;
    let number: f64 = value[..split].parse().ok()?;
    let factor = match value[split..].trim().to_ascii_lowercase().as_str() {
        "ms" => 0.001,
        "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
        "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
        "h" | "hr" | "hour" | "hours" => 3600.0,
        "d" | "day" | "days" => 86400.0,
        _ => return None,
    };
    Some(number * factor)
}

/// Seconds without a needless fraction: `300`, `0.25`.
pub fn format_seconds(seconds: f64) -> String {
    if seconds.fract() == 0.0 && seconds.abs() < 1e15 {
        format!("{}", seconds as i64)
    } else {
        format!("{seconds}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_for_binary_search() {
        for table in [
            SETTINGS.iter().map(|s| s.name).collect::<Vec<_>>(),
            DATABASE_PARAMS.iter().map(|p| p.name).collect(),
            USER_PARAMS.iter().map(|p| p.name).collect(),
            PEER_PARAMS.iter().map(|p| p.name).collect(),
        ] {
            let mut sorted = table.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(table, sorted);
        }
    }

    #[test]
    fn every_documented_setting_is_known() {
        let documented = [
            "logfile",
            "pidfile",
            "listen_addr",
            "listen_port",
            "unix_socket_dir",
            "unix_socket_mode",
            "unix_socket_group",
            "user",
            "pool_mode",
            "max_client_conn",
            "default_pool_size",
            "min_pool_size",
            "reserve_pool_size",
            "reserve_pool_timeout",
            "max_db_connections",
            "max_user_connections",
            "max_db_client_connections",
            "max_user_client_connections",
            "server_round_robin",
            "track_extra_parameters",
            "ignore_startup_parameters",
            "peer_id",
            "disable_pqexec",
            "application_name_add_host",
            "conffile",
            "service_name",
            "job_name",
            "stats_period",
            "max_prepared_statements",
            "scram_iterations",
            "auth_type",
            "auth_hba_file",
            "auth_ident_file",
            "auth_file",
            "auth_user",
            "auth_query",
            "auth_dbname",
            "auth_ldap_options",
            "syslog",
            "syslog_ident",
            "syslog_facility",
            "log_connections",
            "log_disconnections",
            "log_pooler_errors",
            "log_stats",
            "verbose",
            "admin_users",
            "stats_users",
            "server_reset_query",
            "server_reset_query_always",
            "server_check_delay",
            "server_check_query",
            "server_fast_close",
            "server_lifetime",
            "server_idle_timeout",
            "server_connect_timeout",
            "server_login_retry",
            "client_login_timeout",
            "autodb_idle_timeout",
            "pool_idle_timeout",
            "dns_max_ttl",
            "dns_nxdomain_ttl",
            "dns_zone_check_period",
            "resolv_conf",
            "query_wait_notify",
            "login_notify_message",
            "query_timeout",
            "query_wait_timeout",
            "cancel_wait_timeout",
            "client_idle_timeout",
            "idle_transaction_timeout",
            "transaction_timeout",
            "suspend_timeout",
            "pkt_buf",
            "max_packet_size",
            "listen_backlog",
            "sbuf_loopcnt",
            "so_reuseport",
            "tcp_defer_accept",
            "tcp_socket_buffer",
            "tcp_keepalive",
            "tcp_keepcnt",
            "tcp_keepidle",
            "tcp_keepintvl",
            "tcp_user_timeout",
            "client_tls_sslmode",
            "client_tls_ca_file",
            "client_tls_key_file",
            "client_tls_cert_file",
            "client_tls_protocols",
            "client_tls_ciphers",
            "client_tls13_ciphers",
            "client_tls_ecdhcurve",
            "client_tls_dheparams",
            "server_tls_sslmode",
            "server_tls_ca_file",
            "server_tls_key_file",
            "server_tls_cert_file",
            "server_tls_protocols",
            "server_tls_ciphers",
            "server_tls13_ciphers",
        ];
        for name in documented {
            assert!(setting(name).is_some(), "{name} missing from the table");
        }
        assert_eq!(setting("Pool_Mode"), None);
    }

    #[test]
    fn typos_get_the_intended_name() {
        assert_eq!(
            suggest("max_client_connections", SETTINGS.iter().map(|s| s.name)),
            Some("max_client_conn")
        );
        assert_eq!(
            suggest("transactions", POOL_MODES.iter().copied()),
            Some("transaction")
        );
        assert_eq!(suggest("zzz", POOL_MODES.iter().copied()), None);
    }

    #[test]
    fn integers_follow_strtol_with_base_zero() {
        assert_eq!(parse_c_long("450"), Some(450));
        assert_eq!(parse_c_long("0777"), Some(0o777));
        assert_eq!(parse_c_long("0x10"), Some(16));
        assert_eq!(parse_c_long("-1"), Some(-1));
        assert_eq!(parse_c_long("0"), Some(0));
        assert_eq!(parse_c_long("lots"), None);
        assert_eq!(parse_c_long("20 "), None);
        assert_eq!(parse_c_long("089"), None);
        assert_eq!(parse_c_long("99999999999999999999999"), None);
        assert_eq!(c_atoi("20abc"), 20);
        assert_eq!(c_atoi("lots"), 0);
        assert_eq!(
            check_setting("max_client_conn", "99999999999")
                .unwrap_err()
                .message,
            "value `99999999999` for `max_client_conn` is out of range: PgBouncer stores it in a 32-bit integer"
        );
    }

    #[test]
    fn seconds_take_fractions_but_no_units() {
        let timeout = setting("query_wait_timeout").unwrap();
        assert_eq!(parse_value(timeout, "0.5"), Ok(TypedValue::Seconds(0.5)));
        assert_eq!(parse_value(timeout, "120"), Ok(TypedValue::Seconds(120.0)));
        let err = parse_value(timeout, "5min").unwrap_err();
        assert_eq!(
            err.message,
            "invalid value `5min` for `query_wait_timeout`: expected a number of seconds"
        );
        assert_eq!(
            err.help.as_deref(),
            Some(
                "PgBouncer time settings are plain seconds without a unit: write `query_wait_timeout = 300`"
            )
        );
        assert_eq!(err.replacement.as_deref(), Some("300"));
        assert!(parse_value(timeout, "-1").is_err());
        assert!(parse_value(timeout, "nan").is_err());
    }

    #[test]
    fn switches_are_integers() {
        let always = setting("server_reset_query_always").unwrap();
        assert_eq!(parse_value(always, "1"), Ok(TypedValue::Bool(true)));
        let err = parse_value(always, "yes").unwrap_err();
        assert_eq!(
            err.message,
            "invalid value `yes` for `server_reset_query_always`: expected 0 or 1"
        );
        assert_eq!(err.replacement.as_deref(), Some("1"));
    }

    #[test]
    fn enums_ignore_case_like_pgbouncer() {
        let mode = setting("pool_mode").unwrap();
        assert_eq!(
            parse_value(mode, "Transaction"),
            Ok(TypedValue::Enum("transaction"))
        );
    }

    #[test]
    fn quoted_values_keep_their_quotes_in_pgbouncer() {
        let err = check_setting("pool_mode", "\"transaction\"").unwrap_err();
        assert_eq!(
            err.message,
            "PgBouncer keeps the quotes of `pool_mode = \"transaction\"`: the value would be `\"transaction\"`"
        );
        assert_eq!(err.replacement.as_deref(), Some("transaction"));
    }

    #[test]
    fn pool_size_in_pgbouncer_points_to_databases() {
        let err = check_setting("pool_size", "10").unwrap_err();
        assert_eq!(err.message, "unknown PgBouncer setting `pool_size`");
        assert!(err.help.unwrap().contains("`[databases]`"));
    }
}
