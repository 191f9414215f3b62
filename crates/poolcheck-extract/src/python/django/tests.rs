//! Django settings as real projects write them (shapes of
//! real-world-configs.md A.1–A.6, A.13, A.16, A.17, A.19, A.20).

use std::path::Path;

use poolcheck_core::facts::pool::{
    ClientPool, DjangoAliasSettings, Driver, PoolCap, PoolKind, StartupVia,
};
use poolcheck_core::{EnvVar, Environment, FilePath, IntExpr, Location, Origin};

use crate::python::{PythonAnalysis, PythonProject, parse};

struct Repo {
    files: Vec<(FilePath, String, poolcheck_core::facts::PythonModule)>,
}

impl Repo {
    fn new(files: &[(&str, &str)]) -> Self {
        Self {
            files: files
                .iter()
                .map(|(path, text)| {
                    (
                        FilePath::new(path),
                        (*text).to_owned(),
                        parse::parse_module(text),
                    )
                })
                .collect(),
        }
    }

    fn analyze(&self, env: &Environment) -> PythonAnalysis {
        PythonProject::new(Path::new(""), self.files.iter().map(|(p, _, m)| (p, m)))
            .analyze(env, None)
    }

    fn slice(&self, location: &Location) -> &str {
        let (_, text, _) = self
            .files
            .iter()
            .find(|(p, _, _)| *p == location.file)
            .expect("location in a known file");
        &text[location.span.range()]
    }
}

fn env(vars: &[(&str, &str)]) -> Environment {
    let mut env = Environment::new();
    for (k, v) in vars {
        env.set(
            *k,
            EnvVar {
                value: (*v).to_owned(),
                source: ".env".into(),
                location: None,
            },
        );
    }
    env
}

fn django(pool: &ClientPool) -> &DjangoAliasSettings {
    pool.settings.django.as_ref().expect("a Django pool")
}

fn pool<'a>(analysis: &'a PythonAnalysis, name: &str) -> &'a ClientPool {
    analysis
        .pools
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no pool `{name}` in {:#?}", analysis.pools))
}

fn names(analysis: &PythonAnalysis) -> Vec<&str> {
    analysis.pools.iter().map(|p| p.name.as_str()).collect()
}

fn size(pool: &ClientPool) -> Option<i64> {
    match &pool.cap {
        PoolCap::Bounded { size, overflow } => {
            assert!(overflow.is_none());
            size.get().and_then(IntExpr::constant)
        }
        other => panic!("expected a bounded cap, got {other:?}"),
    }
}

const BASE: &str = r#"import os

DEBUG = False
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("POSTGRES_DB", "shop"),
        "USER": "shop",
        "HOST": os.environ.get("POSTGRES_HOST", "db"),
        "PORT": "5432",
        "CONN_MAX_AGE": 60,
    }
}
"#;

fn shop(wsgi: Option<&str>) -> Repo {
    let mut files = vec![
        ("shop/__init__.py", ""),
        ("shop/settings/__init__.py", ""),
        ("shop/settings/base.py", BASE),
        (
            "shop/settings/prod.py",
            "from .base import *\n\nDATABASES[\"default\"][\"CONN_MAX_AGE\"] = None\nDATABASES[\"default\"][\"CONN_HEALTH_CHECKS\"] = True\n",
        ),
        (
            "shop/settings/test.py",
            "from .base import *\n\nDATABASES[\"default\"] = {\"ENGINE\": \"django.db.backends.sqlite3\", \"NAME\": \":memory:\"}\n",
        ),
        (
            "shop/settings/staging.py",
            "from shop.settings.base import *\n\nDATABASES[\"default\"][\"HOST\"] = \"staging-db\"\n",
        ),
    ];
    if let Some(wsgi) = wsgi {
        files.push(("shop/wsgi.py", wsgi));
    }
    files.push((
        "manage.py",
        "import os\nimport sys\n\ndef main():\n    os.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"shop.settings.test\")\n    from django.core.management import execute_from_command_line\n    execute_from_command_line(sys.argv)\n",
    ));
    Repo::new(&files)
}

const WSGI_PROD: &str = "import os\nfrom django.core.wsgi import get_wsgi_application\n\nos.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"shop.settings.prod\")\napplication = get_wsgi_application()\n";

