use poolcheck_core::facts::process::ServerKind;
use poolcheck_core::{Diagnostic, Location, Related, Severity, Sourced};

use super::django_support::{
    Concurrent, alias_phrase, conn_max_age_location, conn_max_age_text, django_clients, persistent,
    pooling_advice, served_by, zero_conn_max_age_fix,
};
use crate::context::Context;
use crate::registry::{FixAvailability, Rule, RuleMeta};
use crate::topology::TargetRef;

/// One alias with one `CONN_MAX_AGE`: reported once, whichever services run it.
type AliasKey = (Location, String, String, Sourced<Option<i64>>);

fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let first = out.len();
    let mut reported: Vec<(AliasKey, usize)> = Vec::new();
    for client in django_clients(ctx) {
        let django = client.django;
        // With `OPTIONS["pool"]` Django refuses any non-zero CONN_MAX_AGE
        // before a connection exists: PC302 reports that.
        if django.pool.is_some() || !persistent(django) {
            continue;
        }
        let Some(served) = served_by(ctx, client.service, django) else {
            continue;
        };
        let key: AliasKey = (
            client.pool.location.clone(),
            django.alias.clone(),
            django.settings_module.clone(),
            django.conn_max_age.clone(),
        );
        if let Some((_, index)) = reported.iter().find(|(k, _)| *k == key) {
            if let (Some(location), Some(d)) = (served.location, out.get_mut(first + index)) {
                d.related.push(Related {
                    location,
                    message: format!("also: {}", served.label),
                });
            }
            continue;
        }
        let work = if client.service.server == Some(ServerKind::Celery) {
            "task"
        } else {
            "request"
        };
        let bouncer = match client.target {
            TargetRef::PgBouncer { index, database } => ctx
                .deployment
                .pgbouncers
                .get(*index)
                .map(|b| (b.config.name.clone(), database.clone())),
            TargetRef::Server(_) => None,
        };
        let refusal = match &bouncer {
            Some((name, database)) => format!(
                "PgBouncer `{name}` (database `{database}`) refuses new clients (`no more connections allowed (max_client_conn)`)"
            ),
            None => "PostgreSQL refuses new clients (`FATAL: sorry, too many clients already`)"
                .to_owned(),
        };
        let consequence = match served.concurrent {
            Concurrent::Asgi => format!(
                "under ASGI each {work} runs its database work in a thread of its own, so no later {work} reuses that connection: they pile up, one per {work} thread, until {refusal}"
            ),
            Concurrent::Greenlets => format!(
                "each {work} runs in a greenlet of its own that opens its own connection, so no later {work} reuses it: they pile up with the number of greenlets until {refusal}"
            ),
        };
        let reuse = if bouncer.is_some() {
            "PgBouncer already pools the server connections, and a client connection to it is cheap to open per request".to_owned()
        } else {
            format!("to reuse connections, {}", pooling_advice(ctx))
        };
        let message = format!(
            "{} keeps each connection open for reuse ({}) and {}: {consequence}",
            alias_phrase(ctx, &client),
            conn_max_age_text(ctx, &client),
            served.text,
        );
        let label = match served.concurrent {
            Concurrent::Asgi => "persistent connections under ASGI",
            Concurrent::Greenlets => "persistent connections under greenlets",
        };
        let mut d = Diagnostic::new(
            RULE.meta.code,
            RULE.meta.severity,
            conn_max_age_location(&client),
            message,
        )
        .with_label(label)
        .with_help(format!(
            "set `CONN_MAX_AGE` to 0 (Django's default: each {work} closes its connection); {reuse}"
        ));
        if let Some(location) = served.location {
            d = d.with_related(location, served.label);
        }
        if let Some(fix) = zero_conn_max_age_fix(ctx, django) {
            d = d.with_fix(fix);
        }
        reported.push((key, reported.len()));
        out.push(d);
    }
}

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: poolcheck_core::Code::PC301,
        name: "django-persistent-connections-asgi",
        severity: Severity::Error,
        summary: "A Django database keeps persistent connections (`CONN_MAX_AGE` ≠ 0) while Django is served over ASGI or by gevent/eventlet workers.",
        fix: FixAvailability::Sometimes,
        what_it_does: "Reports a Django `DATABASES` alias whose `CONN_MAX_AGE` is not 0 — a number of \
seconds, or `None` for unlimited, including `conn_max_age=…` given to `dj_database_url.config()` \
— when a service runs that Django project over ASGI (uvicorn, daphne, hypercorn, granian with an \
ASGI interface, gunicorn with a uvicorn worker, or a gunicorn `*.asgi:application` target), or \
with gevent/eventlet concurrency (gunicorn `gevent`/`eventlet` workers, a celery `gevent`/`eventlet` \
pool). When no server command is found at all, an `ASGI_APPLICATION` setting counts as ASGI. \
Aliases with `OPTIONS[\"pool\"]` are left to PC302, since Django refuses that combination \
outright. The quick fix replaces a literal `CONN_MAX_AGE` value with `0`.",
        why: "Django keeps one connection per thread and closes it at the end of a request only when \
it is older than `CONN_MAX_AGE`. Under ASGI, Django runs each request's synchronous code (the \
ORM) in a thread of its own (asgiref's per-request thread-sensitive context, Django ticket \
#32889); with gevent or eventlet each request runs in its own greenlet. A persistent connection \
is then never reused by a later request: one connection stays open per request thread until the \
server's limit is reached, and new connections fail with `FATAL: sorry, too many clients \
already`. One measured reproduction: 100 requests leaked 40 connections with `CONN_MAX_AGE=60`, \
none with the default 0. Django's documentation: \"When using ASGI, persistent connections should \
be disabled. Instead, use your database backend's built-in connection pooling if available, or \
investigate a third-party connection pooling option if required.\"",
        example: "```python\n# shop/settings.py\nDATABASES = {\n    \"default\": {\n        \"ENGINE\": \"django.db.backends.postgresql\",\n        \"HOST\": \"db\",\n        \"NAME\": \"shop\",\n        \"CONN_MAX_AGE\": 600,\n    }\n}\n```\n\n\
```dockerfile\nCMD [\"uvicorn\", \"shop.asgi:application\", \"--host=0.0.0.0\", \"--workers=2\"]\n```",
        fix_text: "Set `CONN_MAX_AGE` to 0 (Django's default), so each request closes its \
connection. To reuse connections, use Django's connection pool, `OPTIONS[\"pool\"]` (Django ≥ 5.1 \
with psycopg 3; its `max_size` then bounds each process), or put PgBouncer in front of the \
database.",
        references: &[
            "Reproduced against PostgreSQL 15 with Django under uvicorn by `verify/scenarios/PC301-django-persistent-connections-under-uvicorn` (`verify/run PC301`)",
            "Django databases documentation, persistent connections (\"When using ASGI, persistent connections should be disabled\"): <https://docs.djangoproject.com/en/stable/ref/databases/#persistent-connections>",
            "Django documentation commit 8713e4ae (backported to 5.1.x): <https://github.com/django/django/pull/19266>",
            "Django ticket #33497, \"Database persistent connections do not work with ASGI in 4.0\": <https://code.djangoproject.com/ticket/33497>",
            "Django ticket #35059, \"ASGI server leaves stale DB connections\": <https://code.djangoproject.com/ticket/35059>",
            "gyrinx-app/gyrinx#2083: <https://github.com/gyrinx-app/gyrinx/pull/2083>",
            "gunicorn gevent workers with persistent Django connections, benoitc/gunicorn#996: <https://github.com/benoitc/gunicorn/issues/996>",
            "cityofaustin/joplin#529 (pull request): <https://github.com/cityofaustin/joplin/pull/529>",
            "altairbow/django-db-connection-pool#51 (issue): <https://github.com/altairbow/django-db-connection-pool/issues/51>",
        ],
    },
    check: Some(check),
};

