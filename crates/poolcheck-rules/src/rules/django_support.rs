//! What the Django rules (PC3) share: the Django aliases each service runs,
//! `CONN_MAX_AGE` worded with its provenance, the `CONN_MAX_AGE = 0` quick
//! fix, how a service serves requests (ASGI, greenlets) and the pool
//! advice that depends on the pinned Django and driver.

use poolcheck_core::facts::DependencyPin;
use poolcheck_core::facts::pool::{ClientPool, DjangoAliasSettings};
use poolcheck_core::facts::process::ServerKind;
use poolcheck_core::{Fix, Location, Origin, Version};
use poolcheck_model::fix_edits as edits;

use super::process_support::{describe_pin, gunicorn_worker_class, pin, provenance};
use crate::context::Context;
use crate::topology::{Service, TargetRef};

/// The release that brought `OPTIONS["pool"]`.
pub const POOL_SINCE: Version = Version::new(5, 1, 0);
/// The release that brought `CONN_HEALTH_CHECKS`.
pub const HEALTH_CHECKS_SINCE: Version = Version::new(4, 1, 0);

/// One Django alias as one service runs it.
pub struct DjangoClient<'a> {
    pub service: &'a Service,
    pub pool: &'a ClientPool,
    pub target: &'a TargetRef,
    pub django: &'a DjangoAliasSettings,
}

/// Every (service, Django alias) pair, services in order.
pub fn django_clients<'a>(ctx: &'a Context<'_>) -> Vec<DjangoClient<'a>> {
    let mut out = Vec::new();
    for service in &ctx.deployment.services {
        for linked in &service.pools {
            if let Some(django) = &linked.pool.settings.django {
                out.push(DjangoClient {
                    service,
                    pool: &linked.pool,
                    target: &linked.target,
                    django,
                });
            }
        }
    }
    out
}

/// `Django database `default` of settings `shop.settings` (shop/settings.py:12)`.
pub fn alias_phrase(ctx: &Context<'_>, client: &DjangoClient<'_>) -> String {
    format!(
        "Django database `{}` of settings `{}` ({})",
        client.django.alias,
        client.django.settings_module,
        ctx.sources.describe(&client.pool.location)
    )
}

/// True when `CONN_MAX_AGE` keeps connections past the request: a positive
/// number of seconds, or `None` (forever). Unknown values are not judged.
pub fn persistent(django: &DjangoAliasSettings) -> bool {
    match django.conn_max_age.value {
        Some(None) => true,
        Some(Some(seconds)) => seconds > 0,
        None => false,
    }
}

/// True when `CONN_MAX_AGE` is known and not exactly 0 (Django's pool
/// refuses anything else, negative values included).
pub fn nonzero_conn_max_age(django: &DjangoAliasSettings) -> bool {
    match django.conn_max_age.value {
        Some(None) => true,
        Some(Some(seconds)) => seconds != 0,
        None => false,
    }
}

/// `` `CONN_MAX_AGE` 600, shop/settings.py:20 `` for use inside
/// parentheses; the location is left out when it is the alias's own line.
pub fn conn_max_age_text(ctx: &Context<'_>, client: &DjangoClient<'_>) -> String {
    let age = &client.django.conn_max_age;
    let shown = match age.value {
        Some(Some(seconds)) => format!("`CONN_MAX_AGE` {seconds}"),
        Some(None) => "`CONN_MAX_AGE` None: never closed for age".to_owned(),
        None => "`CONN_MAX_AGE` unknown".to_owned(),
    };
    let mut parts = vec![shown];
    parts.extend(age.origin_phrase());
    let alias_line = ctx.sources.describe(&client.pool.location);
    if let Some(at) = &age.location {
        let line = ctx.sources.describe(at);
        if line != alias_line {
            parts.push(line);
        }
    }
    parts.join(", ")
}

/// `` `CONN_HEALTH_CHECKS` False, Django default `` for use inside parentheses.
pub fn health_checks_text(ctx: &Context<'_>, django: &DjangoAliasSettings) -> String {
    let checks = &django.conn_health_checks;
    let shown = match checks.value {
        Some(true) => "`CONN_HEALTH_CHECKS` True",
        Some(false) => "`CONN_HEALTH_CHECKS` False",
        None => "`CONN_HEALTH_CHECKS` unknown",
    };
    let notes = provenance(ctx, checks);
    if notes.is_empty() {
        shown.to_owned()
    } else {
        format!("{shown}, {notes}")
    }
}

/// Where `CONN_MAX_AGE` is set, else the alias's dict, else the alias.
pub fn conn_max_age_location(client: &DjangoClient<'_>) -> Location {
    let age = &client.django.conn_max_age;
    age.location
        .clone()
        .filter(|_| !age.is_default())
        .or_else(|| client.django.alias_dict.clone())
        .unwrap_or_else(|| client.pool.location.clone())
}