#[test]
fn wsgi_setdefault_selects_prod_over_manage_py() {
    let repo = shop(Some(WSGI_PROD));
    let analysis = repo.analyze(&Environment::new());
    assert_eq!(names(&analysis), ["default"]);
    let default = pool(&analysis, "default");
    assert_eq!(default.kind, PoolKind::DjangoAlias);
    assert_eq!(
        default.cap,
        PoolCap::PerConcurrency {
            reason: "one connection per thread (Django without a pool)".into()
        }
    );
    let settings = django(default);
    assert_eq!(settings.settings_module, "shop.settings.prod");
    assert_eq!(settings.configurations, 1);
    let selected = settings.selected_by.as_ref().unwrap();
    assert_eq!(selected.value.as_deref(), Some("shop.settings.prod"));
    assert_eq!(
        repo.slice(selected.location.as_ref().unwrap()),
        "\"shop.settings.prod\""
    );
    // prod.py's per-key overrides apply on top of base.py's dict.
    assert_eq!(settings.conn_max_age.value, Some(None));
    assert_eq!(
        repo.slice(settings.conn_max_age.location.as_ref().unwrap()),
        "None"
    );
    assert_eq!(settings.conn_health_checks.value, Some(true));
    assert_eq!(settings.disable_server_side_cursors.value, Some(false));
    assert!(settings.disable_server_side_cursors.is_default());
    assert_eq!(settings.atomic_requests.value, Some(false));
    assert_eq!(settings.server_side_binding.value, Some(false));
    assert!(settings.pool.is_none());
    // The alias dict is base.py's literal: where a fix inserts a key.
    let alias_dict = settings.alias_dict.as_ref().unwrap();
    assert_eq!(alias_dict.file, FilePath::new("shop/settings/base.py"));
    assert!(repo.slice(alias_dict).starts_with("{\n        \"ENGINE\""));
    assert_eq!(default.location, *alias_dict);
    assert_eq!(default.cap_location, *alias_dict);
    let target = default.target.get().unwrap();
    assert_eq!(target.host.as_deref(), Some("db"));
    assert_eq!(target.port, Some(5432));
    assert_eq!(target.dbname.as_deref(), Some("shop"));
    assert_eq!(target.user.as_deref(), Some("shop"));
    assert_eq!(
        default.target.origin,
        Origin::EnvDefault {
            var: "POSTGRES_HOST".into()
        }
    );
    assert_eq!(default.driver.value, Some(Driver::Psycopg3));
    assert!(default.driver.is_default());
    assert!(analysis.unresolved.is_empty(), "{:?}", analysis.unresolved);
}

#[test]
fn the_environment_overrides_setdefault() {
    let repo = shop(Some(WSGI_PROD));
    let analysis = repo.analyze(&env(&[("DJANGO_SETTINGS_MODULE", "shop.settings.staging")]));
    assert_eq!(names(&analysis), ["default"]);
    let default = pool(&analysis, "default");
    let settings = django(default);
    assert_eq!(settings.settings_module, "shop.settings.staging");
    assert_eq!(
        settings.selected_by.as_ref().unwrap().origin,
        Origin::EnvValue {
            var: "DJANGO_SETTINGS_MODULE".into(),
            source: ".env".into()
        }
    );
    assert_eq!(
        default.target.get().unwrap().host.as_deref(),
        Some("staging-db")
    );
    assert_eq!(settings.conn_max_age.value, Some(Some(60)));
    // The test settings select SQLite: no PostgreSQL client at all.
    let test = repo.analyze(&env(&[("DJANGO_SETTINGS_MODULE", "shop.settings.test")]));
    assert!(test.pools.is_empty(), "{:#?}", test.pools);
    assert!(test.unresolved.is_empty());
}

#[test]
fn manage_py_is_used_when_no_server_module_names_the_settings() {
    let repo = shop(None);
    let analysis = repo.analyze(&Environment::new());
    assert!(analysis.pools.is_empty(), "{:#?}", analysis.pools);
}

#[test]
fn celery_outranks_manage_py_and_test_code_ranks_last() {
    let mut repo = shop(None);
    let extra = [
        (
            "shop/celery.py",
            "import os\nos.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"shop.settings.staging\")\n",
        ),
        (
            "tests/conftest.py",
            "import os\nos.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"shop.settings.test\")\n",
        ),
    ];
    for (path, text) in extra {
        repo.files.push((
            FilePath::new(path),
            text.to_owned(),
            parse::parse_module(text),
        ));
    }
    let analysis = repo.analyze(&Environment::new());
    assert_eq!(names(&analysis), ["default"]);
    assert_eq!(
        django(&analysis.pools[0]).settings_module,
        "shop.settings.staging"
    );
}

#[test]
fn without_a_settings_name_every_unimported_settings_module_is_a_configuration() {
    let repo = Repo::new(&[
        ("shop/__init__.py", ""),
        ("shop/settings/__init__.py", ""),
        ("shop/settings/base.py", BASE),
        (
            "shop/settings/prod.py",
            "from .base import *\nDATABASES[\"default\"][\"CONN_MAX_AGE\"] = 600\n",
        ),
        (
            "shop/settings/staging.py",
            "from .base import *\nDATABASES[\"default\"][\"HOST\"] = \"staging-db\"\n",
        ),
        (
            "shop/settings/configuration_example.py",
            "DATABASES = {\"default\": {\"ENGINE\": \"django.db.backends.postgresql\"}}\n",
        ),
        (
            "shop/routers.py",
            "from shop.settings.prod import DATABASES\nREPLICAS = list(DATABASES)\n",
        ),
    ]);
    let analysis = repo.analyze(&Environment::new());
    assert_eq!(
        names(&analysis),
        [
            "default (shop.settings.prod)",
            "default (shop.settings.staging)"
        ]
    );
    let prod = pool(&analysis, "default (shop.settings.prod)");
    assert_eq!(django(prod).conn_max_age.value, Some(Some(600)));
    assert_eq!(django(prod).configurations, 2);
    assert!(django(prod).selected_by.is_none());
    assert_eq!(
        prod.alternatives.as_deref(),
        Some(
            "`shop.settings.prod` is one of 2 Django settings modules that nothing selects (shop.settings.prod, shop.settings.staging), and the budget counts the largest pool of each alias among them: set `DJANGO_SETTINGS_MODULE` to count only the one deployed"
        )
    );
    let staging = pool(&analysis, "default (shop.settings.staging)");
    assert_eq!(
        staging.target.get().unwrap().host.as_deref(),
        Some("staging-db")
    );
    assert_eq!(analysis.unresolved.len(), 1, "{:?}", analysis.unresolved);
    assert_eq!(
        analysis.unresolved[0].reason,
        "nothing sets `DJANGO_SETTINGS_MODULE` and 2 settings modules could be deployed (shop.settings.prod, shop.settings.staging): the budget counts the largest pool of each alias among them; declare it in [tool.poolcheck.env]"
    );
}

