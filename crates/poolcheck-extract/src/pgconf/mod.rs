//! The `postgresql.conf` front-end: settings with exact spans, typed values
//! with PostgreSQL's units, include resolution, and content recognition for
//! config files with other names.

mod parse;
mod resolve;
mod server;
pub mod units;

use poolcheck_core::{FileFacts, SourceFile};

pub use parse::{check_entry, parse};
pub use resolve::{ConfLoader, DirLister, MAX_INCLUDE_DEPTH, resolve};
pub use server::{PgSettings, PostgresServerExt};
pub use units::{
    GucUnit, GucValueError, MemoryUnit, TimeUnit, parse_bool_guc, parse_duration_ms,
    parse_guc_integer, parse_int_guc, parse_memory_bytes,
};

/// Fills `facts.postgres` with the file's settings and includes, and reports
/// lines and values PostgreSQL would reject (PC002). Unknown parameter names
/// are never flagged: extensions define their own.
pub fn extract(file: &SourceFile, facts: &mut FileFacts) {
    let (conf, diagnostics) = parse(file);
    facts.postgres = Some(conf);
    facts.diagnostics.extend(diagnostics);
}

/// Parameters that only a PostgreSQL server config sets; one of them must be
/// assigned for a file with another name to count as `postgresql.conf`.
const ANCHOR_GUCS: &[&str] = &["max_connections", "shared_buffers", "listen_addresses"];

/// Other server parameters that corroborate the anchor.
const SERVER_GUCS: &[&str] = &[
    "max_connections",
    "shared_buffers",
    "listen_addresses",
    "port",
    "superuser_reserved_connections",
    "reserved_connections",
    "work_mem",
    "maintenance_work_mem",
    "effective_cache_size",
    "wal_level",
    "max_wal_size",
    "min_wal_size",
    "checkpoint_timeout",
    "checkpoint_completion_target",
    "random_page_cost",
    "effective_io_concurrency",
    "max_worker_processes",
    "max_parallel_workers",
    "max_parallel_workers_per_gather",
    "max_wal_senders",
    "hot_standby",
    "log_min_duration_statement",
    "log_destination",
    "logging_collector",
    "log_line_prefix",
    "shared_preload_libraries",
    "idle_session_timeout",
    "idle_in_transaction_session_timeout",
    "statement_timeout",
    "timezone",
    "datestyle",
    "default_text_search_config",
    "dynamic_shared_memory_type",
    "lc_messages",
    "ssl",
    "password_encryption",
    "data_directory",
    "hba_file",
    "autovacuum",
    "jit",
    "include",
    "include_dir",
    "include_if_exists",
];

/// Whether a file not named `postgresql*.conf` is a PostgreSQL server config.
/// Conservative: no INI sections, nearly every line in conf syntax, one of
/// `max_connections`/`shared_buffers`/`listen_addresses` assigned and at least
/// one other server parameter besides.
pub fn looks_like_postgresql_conf(text: &str) -> bool {
    let mut significant = 0usize;
    let mut malformed = 0usize;
    let mut has_anchor = false;
    let mut known: Vec<&str> = Vec::new();
    let mut line_start = 0;
    // The first lines decide; a server config states its settings early.
    for _ in 0..5000 {
        if line_start >= text.len() {
            break;
        }
        let line_end = text[line_start..]
            .find('\n')
            .map_or(text.len(), |i| line_start + i);
        let trimmed = text[line_start..line_end].trim_start();
        if trimmed.starts_with('[') || trimmed.starts_with(';') {
            return false;
        }
        match parse::classify_line(text, line_start, line_end) {
            Ok(None) => {}
            Ok(Some(name)) => {
                significant += 1;
                let name = &text[name.range()];
                if let Some(anchor) = SERVER_GUCS.iter().find(|g| g.eq_ignore_ascii_case(name)) {
                    has_anchor |= ANCHOR_GUCS.contains(anchor);
                    if !known.contains(anchor) {
                        known.push(anchor);
                    }
                }
            }
            Err(()) => {
                significant += 1;
                malformed += 1;
            }
        }
        line_start = line_end + 1;
    }
    // A tenth of odd lines is tolerated: PostgreSQL would flag them itself.
    has_anchor && known.len() >= 2 && malformed * 10 <= significant
}

#[cfg(test)]
mod tests {
    use poolcheck_core::facts::postgres::PgIncludeKind;
    use poolcheck_core::{FileKind, Severity};

    use super::*;

    fn extract_text(text: &str) -> (SourceFile, FileFacts) {
        let file = SourceFile::new("postgresql.conf", text);
        let mut facts = FileFacts::new(file.path().clone(), FileKind::PostgresConf);
        extract(&file, &mut facts);
        (file, facts)
    }

