use poolcheck_core::facts::pool::DjangoPoolOption;
use poolcheck_core::{Diagnostic, Location, Severity};

use super::django_support::{DjangoClient, alias_phrase, django_clients, psycopg2_only};
use super::pc302_django_pool_with_persistent_connections::pool_text;
use super::process_support::describe_pin;
use crate::context::Context;
use crate::registry::{FixAvailability, Rule, RuleMeta};

/// Keyword arguments Django passes to `psycopg_pool.ConnectionPool` itself,
/// with what to do instead of setting them in the pool dict.
const DJANGO_POOL_ARGUMENTS: &[(&str, &str)] = &[
    (
        "kwargs",
        "remove `kwargs`: Django passes the alias's connection parameters as the pool's `kwargs`; put them in `OPTIONS` (or `HOST`, `USER`, …) instead",
    ),
    (
        "open",
        "remove `open`: Django creates the pool with `open=False` and opens it on first use",
    ),
    (
        "configure",
        "remove `configure`: Django passes its own connection setup as `configure`; run per-connection setup from a `connection_created` signal handler instead",
    ),
    (
        "check",
        "remove `check` and set `\"CONN_HEALTH_CHECKS\": True` on the alias instead: Django then passes `check=ConnectionPool.check_connection`",
    ),
];

fn check(ctx: &Context<'_>, out: &mut Vec<Diagnostic>) {
    let mut seen: Vec<(Location, String)> = Vec::new();
    for client in django_clients(ctx) {
        let Some(pool) = &client.django.pool else {
            continue;
        };
        let mut found = Vec::new();
        found.extend(not_a_mapping(ctx, &client, pool));
        found.extend(psycopg2_driver(ctx, &client, pool));
        found.extend(reserved_keys(ctx, &client, pool));
        found.extend(sizes_reversed(ctx, &client, pool));
        for d in found {
            let key = (d.primary.clone(), d.message.clone());
            if !seen.contains(&key) {
                seen.push(key);
                out.push(d);
            }
        }
    }
}

/// Where the pool option is written, else the alias.
fn pool_location(client: &DjangoClient<'_>, pool: &DjangoPoolOption) -> Location {
    pool.location
        .clone()
        .or_else(|| pool.value.location.clone())
        .unwrap_or_else(|| client.pool.location.clone())
}

fn diagnostic(primary: Location, message: String) -> Diagnostic {
    Diagnostic::new(RULE.meta.code, RULE.meta.severity, primary, message)
}

/// `"pool": "true"` and other truthy values that are neither `True` nor a
/// dict: Django unpacks them with `**`.
fn not_a_mapping(
    ctx: &Context<'_>,
    client: &DjangoClient<'_>,
    pool: &DjangoPoolOption,
) -> Option<Diagnostic> {
    let value = pool.value.value.as_deref()?;
    if pool.is_dict || value == "True" {
        return None;
    }
    let type_name = if value.starts_with('"') {
        " str"
    } else if value.parse::<i64>().is_ok() {
        " int"
    } else if value.parse::<f64>().is_ok() {
        " float"
    } else if value.starts_with("a list") {
        " list"
    } else {
        ""
    };
    let error = if type_name.is_empty() {
        "TypeError: … argument after ** must be a mapping".to_owned()
    } else {
        format!("TypeError: … argument after ** must be a mapping, not{type_name}")
    };
    Some(
        diagnostic(
            pool.value
                .location
                .clone()
                .unwrap_or_else(|| pool_location(client, pool)),
            format!(
                "{} enables Django's connection pool with a value that is neither `True` nor a dict ({}): Django passes it to psycopg_pool as `**pool_options`, and the first database access raises `{error}`",
                alias_phrase(ctx, client),
                pool_text(ctx, pool),
            ),
        )
        .with_label("must be `True` or a dict")
        .with_help(
            "write `\"pool\": True` for psycopg_pool's defaults, or a dict of `ConnectionPool` arguments such as `{\"min_size\": 1, \"max_size\": 8}`; convert an environment variable with a boolean parser",
        ),
    )
}

/// `OPTIONS["pool"]` while the project depends on psycopg2 and not on
/// psycopg 3. Silent when nothing pins a driver.
fn psycopg2_driver(
    ctx: &Context<'_>,
    client: &DjangoClient<'_>,
    pool: &DjangoPoolOption,
) -> Option<Diagnostic> {
    let pin = psycopg2_only(ctx)?;
    Some(
        diagnostic(
            pool_location(client, pool),
            format!(
                "{} enables Django's connection pool ({}), but the project depends on psycopg2 ({}) and not on psycopg 3: the first database access raises `django.core.exceptions.ImproperlyConfigured: Database pooling requires psycopg >= 3`",
                alias_phrase(ctx, client),
                pool_text(ctx, pool),
                describe_pin(ctx, pin),
            ),
        )
        .with_label("needs psycopg 3")
        .with_related(pin.location.clone(), "psycopg2 is the driver")
        .with_help(
            "depend on `psycopg[binary,pool]` (psycopg 3 with psycopg_pool) instead of psycopg2, or remove `\"pool\"` from `OPTIONS`",
        ),
    )
}