#[test]
fn a_single_settings_module_needs_no_name() {
    let repo = Repo::new(&[("app/settings.py", BASE)]);
    let analysis = repo.analyze(&Environment::new());
    assert_eq!(names(&analysis), ["default"]);
    assert_eq!(django(&analysis.pools[0]).settings_module, "app.settings");
    assert!(analysis.unresolved.is_empty());
}

#[test]
fn a_settings_name_outside_the_repository_falls_back_with_a_reason() {
    let repo = Repo::new(&[
        ("app/settings.py", BASE),
        (
            "app/asgi.py",
            "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'app.settings_local')\n",
        ),
    ]);
    let analysis = repo.analyze(&Environment::new());
    assert_eq!(names(&analysis), ["default"]);
    assert_eq!(analysis.unresolved.len(), 1);
    assert_eq!(
        analysis.unresolved[0].reason,
        "`DJANGO_SETTINGS_MODULE` is `app.settings_local`, which is not a module of the repository: every unimported settings module is checked instead"
    );
    assert_eq!(
        repo.slice(&analysis.unresolved[0].location),
        "'app.settings_local'"
    );
}

#[test]
fn loops_set_a_key_on_every_alias() {
    let repo = Repo::new(&[(
        "treeherder/config/settings.py",
        r#"import environ
env = environ.Env()
DATABASES = {
    "default": env.db_url("DATABASE_URL", default="psql://th@postgres:5432/treeherder"),
    "replica": env.db_url("DATABASE_URL_RO", default="psql://th@postgres-ro:5432/treeherder"),
    "reports": {"ENGINE": "django.db.backends.postgresql", "HOST": "reports"},
    "analytics": {"ENGINE": "django.db.backends.postgresql", "HOST": "analytics"},
}
for alias, db in DATABASES.items():
    db["CONN_MAX_AGE"] = 300
for db in DATABASES.values():
    db["OPTIONS"] = {"connect_timeout": 5}
for alias in DATABASES:
    DATABASES[alias]["CONN_HEALTH_CHECKS"] = True
for db in DATABASES.values():
    db.update({"ATOMIC_REQUESTS": True})
"#,
    )]);
    let analysis = repo.analyze(&Environment::new());
    assert_eq!(
        names(&analysis),
        ["default", "replica", "reports", "analytics"]
    );
    for p in &analysis.pools {
        let s = django(p);
        assert_eq!(s.conn_max_age.value, Some(Some(300)), "{}", p.name);
        assert_eq!(repo.slice(s.conn_max_age.location.as_ref().unwrap()), "300");
        assert_eq!(s.conn_health_checks.value, Some(true));
        assert_eq!(s.atomic_requests.value, Some(true));
        assert_eq!(
            p.settings.connect_timeout.as_ref().and_then(|t| t.value),
            Some(5.0)
        );
    }
    let replica = pool(&analysis, "replica");
    assert_eq!(
        replica.target.get().unwrap().host.as_deref(),
        Some("postgres-ro")
    );
    assert_eq!(
        replica.target.origin,
        Origin::EnvDefault {
            var: "DATABASE_URL_RO".into()
        }
    );
    // Built by a call: no literal to insert a key into.
    assert!(django(replica).alias_dict.is_none());
}