    /// (key text, value text, stored key, stored value) of every entry.
    fn entries(file: &SourceFile, facts: &FileFacts) -> Vec<(String, String, String, String)> {
        facts
            .postgres
            .as_ref()
            .unwrap()
            .entries
            .iter()
            .map(|e| {
                (
                    file.slice(e.key_location.span).to_owned(),
                    file.slice(e.value_location.span).to_owned(),
                    e.key.clone(),
                    e.value.clone(),
                )
            })
            .collect()
    }

    fn row(k: &str, v: &str, key: &str, value: &str) -> (String, String, String, String) {
        (k.to_owned(), v.to_owned(), key.to_owned(), value.to_owned())
    }

    #[test]
    fn settings_with_and_without_equals_quotes_and_comments() {
        let text = "\
# -----------------------------
# PostgreSQL configuration file
# -----------------------------

listen_addresses = '*'\t\t# what IP address(es) to listen on;
Max_Connections = 200
shared_buffers 128MB
log_line_prefix = '%m [%p] ''%u'' '   # trailing comment
search_path = 'a\\'b'
pg_stat_statements.max=10000
  work_mem=4MB#no space before the comment
";
        let (file, facts) = extract_text(text);
        assert!(facts.diagnostics.is_empty(), "{:?}", facts.diagnostics);
        assert_eq!(
            entries(&file, &facts),
            [
                row("listen_addresses", "*", "listen_addresses", "*"),
                row("Max_Connections", "200", "max_connections", "200"),
                row("shared_buffers", "128MB", "shared_buffers", "128MB"),
                row(
                    "log_line_prefix",
                    "%m [%p] ''%u'' ",
                    "log_line_prefix",
                    "%m [%p] '%u' "
                ),
                row("search_path", "a\\'b", "search_path", "a'b"),
                row(
                    "pg_stat_statements.max",
                    "10000",
                    "pg_stat_statements.max",
                    "10000"
                ),
                row("work_mem", "4MB", "work_mem", "4MB"),
            ]
        );
    }

    #[test]
    fn crlf_line_endings_stay_out_of_values() {
        let (file, facts) = extract_text("max_connections = 50\r\njit = 'off'\r\n");
        assert!(facts.diagnostics.is_empty(), "{:?}", facts.diagnostics);
        assert_eq!(
            entries(&file, &facts),
            [
                row("max_connections", "50", "max_connections", "50"),
                row("jit", "off", "jit", "off"),
            ]
        );
    }

    #[test]
    fn include_directives_are_recorded_with_their_position() {
        let text = "max_connections = 100\ninclude 'a.conf'\nINCLUDE_IF_EXISTS = 'b.conf'\ninclude_dir conf.d\nport = 5433\n";
        let (file, facts) = extract_text(text);
        let conf = facts.postgres.as_ref().unwrap();
        let includes: Vec<_> = conf
            .includes
            .iter()
            .map(|i| {
                (
                    i.kind,
                    i.path.as_str(),
                    file.slice(i.location.span),
                    i.position,
                )
            })
            .collect();
        assert_eq!(
            includes,
            [
                (PgIncludeKind::Include, "a.conf", "a.conf", 1),
                (PgIncludeKind::IncludeIfExists, "b.conf", "b.conf", 1),
                (PgIncludeKind::IncludeDir, "conf.d", "conf.d", 1),
            ]
        );
        assert_eq!(conf.entries.len(), 2);
    }

    /// (code, message, sliced span, help) of every diagnostic.
    fn diagnostics(text: &str) -> Vec<(&'static str, String, String, Option<String>)> {
        let (file, facts) = extract_text(text);
        facts
            .diagnostics
            .iter()
            .map(|d| {
                assert_eq!(d.severity, Severity::Error);
                (
                    d.code,
                    d.message.clone(),
                    file.slice(d.primary.span).to_owned(),
                    d.help.clone(),
                )
            })
            .collect()
    }

    #[test]
    fn a_unit_on_max_connections_is_invalid_at_the_value() {
        assert_eq!(
            diagnostics("max_connections = 100MB   # too many\n"),
            [(
                "PC002",
                "invalid value for parameter `max_connections`: `100MB`".to_owned(),
                "100MB".to_owned(),
                Some("`max_connections` takes a plain integer without a unit".to_owned())
            )]
        );
    }

    #[test]
    fn an_unknown_time_unit_is_invalid_at_the_whole_value() {
        assert_eq!(
            diagnostics("idle_session_timeout = 5 parsecs\n"),
            [(
                "PC002",
                "invalid value for parameter `idle_session_timeout`: `5 parsecs`".to_owned(),
                "5 parsecs".to_owned(),
                Some(
                    "valid units for this parameter are `us`, `ms`, `s`, `min`, `h` and `d` (case-sensitive)"
                        .to_owned()
                )
            )]
        );
    }

