//! What the PgBouncer rules (PC2) share: which client pools reach which
//! PgBouncer database and in which pool mode, how that is worded, whether
//! prepared statements survive there, and the dict insertions their quick
//! fixes make.

use poolcheck_core::facts::pool::{ClientPool, Driver, PoolKind, StartupParameter, StartupVia};
use poolcheck_core::{Diagnostic, Edit, Location, Severity, Sourced, Version};
use poolcheck_model::facts::{
    PREPARED_STATEMENTS_SINCE, PgBouncerView, PoolMode, PreparedStatements,
    TRACK_EXTRA_PARAMETERS_SINCE,
};
use poolcheck_model::fix_edits as edits;

use crate::context::Context;
use crate::sources::Sources;
use crate::topology::{LinkedPool, PgBouncer, Service, TargetRef};

/// One client pool and the PgBouncer database it reaches. A pool that several
/// services run (every service runs the whole repository's code by default)
/// is listed once, with the first service that runs it.
pub struct BouncerClient<'a> {
    pub service: &'a Service,
    pub linked: &'a LinkedPool,
    pub index: usize,
    pub bouncer: &'a PgBouncer,
    pub database: &'a str,
    pub view: PgBouncerView<'a>,
    /// The pool mode of the (database, user) pool the client lands in.
    pub mode: Sourced<PoolMode>,
}

impl BouncerClient<'_> {
    pub fn pool(&self) -> &ClientPool {
        &self.linked.pool
    }

    /// The user the client logs in as, when its connection string says.
    pub fn client_user(&self) -> Option<&str> {
        self.linked
            .pool
            .target
            .value
            .as_ref()
            .and_then(|t| t.user.as_deref())
    }

    /// True when the mode is known to be transaction or statement pooling.
    pub fn transaction_pooling(&self) -> bool {
        self.mode
            .value
            .is_some_and(PoolMode::is_transaction_pooling)
    }

    /// `PgBouncer `deploy/pgbouncer.ini` database `app``
    pub fn bouncer_phrase(&self) -> String {
        format!(
            "PgBouncer `{}` database `{}`",
            self.bouncer.config.name, self.database
        )
    }

    /// `transaction pooling (pool_mode = transaction, deploy/pgbouncer.ini:9)`
    pub fn mode_phrase(&self, sources: &Sources) -> String {
        let Some(mode) = self.mode.value else {
            return "an unknown pool mode".to_owned();
        };
        format!(
            "{mode} pooling ({})",
            inline_quote(sources, &self.mode, format!("pool_mode = {mode}"))
        )
    }

    /// Where the pool mode is written, else the PgBouncer's own location.
    pub fn mode_location(&self) -> Location {
        self.mode
            .location
            .clone()
            .unwrap_or_else(|| self.bouncer.config.location.clone())
    }

    /// `pool_mode = transaction` or `pool_mode = session (PgBouncer default)`,
    /// as a related-location label.
    pub fn mode_label(&self) -> String {
        match self.mode.value {
            Some(mode) if self.mode.location.is_some() => format!("pool_mode = {mode}"),
            Some(mode) => format!("pool_mode = {mode} (PgBouncer default)"),
            None => "pool_mode".to_owned(),
        }
    }
}

/// Every client pool that reaches a PgBouncer, once each.
pub fn bouncer_clients<'a>(ctx: &Context<'a>) -> Vec<BouncerClient<'a>> {
    let deployment = ctx.deployment;
    let mut seen: Vec<(&Location, &str, &TargetRef)> = Vec::new();
    let mut out = Vec::new();
    for service in &deployment.services {
        for linked in &service.pools {
            let TargetRef::PgBouncer { index, database } = &linked.target else {
                continue;
            };
            let Some(bouncer) = deployment.pgbouncers.get(*index) else {
                continue;
            };
            let key = (
                &linked.pool.location,
                linked.pool.name.as_str(),
                &linked.target,
            );
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let view = PgBouncerView::new(&bouncer.config);
            let user = linked
                .pool
                .target
                .value
                .as_ref()
                .and_then(|t| t.user.as_deref());
            let mode = view.effective_pool_mode(database, user);
            out.push(BouncerClient {
                service,
                linked,
                index: *index,
                bouncer,
                database,
                view,
                mode,
            });
        }
    }
    out
}