#[test]
fn dj_database_url_conn_max_age_and_env_db() {
    let repo = Repo::new(&[(
        "saleor/settings.py",
        r#"import os
import dj_database_url
import environ

env = environ.Env()
DB_CONN_MAX_AGE = int(os.environ.get("DB_CONN_MAX_AGE", 0))
DATABASES = {
    "default": dj_database_url.config(default="postgres://saleor:saleor@localhost:5432/saleor", conn_max_age=DB_CONN_MAX_AGE),
    "replica": dj_database_url.parse("postgres://saleor@replica:6432/saleor", conn_max_age=600, conn_health_checks=True),
    "legacy": env.db("LEGACY_DATABASE_URL", default="postgres://legacy@legacy-db/legacy"),
}
ASGI_APPLICATION = "saleor.asgi.application"
"#,
    )]);
    let analysis = repo.analyze(&env(&[("DB_CONN_MAX_AGE", "60")]));
    let default = pool(&analysis, "default");
    let s = django(default);
    assert_eq!(s.conn_max_age.value, Some(Some(60)));
    assert_eq!(
        s.conn_max_age.origin,
        Origin::EnvValue {
            var: "DB_CONN_MAX_AGE".into(),
            source: ".env".into()
        }
    );
    assert_eq!(
        s.engine.value.as_deref(),
        Some("django.db.backends.postgresql")
    );
    let asgi = s.asgi_application.as_ref().unwrap();
    assert_eq!(asgi.value.as_deref(), Some("saleor.asgi.application"));
    assert_eq!(
        repo.slice(asgi.location.as_ref().unwrap()),
        "\"saleor.asgi.application\""
    );
    let replica = django(pool(&analysis, "replica"));
    assert_eq!(replica.conn_max_age.value, Some(Some(600)));
    assert_eq!(replica.conn_health_checks.value, Some(true));
    assert_eq!(
        pool(&analysis, "replica").target.get().unwrap().port,
        Some(6432)
    );
    // django-environ sets no CONN_MAX_AGE: Django's default 0.
    let legacy = django(pool(&analysis, "legacy"));
    assert_eq!(legacy.conn_max_age.value, Some(Some(0)));
    assert!(legacy.conn_max_age.is_default());
    assert_eq!(
        pool(&analysis, "legacy")
            .target
            .get()
            .unwrap()
            .host
            .as_deref(),
        Some("legacy-db")
    );
    // Without the variable, dj-database-url's default URL and DB_CONN_MAX_AGE's default.
    let plain = repo.analyze(&Environment::new());
    assert_eq!(
        django(pool(&plain, "default")).conn_max_age.value,
        Some(Some(0))
    );
}

#[test]
fn getattr_on_a_dynamic_configuration_module_is_unknown_with_a_reason() {
    let repo = Repo::new(&[(
        "netbox/netbox/settings.py",
        r#"import importlib
import os

CONFIG_PATH = os.getenv("NETBOX_CONFIGURATION", "netbox.configuration")
configuration = importlib.import_module(CONFIG_PATH)
DATABASE = getattr(configuration, "DATABASE", None)
DATABASES = getattr(configuration, "DATABASES", {"default": DATABASE})
"#,
    )]);
    let analysis = repo.analyze(&Environment::new());
    assert!(analysis.pools.is_empty());
    assert_eq!(analysis.unresolved.len(), 1, "{:?}", analysis.unresolved);
    let u = &analysis.unresolved[0];
    assert_eq!(
        u.what,
        "`DATABASES` of Django settings `netbox.netbox.settings`"
    );
    assert_eq!(
        u.reason,
        "`importlib.import_module(\"netbox.configuration\")` imports a module that is not in the repository"
    );
    assert_eq!(
        repo.slice(&u.location),
        "getattr(configuration, \"DATABASES\", {\"default\": DATABASE})"
    );
}

#[test]
fn pool_true_holds_four_connections_per_process() {
    let repo = Repo::new(&[(
        "app/settings.py",
        r#"DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "",
        "OPTIONS": {"pool": True},
    }
}
"#,
    )]);
    let analysis = repo.analyze(&Environment::new());
    let default = pool(&analysis, "default");
    assert_eq!(default.kind, PoolKind::DjangoPool);
    assert_eq!(size(default), Some(4));
    let s = django(default);
    let option = s.pool.as_ref().unwrap();
    assert!(!option.is_dict);
    assert_eq!(option.value.value.as_deref(), Some("True"));
    assert_eq!(repo.slice(option.location.as_ref().unwrap()), "True");
    assert!(option.min_size.is_default());
    assert!(option.max_size.is_none());
    assert_eq!(
        default.settings.timeout.as_ref().and_then(|t| t.value),
        Some(30.0)
    );
    assert_eq!(
        default.target.get().unwrap().host.as_deref(),
        Some("localhost")
    );
    assert_eq!(
        repo.slice(s.options_dict.as_ref().unwrap()),
        "{\"pool\": True}"
    );
}