    #[test]
    fn typed_values_are_checked_inside_quotes_too() {
        let found = diagnostics(
            "statement_timeout = '30 sec'\nsuperuser_reserved_connections = -1\njit = 'sometimes'\nmax_connections = '300'\n",
        );
        let summary: Vec<(&str, &str)> = found
            .iter()
            .map(|(_, m, s, _)| (m.as_str(), s.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "invalid value for parameter `statement_timeout`: `30 sec`",
                    "30 sec"
                ),
                (
                    "invalid value for parameter `superuser_reserved_connections`: `-1`",
                    "-1"
                ),
                (
                    "invalid value for parameter `jit`: `sometimes`",
                    "sometimes"
                ),
            ]
        );
        assert_eq!(
            found[1].3.as_deref(),
            Some(
                "`superuser_reserved_connections` must be between 0 and 262143 (in its base unit)"
            )
        );
    }

    #[test]
    fn unknown_parameters_are_not_flagged() {
        assert!(
            diagnostics("timescaledb.max_background_workers = 8\nmy_custom_thing = yes\n")
                .is_empty()
        );
    }

    #[test]
    fn syntax_errors_point_at_the_offending_text() {
        let found = diagnostics(
            "= 5\nmax_connections\nlisten_addresses = 'localhost\nport = '5432' 5433\napplication_name = my app\n",
        );
        let summary: Vec<(&str, &str)> = found
            .iter()
            .map(|(_, m, s, _)| (m.as_str(), s.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "syntax error in PostgreSQL config: expected a parameter name, found `=`",
                    "="
                ),
                (
                    "syntax error in PostgreSQL config: `max_connections` has no value",
                    "max_connections"
                ),
                (
                    "syntax error in PostgreSQL config: unterminated quoted string",
                    "'localhost"
                ),
                (
                    "syntax error in PostgreSQL config: unexpected `5433` after the value of `port`",
                    "5433"
                ),
                (
                    "syntax error in PostgreSQL config: the value of `application_name` has several words: `my app`",
                    "my app"
                ),
            ]
        );
        assert_eq!(
            found[4].3.as_deref(),
            Some("PostgreSQL reads one word as the value; quote it: `'my app'`")
        );
    }

    #[test]
    fn check_entry_validates_settings_from_other_sources() {
        let compose = SourceFile::new(
            "docker-compose.yml",
            "command: postgres -c max_connections=100MB -c work_mem=64MB",
        );
        let at = |needle: &str| {
            let start = compose.text().find(needle).unwrap();
            compose.location(poolcheck_core::Span::new(start, start + needle.len()))
        };
        let entry = |key: &str, value: &str| poolcheck_core::ConfigEntry {
            key: key.to_owned(),
            value: value.to_owned(),
            key_location: at(key),
            value_location: at(value),
        };
        let bad = check_entry(&entry("max_connections", "100MB")).unwrap();
        assert_eq!(
            bad.message,
            "invalid value for parameter `max_connections`: `100MB`"
        );
        assert_eq!(compose.slice(bad.primary.span), "100MB");
        assert_eq!(check_entry(&entry("work_mem", "64MB")), None);
    }

    #[test]
    fn empty_include_path_is_invalid() {
        let found = diagnostics("include ''\n");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].1, "empty file name in `include`");
    }

    #[test]
    fn binary_junk_does_not_panic() {
        let junk = "\u{0}\u{1}ÿ'\\\n'\\\nabc = '\\\nx = 'é\\\u{301}'\n\\\\\n#";
        let (_, facts) = extract_text(junk);
        assert!(facts.postgres.is_some());
    }

    #[test]
    fn content_recognition_is_conservative() {
        assert!(looks_like_postgresql_conf(
            "# tuned for 8GB\nmax_connections = 300\nshared_buffers = 2GB\nwork_mem = 16MB\n"
        ));
        assert!(looks_like_postgresql_conf(
            "listen_addresses '*'\nport = 5432\n"
        ));
        // One parameter alone is not enough.
        assert!(!looks_like_postgresql_conf("max_connections = 300\n"));
        // INI sections: PgBouncer or MySQL.
        assert!(!looks_like_postgresql_conf(
            "[mysqld]\nmax_connections = 300\nport = 3306\n"
        ));
        assert!(!looks_like_postgresql_conf(
            "[pgbouncer]\nlisten_addr = *\nmax_client_conn = 100\n"
        ));
        // YAML and prose.
        assert!(!looks_like_postgresql_conf(
            "max_connections: 300\nshared_buffers: 2GB\n"
        ));
        assert!(!looks_like_postgresql_conf(
            "Set max_connections = 300 and\nthen shared_buffers = 2GB in your file\nlike this and that\n"
        ));
    }
}
