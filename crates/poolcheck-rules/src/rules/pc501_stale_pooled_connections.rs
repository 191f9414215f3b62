use poolcheck_core::facts::pool::{ClientPool, DjangoAliasSettings, PoolKind};
use poolcheck_core::{Diagnostic, Fix, Location, Origin, Severity, Sourced};
use poolcheck_model::facts::PgBouncerView;
use poolcheck_model::fix_edits as edits;

use super::process_support::{describe_pool, distinct_pools, provenance, seconds, text_at};
use crate::context::Context;
use crate::registry::{FixAvailability, Rule, RuleMeta};
use crate::topology::{LinkedPool, TargetRef};

/// PostgreSQL's own message when `idle_session_timeout` ends a session.
const IDLE_SESSION_ERROR: &str = "terminating connection due to idle-session timeout";
/// What a client sees when something else closed its idle connection.
const CLOSED_ERROR: &str = "server closed the connection unexpectedly";

/// A server-side limit on how long a client connection may stay idle.
struct IdleTimeout {
    seconds: f64,
    /// `PostgreSQL idle_session_timeout 60 s (postgresql.conf:4)`.
    description: String,
    location: Option<Location>,
    error: &'static str,
}

/// Why a client keeps idle connections past the timeout without checking them.
struct IdleHold {
    /// `pool_pre_ping false (SQLAlchemy default) and pool_recycle -1 …`.
    description: String,
    /// The setting to change.
    primary: Location,
    help: String,
    fix: Option<Fix>,
}

fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    for (service, linked) in distinct_pools(ctx) {
        let Some(timeout) = shortest_idle_timeout(ctx, linked) else {
            continue;
        };
        let Some(hold) = idle_hold(ctx, &linked.pool, timeout.seconds) else {
            continue;
        };
        let message = format!(
            "{} keeps idle connections past the {} ({}), with no liveness check: {}; the first query on a connection closed on the other side fails with `{}`",
            describe_pool(ctx, &linked.pool),
            timeout.description,
            timeout_clause(&timeout),
            hold.description,
            timeout.error,
        );
        let mut d = Diagnostic::new(RULE.meta.code, RULE.meta.severity, hold.primary, message)
            .with_label(format!(
                "idle connections outlive the {} s idle timeout",
                seconds(timeout.seconds)
            ))
            .with_help(hold.help);
        if let Some(loc) = &timeout.location {
            d = d.with_related(
                loc.clone(),
                format!(
                    "idle connections are closed after {} s",
                    seconds(timeout.seconds)
                ),
            );
        }
        if service.pools.len() > 1 || ctx.deployment.services.len() > 1 {
            d = d.with_related(
                linked.pool.location.clone(),
                format!("used by service `{}`", service.name),
            );
        }
        if let Some(fix) = hold.fix {
            d = d.with_fix(fix);
        }
        out.push(d);
    }
}

fn timeout_clause(timeout: &IdleTimeout) -> String {
    format!("{} s", seconds(timeout.seconds))
}

/// The smallest idle timeout between this client and its database.
fn shortest_idle_timeout(ctx: &Context<'_>, linked: &LinkedPool) -> Option<IdleTimeout> {
    let mut found: Vec<IdleTimeout> = Vec::new();
    match &linked.target {
        TargetRef::Server(index) => {
            let server = ctx.deployment.servers.get(*index)?;
            if let Some(ms) = &server.idle_session_timeout_ms
                && let Some(v) = ms.value.filter(|v| *v > 0)
            {
                found.push(IdleTimeout {
                    seconds: v as f64 / 1000.0,
                    description: format!(
                        "PostgreSQL `idle_session_timeout` of server `{}`",
                        server.name
                    ),
                    location: ms.location.clone(),
                    error: IDLE_SESSION_ERROR,
                });
            }
            if let Some(declared) = &server.declared_idle_timeout_s
                && let Some(v) = declared.value.filter(|v| *v > 0.0)
            {
                found.push(IdleTimeout {
                    seconds: v,
                    description: "declared idle timeout (`[database] idle_timeout`) of a proxy or load balancer in front of the database".to_owned(),
                    location: declared.location.clone(),
                    error: CLOSED_ERROR,
                });
            }
        }
        TargetRef::PgBouncer { index, .. } => {
            let bouncer = ctx.deployment.pgbouncers.get(*index)?;
            let client_idle = PgBouncerView::new(&bouncer.config).client_idle_timeout();
            if let Some(v) = client_idle.value.filter(|v| *v > 0.0) {
                found.push(IdleTimeout {
                    seconds: v,
                    description: format!(
                        "PgBouncer `client_idle_timeout` of `{}`",
                        bouncer.config.name
                    ),
                    location: client_idle.location.clone(),
                    error: CLOSED_ERROR,
                });
            }
        }
    }
    found
        .into_iter()
        .min_by(|a, b| a.seconds.total_cmp(&b.seconds))
}

