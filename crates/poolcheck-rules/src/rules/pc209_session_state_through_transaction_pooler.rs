use poolcheck_core::facts::pool::EventSql;
use poolcheck_core::{Diagnostic, Severity};
use poolcheck_model::facts::PgBouncerView;

use super::pgbouncer_text::{bouncer_clients, client_phrase};
use crate::context::Context;
use crate::registry::{FixAvailability, Rule, RuleMeta};

/// Events whose handlers run once per connection (or per checkout) rather
/// than inside a transaction the code controls.
const SESSION_EVENTS: &[&str] = &["connect", "first_connect", "checkout", "connection_created"];

/// A session feature found in a handler's SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SessionFeature {
    /// `SET name …` (not `SET LOCAL`, not a parameter PgBouncer tracks).
    Set(String),
    Listen,
    AdvisoryLock,
    Prepare,
}

impl SessionFeature {
    fn describe(&self) -> String {
        match self {
            SessionFeature::Set(name) => format!("sets `{name}` for the session"),
            SessionFeature::Listen => "subscribes with `LISTEN`".to_owned(),
            SessionFeature::AdvisoryLock => "takes a session-level advisory lock".to_owned(),
            SessionFeature::Prepare => "prepares a statement with SQL `PREPARE`".to_owned(),
        }
    }

    fn help(&self) -> String {
        match self {
            SessionFeature::Set(name) => format!(
                "use `SET LOCAL {name} …` inside each transaction, or set it server-side \
(`ALTER ROLE <user> SET {name} = …`); PgBouncer only carries over the parameters it tracks \
(`track_extra_parameters`)"
            ),
            SessionFeature::Listen => "LISTEN needs a session of its own: connect directly, or \
through a PgBouncer database with `pool_mode=session`"
                .to_owned(),
            SessionFeature::AdvisoryLock => "use the transaction-level `pg_advisory_xact_lock()`, \
or take the lock on a direct or session-mode connection"
                .to_owned(),
            SessionFeature::Prepare => "PgBouncer does not track SQL-level `PREPARE`: use \
protocol-level prepared statements with `max_prepared_statements`, or do not prepare"
                .to_owned(),
        }
    }
}

/// The session features in one SQL string (several statements allowed).
fn session_features(sql: &str, view: PgBouncerView<'_>) -> Vec<SessionFeature> {
    let mut found = Vec::new();
    for statement in sql.split(';') {
        let words: Vec<String> = statement
            .split_whitespace()
            .map(str::to_ascii_lowercase)
            .collect();
        let lower = statement.to_ascii_lowercase();
        match words.first().map(String::as_str) {
            Some("set") => {
                let rest: Vec<&str> = words[1..].iter().map(String::as_str).collect();
                match rest.as_slice() {
                    ["local" | "transaction", ..] | [] => {}
                    ["session", "characteristics", ..] => {
                        found.push(SessionFeature::Set("session characteristics".to_owned()));
                    }
                    ["session", name, ..] | [name, ..] => {
                        let name = parameter_name(name);
                        let name = if name == "time" {
                            "timezone".to_owned()
                        } else {
                            name
                        };
                        if !view.tracks_parameter(&name) {
                            found.push(SessionFeature::Set(name));
                        }
                    }
                }
            }
            Some("listen") => found.push(SessionFeature::Listen),
            Some("prepare") if words.get(1).is_some_and(|w| w != "transaction") => {
                found.push(SessionFeature::Prepare);
            }
            _ => {}
        }
        if lower.contains("pg_advisory_lock") || lower.contains("pg_try_advisory_lock") {
            found.push(SessionFeature::AdvisoryLock);
        }
    }
    found.dedup();
    found
}

/// `search_path` from `search_path=…` or `search_path`.
fn parameter_name(word: &str) -> String {
    word.split(['=', '\''])
        .next()
        .unwrap_or(word)
        .trim_matches('"')
        .to_owned()
}

fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let sources = ctx.sources;
    for client in bouncer_clients(ctx) {
        if !client.transaction_pooling() {
            continue;
        }
        let pool = client.pool();
        for event in &pool.event_sql {
            if !SESSION_EVENTS.contains(&event.event.as_str()) {
                continue;
            }
            for feature in session_features(&event.sql, client.view) {
                out.push(diagnostic(&client, event, &feature, sources));
            }
        }
    }
}