#[test]
fn pool_dict_sizes_keys_and_cap_location() {
    let repo = Repo::new(&[(
        "app/settings.py",
        r#"DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "db",
        "CONN_MAX_AGE": 600,
        "OPTIONS": {
            "pool": {"min_size": 2, "max_size": 20, "timeout": 10, "check": None},
        },
    },
    "small": {
        "ENGINE": "django.db.backends.postgresql",
        "OPTIONS": {"pool": {"min_size": 8, "max_size": None}},
    },
    "off": {
        "ENGINE": "django.db.backends.postgresql",
        "OPTIONS": {"pool": False},
    },
}
"#,
    )]);
    let analysis = repo.analyze(&Environment::new());
    let default = pool(&analysis, "default");
    assert_eq!(size(default), Some(20));
    assert_eq!(repo.slice(&default.cap_location), "20");
    let option = django(default).pool.as_ref().unwrap();
    assert!(option.is_dict);
    let keys: Vec<&str> = option.keys.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["min_size", "max_size", "timeout", "check"]);
    assert_eq!(repo.slice(option.keys[3].1.as_ref().unwrap()), "None");
    assert_eq!(option.min_size.get().and_then(IntExpr::constant), Some(2));
    assert_eq!(
        default.settings.timeout.as_ref().and_then(|t| t.value),
        Some(10.0)
    );
    assert_eq!(
        default
            .settings
            .min_size
            .as_ref()
            .and_then(|m| m.get().and_then(IntExpr::constant)),
        Some(2)
    );
    // PC302 reads both: the pool and a non-zero CONN_MAX_AGE.
    assert_eq!(django(default).conn_max_age.value, Some(Some(600)));

    // max_size None: fixed at min_size.
    let small = pool(&analysis, "small");
    assert_eq!(size(small), Some(8));
    assert_eq!(repo.slice(&small.cap_location), repo.slice(&small.location));
    // pool False: a plain alias.
    assert_eq!(pool(&analysis, "off").kind, PoolKind::DjangoAlias);
}

#[test]
fn sqlite_mysql_and_oracle_are_skipped_and_custom_postgres_engines_kept() {
    let repo = Repo::new(&[(
        "settings.py",
        r#"DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"},
    "mysql": {"ENGINE": "django.db.backends.mysql", "HOST": "mysql"},
    "oracle": {"ENGINE": "django.db.backends.oracle"},
    "sentry": {"ENGINE": "sentry.db.postgres", "HOST": "pgbouncer", "PORT": ""},
    "gis": {"ENGINE": "django.contrib.gis.db.backends.postgis"},
    "old": {"ENGINE": "django.db.backends.postgresql_psycopg2"},
    "extra": {"ENGINE": "psqlextra.backend"},
    "failopen": {"ENGINE": "posthog.db_backends.failopen"},
}
"#,
    )]);
    let analysis = repo.analyze(&Environment::new());
    assert_eq!(
        names(&analysis),
        ["sentry", "gis", "old", "extra", "failopen"]
    );
    let sentry = pool(&analysis, "sentry");
    assert_eq!(
        sentry.target.get().unwrap().host.as_deref(),
        Some("pgbouncer")
    );
    assert_eq!(sentry.target.get().unwrap().port, None);
    let old = pool(&analysis, "old");
    assert_eq!(old.driver.value, Some(Driver::Psycopg2));
    assert_eq!(
        repo.slice(old.driver.location.as_ref().unwrap()),
        "\"django.db.backends.postgresql_psycopg2\""
    );
    let failopen = pool(&analysis, "failopen");
    assert_eq!(failopen.driver.value, Some(Driver::Psycopg3));
    assert!(
        failopen.driver.origin_phrase().unwrap().contains(
            "ENGINE `posthog.db_backends.failopen` names no other database, so it is taken to wrap Django's PostgreSQL backend"
        ),
        "{:?}",
        failopen.driver
    );
    assert!(analysis.unresolved.is_empty());
}

#[test]
fn options_startup_parameters_binding_and_ssl() {
    let repo = Repo::new(&[(
        "posthog/settings/data_stores.py",
        r#"import os
from posthog.settings.utils import get_from_env, str_to_bool

lock_timeout_ms = int(os.getenv("LOCK_TIMEOUT_MS", "20000"))
DISABLE_SERVER_SIDE_CURSORS = os.getenv("USING_PGBOUNCER", "false") == "true"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "pgbouncer",
        "PORT": 6432,
        "CONN_MAX_AGE": 0,
        "DISABLE_SERVER_SIDE_CURSORS": DISABLE_SERVER_SIDE_CURSORS,
        "OPTIONS": {"server_side_binding": True, "sslmode": os.getenv("DB_SSLMODE", "prefer")},
    },
    "default_direct": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "db",
        "OPTIONS": {
            "options": f"-c lock_timeout={lock_timeout_ms}",
            "prepare_threshold": None,
            "application_name": "posthog",
        },
    },
}
"#,
    )]);
    let analysis = repo.analyze(&env(&[("USING_PGBOUNCER", "true")]));
    let default = pool(&analysis, "default");
    let s = django(default);
    assert_eq!(s.disable_server_side_cursors.value, Some(true));
    assert_eq!(s.server_side_binding.value, Some(true));
    assert_eq!(
        default.settings.prepare_threshold.as_ref().unwrap().value,
        Some(Some(5))
    );
    assert!(
        default
            .settings
            .prepare_threshold
            .as_ref()
            .unwrap()
            .is_default()
    );
    let sslmode = s.sslmode.as_ref().unwrap();
    assert_eq!(sslmode.value.as_deref(), Some("prefer"));
    assert_eq!(default.target.get().unwrap().port, Some(6432));

    let direct = pool(&analysis, "default_direct");
    let params: Vec<(&str, Option<&str>, StartupVia)> = direct
        .settings
        .startup_parameters
        .iter()
        .map(|p| (p.name.as_str(), p.value.as_deref(), p.via))
        .collect();
    assert_eq!(
        params,
        [
            ("lock_timeout", Some("20000"), StartupVia::Options),
            ("application_name", Some("posthog"), StartupVia::Direct)
        ]
    );
    assert_eq!(
        repo.slice(
            direct.settings.startup_parameters[0]
                .location
                .as_ref()
                .unwrap()
        ),
        "f\"-c lock_timeout={lock_timeout_ms}\""
    );
    // Written, so kept even with client-side binding.
    assert_eq!(
        direct.settings.prepare_threshold.as_ref().unwrap().value,
        Some(None)
    );
    assert_eq!(django(direct).server_side_binding.value, Some(false));
    // Without server-side binding and nothing written, the setting does not apply.
    let plain = repo.analyze(&Environment::new());
    assert!(
        pool(&plain, "default_direct")
            .settings
            .prepare_threshold
            .is_some()
    );
    assert_eq!(
        django(pool(&plain, "default"))
            .disable_server_side_cursors
            .value,
        Some(false)
    );
}