/// Replaces a literal `CONN_MAX_AGE` value (`600`, `None`, also the
/// `conn_max_age=600` keyword of `dj_database_url.config`) with `0`. `None`
/// when the value comes from the environment, a condition or arithmetic:
/// then the right edit is not certain.
pub fn zero_conn_max_age_fix(ctx: &Context<'_>, django: &DjangoAliasSettings) -> Option<Fix> {
    let age = &django.conn_max_age;
    if age.origin != Origin::Literal {
        return None;
    }
    let location = age.location.as_ref()?;
    let file = ctx.sources.get(&location.file)?;
    let edit = edits::replace_literal(file, location.span, "0")?;
    // Unsafe: every request then opens and closes its own connection, a
    // latency and server-load change the user should choose.
    Some(Fix::unsafe_fix("set `CONN_MAX_AGE` to 0", vec![edit]))
}

/// How a service runs request code concurrently in a way that multiplies
/// per-thread Django connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concurrent {
    /// ASGI: each request's synchronous work runs in a thread of its own.
    Asgi,
    /// gevent/eventlet: each request (or task) runs in a greenlet of its own.
    Greenlets,
}

/// How a service is served, for a message: `service `web` is served by
/// uvicorn (Dockerfile:6) over ASGI`.
pub struct ServedBy {
    pub concurrent: Concurrent,
    pub text: String,
    /// The command or setting that decides it, with a label.
    pub location: Option<Location>,
    pub label: String,
}

/// Whether (and how) a service runs Django over ASGI or in greenlets.
/// `asgi_application` only speaks when no server command was found at all.
pub fn served_by(
    ctx: &Context<'_>,
    service: &Service,
    django: &DjangoAliasSettings,
) -> Option<ServedBy> {
    let sources = ctx.sources;
    let at = |location: &Option<Location>| {
        location
            .as_ref()
            .map_or_else(String::new, |l| sources.describe(l))
    };
    let name = &service.name;
    let class = service.settings.worker_class.as_ref();
    let class_text = class.and_then(|c| c.value.as_deref()).unwrap_or_default();
    let class_lower = class_text.to_ascii_lowercase();
    let class_location = class
        .and_then(|c| c.location.clone())
        .or_else(|| service.location.clone());
    let class_provenance = class.map_or_else(String::new, |c| provenance(ctx, c));
    let app = service.settings.app.as_ref();
    let app_text = app.and_then(|a| a.value.as_deref()).unwrap_or_default();
    let app_location = app
        .and_then(|a| a.location.clone())
        .or_else(|| service.location.clone());

    let Some(kind) = service.server else {
        // No server command anywhere: the settings' ASGI_APPLICATION is the
        // only word on how the project is served.
        let asgi_app = django.asgi_application.as_ref()?;
        if !ctx.deployment.implicit_service {
            return None;
        }
        let value = asgi_app.value.as_deref()?;
        return Some(ServedBy {
            concurrent: Concurrent::Asgi,
            text: format!(
                "Django is taken to be served over ASGI (no server command was found, and the settings name an ASGI application: `ASGI_APPLICATION = \"{value}\"`{})",
                asgi_app
                    .location
                    .as_ref()
                    .map_or_else(String::new, |l| format!(", {}", sources.describe(l)))
            ),
            location: asgi_app.location.clone(),
            label: "served over ASGI".to_owned(),
        });
    };

    if let Some(short) = gunicorn_worker_class(service) {
        if short.contains("uvicorn") || short.contains("asgi") {
            return Some(ServedBy {
                concurrent: Concurrent::Asgi,
                text: format!(
                    "service `{name}` is served by gunicorn with the ASGI worker `{class_text}`{}",
                    parenthesised(&class_provenance)
                ),
                location: class_location,
                label: format!("gunicorn runs the ASGI worker `{class_text}`"),
            });
        }
        if short == "gevent" || short == "eventlet" {
            return Some(ServedBy {
                concurrent: Concurrent::Greenlets,
                text: format!(
                    "service `{name}` runs gunicorn's `{short}` workers{}",
                    parenthesised(&class_provenance)
                ),
                location: class_location,
                label: format!("{short} workers: one greenlet per request"),
            });
        }
        if service.asgi {
            return Some(ServedBy {
                concurrent: Concurrent::Asgi,
                text: format!(
                    "service `{name}` is served by gunicorn with the ASGI application `{app_text}` ({})",
                    at(&app_location)
                ),
                location: app_location,
                label: format!("gunicorn serves the ASGI application `{app_text}`"),
            });
        }
        return None;
    }

    match kind {
        ServerKind::Celery if class_lower == "gevent" || class_lower == "eventlet" => {
            Some(ServedBy {
                concurrent: Concurrent::Greenlets,
                text: format!(
                    "service `{name}` runs celery's `{class_lower}` pool{}",
                    parenthesised(&class_provenance)
                ),
                location: class_location,
                label: format!("celery {class_lower} pool: one greenlet per task"),
            })
        }
        ServerKind::Granian if service.asgi => {
            let how = if class_text.is_empty() {
                format!("the ASGI application `{app_text}`")
            } else {
                format!("`--interface {class_text}`")
            };
            let location = if class_text.is_empty() {
                app_location
            } else {
                class_location
            };
            Some(ServedBy {
                concurrent: Concurrent::Asgi,
                text: format!(
                    "service `{name}` is served by granian with {how} ({}) over ASGI",
                    at(&location)
                ),
                location,
                label: "served over ASGI".to_owned(),
            })
        }
        ServerKind::Uvicorn | ServerKind::Daphne | ServerKind::Hypercorn if service.asgi => {
            Some(ServedBy {
                concurrent: Concurrent::Asgi,
                text: format!(
                    "service `{name}` is served by {} ({}) over ASGI",
                    kind.as_str(),
                    at(&service.location)
                ),
                location: service.location.clone(),
                label: format!("{} serves Django over ASGI", kind.as_str()),
            })
        }
        _ => None,
    }
}