#[cfg(test)]
mod tests {
    use super::super::django_support::testing::relative;
    use super::super::process_support::testing::Project;

    const ASGI: &str = "import os\n\nfrom django.core.asgi import get_asgi_application\n\nos.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"shop.settings\")\n\napplication = get_asgi_application()\n";

    fn settings(extra: &str) -> String {
        format!(
            "DATABASES = {{\n    \"default\": {{\n        \"ENGINE\": \"django.db.backends.postgresql\",\n        \"HOST\": \"db\",\n        \"NAME\": \"shop\",\n{extra}    }}\n}}\n"
        )
    }

    fn project(procfile: &str, extra: &str) -> Project {
        let settings = settings(extra);
        Project::new(&[
            ("Procfile", procfile),
            ("shop/__init__.py", ""),
            ("shop/asgi.py", ASGI),
            ("shop/settings.py", &settings),
        ])
    }

    #[test]
    fn daphne_with_unlimited_age_fires_and_the_fix_sets_zero() {
        let project = project(
            "web: daphne -b 0.0.0.0 shop.asgi:application\n",
            "        \"CONN_MAX_AGE\": None,\n",
        );
        let found = project.findings("PC301");
        assert_eq!(found.len(), 1, "{found:#?}");
        let d = &found[0];
        assert_eq!(project.primary_text(d), "None");
        assert!(
            relative(&d.message).starts_with(
                "Django database `default` of settings `shop.settings` (shop/settings.py:2) keeps each connection open for reuse (`CONN_MAX_AGE` None: never closed for age, shop/settings.py:6) and service `web` is served by daphne (Procfile:1) over ASGI: "
            ),
            "{}",
            d.message
        );
        let fix = d.fix.as_ref().expect("a fix");
        assert_eq!(fix.edits[0].new_text, "0");
        project.apply(fix);
        assert!(project.findings("PC301").is_empty());
    }