#[test]
fn missing_and_unknown_engines_are_reported() {
    let repo = Repo::new(&[(
        "settings.py",
        r#"import os
import dj_database_url
DATABASES = {
    "default": {"ENGINE": os.environ["DB_ENGINE"], "HOST": "db"},
    "url": dj_database_url.config(),
}
"#,
    )]);
    let analysis = repo.analyze(&Environment::new());
    assert!(analysis.pools.is_empty());
    let reasons: Vec<(&str, &str)> = analysis
        .unresolved
        .iter()
        .map(|u| (u.what.as_str(), u.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            (
                "ENGINE of Django alias `default`",
                "$DB_ENGINE has no value and no default: declare it in [tool.poolcheck.env]"
            ),
            (
                "ENGINE of Django alias `url`",
                "the alias is empty (= dj-database-url without a URL)"
            ),
        ]
    );
    let with_env = repo.analyze(&env(&[
        ("DB_ENGINE", "django.db.backends.postgresql"),
        ("DATABASE_URL", "postgres://u@h/db"),
    ]));
    assert_eq!(names(&with_env), ["default", "url"]);
}

#[test]
fn a_condition_on_the_environment_picks_the_branch() {
    let repo = Repo::new(&[(
        "hc/settings.py",
        r#"import os

def envint(name, default):
    return int(os.getenv(name, default))

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "hc.sqlite"}}
if os.getenv("DB") == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": os.getenv("DB_HOST", ""),
            "CONN_MAX_AGE": envint("DB_CONN_MAX_AGE", "0"),
            "OPTIONS": {"sslmode": os.getenv("DB_SSLMODE", "prefer")},
        }
    }
"#,
    )]);
    assert!(repo.analyze(&Environment::new()).pools.is_empty());
    let analysis = repo.analyze(&env(&[("DB", "postgres"), ("DB_CONN_MAX_AGE", "120")]));
    let default = pool(&analysis, "default");
    assert_eq!(django(default).conn_max_age.value, Some(Some(120)));
    assert_eq!(
        default.target.get().unwrap().host.as_deref(),
        Some("localhost")
    );
}

#[test]
fn an_unknown_branch_keeps_the_riskier_configuration() {
    let repo = Repo::new(&[(
        "paperless/settings.py",
        r#"import os

def parse_db_settings():
    options = {"sslmode": os.getenv("PAPERLESS_DBSSLMODE", "prefer")}
    pool_size = os.getenv("PAPERLESS_DB_POOLSIZE")
    if pool_size is not None:
        options["pool"] = {"min_size": 1, "max_size": int(pool_size)}
    return {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": os.getenv("PAPERLESS_DBHOST", "db"),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    }

DATABASES = parse_db_settings()
"#,
    )]);
    let none = repo.analyze(&Environment::new());
    assert_eq!(pool(&none, "default").kind, PoolKind::DjangoAlias);
    let sized = repo.analyze(&env(&[("PAPERLESS_DB_POOLSIZE", "6")]));
    let default = pool(&sized, "default");
    assert_eq!(default.kind, PoolKind::DjangoPool);
    assert_eq!(size(default), Some(6));
    assert_eq!(django(default).conn_max_age.value, Some(Some(0)));
    assert_eq!(django(default).conn_health_checks.value, Some(true));
}

const NETBOX_SETTINGS: &str = r#"import importlib
import os

CONFIG_PATH = os.getenv("NETBOX_CONFIGURATION", "netbox.configuration")
configuration = importlib.import_module(CONFIG_PATH)
DATABASE = getattr(configuration, "DATABASE", None)
DATABASES = getattr(configuration, "DATABASES", {"default": DATABASE})
"#;

const NETBOX_CONFIGURATION: &str = r#"DATABASE = {
    "ENGINE": "django.db.backends.postgresql",
    "NAME": "netbox",
    "USER": "netbox",
    "HOST": "localhost",
    "PORT": "",
    "CONN_MAX_AGE": 300,
}
"#;