/// Keys of the pool dict that Django passes to `ConnectionPool` itself.
fn reserved_keys(
    ctx: &Context<'_>,
    client: &DjangoClient<'_>,
    pool: &DjangoPoolOption,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (key, location) in &pool.keys {
        let Some((_, help)) = DJANGO_POOL_ARGUMENTS.iter().find(|(name, _)| name == key) else {
            continue;
        };
        let at = location
            .clone()
            .unwrap_or_else(|| pool_location(client, pool));
        let written = location
            .as_ref()
            .map_or_else(String::new, |l| format!(" ({})", ctx.sources.describe(l)));
        out.push(
            diagnostic(
                at,
                format!(
                    "{} puts `{key}` in its pool dict{written}, but Django passes `{key}` to psycopg_pool's `ConnectionPool` itself: the first database access raises `TypeError: … got multiple values for keyword argument '{key}'`",
                    alias_phrase(ctx, client),
                ),
            )
            .with_label(format!("Django sets `{key}` itself"))
            .with_help(*help),
        );
    }
    out
}

/// `max_size` below `min_size`, including psycopg_pool's default `min_size`
/// of 4 when only `max_size` is written.
fn sizes_reversed(
    ctx: &Context<'_>,
    client: &DjangoClient<'_>,
    pool: &DjangoPoolOption,
) -> Option<Diagnostic> {
    let max_size = pool.max_size.as_ref()?;
    let max = max_size.value.as_ref()?.constant()?;
    let min = pool.min_size.value.as_ref()?.constant()?;
    if max >= min {
        return None;
    }
    let sources = ctx.sources;
    let help = if pool.min_size.is_default() {
        format!(
            "psycopg_pool's `min_size` defaults to {min}: set `\"min_size\"` to at most {max} (e.g. `\"min_size\": 1`), or raise `max_size`"
        )
    } else {
        format!("lower `min_size` to at most {max}, or raise `max_size` to at least {min}")
    };
    let mut d = diagnostic(
        max_size
            .location
            .clone()
            .unwrap_or_else(|| pool_location(client, pool)),
        format!(
            "{} sizes its pool with `max_size` {} below `min_size` {}: psycopg_pool raises `ValueError: max_size must be greater or equal than min_size` when Django creates the pool, on the first database access",
            alias_phrase(ctx, client),
            sources.quote_with(max_size, ""),
            sources.quote_with(&pool.min_size, ""),
        ),
    )
    .with_label(format!("below min_size {min}"))
    .with_help(help);
    if let Some(at) = &pool.min_size.location {
        d = d.with_related(at.clone(), format!("min_size {min}"));
    }
    Some(d)
}

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: poolcheck_core::Code::PC303,
        name: "django-pool-invalid",
        severity: Severity::Error,
        summary: "A Django `OPTIONS[\"pool\"]` that Django or psycopg_pool rejects: psycopg2 as the driver, arguments Django passes itself, or `max_size` below `min_size`.",
        fix: FixAvailability::None,
        what_it_does: "Checks Django's connection pool option (`OPTIONS[\"pool\"]`, Django ≥ 5.1) of \
every `DATABASES` alias and reports:\n\n\
- the pool when the project's dependencies include psycopg2 (`psycopg2` or `psycopg2-binary`) \
and not psycopg 3 (`psycopg`, `psycopg-binary`, `psycopg-c`); nothing is reported when no \
driver is pinned;\n\
- the keys `kwargs`, `open`, `configure` and `check` in the pool dict, which Django passes to \
`psycopg_pool.ConnectionPool` itself;\n\
- `max_size` below `min_size`, including psycopg_pool's default `min_size` of 4 when only \
`max_size` is written (`{\"max_size\": 2}`);\n\
- a truthy value that is neither `True` nor a dict (`\"pool\": \"true\"` read from the \
environment as a string).",
        why: "Each of these fails when Django first builds the pool, on the first database access \
of every process, so every request fails:\n\n\
- psycopg2: `django.core.exceptions.ImproperlyConfigured: Database pooling requires psycopg >= 3` \
(the documentation says the option \"is ignored with psycopg2\", but the code raises, and \
Django's own test asserts the error);\n\
- a duplicated argument: `TypeError: … got multiple values for keyword argument 'check'`, since \
Django calls `ConnectionPool(kwargs=…, open=False, configure=…, check=…, **pool_options)`;\n\
- reversed sizes: psycopg_pool's `ValueError: max_size must be greater or equal than min_size`;\n\
- a value that is not a mapping: `TypeError: … argument after ** must be a mapping`.",
        example: "```python\nDATABASES = {\n    \"default\": {\n        \"ENGINE\": \"django.db.backends.postgresql\",\n        \"HOST\": \"db\",\n        \"OPTIONS\": {\"pool\": {\"max_size\": 2, \"check\": ConnectionPool.check_connection}},\n    }\n}\n```",
        fix_text: "Depend on `psycopg[binary,pool]` rather than psycopg2. Leave `kwargs`, `open` and \
`configure` to Django, and ask for health checks with `\"CONN_HEALTH_CHECKS\": True` instead of \
`check`. Write `min_size` whenever `max_size` is below 4 (`{\"min_size\": 1, \"max_size\": 2}`).",
        references: &[
            "Django databases documentation, \"Connection pool\": <https://docs.djangoproject.com/en/stable/ref/databases/#connection-pool>",
            "Django `django/db/backends/postgresql/base.py` (`pool` property, `get_connection_params`): <https://github.com/django/django/blob/main/django/db/backends/postgresql/base.py>",
            "Django test `test_connect_pool_setting_ignored_for_psycopg2` (asserts the `ImproperlyConfigured` error): <https://github.com/django/django/blob/main/tests/backends/postgresql/tests.py>",
            "psycopg pool API (`min_size` default 4, `max_size`, `check`, `configure`, `kwargs`, `open`): <https://www.psycopg.org/psycopg3/docs/api/pool.html>",
            "psycopg_pool `_check_size` (\"max_size must be greater or equal than min_size\"): <https://github.com/psycopg/psycopg/blob/master/psycopg_pool/psycopg_pool/base.py>",
        ],
    },
    check: Some(check),
};