fn idle_hold(ctx: &Context<'_>, pool: &ClientPool, timeout: f64) -> Option<IdleHold> {
    match pool.kind {
        PoolKind::SqlAlchemy => sqlalchemy_hold(ctx, pool, timeout),
        PoolKind::PsycopgPool | PoolKind::DjangoPool => psycopg_pool_hold(ctx, pool, timeout),
        PoolKind::DjangoAlias => django_hold(ctx, pool, timeout),
        // asyncpg and psycopg2 pools have no liveness setting to recommend.
        PoolKind::AsyncpgPool | PoolKind::Psycopg2Pool => None,
    }
}

/// Django keeps a connection per thread for `CONN_MAX_AGE` seconds (`None`:
/// forever) and checks it before reuse only with `CONN_HEALTH_CHECKS`.
/// Returns whether the alias outlives `timeout` unchecked.
fn django_outlives(django: &DjangoAliasSettings, timeout: f64) -> bool {
    let kept_long_enough = match django.conn_max_age.value {
        Some(None) => true,
        Some(Some(age)) => age > 0 && age as f64 >= timeout,
        None => false,
    };
    kept_long_enough && django.conn_health_checks.value == Some(false)
}

fn django_hold(ctx: &Context<'_>, pool: &ClientPool, timeout: f64) -> Option<IdleHold> {
    let django = pool.settings.django.as_ref()?;
    if !django_outlives(django, timeout) {
        return None;
    }
    let age = &django.conn_max_age;
    let age_text = match age.value {
        Some(Some(seconds_kept)) => format!("`CONN_MAX_AGE` is {seconds_kept} s"),
        _ => "`CONN_MAX_AGE` is None (connections are never closed for age)".to_owned(),
    };
    let checks = &django.conn_health_checks;
    let with_provenance = |text: String, provenance_text: String| {
        if provenance_text.is_empty() {
            text
        } else {
            format!("{text} ({provenance_text})")
        }
    };
    let primary = age
        .location
        .clone()
        .filter(|_| !age.is_default())
        .or_else(|| django.alias_dict.clone())
        .unwrap_or_else(|| pool.location.clone());
    Some(IdleHold {
        description: format!(
            "{} and {}",
            with_provenance(age_text, provenance(ctx, age)),
            with_provenance(
                "`CONN_HEALTH_CHECKS` is off".to_owned(),
                provenance(ctx, checks)
            ),
        ),
        primary,
        help: format!(
            "set `\"CONN_HEALTH_CHECKS\": True` (Django ≥ 4.1) and `CONN_MAX_AGE` below {} s",
            seconds(timeout)
        ),
        fix: None,
    })
}