/// `text, PgBouncer default` or `text, app/db.py:4`: a value's provenance
/// after it, for use inside parentheses.
pub fn inline_quote<T>(sources: &Sources, value: &Sourced<T>, text: String) -> String {
    let provenance = sources.provenance(value);
    if provenance.is_empty() {
        text
    } else {
        format!("{text}, {provenance}")
    }
}

/// True when `inner` lies within `outer` (same file).
pub fn within(inner: &Location, outer: &Location) -> bool {
    inner.file == outer.file
        && inner.span.start >= outer.span.start
        && inner.span.end <= outer.span.end
}

/// `SQLAlchemy engine `engine` (app/db.py:4)`, `asyncpg pool `pool` (app/db.py:9)`.
pub fn client_phrase(pool: &ClientPool, sources: &Sources) -> String {
    format!(
        "{} `{}` ({})",
        client_noun(pool),
        pool.name,
        sources.describe(&pool.location)
    )
}

/// What kind of client a pool is, in words.
pub fn client_noun(pool: &ClientPool) -> &'static str {
    let driver = pool.driver.value.as_ref();
    match pool.kind {
        PoolKind::SqlAlchemy => match driver {
            Some(Driver::Asyncpg) => "SQLAlchemy asyncpg engine",
            Some(Driver::Psycopg3) => "SQLAlchemy psycopg engine",
            Some(Driver::Psycopg2) => "SQLAlchemy psycopg2 engine",
            _ => "SQLAlchemy engine",
        },
        PoolKind::DjangoAlias | PoolKind::DjangoPool => "Django database",
        PoolKind::AsyncpgPool if pool.single_connection => "asyncpg connection",
        PoolKind::AsyncpgPool => "asyncpg pool",
        PoolKind::PsycopgPool if pool.single_connection => "psycopg connection",
        PoolKind::PsycopgPool => "psycopg_pool pool",
        PoolKind::Psycopg2Pool if pool.single_connection => "psycopg2 connection",
        PoolKind::Psycopg2Pool => "psycopg2 pool",
    }
}

/// Whether prepared statements survive the PgBouncer, worded for a message,
/// with the severity a finding that depends on it gets: lowered to a warning
/// when support was only assumed off (version unknown, setting absent).
pub struct PreparedSupport {
    pub supported: bool,
    /// `max_prepared_statements is not set …` — why it is off.
    pub reason: String,
    pub assumed: bool,
}

impl PreparedSupport {
    pub fn of(view: &PgBouncerView<'_>, sources: &Sources) -> PreparedSupport {
        let version = view.version();
        let max = view.max_prepared_statements();
        match view.prepared_statements() {
            PreparedStatements::KnownOn { max } => PreparedSupport {
                supported: true,
                reason: format!("max_prepared_statements = {max}"),
                assumed: false,
            },
            PreparedStatements::KnownOff { reason } => {
                let reason = if let Some(v) = version.filter(|v| *v < PREPARED_STATEMENTS_SINCE) {
                    format!("PgBouncer {v} predates it: it came in 1.21")
                } else if let Some(at) = &max.location {
                    format!("max_prepared_statements = 0, {}", sources.describe(at))
                } else if let Some(v) = version {
                    format!(
                        "max_prepared_statements is not set: 0 by default on PgBouncer {v}, 200 from 1.24"
                    )
                } else {
                    reason
                };
                PreparedSupport {
                    supported: false,
                    reason,
                    assumed: false,
                }
            }
            PreparedStatements::AssumedOff { reason } => PreparedSupport {
                supported: false,
                reason: if max.location.is_none() {
                    "max_prepared_statements is not set and the PgBouncer version is unknown: \
assumed before 1.24, where it defaults to 0"
                        .to_owned()
                } else {
                    reason
                },
                assumed: true,
            },
        }
    }

    pub fn severity(&self, default: Severity) -> Severity {
        if self.assumed {
            Severity::Warning.min(default)
        } else {
            default
        }
    }
}

