use poolcheck_core::facts::pool::DjangoPoolOption;
use poolcheck_core::{Diagnostic, Location, Severity};

use super::django_support::{
    alias_phrase, conn_max_age_location, conn_max_age_text, django_clients, nonzero_conn_max_age,
    zero_conn_max_age_fix,
};
use super::process_support::provenance;
use crate::context::Context;
use crate::registry::{FixAvailability, Rule, RuleMeta};

/// Django's own message (`django/db/backends/postgresql/base.py`).
const POOLING_ERROR: &str =
    "django.core.exceptions.ImproperlyConfigured: Pooling doesn't support persistent connections.";

fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let mut seen: Vec<(Location, String)> = Vec::new();
    for client in django_clients(ctx) {
        let django = client.django;
        let Some(pool) = &django.pool else {
            continue;
        };
        if !nonzero_conn_max_age(django) {
            continue;
        }
        let message = format!(
            "{} enables Django's connection pool ({}) and asks for persistent connections ({}): the first database access raises `{POOLING_ERROR}`",
            alias_phrase(ctx, &client),
            pool_text(ctx, pool),
            conn_max_age_text(ctx, &client),
        );
        let primary = conn_max_age_location(&client);
        let key = (primary.clone(), message.clone());
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let mut d = Diagnostic::new(RULE.meta.code, RULE.meta.severity, primary.clone(), message)
            .with_label("must be 0 with `OPTIONS[\"pool\"]`")
            .with_help(
                "set `CONN_MAX_AGE` to 0: the pool keeps connections open by itself; bound their age with the pool's `max_lifetime` (psycopg_pool default 3600 s) and `max_idle` (default 600 s)",
            );
        if let Some(at) = pool.location.clone().filter(|at| *at != primary) {
            d = d.with_related(at, "Django's connection pool is enabled here");
        }
        if let Some(fix) = zero_conn_max_age_fix(ctx, django) {
            d = d.with_fix(fix);
        }
        out.push(d);
    }
}

/// `` `OPTIONS["pool"]` is a dict, shop/settings.py:22 `` for use inside parentheses.
pub fn pool_text(ctx: &Context<'_>, pool: &DjangoPoolOption) -> String {
    let value = pool.value.value.as_deref().unwrap_or("set");
    let notes = match (&pool.value.location, &pool.location) {
        (None, Some(at)) => ctx.sources.describe(at),
        _ => provenance(ctx, &pool.value),
    };
    let shown = format!("`OPTIONS[\"pool\"]` is {value}");
    if notes.is_empty() {
        shown
    } else {
        format!("{shown}, {notes}")
    }
}

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: poolcheck_core::Code::PC302,
        name: "django-pool-with-persistent-connections",
        severity: Severity::Error,
        summary: "A Django database enables `OPTIONS[\"pool\"]` with a non-zero `CONN_MAX_AGE`, which Django refuses.",
        fix: FixAvailability::Sometimes,
        what_it_does: "Reports a Django `DATABASES` alias whose `OPTIONS[\"pool\"]` is truthy (`True` or \
a dict, Django ≥ 5.1) while `CONN_MAX_AGE` is anything but 0 — a number of seconds, `None`, or a \
value given as `conn_max_age=…` to `dj_database_url.config()` / `parse()` or `env.db()`. The \
quick fix replaces a literal `CONN_MAX_AGE` value with `0`.",
        why: "Django's PostgreSQL backend checks this before it builds the pool, on the first \
database access of each process: `django.core.exceptions.ImproperlyConfigured: Pooling doesn't \
support persistent connections.` Every request then fails. It often happens when a URL helper \
such as `dj_database_url.config(conn_max_age=600)` builds the alias and `\"pool\"` is added to its \
`OPTIONS` later.",
        example: "```python\nimport dj_database_url\n\nDATABASES = {\"default\": dj_database_url.config(conn_max_age=600)}\nDATABASES[\"default\"][\"OPTIONS\"] = {\"pool\": True}\n```",
        fix_text: "Set `CONN_MAX_AGE` to 0. The pool keeps its connections open by itself; limit \
their age with the pool's own `max_lifetime` (default 3600 s) and `max_idle` (default 600 s), \
e.g. `\"pool\": {\"min_size\": 1, \"max_size\": 8, \"max_lifetime\": 600}`.",
        references: &[
            "Reproduced against Django 5.1+ against PostgreSQL 15 by `verify/scenarios/PC302-django-pool-with-conn-max-age` (`verify/run PC302`)",
            "Django databases documentation, \"Connection pool\": <https://docs.djangoproject.com/en/stable/ref/databases/#connection-pool>",
            "Django `django/db/backends/postgresql/base.py` (`pool` property): <https://github.com/django/django/blob/main/django/db/backends/postgresql/base.py>",
            "Django's test suite asserts this message (`tests/backends/postgresql/tests.py`): <https://github.com/django/django/blob/main/tests/backends/postgresql/tests.py>",
            "psycopg pool parameters (`max_lifetime`, `max_idle`): <https://www.psycopg.org/psycopg3/docs/api/pool.html>",
        ],
    },
    check: Some(check),
};

#[cfg(test)]
mod tests {
    use super::super::django_support::testing::relative;
    use super::super::process_support::testing::Project;

    fn project(settings: &str) -> Project {
        Project::new(&[
            ("Procfile", "web: gunicorn shop.wsgi:application -w 2\n"),
            (
                ".env",
                "DATABASE_URL=postgres://shop@db:5432/shop?connect_timeout=5\n",
            ),
            ("shop/__init__.py", ""),
            ("shop/settings.py", settings),
        ])
    }

    #[test]
    fn conn_max_age_of_dj_database_url_fires_and_the_fix_sets_zero() {
        let project = project(
            "import dj_database_url\n\nDATABASES = {\"default\": dj_database_url.config(conn_max_age=600)}\nDATABASES[\"default\"][\"OPTIONS\"] = {\"pool\": True}\n",
        );
        let found = project.findings("PC302");
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(project.primary_text(&found[0]), "600");
        assert_eq!(
            relative(&found[0].message),
            "Django database `default` of settings `shop.settings` (shop/settings.py:3) enables Django's connection pool (`OPTIONS[\"pool\"]` is True, shop/settings.py:4) and asks for persistent connections (`CONN_MAX_AGE` 600): the first database access raises `django.core.exceptions.ImproperlyConfigured: Pooling doesn't support persistent connections.`"
        );
        project.apply(found[0].fix.as_ref().expect("a fix"));
        assert!(project.findings("PC302").is_empty());
    }

    #[test]
    fn none_and_negative_ages_fire_zero_does_not() {
        let alias = |age: &str| {
            format!(
                "DATABASES = {{\"default\": {{\"ENGINE\": \"django.db.backends.postgresql\", \"HOST\": \"db\", \"CONN_MAX_AGE\": {age}, \"OPTIONS\": {{\"pool\": {{\"min_size\": 1, \"max_size\": 4}}}}}}}}\n"
            )
        };
        for age in ["None", "-1", "60"] {
            let project = project(&alias(age));
            let found = project.findings("PC302");
            assert_eq!(found.len(), 1, "{age}: {found:#?}");
            assert_eq!(project.primary_text(&found[0]), age);
        }
        assert!(project(&alias("0")).findings("PC302").is_empty());
    }
}