fn sqlalchemy_hold(ctx: &Context<'_>, pool: &ClientPool, timeout: f64) -> Option<IdleHold> {
    let settings = &pool.settings;
    let class = settings
        .pool_class
        .as_ref()
        .and_then(|c| c.value.as_deref());
    // NullPool closes every connection on check-in: nothing stays idle.
    if class.is_none_or(|c| c == "NullPool") {
        return None;
    }
    let pre_ping = settings.pool_pre_ping.as_ref()?;
    if pre_ping.value != Some(false) {
        return None;
    }
    let recycle = settings.pool_recycle.as_ref()?;
    let recycle_s = recycle.value?;
    if recycle_s >= 0 && (recycle_s as f64) < timeout {
        return None;
    }
    let with_provenance = |text: String, provenance_text: String| {
        if provenance_text.is_empty() {
            text
        } else {
            format!("{text} ({provenance_text})")
        }
    };
    let recycle_text = if recycle_s < 0 {
        format!("`pool_recycle` is {recycle_s}, which never recycles")
    } else {
        format!("`pool_recycle` is {recycle_s} s")
    };
    let description = format!(
        "{} and {}",
        with_provenance(
            "`pool_pre_ping` is off".to_owned(),
            provenance(ctx, pre_ping)
        ),
        with_provenance(recycle_text, provenance(ctx, recycle)),
    );
    let primary = pre_ping
        .location
        .clone()
        .filter(|_| !pre_ping.is_default())
        .unwrap_or_else(|| pool.location.clone());
    Some(IdleHold {
        description,
        primary,
        help: format!(
            "set `pool_pre_ping=True` (a cheap check at checkout that replaces dropped connections), and/or `pool_recycle` below {} s",
            seconds(timeout)
        ),
        fix: pre_ping_fix(ctx, pool, pre_ping),
    })
}

fn psycopg_pool_hold(ctx: &Context<'_>, pool: &ClientPool, timeout: f64) -> Option<IdleHold> {
    let settings = &pool.settings;
    // Django wires `check=ConnectionPool.check_connection` for CONN_HEALTH_CHECKS.
    let django_checks = settings
        .django
        .as_ref()
        .is_some_and(|d| d.conn_health_checks.value == Some(true));
    if settings.check.is_some() || django_checks {
        return None;
    }
    let default_max_idle = Sourced::tool_default(600.0, "psycopg_pool");
    let max_idle = settings.max_idle.as_ref().unwrap_or(&default_max_idle);
    let max_idle_s = max_idle.value?;
    if max_idle_s < timeout {
        return None;
    }
    let primary = max_idle
        .location
        .clone()
        .filter(|_| !max_idle.is_default())
        .unwrap_or_else(|| pool.location.clone());
    let check_hint = if pool.kind == PoolKind::DjangoPool {
        "set `CONN_HEALTH_CHECKS = True` (Django passes `check=ConnectionPool.check_connection`)"
    } else {
        "pass `check=ConnectionPool.check_connection`"
    };
    Some(IdleHold {
        description: {
            let provenance_text = provenance(ctx, max_idle);
            let max_idle_text = format!("`max_idle` is {} s", seconds(max_idle_s));
            if provenance_text.is_empty() {
                format!("no `check` is set and {max_idle_text}")
            } else {
                format!("no `check` is set and {max_idle_text} ({provenance_text})")
            }
        },
        primary,
        help: format!(
            "{check_hint}, and/or set `max_idle` below {} s",
            seconds(timeout)
        ),
        fix: None,
    })
}