fn parenthesised(notes: &str) -> String {
    if notes.is_empty() {
        String::new()
    } else {
        format!(" ({notes})")
    }
}

/// `` `web` (gunicorn, Procfile:1) ``: a service and where it is started.
pub fn service_phrase(ctx: &Context<'_>, service: &Service) -> String {
    match (service.server, &service.location) {
        (Some(kind), Some(location)) => format!(
            "`{}` ({}, {})",
            service.name,
            kind.as_str(),
            ctx.sources.describe(location)
        ),
        _ => format!("`{}`", service.name),
    }
}

/// The pinned Django when its version is known.
pub fn django_version<'a>(ctx: &'a Context<'_>) -> Option<(Version, &'a DependencyPin)> {
    let pin = pin(ctx, "django")?;
    Some((pin.version?, pin))
}

/// psycopg 3 is a dependency (`psycopg`, `psycopg[binary]`, `psycopg-binary`, `psycopg-c`).
pub fn has_psycopg3(ctx: &Context<'_>) -> bool {
    ["psycopg", "psycopg-binary", "psycopg-c"]
        .iter()
        .any(|p| pin(ctx, p).is_some())
}

/// The psycopg2 pin when psycopg2 is a dependency and psycopg 3 is not:
/// Django then runs on psycopg2.
pub fn psycopg2_only<'a>(ctx: &'a Context<'_>) -> Option<&'a DependencyPin> {
    if has_psycopg3(ctx) {
        return None;
    }
    pin(ctx, "psycopg2").or_else(|| pin(ctx, "psycopg2-binary"))
}

/// How to reuse connections instead of persistent ones, for the pins at hand:
/// Django's pool needs Django ≥ 5.1 and psycopg 3.
pub fn pooling_advice(ctx: &Context<'_>) -> String {
    let django_old = django_version(ctx).filter(|(v, _)| *v < POOL_SINCE);
    let psycopg2 = psycopg2_only(ctx);
    match (django_old, psycopg2) {
        (Some((v, pin)), _) => format!(
            "put PgBouncer in front (Django's own pool, `OPTIONS[\"pool\"]`, needs Django ≥ 5.1; this project pins {v}: {})",
            describe_pin(ctx, pin)
        ),
        (None, Some(pin)) => format!(
            "put PgBouncer in front, or move to psycopg 3 (`psycopg[binary,pool]`, the project depends on psycopg2: {}) and use `OPTIONS[\"pool\"]` (Django ≥ 5.1)",
            describe_pin(ctx, pin)
        ),
        (None, None) => {
            "use Django's pool, `OPTIONS[\"pool\"]` (Django ≥ 5.1 with psycopg 3), or PgBouncer"
                .to_owned()
        }
    }
}

#[cfg(test)]
pub mod testing {
    /// A message with the temporary project directory taken out of its
    /// paths (`/tmp/.tmpAbC123/shop/settings.py:2` → `shop/settings.py:2`).
    pub fn relative(message: &str) -> String {
        let marker = format!("{}/.tmp", std::env::temp_dir().display());
        let mut out = String::new();
        let mut rest = message;
        while let Some(at) = rest.find(&marker) {
            out.push_str(&rest[..at]);
            let after = &rest[at + marker.len()..];
            rest = after.find('/').map_or(after, |slash| &after[slash + 1..]);
        }
        out.push_str(rest);
        out
    }
}