#[test]
fn getattr_on_an_imported_configuration_module_follows_it() {
    let repo = Repo::new(&[
        ("netbox/netbox/settings.py", NETBOX_SETTINGS),
        ("netbox/netbox/configuration.py", NETBOX_CONFIGURATION),
        (
            "netbox/netbox/wsgi.py",
            "import os\nos.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"netbox.settings\")\n",
        ),
    ]);
    let analysis = repo.analyze(&Environment::new());
    assert_eq!(names(&analysis), ["default"]);
    let default = pool(&analysis, "default");
    let s = django(default);
    assert_eq!(s.settings_module, "netbox.settings");
    assert_eq!(s.conn_max_age.value, Some(Some(300)));
    assert_eq!(
        s.conn_max_age.location.as_ref().unwrap().file,
        FilePath::new("netbox/netbox/configuration.py")
    );
    assert_eq!(default.target.get().unwrap().port, None);
    assert!(analysis.unresolved.is_empty(), "{:?}", analysis.unresolved);
}

#[test]
fn an_example_configuration_counts_only_when_nothing_else_does() {
    let alone = Repo::new(&[(
        "sentry/sentry.conf.example.py",
        r#"DATABASES = {
    "default": {
        "ENGINE": "sentry.db.postgres",
        "NAME": "postgres",
        "USER": "postgres",
        "HOST": "pgbouncer",
        "PORT": "",
    }
}
"#,
    )]);
    let analysis = alone.analyze(&Environment::new());
    assert_eq!(names(&analysis), ["default"]);
    assert_eq!(
        django(&analysis.pools[0]).settings_module,
        "sentry.sentry.conf.example"
    );
    // Next to a real settings module, the example is a template only.
    let both = Repo::new(&[
        ("netbox/netbox/settings.py", NETBOX_SETTINGS),
        (
            "netbox/netbox/configuration_example.py",
            NETBOX_CONFIGURATION,
        ),
    ]);
    let analysis = both.analyze(&Environment::new());
    assert!(analysis.pools.is_empty());
    assert_eq!(
        analysis.unresolved[0].what,
        "`DATABASES` of Django settings `netbox.netbox.settings`"
    );
}

#[test]
fn an_undecidable_choice_between_alias_configurations_keeps_the_larger_cap() {
    let repo = Repo::new(&[(
        "app/settings.py",
        r#"import os

POOLED = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "db",
        "OPTIONS": {"pool": {"max_size": 10}},
    }
}
PERSISTENT = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "db",
        "CONN_MAX_AGE": None,
    }
}
DATABASES = POOLED if os.environ["USE_POOL"] == "1" else PERSISTENT
"#,
    )]);
    let analysis = repo.analyze(&Environment::new());
    assert_eq!(names(&analysis), ["default"]);
    let default = pool(&analysis, "default");
    assert_eq!(default.kind, PoolKind::DjangoAlias);
    assert_eq!(
        default.alternatives.as_deref(),
        Some(
            "alias `default` depends on a condition (10; one per request): the largest cap is used"
        )
    );
    assert_eq!(django(default).conn_max_age.value, Some(None));
    let pooled = repo.analyze(&env(&[("USE_POOL", "1")]));
    assert_eq!(size(pool(&pooled, "default")), Some(10));
    assert!(pool(&pooled, "default").alternatives.is_none());
}

#[test]
fn malformed_settings_are_reported_not_guessed() {
    let repo = Repo::new(&[(
        "settings.py",
        r#"DATABASES = {
    "default": "postgres://db/app",
    "odd": {
        "ENGINE": "django.db.backends.postgresql",
        "PORT": "99999",
        "CONN_MAX_AGE": "forever",
        "OPTIONS": "sslmode=require",
    },
    "truthy": {"ENGINE": "django.db.backends.postgresql", "OPTIONS": {"pool": "yes"}},
}
"#,
    )]);
    let analysis = repo.analyze(&Environment::new());
    assert_eq!(names(&analysis), ["odd", "truthy"]);
    let reasons: Vec<(&str, &str)> = analysis
        .unresolved
        .iter()
        .map(|u| (u.what.as_str(), u.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            (
                "the settings of Django alias `default`",
                "the alias is \"postgres://db/app\", not a dict"
            ),
            ("OPTIONS of Django alias `odd`", "OPTIONS is not a dict"),
            (
                "CONN_MAX_AGE of Django alias `odd`",
                "\"forever\" is not an integer"
            ),
        ]
    );
    let odd = pool(&analysis, "odd");
    assert_eq!(odd.target.get().unwrap().port, None);
    assert!(django(odd).conn_max_age.value.is_none());
    // A truthy non-dict pool is a pool of psycopg_pool's defaults (PC303 flags the value).
    let truthy = pool(&analysis, "truthy");
    assert_eq!(truthy.kind, PoolKind::DjangoPool);
    let option = django(truthy).pool.as_ref().unwrap();
    assert_eq!(option.value.value.as_deref(), Some("\"yes\""));
    assert!(!option.is_dict);
    assert_eq!(size(truthy), Some(4));
}

/// Settings that pick the engine with `match` (Python 3.10), building the
/// alias dict in a helper function: the arm the environment selects decides.
const MATCH_ENGINE: &str = r#"import copy
import os