/// `pool_pre_ping=False` → `True` where written; otherwise a keyword added
/// at the end of the constructor's arguments when that is unambiguous.
fn pre_ping_fix(ctx: &Context<'_>, pool: &ClientPool, pre_ping: &Sourced<bool>) -> Option<Fix> {
    // Safe: a liveness check on checkout costs a round trip and replaces a
    // dead connection before the application sees it; no query changes.
    let title = "Set `pool_pre_ping=True`";
    if pre_ping.origin == Origin::Literal {
        let location = pre_ping.location.as_ref()?;
        if text_at(ctx, location)? != "False" {
            return None;
        }
        let file = ctx.sources.get(&location.file)?;
        let edit = edits::replace_literal(file, location.span, "True")?;
        return Some(Fix::safe(title, vec![edit]));
    }
    if !pre_ping.is_default() {
        return None;
    }
    let arguments = pool.settings.arguments_location.as_ref()?;
    let file = ctx.sources.get(&arguments.file)?;
    let edit = edits::add_keyword_argument(file, arguments.span, "pool_pre_ping", "True")?;
    Some(Fix::safe(title, vec![edit]))
}

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: poolcheck_core::Code::PC501,
        name: "stale-pooled-connections",
        severity: Severity::Warning,
        summary: "A pool keeps idle connections longer than a server-side idle timeout, with no liveness check.",
        fix: FixAvailability::Sometimes,
        what_it_does: "Finds the idle timeouts between each client and its database — PostgreSQL \
`idle_session_timeout` for direct clients, PgBouncer `client_idle_timeout` for clients of that \
PgBouncer, an `idle_timeout` declared under `[database]` for a proxy or load balancer — and \
reports a pool that keeps idle connections at least that long without checking them: \
SQLAlchemy with `pool_pre_ping` false and `pool_recycle` −1 (never) or ≥ the timeout; \
psycopg_pool (and Django's pool) without `check` and `max_idle` ≥ the timeout; a Django \
database with `CONN_MAX_AGE` None or ≥ the timeout and `CONN_HEALTH_CHECKS` off. NullPool keeps \
nothing idle and is not reported. The fix sets `pool_pre_ping=True` on SQLAlchemy engines \
where the call can take it.",
        why: "The server (or the pooler, or a proxy) closes connections that stayed idle too \
long, but the pool still holds them as if they were alive. The next request that checks one out \
fails: `FATAL: terminating connection due to idle-session timeout` (SQLSTATE 57P05), \
`server closed the connection unexpectedly`, `SSL SYSCALL error: EOF detected`, asyncpg's \
`connection was closed in the middle of operation`, then SQLAlchemy's `PendingRollbackError`. \
It is typically the first request after a quiet period, which makes it look random. \
PostgreSQL's documentation itself warns: \"Be wary of enforcing this timeout on connections made \
through connection-pooling software or other middleware, as such a layer may not react well to \
unexpected connection closure.\"",
        example: "```ini\n# postgresql.conf\nidle_session_timeout = '5min'\n```\n\n\
```python\n# app/db.py\nengine = create_engine(DATABASE_URL, pool_size=40, max_overflow=10)\n```",
        fix_text: "Check connections before use, or retire them before the server does:\n\n\
- SQLAlchemy: `pool_pre_ping=True`, and/or `pool_recycle` below the smallest idle timeout \
(recycling is checked only at checkout); `pool_use_lifo=True` with pre-ping lets idle \
connections expire.\n\
- psycopg_pool: `check=ConnectionPool.check_connection`, or `max_idle` below the timeout.\n\
- Django: `CONN_MAX_AGE` below the timeout and `CONN_HEALTH_CHECKS = True` (Django docs: \"If \
your database terminates idle connections after some time, you should set CONN_MAX_AGE to a \
lower value\").\n\
- PgBouncer: its docs say `client_idle_timeout` \"should be larger than the client-side \
connection lifetime settings\".",
        references: &[
            "PostgreSQL `idle_session_timeout`: <https://www.postgresql.org/docs/current/runtime-config-client.html#GUC-IDLE-SESSION-TIMEOUT>",
            "SQLAlchemy pooling, \"Dealing with Disconnects\" (pre-ping, recycle, LIFO): <https://docs.sqlalchemy.org/en/20/core/pooling.html#dealing-with-disconnects>",
            "psycopg pool \"Connection quality\": <https://www.psycopg.org/psycopg3/docs/advanced/pool.html#connection-quality>",
            "Django persistent connections and health checks: <https://docs.djangoproject.com/en/6.0/ref/databases/#persistent-connections>",
            "PgBouncer `client_idle_timeout`: <https://www.pgbouncer.org/config.html#client_idle_timeout>",
            "onyx-dot-app/onyx#1746: <https://github.com/onyx-dot-app/onyx/pull/1746>",
            "Reproduced against PostgreSQL 15 by `verify/scenarios/PC501-idle-session-timeout-without-pre-ping` (`verify/run PC501`)",
        ],
    },
    check: Some(check),
};

#[cfg(test)]
mod tests {
    use super::super::process_support::testing::Project;

    const CONF: &str = "max_connections = 200\nidle_session_timeout = '5min'\n";

    fn engine(args: &str) -> String {
        format!(
            "from sqlalchemy import create_engine\n\nengine = create_engine(\"postgresql+psycopg2://app@db:5432/app?connect_timeout=5\"{args})\n"
        )
    }