#[cfg(test)]
mod tests {
    use super::super::django_support::testing::relative;
    use super::super::process_support::testing::Project;

    fn project(pool: &str, requirements: &str) -> Project {
        let settings = format!(
            "import os\n\nDATABASES = {{\n    \"default\": {{\n        \"ENGINE\": \"django.db.backends.postgresql\",\n        \"HOST\": \"db\",\n        \"OPTIONS\": {{\"pool\": {pool}}},\n    }}\n}}\n"
        );
        Project::new(&[
            ("Procfile", "web: gunicorn shop.wsgi:application -w 2\n"),
            ("requirements.txt", requirements),
            ("shop/__init__.py", ""),
            ("shop/settings.py", &settings),
        ])
    }

    const PSYCOPG: &str = "Django==5.1.4\npsycopg[binary,pool]==3.2.3\n";

    #[test]
    fn a_string_from_the_environment_is_not_a_mapping() {
        let project = project("os.environ.get(\"DB_POOL\", \"true\")", PSYCOPG);
        let found = project.findings("PC303");
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            relative(&found[0].message).ends_with(
                "the first database access raises `TypeError: … argument after ** must be a mapping, not str`"
            ),
            "{}",
            found[0].message
        );
        assert!(self::project("True", PSYCOPG).findings("PC303").is_empty());
    }

    #[test]
    fn every_argument_django_passes_itself_is_reported_at_its_value() {
        let project = project(
            "{\"min_size\": 1, \"max_size\": 4, \"kwargs\": {\"autocommit\": True}, \"open\": True, \"configure\": None}",
            PSYCOPG,
        );
        let found = project.findings("PC303");
        let texts: Vec<String> = found.iter().map(|d| project.primary_text(d)).collect();
        assert_eq!(
            texts,
            ["{\"autocommit\": True}", "True", "None"],
            "{found:#?}"
        );
        assert!(
            found[0]
                .message
                .contains("got multiple values for keyword argument 'kwargs'")
        );
    }

    #[test]
    fn psycopg2_only_when_psycopg_3_is_absent() {
        let psycopg2 = project("True", "Django==5.1.4\npsycopg2==2.9.10\n");
        let found = psycopg2.findings("PC303");
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(psycopg2.primary_text(&found[0]), "True");
        assert!(
            relative(&found[0].message).contains(
                "but the project depends on psycopg2 (`psycopg2==2.9.10` at requirements.txt:2) and not on psycopg 3"
            ),
            "{}",
            found[0].message
        );
        let both = project("True", "Django==5.1.4\npsycopg2==2.9.10\npsycopg==3.2.3\n");
        assert!(both.findings("PC303").is_empty());
        let unpinned = project("True", "Django==5.1.4\n");
        assert!(unpinned.findings("PC303").is_empty());
    }

    #[test]
    fn sizes_are_compared_only_when_both_are_known() {
        let reversed = project("{\"min_size\": 8, \"max_size\": 4}", PSYCOPG);
        let found = reversed.findings("PC303");
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(reversed.primary_text(&found[0]), "4");
        assert_eq!(
            found[0].help.as_deref(),
            Some("lower `min_size` to at most 4, or raise `max_size` to at least 8")
        );
        for fine in [
            "{\"min_size\": 2, \"max_size\": 2}",
            "{\"max_size\": 10}",
            "{\"min_size\": 1, \"max_size\": int(os.environ[\"POOL\"])}",
        ] {
            assert!(
                project(fine, PSYCOPG).findings("PC303").is_empty(),
                "{fine}"
            );
        }
    }
}