def database_settings():
    engine = os.environ.get("APP_DB_ENGINE", "sqlite")
    config: dict
    match engine:
        case "sqlite":
            config = {"ENGINE": "django.db.backends.sqlite3", "NAME": "app.db"}
        case "postgres" | "postgresql":
            config = {
                "ENGINE": "django.db.backends.postgresql",
                "HOST": os.getenv("APP_DB_HOST", "db"),
                "NAME": "app",
            }
            options = {"application_name": "app"}
            if (size := os.getenv("APP_DB_POOL")) is not None:
                options["pool"] = {"min_size": 1, "max_size": int(size)}
            config["OPTIONS"] = copy.deepcopy(options)
        case _:
            raise ValueError(engine)
    config["CONN_HEALTH_CHECKS"] = True
    return {"default": config}


DATABASES = database_settings()
"#;

fn match_repo() -> Repo {
    Repo::new(&[
        ("app/__init__.py", ""),
        ("app/settings.py", MATCH_ENGINE),
        (
            "app/wsgi.py",
            "import os\nfrom django.core.wsgi import get_wsgi_application\n\nos.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"app.settings\")\napplication = get_wsgi_application()\n",
        ),
    ])
}

#[test]
fn match_statement_selects_the_arm_of_the_environment() {
    let repo = match_repo();
    let analysis = repo.analyze(&env(&[("APP_DB_ENGINE", "postgresql")]));
    assert!(analysis.unresolved.is_empty(), "{:?}", analysis.unresolved);
    assert_eq!(names(&analysis), ["default"]);
    let default = pool(&analysis, "default");
    assert_eq!(default.target.get().unwrap().host.as_deref(), Some("db"));
    assert_eq!(django(default).conn_health_checks.value, Some(true));
    assert!(django(default).pool.is_none());

    // The walrus in the `if` binds the size the pool then uses; the deep copy
    // keeps the dict.
    let analysis = repo.analyze(&env(&[("APP_DB_ENGINE", "postgres"), ("APP_DB_POOL", "6")]));
    assert!(analysis.unresolved.is_empty(), "{:?}", analysis.unresolved);
    let pool_option = django(pool(&analysis, "default"))
        .pool
        .as_ref()
        .expect("OPTIONS[\"pool\"]");
    let max_size = pool_option.max_size.as_ref().expect("max_size");
    assert_eq!(max_size.get().and_then(IntExpr::constant), Some(6));
    assert_eq!(
        repo.slice(max_size.location.as_ref().unwrap()),
        "os.getenv(\"APP_DB_POOL\")"
    );

    // The default arm is SQLite: no PostgreSQL pool, and nothing unknown.
    let analysis = repo.analyze(&Environment::new());
    assert!(analysis.unresolved.is_empty(), "{:?}", analysis.unresolved);
    assert!(analysis.pools.is_empty(), "{:#?}", analysis.pools);
}

/// A monorepo of Django services, each `wsgi.py` selecting its own settings:
/// a service that runs one of them loads that settings module only, not one
/// configuration per service of the repository.
#[test]
fn each_service_loads_the_settings_its_own_wsgi_selects() {
    let wsgi = |name: &str| {
        format!(
            "import os\nfrom django.core.wsgi import get_wsgi_application\nos.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"{name}.settings\")\napplication = get_wsgi_application()\n"
        )
    };
    let settings = |size: u32| {
        format!(
            "DATABASES = {{\"default\": {{\"ENGINE\": \"django.db.backends.postgresql\", \"HOST\": \"db\", \"OPTIONS\": {{\"pool\": {{\"max_size\": {size}}}}}}}}}\n"
        )
    };
    let (wsgi_a, wsgi_b) = (wsgi("svc_a"), wsgi("svc_b"));
    let (settings_a, settings_b) = (settings(4), settings(9));
    let repo = Repo::new(&[
        ("svc_a/__init__.py", ""),
        ("svc_a/settings.py", &settings_a),
        ("svc_a/wsgi.py", &wsgi_a),
        ("svc_b/__init__.py", ""),
        ("svc_b/settings.py", &settings_b),
        ("svc_b/wsgi.py", &wsgi_b),
    ]);
    let project = PythonProject::new(Path::new(""), repo.files.iter().map(|(p, _, m)| (p, m)));
    let analyzer = crate::python::Analyzer::new(&project);
    let all: Vec<usize> = (0..project.len()).collect();
    let env = Environment::new();
    for (service, settings) in [("svc_a", "svc_a.settings"), ("svc_b", "svc_b.settings")] {
        let entry = project.index_of_name(&format!("{service}.wsgi")).unwrap();
        let code = project.reachable_from(&[entry]);
        let loaded = analyzer.django_loaded_modules(&env, &code, &all);
        assert_eq!(loaded, [project.index_of_name(settings).unwrap()]);
        let analysis = analyzer.analyze_modules(&env, &code, &all);
        assert_eq!(names(&analysis), ["default"], "{service}");
        assert_eq!(django(&analysis.pools[0]).settings_module, settings);
    }
    // The repository as a whole still has both configurations.
    assert_eq!(repo.analyze(&env).pools.len(), 2);
}