    #[test]
    fn defaults_fire_and_the_fix_appends_pre_ping() {
        let db = engine(", pool_size=10");
        let project = Project::new(&[("postgresql.conf", CONF), ("app/db.py", &db)]);
        let found = project.findings("PC501");
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].message.contains("300 s"), "{}", found[0].message);
        assert!(
            found[0]
                .message
                .contains("terminating connection due to idle-session timeout")
        );
        let fix = found[0].fix.as_ref().expect("a fix");
        let edit = &fix.edits[0];
        assert_eq!(edit.new_text, ", pool_pre_ping=True");
        let at = edit.location.span.start as usize;
        assert!(edit.location.span.is_empty());
        assert_eq!(&db[at - 12..=at], "pool_size=10)");
        project.apply(fix);
        assert!(project.findings("PC501").is_empty());
    }

    #[test]
    fn a_trailing_comma_keeps_its_place_and_the_layout_one_per_line() {
        let db = "from sqlalchemy import create_engine\n\nengine = create_engine(\n    \"postgresql+psycopg2://app@db:5432/app?connect_timeout=5\",\n    pool_size=10,\n)\n";
        let project = Project::new(&[("postgresql.conf", CONF), ("app/db.py", db)]);
        let found = project.findings("PC501");
        let fix = found[0].fix.as_ref().expect("a fix");
        assert_eq!(fix.edits[0].new_text, "\n    pool_pre_ping=True,");
        project.apply(fix);
        let fixed = std::fs::read_to_string(project.on_disk(&fix.edits[0].location.file)).unwrap();
        assert!(
            fixed.contains("    pool_size=10,\n    pool_pre_ping=True,\n)"),
            "{fixed}"
        );
        assert!(project.findings("PC501").is_empty());
    }

    #[test]
    fn a_literal_false_is_replaced() {
        let db = engine(", pool_pre_ping=False");
        let project = Project::new(&[("postgresql.conf", CONF), ("app/db.py", &db)]);
        let found = project.findings("PC501");
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(project.primary_text(&found[0]), "False");
        let fix = found[0].fix.as_ref().expect("a fix");
        assert_eq!(fix.edits[0].new_text, "True");
        project.apply(fix);
        assert!(project.findings("PC501").is_empty());
    }

    #[test]
    fn recycling_before_the_timeout_or_pre_ping_is_enough() {
        for args in [
            ", pool_recycle=240",
            ", pool_pre_ping=True",
            ", poolclass=NullPool",
        ] {
            let db = engine(args).replace(
                "import create_engine",
                "import create_engine\nfrom sqlalchemy.pool import NullPool",
            );
            let project = Project::new(&[("postgresql.conf", CONF), ("app/db.py", &db)]);
            assert!(project.findings("PC501").is_empty(), "{args}");
        }
    }

    #[test]
    fn django_keeps_unchecked_connections_for_conn_max_age() {
        use poolcheck_core::Sourced;
        use poolcheck_core::facts::pool::DjangoAliasSettings;

        let alias = |age: Option<i64>, checks: bool| DjangoAliasSettings {
            alias: "default".into(),
            settings_module: "shop.settings".into(),
            selected_by: None,
            configurations: 1,
            engine: Sourced::tool_default("django.db.backends.postgresql".into(), "test"),
            conn_max_age: Sourced::tool_default(age, "test"),
            conn_health_checks: Sourced::tool_default(checks, "test"),
            disable_server_side_cursors: Sourced::tool_default(false, "test"),
            atomic_requests: Sourced::tool_default(false, "test"),
            pool: None,
            server_side_binding: Sourced::tool_default(false, "test"),
            sslmode: None,
            asgi_application: None,
            alias_dict: None,
            options_dict: None,
        };
        // CONN_MAX_AGE = None keeps connections forever.
        assert!(super::django_outlives(&alias(None, false), 300.0));
        assert!(super::django_outlives(&alias(Some(600), false), 300.0));
        assert!(super::django_outlives(&alias(Some(300), false), 300.0));
        // Shorter than the timeout, per-request connections, or checked: fine.
        assert!(!super::django_outlives(&alias(Some(60), false), 300.0));
        assert!(!super::django_outlives(&alias(Some(0), false), 300.0));
        assert!(!super::django_outlives(&alias(None, true), 300.0));
    }

    #[test]
    fn no_server_timeout_no_finding() {
        let db = engine("");
        let project = Project::new(&[
            ("postgresql.conf", "max_connections = 200\n"),
            ("app/db.py", &db),
        ]);
        assert!(project.findings("PC501").is_empty());
    }
}