    #[test]
    fn zero_and_wsgi_stay_silent() {
        let zero = project(
            "web: uvicorn shop.asgi:application --workers 2\n",
            "        \"CONN_MAX_AGE\": 0,\n",
        );
        assert!(zero.findings("PC301").is_empty());
        let wsgi = project(
            "web: gunicorn shop.wsgi:application -w 4\n",
            "        \"CONN_MAX_AGE\": 600,\n",
        );
        assert!(wsgi.findings("PC301").is_empty());
        assert_eq!(wsgi.findings("PC304").len(), 1);
    }

    #[test]
    fn a_pool_alias_is_left_to_pc302() {
        let project = project(
            "web: uvicorn shop.asgi:application --workers 2\n",
            "        \"CONN_MAX_AGE\": 60,\n        \"OPTIONS\": {\"pool\": True},\n",
        );
        assert!(project.findings("PC301").is_empty());
        assert_eq!(project.findings("PC302").len(), 1);
    }

    #[test]
    fn a_celery_gevent_pool_counts_as_greenlets() {
        let project = project(
            "worker: celery -A shop worker -P gevent -c 100\n",
            "        \"CONN_MAX_AGE\": 300,\n",
        );
        let found = project.findings("PC301");
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            relative(&found[0].message)
                .contains("service `worker` runs celery's `gevent` pool (Procfile:1): each task runs in a greenlet of its own"),
            "{}",
            found[0].message
        );
        // ASGI and greenlets ask for `CONN_MAX_AGE = 0`, not health checks.
        assert!(project.findings("PC304").is_empty());
    }

    #[test]
    fn two_asgi_services_give_one_finding() {
        let project = project(
            "web: uvicorn shop.asgi:application --workers 2\nws: daphne -p 9000 shop.asgi:application\n",
            "        \"CONN_MAX_AGE\": 60,\n",
        );
        let found = project.findings("PC301");
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            found[0]
                .message
                .contains("service `web` is served by uvicorn")
        );
        assert!(
            found[0]
                .related
                .iter()
                .any(|r| r.message == "also: daphne serves Django over ASGI"),
            "{:#?}",
            found[0].related
        );
    }

    #[test]
    fn asgi_application_speaks_only_without_a_server_command() {
        let extra = "        \"CONN_MAX_AGE\": 60,\n";
        let settings = format!(
            "{}\nASGI_APPLICATION = \"shop.asgi.application\"\n",
            settings(extra)
        );
        let project = Project::new(&[
            ("shop/__init__.py", ""),
            ("shop/asgi.py", ASGI),
            ("shop/settings.py", &settings),
        ]);
        let found = project.findings("PC301");
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            relative(&found[0].message).contains(
                "and Django is taken to be served over ASGI (no server command was found, and the settings name an ASGI application: `ASGI_APPLICATION = \"shop.asgi.application\"`, shop/settings.py:10): "
            ),
            "{}",
            found[0].message
        );
        // With a WSGI server command, ASGI_APPLICATION says nothing.
        let wsgi = Project::new(&[
            ("Procfile", "web: gunicorn shop.wsgi:application -w 2\n"),
            ("shop/__init__.py", ""),
            ("shop/asgi.py", ASGI),
            ("shop/settings.py", &settings),
        ]);
        assert!(wsgi.findings("PC301").is_empty());
    }

    #[test]
    fn through_pgbouncer_the_client_limit_is_what_runs_out() {
        let project = Project::new(&[
            (
                "docker-compose.yml",
                "services:\n  postgres:\n    image: \"postgres:16\"\n  pgbouncer:\n    image: \"edoburu/pgbouncer:v1.25.2-p0\"\n    environment:\n      DB_HOST: postgres\n      POOL_MODE: transaction\n  web:\n    build: .\n    command: uvicorn shop.asgi:application --workers 2\n",
            ),
            ("shop/__init__.py", ""),
            ("shop/asgi.py", ASGI),
            (
                "shop/settings.py",
                "DATABASES = {\"default\": {\"ENGINE\": \"django.db.backends.postgresql\", \"HOST\": \"pgbouncer\", \"NAME\": \"shop\", \"CONN_MAX_AGE\": None}}\n",
            ),
        ]);
        let found = project.findings("PC301");
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            found[0].message.ends_with(
                "until PgBouncer `pgbouncer` (database `shop`) refuses new clients (`no more connections allowed (max_client_conn)`)"
            ),
            "{}",
            found[0].message
        );
        assert!(
            found[0]
                .help
                .as_deref()
                .is_some_and(|h| h.ends_with("PgBouncer already pools the server connections, and a client connection to it is cheap to open per request")),
            "{:?}",
            found[0].help
        );
    }
}