/// Related locations that explain a PgBouncer's prepared-statement support:
/// the `max_prepared_statements` line (or the `[pgbouncer]` section when it
/// is absent) and where the version was read.
pub fn add_prepared_related(mut diagnostic: Diagnostic, client: &BouncerClient<'_>) -> Diagnostic {
    let max = client.view.max_prepared_statements();
    let label = match (&max.value, &max.location, client.view.version()) {
        (Some(v), Some(_), _) => format!("max_prepared_statements = {v}"),
        (Some(v), None, Some(version)) => {
            format!("max_prepared_statements not set: {v} by default on PgBouncer {version}")
        }
        (Some(_), None, None) => "max_prepared_statements not set, PgBouncer version unknown: \
assumed 0, the default before 1.24"
            .to_owned(),
        (None, _, _) => "max_prepared_statements is not readable".to_owned(),
    };
    let at = max
        .location
        .clone()
        .unwrap_or_else(|| client.bouncer.config.location.clone());
    diagnostic = diagnostic.with_related(at, label);
    if let Some(version) = &client.bouncer.version
        && let (Some(v), Some(loc)) = (&version.value, &version.location)
    {
        diagnostic = diagnostic.with_related(loc.clone(), format!("PgBouncer {v}"));
    }
    diagnostic
}

/// The help line for turning PgBouncer's support on from `since` (1.21 for
/// asyncpg, 1.22 for psycopg), with the version caveat.
pub fn enable_support_hint(client: &BouncerClient<'_>, since: Version) -> String {
    let since_text = format!("{}.{}", since.major, since.minor);
    match client.view.version() {
        Some(v) if v < since => format!(
            "upgrade PgBouncer (this one is {v}) to {since_text} or later with `max_prepared_statements = 200`"
        ),
        _ => format!(
            "set `max_prepared_statements = 200` in `[pgbouncer]` (PgBouncer ≥ {since_text}; the default from 1.24)"
        ),
    }
}

/// Adds `entries` (`("\"statement_cache_size\"", "0")`, Python source) to
/// the dict literal at `dict`; `None` when the text there is not a clean dict
/// literal or already writes one of the keys.
pub fn insert_into_dict(
    sources: &Sources,
    dict: &Location,
    entries: &[(&str, &str)],
) -> Option<Edit> {
    let file = sources.get(&dict.file)?;
    edits::insert_dict_entries(file, dict.span, entries)
}

/// Adds the keyword argument `keyword=value` at the end of the call's
/// argument list `(...)` at `arguments`, after the last argument so it never
/// precedes a positional one. `None` when the text is not an argument list
/// or already passes `keyword` (or may, through a `**spread`).
pub fn insert_keyword(
    sources: &Sources,
    arguments: &Location,
    keyword: &str,
    value: &str,
) -> Option<Edit> {
    let file = sources.get(&arguments.file)?;
    edits::add_keyword_argument(file, arguments.span, keyword, value)
}

/// What a PgBouncer does with one startup parameter a client sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartupFate {
    /// Tracked, so accepted and applied per client.
    Accepted,
    /// Listed in `ignore_startup_parameters` (by its own name, or as `options`
    /// for parameters given inside `options`): dropped without effect.
    Ignored {
        /// The name that is listed (`jit`, or `options`).
        listed: String,
        /// Where `ignore_startup_parameters` is written.
        location: Option<Location>,
    },
    /// The connection is refused with this error text.
    Rejected { error: String },
}

/// Decides a startup parameter's fate at a PgBouncer: tracked names are
/// accepted; names in `ignore_startup_parameters` are dropped; parameters
/// inside `options` are dropped when `options` is listed; before 1.20 the
/// `options` parameter itself is refused (or dropped when listed); anything
/// else is refused.
pub fn startup_fate(view: &PgBouncerView<'_>, parameter: &StartupParameter) -> StartupFate {
    let ignore = view.ignore_startup_parameters();
    let listed = |name: &str| {
        ignore
            .value
            .as_ref()
            .is_some_and(|names| names.iter().any(|n| n.eq_ignore_ascii_case(name)))
    };
    let ignored = |name: &str| StartupFate::Ignored {
        listed: name.to_owned(),
        location: ignore.location.clone(),
    };
    let via_options = parameter.via == StartupVia::Options;
    if via_options
        && view
            .version()
            .is_some_and(|v| v < TRACK_EXTRA_PARAMETERS_SINCE)
    {
        return if listed("options") {
            ignored("options")
        } else {
            StartupFate::Rejected {
                error: "unsupported startup parameter: options".to_owned(),
            }
        };
    }
    let name = parameter.name.as_str();
    if view.tracks_parameter(name) {
        return StartupFate::Accepted;
    }
    if listed(name) {
        return ignored(name);
    }
    if via_options && listed("options") {
        return ignored("options");
    }
    StartupFate::Rejected {
        error: if via_options {
            format!("unsupported startup parameter in options: {name}")
        } else {
            format!("unsupported startup parameter: {name}")
        },
    }
}