fn diagnostic(
    client: &super::pgbouncer_text::BouncerClient<'_>,
    event: &EventSql,
    feature: &SessionFeature,
    sources: &crate::sources::Sources,
) -> Diagnostic {
    let pool = client.pool();
    let message = format!(
        "the `{}` handler `{}` of {} {} (`{}`), but the connection goes through {} in {}: \
later transactions may run on other server connections that lack it, and the next client of \
this one inherits it",
        event.event,
        event.handler,
        client_phrase(pool, sources),
        feature.describe(),
        event.sql.trim(),
        client.bouncer_phrase(),
        client.mode_phrase(sources),
    );
    let mut d = Diagnostic::new(
        RULE.meta.code,
        RULE.meta.severity,
        event.location.clone(),
        message,
    )
    .with_label("session state does not survive transaction pooling")
    .with_help(feature.help())
    .with_related(client.mode_location(), client.mode_label());
    d = d.with_related(
        pool.location.clone(),
        format!("`{}` is created here", pool.name),
    );
    d
}

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: poolcheck_core::Code::PC209,
        name: "session-state-through-transaction-pooler",
        severity: Severity::Warning,
        summary: "Code that relies on session state reaches PgBouncer transaction pooling.",
        fix: FixAvailability::None,
        what_it_does: "Reads the SQL run by SQLAlchemy `connect`/`checkout` event handlers (and \
Django `connection_created` handlers) of clients that reach a PgBouncer database in \
`transaction` or `statement` pooling, and reports session features: `SET` (not `SET LOCAL`, \
and not a parameter PgBouncer tracks such as `timezone` or `application_name`), `LISTEN`, \
session-level advisory locks (`pg_advisory_lock(`, not `pg_advisory_xact_lock(`), and \
SQL-level `PREPARE`.",
        why: "A connect handler runs once, on the server connection the client had at that \
moment. In transaction pooling later transactions run on whichever server connection is free: \
the `search_path` or `statement_timeout` set in the handler is missing there, and it leaks to \
other clients that get this one. LISTEN notifications, advisory locks and SQL prepared \
statements are lost or held by the wrong client in the same way. PgBouncer's feature table \
marks these as unavailable in transaction pooling; `server_reset_query` is not run there \
either.",
        example: "```python\n@event.listens_for(engine, \"connect\")\ndef set_search_path(dbapi_connection, connection_record):\n    cursor = dbapi_connection.cursor()\n    cursor.execute(\"SET search_path TO tenant, public\")\n    cursor.close()\n```",
        fix_text: "Use `SET LOCAL` inside each transaction (or the `begin` event), \
`pg_advisory_xact_lock()`, server-side defaults (`ALTER ROLE … SET search_path = …`), \
`track_extra_parameters` for parameters PostgreSQL reports, or a direct / session-mode \
connection for LISTEN and session locks.",
        references: &[
            "PgBouncer features by pooling mode: <https://www.pgbouncer.org/features.html>",
            "PgBouncer `server_reset_query` (not used in transaction pooling): <https://www.pgbouncer.org/config.html#server_reset_query>",
            "sqlalchemy/sqlalchemy#6467: <https://github.com/sqlalchemy/sqlalchemy/issues/6467>",
        ],
    },
    check: Some(check),
};

#[cfg(test)]
mod tests {
    use poolcheck_core::facts::pgbouncer::PgBouncerConfig;
    use poolcheck_core::{FilePath, Location, Span};

    use super::*;

    fn features(sql: &str) -> Vec<SessionFeature> {
        let config = PgBouncerConfig {
            name: "pgbouncer.ini".to_owned(),
            location: Location::new(FilePath::new("pgbouncer.ini"), Span::empty(0)),
            settings: std::collections::BTreeMap::new(),
            databases: Vec::new(),
            users: Vec::new(),
            version: None,
            instances: None,
            host_aliases: Vec::new(),
        };
        session_features(sql, PgBouncerView::new(&config))
    }

    #[test]
    fn session_level_statements_are_found() {
        assert_eq!(
            features("SET search_path TO tenant, public"),
            vec![SessionFeature::Set("search_path".to_owned())]
        );
        assert_eq!(
            features("set session statement_timeout = '5s'"),
            vec![SessionFeature::Set("statement_timeout".to_owned())]
        );
        assert_eq!(features("LISTEN jobs"), vec![SessionFeature::Listen]);
        assert_eq!(
            features("SELECT pg_advisory_lock(42)"),
            vec![SessionFeature::AdvisoryLock]
        );
        assert_eq!(
            features("SELECT pg_try_advisory_lock(1); PREPARE q AS SELECT 1"),
            vec![SessionFeature::AdvisoryLock, SessionFeature::Prepare]
        );
    }

    #[test]
    fn transaction_scoped_and_tracked_statements_are_not() {
        assert!(features("SET LOCAL statement_timeout = '5s'").is_empty());
        assert!(features("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE").is_empty());
        assert!(features("SELECT pg_advisory_xact_lock(42)").is_empty());
        assert!(features("SET TIME ZONE 'UTC'").is_empty());
        assert!(features("SET application_name = 'web'").is_empty());
        assert!(features("SET IntervalStyle = iso_8601").is_empty());
        assert!(features("PREPARE TRANSACTION 'x'").is_empty());
        assert!(features("SELECT 1").is_empty());
    }
}