/// How a parameter was sent, for messages: `server_settings` / `options` / a
/// connection parameter.
pub fn startup_via_phrase(parameter: &StartupParameter) -> String {
    let setting = match &parameter.value {
        Some(value) => format!("{}={value}", parameter.name),
        None => parameter.name.clone(),
    };
    match parameter.via {
        StartupVia::ServerSettings => format!("`{setting}` in asyncpg's `server_settings`"),
        StartupVia::Options => format!("`-c {setting}` in libpq `options`"),
        StartupVia::Direct => format!("the connection parameter `{setting}`"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use poolcheck_core::{SourceFile, Span};

    use super::*;

    fn sources(text: &str) -> (Sources, Arc<SourceFile>) {
        let file = Arc::new(SourceFile::new("app/db.py", text));
        let mut sources = Sources::default();
        sources.insert(Arc::clone(&file));
        (sources, file)
    }

    fn apply(text: &str, edit: &Edit) -> String {
        let mut out = text.to_owned();
        out.replace_range(edit.location.span.range(), &edit.new_text);
        out
    }

    fn locate(file: &SourceFile, needle: &str) -> Location {
        let start = file.text().find(needle).unwrap();
        file.location(Span::new(start, start + needle.len()))
    }

    #[test]
    fn dict_insertion_goes_after_the_last_entry() {
        let text = "connect_args={\"server_settings\": {\"jit\": \"off\"}}";
        let (sources, file) = sources(text);
        let dict = locate(&file, "{\"server_settings\": {\"jit\": \"off\"}}");
        let edit = insert_into_dict(&sources, &dict, &[("\"statement_cache_size\"", "0")]).unwrap();
        assert_eq!(
            apply(text, &edit),
            "connect_args={\"server_settings\": {\"jit\": \"off\"}, \"statement_cache_size\": 0}"
        );
        let (sources, file) = self::sources("x = dict(a=1)");
        assert!(
            insert_into_dict(&sources, &locate(&file, "dict(a=1)"), &[("\"a\"", "1")]).is_none()
        );
    }

    #[test]
    fn keyword_insertion_goes_after_the_last_argument() {
        let one_line = "create_async_engine(url, pool_size=5)";
        let (sources, file) = sources(one_line);
        let edit = insert_keyword(
            &sources,
            &locate(&file, "(url, pool_size=5)"),
            "connect_args",
            "{\"statement_cache_size\": 0}",
        )
        .unwrap();
        assert_eq!(
            apply(one_line, &edit),
            "create_async_engine(url, pool_size=5, connect_args={\"statement_cache_size\": 0})"
        );

        let multi = "create_pool(\n    dsn,\n    max_size=10,\n)";
        let (sources, file) = self::sources(multi);
        let edit = insert_keyword(
            &sources,
            &locate(&file, "(\n    dsn,\n    max_size=10,\n)"),
            "statement_cache_size",
            "0",
        )
        .unwrap();
        assert_eq!(
            apply(multi, &edit),
            "create_pool(\n    dsn,\n    max_size=10,\n    statement_cache_size=0,\n)"
        );
    }

    #[test]
    fn keyword_insertion_refuses_duplicates_and_spreads() {
        let text = "create_engine(url, connect_args=ARGS)";
        let (sources, file) = sources(text);
        let args = locate(&file, "(url, connect_args=ARGS)");
        assert!(insert_keyword(&sources, &args, "connect_args", "{}").is_none());
        let spread = "create_engine(url, **options)";
        let (sources, file) = self::sources(spread);
        let args = locate(&file, "(url, **options)");
        assert!(insert_keyword(&sources, &args, "connect_args", "{}").is_none());
    }
}
