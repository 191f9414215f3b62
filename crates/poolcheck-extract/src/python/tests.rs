//! Behaviour of the Python front-end on the shapes real projects use.

use std::fmt::Write as _;
use std::path::Path;

use poolcheck_core::facts::pool::{
    ClientPool, Driver, PoolCap, PoolKind, SettingSource, StartupVia,
};
use poolcheck_core::facts::python::ImportTimeKind;
use poolcheck_core::facts::{FileFacts, FileKind};
use poolcheck_core::{EnvVar, Environment, FilePath, IntExpr, Origin, SourceFile, Sourced};

use super::*;

struct Repo {
    files: Vec<(FilePath, String, PythonModule)>,
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

    fn project(&self) -> PythonProject<'_> {
        PythonProject::new(Path::new(""), self.files.iter().map(|(p, _, m)| (p, m)))
    }

    /// The text a location points at.
    fn slice(&self, location: &Location) -> &str {
        let (_, text, _) = self
            .files
            .iter()
            .find(|(p, _, _)| *p == location.file)
            .expect("location in a known file");
        &text[location.span.range()]
    }

    fn analyze(&self, env: &Environment) -> PythonAnalysis {
        self.project().analyze(env, None)
    }

    fn value(&self, path: &str, name: &str, env: &Environment) -> Sourced<Value> {
        self.project()
            .evaluate_name(Path::new(path), name, env)
            .expect("module exists")
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

fn int_of(v: &Sourced<Value>) -> Option<i64> {
    match v.value.as_ref()? {
        Value::Int(i) => i.constant(),
        _ => None,
    }
}

fn str_of(v: &Sourced<Value>) -> Option<String> {
    match v.value.as_ref()? {
        Value::Str(s) => s.complete().map(str::to_owned),
        _ => None,
    }
}

fn bounded(pool: &ClientPool) -> (Option<i64>, Option<i64>) {
    match &pool.cap {
        PoolCap::Bounded { size, overflow } => (
            size.get().and_then(IntExpr::constant),
            overflow
                .as_ref()
                .and_then(|o| o.get().and_then(IntExpr::constant)),
        ),
        other => panic!("expected a bounded cap, got {other:?}"),
    }
}

fn only_pool(analysis: &PythonAnalysis) -> &ClientPool {
    assert_eq!(analysis.pools.len(), 1, "pools: {:#?}", analysis.pools);
    &analysis.pools[0]
}

// ----- SQLAlchemy ------------------------------------------------------------

#[test]
fn engine_with_env_default_url_and_literal_pool_args() {
    let repo = Repo::new(&[(
        "app/db.py",
        r#"import os
from sqlalchemy import create_engine

DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql+psycopg2://app@db:5432/app")
engine = create_engine(DATABASE_URL, pool_size=15, max_overflow=30)
"#,
    )]);
    let analysis = repo.analyze(&Environment::new());
    let pool = only_pool(&analysis);
    assert_eq!(pool.kind, PoolKind::SqlAlchemy);
    assert_eq!(pool.name, "engine");
    assert_eq!(bounded(pool), (Some(15), Some(30)));
    let PoolCap::Bounded { size, overflow } = &pool.cap else {
        unreachable!()
    };
    assert_eq!(size.origin, Origin::Literal);
    assert_eq!(repo.slice(size.location.as_ref().unwrap()), "15");
    assert_eq!(
        repo.slice(overflow.as_ref().unwrap().location.as_ref().unwrap()),
        "30"
    );
    assert_eq!(repo.slice(&pool.cap_location), "pool_size=15");
    let target = pool.target.get().unwrap();
    assert_eq!(target.host.as_deref(), Some("db"));
    assert_eq!(target.port, Some(5432));
    assert_eq!(target.dbname.as_deref(), Some("app"));
    assert_eq!(
        pool.target.origin,
        Origin::EnvDefault {
            var: "DATABASE_URL".into()
        }
    );
    assert_eq!(pool.driver.value, Some(Driver::Psycopg2));
    assert_eq!(
        pool.settings.pool_class.as_ref().unwrap().value.as_deref(),
        Some("QueuePool")
    );
    assert!(analysis.unresolved.is_empty(), "{:?}", analysis.unresolved);

    // The environment overrides the default.
    let analysis = repo.analyze(&env(&[(
        "DATABASE_URL",
        "postgresql+asyncpg://u:p@pgbouncer:6432/shop",
    )]));
    let pool = only_pool(&analysis);
    assert_eq!(pool.driver.value, Some(Driver::Asyncpg));
    assert_eq!(
        pool.target.get().unwrap().host.as_deref(),
        Some("pgbouncer")
    );
    assert!(matches!(pool.target.origin, Origin::EnvValue { .. }));
}

#[test]
fn sqlalchemy_defaults_apply_when_arguments_are_absent() {
    let repo = Repo::new(&[(
        "db.py",
        "import sqlalchemy as sa\nengine = sa.create_engine('postgresql://db/app')\n",
    )]);
    let analysis = repo.analyze(&Environment::new());
    let pool = only_pool(&analysis);
    assert_eq!(bounded(pool), (Some(5), Some(10)));
    let PoolCap::Bounded { size, .. } = &pool.cap else {
        unreachable!()
    };
    assert_eq!(
        size.origin,
        Origin::ToolDefault {
            tool: "SQLAlchemy".into()
        }
    );
    assert_eq!(
        repo.slice(&pool.cap_location),
        "sa.create_engine('postgresql://db/app')"
    );
    assert_eq!(
        repo.slice(pool.settings.arguments_location.as_ref().unwrap()),
        "('postgresql://db/app')"
    );
    assert_eq!(
        pool.settings.pool_timeout.as_ref().unwrap().value,
        Some(30.0)
    );
    assert_eq!(pool.settings.pool_recycle.as_ref().unwrap().value, Some(-1));
}

#[test]
fn async_engine_alias_with_asyncpg_connect_args() {
    let repo = Repo::new(&[(
        "server/database.py",
        r#"from uuid import uuid4
from sqlalchemy.ext.asyncio import create_async_engine as cae
from sqlalchemy.pool import NullPool

connect_args = {
    "statement_cache_size": 0,
    "prepared_statement_cache_size": 0,
    "prepared_statement_name_func": lambda: f"__asyncpg_{uuid4()}__",
    "server_settings": {"jit": "off", "application_name": "api"},
    "timeout": 10,
}
engine = cae(
    "postgresql+asyncpg://app:secret@pgbouncer:6432/app",
    poolclass=NullPool,
    connect_args=connect_args,
    isolation_level="AUTOCOMMIT",
)
"#,
    )]);
    let analysis = repo.analyze(&Environment::new());
    let pool = only_pool(&analysis);
    assert!(pool.is_async);
    assert_eq!(pool.driver.value, Some(Driver::Asyncpg));
    assert!(matches!(pool.cap, PoolCap::PerConcurrency { .. }));
    let s = &pool.settings;
    assert_eq!(
        s.pool_class.as_ref().unwrap().value.as_deref(),
        Some("NullPool")
    );
    assert_eq!(s.statement_cache_size.as_ref().unwrap().value, Some(0));
    assert_eq!(
        s.prepared_statement_cache_size.as_ref().unwrap().value,
        Some(0)
    );
    assert_eq!(
        s.prepared_statement_cache_size_source,
        Some(SettingSource::ConnectArgs)
    );
    assert_eq!(
        repo.slice(s.prepared_statement_name_func.as_ref().unwrap()),
        r#"lambda: f"__asyncpg_{uuid4()}__""#
    );
    let names: Vec<(&str, StartupVia)> = s
        .startup_parameters
        .iter()
        .map(|p| (p.name.as_str(), p.via))
        .collect();
    assert_eq!(
        names,
        vec![
            ("jit", StartupVia::ServerSettings),
            ("application_name", StartupVia::ServerSettings)
        ]
    );
    assert_eq!(s.connect_timeout.as_ref().unwrap().value, Some(10.0));
    assert_eq!(
        s.isolation_level.as_ref().unwrap().value.as_deref(),
        Some("AUTOCOMMIT")
    );
    assert!(
        repo.slice(s.connect_args_location.as_ref().unwrap())
            .starts_with("{\n    \"statement_cache_size\"")
    );
}

#[test]
fn polar_shape_sets_only_the_sqlalchemy_cache_and_asyncpg_keeps_its_default() {
    let repo = Repo::new(&[(
        "db.py",
        r#"from sqlalchemy.ext.asyncio import create_async_engine
engine = create_async_engine(
    "postgresql+asyncpg://db/app?prepared_statement_cache_size=0",
    connect_args={"server_settings": {"application_name": "polar"}},
)
"#,
    )]);
    let analysis = repo.analyze(&Environment::new());
    let s = &only_pool(&analysis).settings;
    assert_eq!(
        s.prepared_statement_cache_size.as_ref().unwrap().value,
        Some(0)
    );
    assert_eq!(
        s.prepared_statement_cache_size_source,
        Some(SettingSource::Url)
    );
    let cache = s.statement_cache_size.as_ref().unwrap();
    assert_eq!(cache.value, Some(100));
    assert!(cache.is_default());
    assert_eq!(
        repo.slice(s.connect_args_location.as_ref().unwrap()),
        r#"{"server_settings": {"application_name": "polar"}}"#
    );
}

#[test]
fn branches_that_pick_null_pool_report_the_worse_case() {
    let repo = Repo::new(&[(
        "db.py",
        r#"import os
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool, QueuePool

POOL = os.environ.get("USE_POOL")
if POOL:
    engine = create_engine("postgresql://db/app", poolclass=QueuePool, pool_size=10)
else:
    engine = create_engine("postgresql://db/app", poolclass=NullPool)
"#,
    )]);
    // USE_POOL unset: the condition is decidable, only the NullPool engine exists.
    let analysis = repo.analyze(&Environment::new());
    let pool = only_pool(&analysis);
    assert!(matches!(pool.cap, PoolCap::PerConcurrency { .. }));
    assert_eq!(pool.alternatives, None);
    // USE_POOL set: the QueuePool engine.
    let analysis = repo.analyze(&env(&[("USE_POOL", "1")]));
    assert_eq!(bounded(only_pool(&analysis)), (Some(10), Some(10)));
}

#[test]
fn undecidable_branches_merge_into_the_worst_pool_with_a_note() {
    let repo = Repo::new(&[(
        "db.py",
        r#"from sqlalchemy import create_engine, NullPool
from app import flags

if flags.PGBOUNCER:
    engine = create_engine("postgresql://pgbouncer/app", poolclass=NullPool)
else:
    engine = create_engine("postgresql://db/app", pool_size=20)
"#,
    )]);
    let analysis = repo.analyze(&Environment::new());
    let pool = only_pool(&analysis);
    assert!(matches!(pool.cap, PoolCap::PerConcurrency { .. }));
    let note = pool.alternatives.as_deref().unwrap();
    assert_eq!(
        note,
        "`engine` is created in 2 branches (one per request; 20 + 10): the largest cap is used"
    );
}

#[test]
fn poolclass_from_a_conditional_expression_keeps_both_candidates() {
    let repo = Repo::new(&[(
        "db.py",
        r#"from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool, QueuePool
from settings import TESTING
engine = create_engine("postgresql://db/app", poolclass=NullPool if TESTING else QueuePool)
"#,
    )]);
    let analysis = repo.analyze(&Environment::new());
    let pool = only_pool(&analysis);
    assert!(matches!(pool.cap, PoolCap::PerConcurrency { .. }));
    assert_eq!(
        pool.alternatives.as_deref(),
        Some(
            "poolclass is NullPool or QueuePool depending on a condition: the largest cap is used"
        )
    );
}

#[test]
fn unbounded_overflow_and_zero_pool_size() {
    let repo = Repo::new(&[(
        "db.py",
        "from sqlalchemy import create_engine\na = create_engine('postgresql://db/x', max_overflow=-1)\nb = create_engine('postgresql://db/x', pool_size=0)\n",
    )]);
    let analysis = repo.analyze(&Environment::new());
    assert_eq!(analysis.pools.len(), 2);
    for pool in &analysis.pools {
        let PoolCap::Unbounded { location, .. } = &pool.cap else {
            panic!("{:?}", pool.cap)
        };
        let text = repo.slice(location.as_ref().unwrap());
        assert!(text == "max_overflow=-1" || text == "pool_size=0", "{text}");
    }
}

#[test]
fn sqlite_engines_are_not_postgres_clients() {
    let repo = Repo::new(&[(
        "db.py",
        "from sqlalchemy import create_engine\nengine = create_engine('sqlite:///:memory:')\n",
    )]);
    let analysis = repo.analyze(&Environment::new());
    let pool = only_pool(&analysis);
    assert_eq!(
        pool.driver.value,
        Some(Driver::NotPostgres("sqlite".into()))
    );
    assert_eq!(
        pool.settings.pool_class.as_ref().unwrap().value.as_deref(),
        Some("SingletonThreadPool")
    );
}

#[test]
fn engine_built_from_a_pydantic_settings_object() {
    let repo = Repo::new(&[
        (
            "app/config.py",
            r#"from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="APP_")

    database_url: str = "postgresql+psycopg://app@db:5432/app"
    pool_size: int = 10
    max_overflow: int = Field(default=5, description="extra")
    pool_timeout: float = Field(30.0, validation_alias="DB_POOL_TIMEOUT")

settings = Settings()
"#,
        ),
        (
            "app/db.py",
            r"from sqlalchemy import create_engine
from app.config import settings

engine = create_engine(
    settings.database_url,
    pool_size=settings.pool_size,
    max_overflow=settings.max_overflow,
    pool_timeout=settings.pool_timeout,
)
",
        ),
    ]);
    let analysis = repo.analyze(&Environment::new());
    let pool = only_pool(&analysis);
    assert_eq!(bounded(pool), (Some(10), Some(5)));
    assert_eq!(pool.driver.value, Some(Driver::Psycopg3));
    let PoolCap::Bounded { size, .. } = &pool.cap else {
        unreachable!()
    };
    assert_eq!(
        size.origin,
        Origin::EnvDefault {
            var: "APP_POOL_SIZE".into()
        }
    );
    assert_eq!(repo.slice(size.location.as_ref().unwrap()), "10");
    assert_eq!(
        pool.settings.prepare_threshold.as_ref().unwrap().value,
        Some(Some(5))
    );

    // Case-insensitive env names, the prefix, and an alias without the prefix.
    let analysis = repo.analyze(&env(&[("app_pool_size", "25"), ("DB_POOL_TIMEOUT", "5")]));
    let pool = only_pool(&analysis);
    assert_eq!(bounded(pool), (Some(25), Some(5)));
    assert_eq!(
        pool.settings.pool_timeout.as_ref().unwrap().value,
        Some(5.0)
    );
}

#[test]
fn mlflow_style_kwargs_dict_built_from_the_environment() {
    let repo = Repo::new(&[(
        "store/db.py",
        r#"import os
import sqlalchemy
from sqlalchemy.pool import NullPool, QueuePool

def create_sqlalchemy_engine(db_uri):
    pool_size = os.environ.get("MLFLOW_SQLALCHEMYSTORE_POOL_SIZE")
    pool_max_overflow = os.environ.get("MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW")
    poolclass = os.environ.get("MLFLOW_SQLALCHEMYSTORE_POOLCLASS")
    pool_kwargs = {}
    if pool_size:
        pool_kwargs["pool_size"] = int(pool_size)
    if pool_max_overflow:
        pool_kwargs["max_overflow"] = int(pool_max_overflow)
    if poolclass:
        pool_kwargs["poolclass"] = {"NullPool": NullPool, "QueuePool": QueuePool}[poolclass]
    return sqlalchemy.create_engine(db_uri, pool_pre_ping=True, **pool_kwargs)

engine = create_sqlalchemy_engine("postgresql://mlflow@db/mlflow")
"#,
    )]);
    let analysis = repo.analyze(&Environment::new());
    let pool = only_pool(&analysis);
    assert_eq!(pool.name, "create_sqlalchemy_engine");
    assert_eq!(bounded(pool), (Some(5), Some(10)));
    assert_eq!(pool.target.get().unwrap().user.as_deref(), Some("mlflow"));
    assert_eq!(
        pool.settings.pool_pre_ping.as_ref().unwrap().value,
        Some(true)
    );

    let analysis = repo.analyze(&env(&[
        ("MLFLOW_SQLALCHEMYSTORE_POOL_SIZE", "40"),
        ("MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW", "0"),
    ]));
    let pool = only_pool(&analysis);
    assert_eq!(bounded(pool), (Some(40), Some(0)));
    let PoolCap::Bounded { size, .. } = &pool.cap else {
        unreachable!()
    };
    assert_eq!(
        size.origin,
        Origin::EnvValue {
            var: "MLFLOW_SQLALCHEMYSTORE_POOL_SIZE".into(),
            source: ".env".into()
        }
    );

    let analysis = repo.analyze(&env(&[("MLFLOW_SQLALCHEMYSTORE_POOLCLASS", "NullPool")]));
    assert!(matches!(
        only_pool(&analysis).cap,
        PoolCap::PerConcurrency { .. }
    ));
}

#[test]
fn dispatch_shape_engine_factory_called_with_config_values() {
    let repo = Repo::new(&[
        (
            "src/dispatch/config.py",
            r#"from starlette.config import Config
config = Config(".env")
DATABASE_HOSTNAME = config("DATABASE_HOSTNAME", default="database")
DATABASE_PORT = config("DATABASE_PORT", default="5432")
DATABASE_ENGINE_POOL_SIZE = config("DATABASE_ENGINE_POOL_SIZE", cast=int, default=20)
DATABASE_ENGINE_MAX_OVERFLOW = config("DATABASE_ENGINE_MAX_OVERFLOW", cast=int, default=10)
SQLALCHEMY_DATABASE_URI = f"postgresql+psycopg2://dispatch:{config('DATABASE_PASSWORD')}@{DATABASE_HOSTNAME}:{DATABASE_PORT}/dispatch"
"#,
        ),
        (
            "src/dispatch/database/core.py",
            r"from sqlalchemy import create_engine
from dispatch import config

def create_db_engine(connection_string):
    return create_engine(
        connection_string,
        pool_size=config.DATABASE_ENGINE_POOL_SIZE,
        max_overflow=config.DATABASE_ENGINE_MAX_OVERFLOW,
    )

engine = create_db_engine(config.SQLALCHEMY_DATABASE_URI)
",
        ),
    ]);
    let analysis = repo.analyze(&Environment::new());
    let pool = only_pool(&analysis);
    assert_eq!(bounded(pool), (Some(20), Some(10)));
    let target = pool.target.get().unwrap();
    // The password is unknown; the host and port are not.
    assert_eq!(target.host.as_deref(), Some("database"));
    assert_eq!(target.port, Some(5432));
    assert_eq!(pool.driver.value, Some(Driver::Psycopg2));
}

#[test]
fn unknown_pool_size_is_reported_with_what_to_declare() {
    let repo = Repo::new(&[(
        "db.py",
        r#"import os
from sqlalchemy import create_engine
engine = create_engine("postgresql://db/app", pool_size=int(os.environ["DATABASE_POOL_SIZE"]))
"#,
    )]);
    let analysis = repo.analyze(&Environment::new());
    let PoolCap::Bounded { size, .. } = &only_pool(&analysis).cap else {
        unreachable!()
    };
    let reason =
        "$DATABASE_POOL_SIZE has no value and no default: declare it in [tool.poolcheck.env]";
    assert_eq!(size.unknown_reason(), Some(reason));
    assert_eq!(analysis.unresolved.len(), 1);
    assert_eq!(analysis.unresolved[0].what, "pool_size of `engine`");
    assert_eq!(analysis.unresolved[0].reason, reason);
    // The environment read is the cause, so the finding marks it.
    assert_eq!(
        repo.slice(&analysis.unresolved[0].location),
        "os.environ[\"DATABASE_POOL_SIZE\"]"
    );
}

#[test]
fn event_listeners_attach_their_sql_to_the_engine() {
    let repo = Repo::new(&[(
        "db.py",
        r#"from sqlalchemy import create_engine, event, text
engine = create_engine("postgresql://db/app")

@event.listens_for(engine, "connect")
def set_search_path(dbapi_connection, connection_record):
    cursor = dbapi_connection.cursor()
    cursor.execute("SET search_path TO app")
    cursor.close()
"#,
    )]);
    let analysis = repo.analyze(&Environment::new());
    let pool = only_pool(&analysis);
    assert_eq!(pool.event_sql.len(), 1);
    assert_eq!(pool.event_sql[0].event, "connect");
    assert_eq!(pool.event_sql[0].sql, "SET search_path TO app");
    assert_eq!(
        repo.slice(&pool.event_sql[0].location),
        "\"SET search_path TO app\""
    );
    assert_eq!(analysis.event_handlers[0].pools, vec!["engine".to_owned()]);
}

#[test]
fn import_time_connections_are_recorded_but_not_inside_functions() {
    let repo = Repo::new(&[(
        "models.py",
        r#"from sqlalchemy import create_engine
from psycopg_pool import ConnectionPool
from django.db.models.signals import post_save
engine = create_engine("postgresql://db/app")
Base.metadata.create_all(engine)
with engine.connect() as conn:
    conn.execute(text("select 1"))
pool = ConnectionPool("host=db")
lazy = ConnectionPool("host=db", open=False)
post_save.connect(handler)

def later():
    engine.connect()
"#,
    )]);
    let analysis = repo.analyze(&Environment::new());
    let kinds: Vec<(ImportTimeKind, &str)> = analysis
        .import_time_connections
        .iter()
        .map(|c| (c.kind, repo.slice(&c.location)))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (ImportTimeKind::Metadata, "Base.metadata.create_all(engine)"),
            (ImportTimeKind::Connect, "engine.connect()"),
            (ImportTimeKind::Execute, "conn.execute(text(\"select 1\"))"),
            (ImportTimeKind::OpenedPool, "ConnectionPool(\"host=db\")"),
        ]
    );
}

// ----- Flask-SQLAlchemy --------------------------------------------------------

#[test]
fn flask_config_class_inheritance_picks_production() {
    let repo = Repo::new(&[
        (
            "app/__init__.py",
            "from flask_sqlalchemy import SQLAlchemy\ndb = SQLAlchemy()\n",
        ),
        (
            "app/config.py",
            r#"import os

class Config:
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL", "postgresql://app@db/app")
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_size": 10, "max_overflow": 5, "pool_pre_ping": True}

class DevelopmentConfig(Config):
    SQLALCHEMY_DATABASE_URI = "sqlite:///dev.db"

class ProductionConfig(Config):
    SQLALCHEMY_ENGINE_OPTIONS = {**Config.SQLALCHEMY_ENGINE_OPTIONS, "pool_size": 30}
"#,
        ),
    ]);
    let analysis = repo.analyze(&Environment::new());
    let pool = only_pool(&analysis);
    assert_eq!(pool.name, "flask-sqlalchemy (ProductionConfig)");
    assert_eq!(bounded(pool), (Some(30), Some(5)));
    assert_eq!(pool.target.get().unwrap().host.as_deref(), Some("db"));
    assert_eq!(
        pool.settings.pool_pre_ping.as_ref().unwrap().value,
        Some(true)
    );
    assert_eq!(repo.slice(&pool.location), "ProductionConfig");
}

#[test]
fn flask_legacy_keys_and_app_config_assignments() {
    let repo = Repo::new(&[(
        "app.py",
        r#"import os
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

def int_or_none(value):
    if value is None:
        return value
    return int(value)

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql://redash@postgres/redash"
app.config["SQLALCHEMY_POOL_SIZE"] = int_or_none(os.environ.get("SQLALCHEMY_POOL_SIZE"))
app.config.update(SQLALCHEMY_MAX_OVERFLOW=3)
db = SQLAlchemy(app)
"#,
    )]);
    let analysis = repo.analyze(&Environment::new());
    // pool_size None means "not set": SQLAlchemy's default.
    assert_eq!(bounded(only_pool(&analysis)), (Some(5), Some(3)));
    let analysis = repo.analyze(&env(&[("SQLALCHEMY_POOL_SIZE", "12")]));
    assert_eq!(bounded(only_pool(&analysis)), (Some(12), Some(3)));
}

#[test]
fn flask_settings_without_flask_sqlalchemy_make_no_pool() {
    let repo = Repo::new(&[(
        "config.py",
        "SQLALCHEMY_DATABASE_URI = 'postgresql://db/app'\n",
    )]);
    assert!(repo.analyze(&Environment::new()).pools.is_empty());
}

// ----- drivers ------------------------------------------------------------------

#[test]
fn asyncpg_pool_defaults_and_settings() {
    let repo = Repo::new(&[(
        "db.py",
        r#"import asyncpg

async def init():
    global pool
    pool = await asyncpg.create_pool(
        "postgresql://app@pgbouncer:6432/app",
        max_size=20,
        server_settings={"jit": "off"},
    )
"#,
    )]);
    let analysis = repo.analyze(&Environment::new());
    let pool = only_pool(&analysis);
    assert_eq!(pool.kind, PoolKind::AsyncpgPool);
    assert_eq!(pool.name, "pool");
    assert_eq!(bounded(pool), (Some(20), None));
    assert_eq!(repo.slice(&pool.cap_location), "max_size=20");
    let min = pool.settings.min_size.as_ref().unwrap();
    assert_eq!(min.value, Some(IntExpr::Const(10)));
    assert!(min.is_default());
    assert_eq!(
        pool.settings.statement_cache_size.as_ref().unwrap().value,
        Some(100)
    );
    assert_eq!(pool.settings.startup_parameters[0].name, "jit");
    assert_eq!(pool.target.get().unwrap().port, Some(6432));
}

#[test]
fn psycopg_pool_max_size_defaults_to_min_size_and_reads_kwargs() {
    let repo = Repo::new(&[(
        "db.py",
        r#"from psycopg_pool import ConnectionPool
pool = ConnectionPool(
    "host=db port=5432 dbname=app options='-c statement_timeout=5s'",
    min_size=8,
    kwargs={"prepare_threshold": None},
    open=False,
)
"#,
    )]);
    let analysis = repo.analyze(&Environment::new());
    let pool = only_pool(&analysis);
    assert_eq!(pool.kind, PoolKind::PsycopgPool);
    assert_eq!(bounded(pool), (Some(8), None));
    let s = &pool.settings;
    assert_eq!(s.prepare_threshold.as_ref().unwrap().value, Some(None));
    assert_eq!(s.open.as_ref().unwrap().value, Some(false));
    assert_eq!(s.timeout.as_ref().unwrap().value, Some(30.0));
    assert_eq!(s.startup_parameters[0].name, "statement_timeout");
    assert_eq!(s.startup_parameters[0].via, StartupVia::Options);
    assert_eq!(
        repo.slice(s.connect_args_location.as_ref().unwrap()),
        r#"{"prepare_threshold": None}"#
    );
}

#[test]
fn psycopg2_pool_and_psycopg_connect() {
    let repo = Repo::new(&[(
        "db.py",
        r#"import psycopg
from psycopg2 import pool as pg_pool
threaded = pg_pool.ThreadedConnectionPool(2, 12, "dbname=app host=db")
conn = psycopg.connect("postgresql://db/app?connect_timeout=3", prepare_threshold=None)
"#,
    )]);
    let analysis = repo.analyze(&Environment::new());
    assert_eq!(analysis.pools.len(), 2);
    let threaded = &analysis.pools[0];
    assert_eq!(threaded.kind, PoolKind::Psycopg2Pool);
    assert_eq!(bounded(threaded), (Some(12), None));
    assert_eq!(threaded.target.get().unwrap().host.as_deref(), Some("db"));
    let conn = &analysis.pools[1];
    assert!(conn.single_connection);
    assert_eq!(
        conn.settings.prepare_threshold.as_ref().unwrap().value,
        Some(None)
    );
    assert_eq!(
        conn.settings.connect_timeout.as_ref().unwrap().value,
        Some(3.0)
    );
}

// ----- servers --------------------------------------------------------------------

#[test]
fn gunicorn_workers_from_env_default_then_env_value() {
    let repo = Repo::new(&[(
        "gunicorn.conf.py",
        r#"import os
workers = int(os.environ.get("GUNICORN_WORKERS", "12"))
threads = 4
worker_class = "gthread"
preload_app = True
bind = ["0.0.0.0:8000"]

def post_fork(server, worker):
    from app.db import engine
    engine.dispose(close=False)
"#,
    )]);
    let project = repo.project();
    let path = FilePath::new("gunicorn.conf.py");
    let config = project
        .gunicorn_settings(&path, &Environment::new())
        .unwrap();
    let workers = config.settings.workers.as_ref().unwrap();
    assert_eq!(workers.value, Some(IntExpr::Const(12)));
    assert_eq!(
        workers.origin,
        Origin::EnvDefault {
            var: "GUNICORN_WORKERS".into()
        }
    );
    assert_eq!(repo.slice(workers.location.as_ref().unwrap()), "\"12\"");
    assert_eq!(
        config.settings.threads.as_ref().unwrap().value,
        Some(IntExpr::Const(4))
    );
    assert_eq!(
        config
            .settings
            .worker_class
            .as_ref()
            .unwrap()
            .value
            .as_deref(),
        Some("gthread")
    );
    assert_eq!(config.settings.preload.as_ref().unwrap().value, Some(true));
    assert_eq!(
        config.settings.bind.as_ref().unwrap().value.as_deref(),
        Some("0.0.0.0:8000")
    );
    assert!(config.post_fork_disposes);
    assert_eq!(config.hooks[0].0, "post_fork");

    let config = project
        .gunicorn_settings(&path, &env(&[("GUNICORN_WORKERS", "3")]))
        .unwrap();
    let workers = config.settings.workers.unwrap();
    assert_eq!(workers.value, Some(IntExpr::Const(3)));
    assert!(matches!(workers.origin, Origin::EnvValue { .. }));
}

#[test]
fn gunicorn_cpu_formula_is_symbolic_and_absent_settings_stay_absent() {
    let repo = Repo::new(&[(
        "deploy/gunicorn_config.py",
        "import multiprocessing\nworkers = multiprocessing.cpu_count() * 2 + 1\npreload = True\n",
    )]);
    let config = repo
        .project()
        .gunicorn_settings(
            &FilePath::new("deploy/gunicorn_config.py"),
            &Environment::new(),
        )
        .unwrap();
    let workers = config.settings.workers.unwrap();
    let expr = workers.value.unwrap();
    assert!(expr.depends_on_cpus());
    assert_eq!(expr.eval(4), Some(9));
    assert_eq!(
        workers.origin,
        Origin::Computed {
            expr: "multiprocessing.cpu_count() * 2 + 1".into()
        }
    );
    assert!(config.settings.threads.is_none());
    assert_eq!(config.settings.preload.unwrap().value, Some(true));
    assert!(!config.post_fork_disposes);
}

#[test]
fn uvicorn_run_is_a_server_invocation() {
    let repo = Repo::new(&[(
        "main.py",
        r#"import uvicorn
if __name__ == "__main__":
    uvicorn.run("app.main:app", host="0.0.0.0", port=8000, workers=4)
"#,
    )]);
    let analysis = repo.analyze(&Environment::new());
    assert_eq!(analysis.servers.len(), 1);
    let server = &analysis.servers[0];
    assert_eq!(
        server.settings.workers.as_ref().unwrap().value,
        Some(IntExpr::Const(4))
    );
    assert_eq!(
        server.settings.app.as_ref().unwrap().value.as_deref(),
        Some("app.main:app")
    );
    assert_eq!(
        server.settings.bind.as_ref().unwrap().value.as_deref(),
        Some("0.0.0.0:8000")
    );
    assert!(!server.development);
}

// ----- extraction -------------------------------------------------------------------

#[test]
fn syntax_error_file_still_yields_its_engine_and_a_diagnostic() {
    let text = "from sqlalchemy import create_engine\nengine = create_engine('postgresql://db/app', pool_size=7)\npool_size = (3 +\nx = 1\n";
    let file = SourceFile::new("broken.py", text);
    let mut facts = FileFacts::new(FilePath::new("broken.py"), FileKind::Python);
    extract(&file, &mut facts);
    let module = facts.python.clone().unwrap();
    assert!(!module.syntax_errors.is_empty());
    assert_eq!(facts.diagnostics.len(), 1);
    assert_eq!(facts.diagnostics[0].code, "PC002");
    assert_eq!(
        file.line_col(facts.diagnostics[0].primary.span.start as usize)
            .line,
        3
    );
    let path = FilePath::new("broken.py");
    let project = PythonProject::new(Path::new(""), [(&path, &module)]);
    let analysis = project.analyze(&Environment::new(), None);
    assert_eq!(bounded(only_pool(&analysis)), (Some(7), Some(10)));
}

#[test]
fn binary_junk_does_not_panic() {
    let text = "\u{0}\u{1}\u{fffd}def (((( \"\"\" import * from";
    let module = parse::parse_module(text);
    assert!(!module.syntax_errors.is_empty());
}

// ----- evaluator ----------------------------------------------------------------------

#[test]
fn evaluator_literals_arithmetic_and_conversions() {
    let repo = Repo::new(&[(
        "s.py",
        r#"import os
A = 2
B = A * 3 + 1
C = int("8") // 3
D = float(os.getenv("TIMEOUT", 2.5)) * 2
E = str(B) + "x"
F = -A
G = max(B, 10)
H = os.environ.get("EMPTY") or "fallback"
I = True and 4
"#,
    )]);
    let e = Environment::new();
    assert_eq!(int_of(&repo.value("s.py", "B", &e)), Some(7));
    assert_eq!(int_of(&repo.value("s.py", "C", &e)), Some(2));
    assert_eq!(repo.value("s.py", "D", &e).value, Some(Value::Float(5.0)));
    assert_eq!(str_of(&repo.value("s.py", "E", &e)).as_deref(), Some("7x"));
    assert_eq!(int_of(&repo.value("s.py", "F", &e)), Some(-2));
    assert_eq!(int_of(&repo.value("s.py", "G", &e)), Some(10));
    let h = repo.value("s.py", "H", &e);
    assert_eq!(str_of(&h).as_deref(), Some("fallback"));
    assert_eq!(
        h.origin,
        Origin::EnvDefault {
            var: "EMPTY".into()
        }
    );
    assert_eq!(int_of(&repo.value("s.py", "I", &e)), Some(4));
    let d = repo.value("s.py", "D", &e);
    assert_eq!(
        d.origin,
        Origin::Computed {
            expr: "float(os.getenv(\"TIMEOUT\", 2.5)) * 2 with default of $TIMEOUT".into()
        }
    );
}

#[test]
fn evaluator_strings_fstrings_percent_and_format() {
    let repo = Repo::new(&[(
        "s.py",
        r#"import os
HOST = os.environ.get("DB_HOST", "db")
PASSWORD = os.environ["DB_PASSWORD"]
URL = f"postgresql://app:{PASSWORD}@{HOST}:5432/app"
PCT = "postgresql://%s:%d/%s" % (HOST, 6432, "x")
NAMED = "%(host)s-%(port)s" % {"host": HOST, "port": 1}
FMT = "postgresql://{}:{port}/{db}".format(HOST, port=5433, db="shop")
"#,
    )]);
    let e = Environment::new();
    let url = repo.value("s.py", "URL", &e);
    let Some(Value::Str(s)) = &url.value else {
        panic!("{url:?}")
    };
    assert!(!s.is_complete());
    assert_eq!(
        s.holes,
        vec!["$DB_PASSWORD has no value and no default: declare it in [tool.poolcheck.env]"]
    );
    let parsed = url::parse_db_url(s);
    assert_eq!(parsed.host.as_deref(), Some("db"));
    assert_eq!(parsed.port, Some(5432));
    assert_eq!(
        str_of(&repo.value("s.py", "PCT", &e)).as_deref(),
        Some("postgresql://db:6432/x")
    );
    assert_eq!(
        str_of(&repo.value("s.py", "NAMED", &e)).as_deref(),
        Some("db-1")
    );
    assert_eq!(
        str_of(&repo.value("s.py", "FMT", &e)).as_deref(),
        Some("postgresql://db:5433/shop")
    );
}

#[test]
fn evaluator_unknowns_say_why() {
    let repo = Repo::new(&[(
        "s.py",
        r#"import os, somewhere
A = int(os.environ.get("POOL"))
B = int(os.environ.get("POOL", "many"))
C = somewhere.compute()
D = [x for x in range(3)]
E = UNDEFINED_NAME
"#,
    )]);
    let e = Environment::new();
    assert_eq!(
        repo.value("s.py", "A", &e).unknown_reason(),
        Some("$POOL has no value and no default: declare it in [tool.poolcheck.env]")
    );
    assert_eq!(
        repo.value("s.py", "B", &e).unknown_reason(),
        Some("\"many\" is not an integer")
    );
    assert_eq!(
        repo.value("s.py", "B", &env(&[("POOL", "lots")]))
            .unknown_reason(),
        Some("$POOL = \"lots\" (.env) is not an integer")
    );
    assert_eq!(
        repo.value("s.py", "C", &e).unknown_reason(),
        Some("`somewhere.compute()` is outside the repository and not evaluated")
    );
    assert_eq!(
        repo.value("s.py", "D", &e).unknown_reason(),
        Some("`list comprehension` expressions are not evaluated")
    );
    assert_eq!(
        repo.value("s.py", "E", &e).unknown_reason(),
        Some("`UNDEFINED_NAME` is not defined")
    );
}

#[test]
fn evaluator_django_environ_and_decouple() {
    let repo = Repo::new(&[(
        "settings.py",
        r#"import environ
from decouple import config
env = environ.Env()
POOL = env.int("POOL", default=8)
DEBUG = env.bool("DEBUG", default=False)
NAME = env("DB_NAME", default="app")
AGE = config("CONN_MAX_AGE", default=60, cast=int)
"#,
    )]);
    let e = env(&[("DEBUG", "true"), ("CONN_MAX_AGE", "0")]);
    let pool = repo.value("settings.py", "POOL", &e);
    assert_eq!(int_of(&pool), Some(8));
    assert_eq!(pool.origin, Origin::EnvDefault { var: "POOL".into() });
    assert_eq!(
        repo.value("settings.py", "DEBUG", &e).value,
        Some(Value::Bool(true))
    );
    assert_eq!(
        str_of(&repo.value("settings.py", "NAME", &e)).as_deref(),
        Some("app")
    );
    assert_eq!(int_of(&repo.value("settings.py", "AGE", &e)), Some(0));
}

#[test]
fn evaluator_star_and_relative_imports_with_later_mutation() {
    let repo = Repo::new(&[
        ("shop/__init__.py", ""),
        ("shop/settings/__init__.py", ""),
        (
            "shop/settings/base.py",
            r#"DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "CONN_MAX_AGE": 0}}
WORKERS = 2
"#,
        ),
        (
            "shop/settings/prod.py",
            r#"from .base import *
from . import base as base_module
from ..settings.base import WORKERS as W
DATABASES["default"]["CONN_MAX_AGE"] = None
for alias in DATABASES:
    DATABASES[alias]["CONN_HEALTH_CHECKS"] = True
TOTAL = W + base_module.WORKERS
"#,
        ),
    ]);
    let e = Environment::new();
    let dbs = repo.value("shop/settings/prod.py", "DATABASES", &e);
    let Some(Value::Dict(d)) = &dbs.value else {
        panic!("{dbs:?}")
    };
    let Some(Value::Dict(default)) = &d.get("default").unwrap().value else {
        panic!()
    };
    assert_eq!(
        default.get("CONN_MAX_AGE").unwrap().value,
        Some(Value::None)
    );
    assert_eq!(
        default.get("CONN_HEALTH_CHECKS").unwrap().value,
        Some(Value::Bool(true))
    );
    assert_eq!(
        int_of(&repo.value("shop/settings/prod.py", "TOTAL", &e)),
        Some(4)
    );
    // base.py itself is unchanged.
    let base = repo.value("shop/settings/base.py", "DATABASES", &e);
    let Some(Value::Dict(d)) = &base.value else {
        panic!()
    };
    let Some(Value::Dict(default)) = &d.get("default").unwrap().value else {
        panic!()
    };
    assert_eq!(int_of(default.get("CONN_MAX_AGE").unwrap()), Some(0));
}

#[test]
fn evaluator_import_cycles_end_with_a_reason() {
    let repo = Repo::new(&[
        ("a.py", "from b import Y\nX = Y + 1\n"),
        ("b.py", "from a import X\nY = X + 1\n"),
        ("c.py", "from c2 import *\nZ = 1\n"),
        ("c2.py", "from c import *\nQ = Z\n"),
    ]);
    let e = Environment::new();
    let x = repo.value("a.py", "X", &e);
    assert!(
        x.unknown_reason()
            .unwrap()
            .contains("defined in terms of itself"),
        "{x:?}"
    );
    // Star imports in a cycle terminate.
    let q = repo.value("c2.py", "Q", &e);
    assert_eq!(int_of(&q), Some(1));
}

#[test]
fn evaluator_class_attributes_inherit_and_override() {
    let repo = Repo::new(&[(
        "config.py",
        r#"class Base:
    POOL = 5
    OPTIONS = {"pool_size": POOL}

class Prod(Base):
    POOL = 20

VALUE = Prod.POOL
INHERITED = Prod.OPTIONS["pool_size"]
"#,
    )]);
    let e = Environment::new();
    assert_eq!(int_of(&repo.value("config.py", "VALUE", &e)), Some(20));
    // Class bodies bind their names when they run: Base.OPTIONS saw Base.POOL.
    assert_eq!(int_of(&repo.value("config.py", "INHERITED", &e)), Some(5));
}

#[test]
fn evaluator_pydantic_inner_config_prefix_and_missing_required_field() {
    let repo = Repo::new(&[(
        "settings.py",
        r#"from pydantic import BaseSettings

class DatabaseSettings(BaseSettings):
    pool_size: int = 5
    url: str

    class Config:
        env_prefix = "DB_"

db = DatabaseSettings()
SIZE = db.pool_size
URL = db.url
"#,
    )]);
    let e = env(&[("DB_POOL_SIZE", "9")]);
    let size = repo.value("settings.py", "SIZE", &e);
    assert_eq!(int_of(&size), Some(9));
    assert_eq!(
        size.origin,
        Origin::EnvValue {
            var: "DB_POOL_SIZE".into(),
            source: ".env".into()
        }
    );
    assert_eq!(
        repo.value("settings.py", "URL", &e).unknown_reason(),
        Some("$DB_URL has no value and no default: declare it in [tool.poolcheck.env]")
    );
}

#[test]
fn evaluator_cpu_count_forms_are_symbolic() {
    let repo = Repo::new(&[(
        "g.py",
        r"import os
import multiprocessing as mp
A = mp.cpu_count() * 2 + 1
B = len(os.sched_getaffinity(0))
C = max(2, os.cpu_count() // 2)
",
    )]);
    let e = Environment::new();
    let a = repo.value("g.py", "A", &e);
    let Some(Value::Int(a)) = a.value else {
        panic!()
    };
    assert_eq!(a.to_string(), "cpus × 2 + 1");
    let Some(Value::Int(b)) = repo.value("g.py", "B", &e).value else {
        panic!()
    };
    assert_eq!(b, IntExpr::Cpus);
    let Some(Value::Int(c)) = repo.value("g.py", "C", &e).value else {
        panic!()
    };
    assert_eq!(c.eval(2), Some(2));
    assert_eq!(c.eval(16), Some(8));
}

#[test]
fn evaluator_if_else_and_try_except_bindings() {
    let repo = Repo::new(&[(
        "s.py",
        r#"import os
if os.getenv("DB") == "postgres":
    ENGINE = "postgresql"
else:
    ENGINE = "sqlite"
try:
    POOL = int(os.environ["POOL"])
except KeyError:
    POOL = 4
try:
    from .local_settings import *
except ImportError:
    pass
"#,
    )]);
    assert_eq!(
        str_of(&repo.value("s.py", "ENGINE", &Environment::new())).as_deref(),
        Some("sqlite")
    );
    assert_eq!(
        str_of(&repo.value("s.py", "ENGINE", &env(&[("DB", "postgres")]))).as_deref(),
        Some("postgresql")
    );
    assert_eq!(
        int_of(&repo.value("s.py", "POOL", &Environment::new())),
        Some(4)
    );
    assert_eq!(
        int_of(&repo.value("s.py", "POOL", &env(&[("POOL", "11")]))),
        Some(11)
    );
}

#[test]
fn evaluator_repository_functions_are_followed() {
    let repo = Repo::new(&[(
        "s.py",
        r#"import os
def env_int(name, default=0):
    value = os.environ.get(name)
    if value is None:
        return default
    return int(value)

SIZE = env_int("POOL_SIZE", 7)
"#,
    )]);
    assert_eq!(
        int_of(&repo.value("s.py", "SIZE", &Environment::new())),
        Some(7)
    );
    assert_eq!(
        int_of(&repo.value("s.py", "SIZE", &env(&[("POOL_SIZE", "3")]))),
        Some(3)
    );
}

#[test]
fn evaluator_url_create() {
    let repo = Repo::new(&[(
        "db.py",
        r#"from sqlalchemy import URL, create_engine
url = URL.create("postgresql+psycopg", username="app", password="s3cret", host="pg", port=5433, database="shop")
engine = create_engine(url)
"#,
    )]);
    let analysis = repo.analyze(&Environment::new());
    let pool = only_pool(&analysis);
    assert_eq!(pool.driver.value, Some(Driver::Psycopg3));
    let t = pool.target.get().unwrap();
    assert_eq!(
        (t.host.as_deref(), t.port, t.dbname.as_deref()),
        (Some("pg"), Some(5433), Some("shop"))
    );
}

/// Times extraction of a generated 5,000-line module. Run with
/// `cargo test -p poolcheck-extract --release -- --ignored extraction_speed --nocapture`.
#[test]
#[ignore = "benchmark"]
fn extraction_speed_on_a_5000_line_file() {
    let mut text = String::from("import os\nfrom sqlalchemy import create_engine\n");
    let mut lines = 2;
    let mut i = 0;
    while lines < 5000 {
        let _ = write!(
            text,
            "SETTING_{i} = int(os.environ.get(\"SETTING_{i}\", \"{i}\")) * 2 + 1\n\
             class Config{i}:\n    POOL = {{\"pool_size\": SETTING_{i}, \"name\": f\"db-{{SETTING_{i}}}\"}}\n\
             def handler_{i}(request, *args, **kwargs):\n    if request.method == \"POST\":\n        return compute(request, {i})\n    return None\n\
             engine_{i} = create_engine(\"postgresql://db/app\", pool_size=SETTING_{i})\n"
        );
        lines += 8;
        i += 1;
    }
    let start = std::time::Instant::now();
    let runs = 20;
    for _ in 0..runs {
        let module = parse::parse_module(&text);
        assert_eq!(module.calls.len(), i);
    }
    let per_run = start.elapsed() / runs;
    println!(
        "extraction of {lines} lines ({} bytes): {per_run:?} per file",
        text.len()
    );
}

#[test]
fn evaluator_database_urls_become_django_settings() {
    let repo = Repo::new(&[(
        "settings.py",
        r#"import os
import dj_database_url
import environ
env = environ.Env()
DB_CONN_MAX_AGE = int(os.environ.get("DB_CONN_MAX_AGE", 0))
DATABASES = {
    "default": dj_database_url.config(default="postgres://saleor@db:5432/saleor?sslmode=require", conn_max_age=DB_CONN_MAX_AGE),
    "replica": env.db("REPLICA_URL", default="postgresql://ro@replica/saleor"),
}
"#,
    )]);
    let dbs = repo.value("settings.py", "DATABASES", &Environment::new());
    let Some(Value::Dict(d)) = &dbs.value else {
        panic!("{dbs:?}")
    };
    let Some(Value::Dict(default)) = &d.get("default").unwrap().value else {
        panic!()
    };
    assert_eq!(
        str_of(default.get("ENGINE").unwrap()).as_deref(),
        Some("django.db.backends.postgresql")
    );
    assert_eq!(str_of(default.get("HOST").unwrap()).as_deref(), Some("db"));
    assert_eq!(int_of(default.get("PORT").unwrap()), Some(5432));
    assert_eq!(int_of(default.get("CONN_MAX_AGE").unwrap()), Some(0));
    assert_eq!(
        default.get("HOST").unwrap().origin,
        Origin::EnvDefault {
            var: "DATABASE_URL".into()
        }
    );
    let Some(Value::Dict(options)) = &default.get("OPTIONS").unwrap().value else {
        panic!()
    };
    assert_eq!(
        str_of(options.get("sslmode").unwrap()).as_deref(),
        Some("require")
    );
    let Some(Value::Dict(replica)) = &d.get("replica").unwrap().value else {
        panic!()
    };
    assert_eq!(
        str_of(replica.get("HOST").unwrap()).as_deref(),
        Some("replica")
    );
    assert!(replica.get("CONN_MAX_AGE").is_none());
}

#[test]
fn dify_shape_settings_property_feeds_flask_engine_options() {
    let repo = Repo::new(&[
        (
            "api/configs/middleware/__init__.py",
            r#"from typing import Any
from pydantic import Field, NonNegativeInt, computed_field
from pydantic_settings import BaseSettings

class DatabaseConfig(BaseSettings):
    DB_HOST: str = Field(description="host", default="db")
    SQLALCHEMY_POOL_SIZE: NonNegativeInt = Field(description="pool size", default=30)
    SQLALCHEMY_MAX_OVERFLOW: NonNegativeInt = Field(default=10)
    DB_SESSION_TIMEZONE_OVERRIDE: str = Field(default="UTC")

    @computed_field
    @property
    def SQLALCHEMY_DATABASE_URI(self) -> str:
        return f"postgresql://postgres@{self.DB_HOST}:5432/dify"

    @computed_field
    @property
    def SQLALCHEMY_ENGINE_OPTIONS(self) -> dict[str, Any]:
        connect_args = {}
        if self.DB_SESSION_TIMEZONE_OVERRIDE:
            connect_args["options"] = f"-c timezone={self.DB_SESSION_TIMEZONE_OVERRIDE}"
        result = {
            "pool_size": self.SQLALCHEMY_POOL_SIZE,
            "max_overflow": self.SQLALCHEMY_MAX_OVERFLOW,
            "connect_args": connect_args,
        }
        return result
"#,
        ),
        (
            "api/configs/__init__.py",
            "from .middleware import DatabaseConfig\n\nclass DifyConfig(DatabaseConfig):\n    pass\n\ndify_config = DifyConfig()\n",
        ),
        (
            "api/app_factory.py",
            r#"from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from configs import dify_config

def create_app():
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = dify_config.SQLALCHEMY_DATABASE_URI
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = dify_config.SQLALCHEMY_ENGINE_OPTIONS
    return app
"#,
        ),
    ]);
    let analysis = repo.analyze(&Environment::new());
    let pool = only_pool(&analysis);
    assert_eq!(bounded(pool), (Some(30), Some(10)));
    assert_eq!(pool.target.get().unwrap().host.as_deref(), Some("db"));
    let params = &pool.settings.startup_parameters;
    assert_eq!(params.len(), 1);
    assert_eq!(
        (params[0].name.as_str(), params[0].value.as_deref()),
        ("timezone", Some("UTC"))
    );
    assert_eq!(params[0].via, StartupVia::Options);

    // Setting the override empty (RDS Proxy advice) removes the parameter.
    let analysis = repo.analyze(&env(&[
        ("DB_SESSION_TIMEZONE_OVERRIDE", ""),
        ("SQLALCHEMY_POOL_SIZE", "50"),
    ]));
    let pool = only_pool(&analysis);
    assert!(pool.settings.startup_parameters.is_empty());
    assert_eq!(bounded(pool), (Some(50), Some(10)));
}

#[test]
fn open_webui_shape_nested_branches_follow_the_environment() {
    let repo = Repo::new(&[(
        "backend/internal/db.py",
        r#"import os
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool, QueuePool

DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://webui@db/webui")
DATABASE_POOL_SIZE = os.environ.get("DATABASE_POOL_SIZE", None)
if DATABASE_POOL_SIZE != None:
    try:
        DATABASE_POOL_SIZE = int(DATABASE_POOL_SIZE)
    except Exception:
        DATABASE_POOL_SIZE = None

if DATABASE_POOL_SIZE is not None:
    if DATABASE_POOL_SIZE > 0:
        engine = create_engine(DATABASE_URL, pool_size=DATABASE_POOL_SIZE, max_overflow=0, poolclass=QueuePool)
    else:
        engine = create_engine(DATABASE_URL, poolclass=NullPool)
else:
    engine = create_engine(DATABASE_URL, pool_pre_ping=True)
"#,
    )]);
    let analysis = repo.analyze(&Environment::new());
    assert_eq!(bounded(only_pool(&analysis)), (Some(5), Some(10)));
    assert_eq!(only_pool(&analysis).alternatives, None);
    let analysis = repo.analyze(&env(&[("DATABASE_POOL_SIZE", "8")]));
    assert_eq!(bounded(only_pool(&analysis)), (Some(8), Some(0)));
    let analysis = repo.analyze(&env(&[("DATABASE_POOL_SIZE", "0")]));
    assert!(matches!(
        only_pool(&analysis).cap,
        PoolCap::PerConcurrency { .. }
    ));
}

#[test]
fn engines_in_exclusive_nested_branches_are_one_pool_when_undecidable() {
    let repo = Repo::new(&[(
        "db.py",
        r#"from sqlalchemy import create_engine, NullPool
from elsewhere import SIZE
if SIZE is not None:
    if SIZE > 0:
        engine = create_engine("postgresql://db/app", pool_size=SIZE)
    else:
        engine = create_engine("postgresql://db/app", poolclass=NullPool)
else:
    engine = create_engine("postgresql://db/app")
"#,
    )]);
    let analysis = repo.analyze(&Environment::new());
    let pool = only_pool(&analysis);
    assert!(matches!(pool.cap, PoolCap::PerConcurrency { .. }));
    assert!(
        pool.alternatives
            .as_deref()
            .unwrap()
            .starts_with("`engine` is created in 3 branches"),
        "{:?}",
        pool.alternatives
    );
}

#[test]
fn pathological_inputs_end_without_panics() {
    // Deeper than the parser's expression limit, within Python's own.
    let deep = format!("X = {}1{}\n", "(".repeat(150), ")".repeat(150));
    let long_sum = format!("Y = {}1\n", "1 + ".repeat(5000));
    let repo = Repo::new(&[
        ("deep.py", deep.as_str()),
        ("sum.py", long_sum.as_str()),
        (
            "weird.py",
            r#"from weird import *
def f(x):
    return f(x)
A = f(1)
B = B + 1
C = 99999999999999999999999999
D = 2 ** 400
E = 10 // 0
class K(K):
    Z = Z
F = K.Z
G = "%s %s %(x)s" % (1,)
H = "{} {0} {x}".format()
import sqlalchemy
engine = sqlalchemy.create_engine(A, pool_size=B, max_overflow=E, **A)
"#,
        ),
    ]);
    let e = Environment::new();
    assert_eq!(
        repo.value("deep.py", "X", &e).unknown_reason(),
        Some("`deeply nested expression` expressions are not evaluated")
    );
    assert_eq!(
        repo.value("sum.py", "Y", &e).unknown_reason(),
        Some("`deeply nested expression` expressions are not evaluated")
    );
    for name in ["A", "B", "C", "D", "E", "F", "G", "H"] {
        let v = repo.value("weird.py", name, &e);
        assert!(v.value.is_some() || v.unknown_reason().is_some(), "{name}");
    }
    assert_eq!(
        repo.value("weird.py", "C", &e).unknown_reason(),
        Some("`integer` expressions are not evaluated")
    );
    let analysis = repo.analyze(&e);
    let pool = only_pool(&analysis);
    assert!(pool.driver.unknown_reason().is_some());
    assert!(!analysis.unresolved.is_empty());
}

#[test]
fn only_paths_narrow_the_modules_analysed() {
    let repo = Repo::new(&[
        (
            "./api/db.py",
            "from sqlalchemy import create_engine\nengine = create_engine('postgresql://db/api')\n",
        ),
        (
            "worker/db.py",
            "from sqlalchemy import create_engine\nengine = create_engine('postgresql://db/worker')\n",
        ),
    ]);
    let project = repo.project();
    let analysis = project.analyze(&Environment::new(), Some(&[PathBuf::from("api")]));
    assert_eq!(
        only_pool(&analysis).target.get().unwrap().dbname.as_deref(),
        Some("api")
    );
    let analysis = project.analyze(&Environment::new(), Some(&[PathBuf::from("./worker")]));
    assert_eq!(
        only_pool(&analysis).target.get().unwrap().dbname.as_deref(),
        Some("worker")
    );
}

#[test]
fn evaluator_membership_in_os_environ_follows_the_environment() {
    let repo = Repo::new(&[(
        "settings.py",
        r#"import os

def get_int_from_env(key, default=None):
    if key not in os.environ:
        return default
    return int(os.environ[key])

POOL_SIZE = get_int_from_env("POOL_SIZE")
HAS_URL = "DATABASE_URL" in os.environ
"#,
    )]);
    let unset = Environment::new();
    assert_eq!(
        repo.value("settings.py", "POOL_SIZE", &unset).value,
        Some(Value::None)
    );
    assert_eq!(
        repo.value("settings.py", "HAS_URL", &unset).value,
        Some(Value::Bool(false))
    );
    let set = env(&[("POOL_SIZE", "8"), ("DATABASE_URL", "postgres://db/app")]);
    assert_eq!(
        int_of(&repo.value("settings.py", "POOL_SIZE", &set)),
        Some(8)
    );
    assert_eq!(
        repo.value("settings.py", "HAS_URL", &set).value,
        Some(Value::Bool(true))
    );
}

/// `extract` on a 2 MiB stack: the PC002 messages and the module.
fn extract_on_small_stack(text: String) -> (Vec<String>, PythonModule) {
    crate::on_small_stack(move || {
        let file = SourceFile::new("app/db.py", text);
        let mut facts = FileFacts::new(file.path().clone(), FileKind::Python);
        extract(&file, &mut facts);
        let messages = facts
            .diagnostics
            .iter()
            .filter(|d| d.code == "PC002")
            .map(|d| d.message.clone())
            .collect();
        (messages, facts.python.unwrap_or_default())
    })
}

#[test]
fn deeply_nested_assignment_targets_are_pc002_not_a_stack_overflow() {
    let depth = 3_700;
    let text = format!(
        "{}a{} = 1\nengine = create_engine(URL, pool_size=5)\n",
        "(".repeat(depth),
        ",)".repeat(depth)
    );
    let (messages, _) = extract_on_small_stack(text);
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(
        messages[0].contains("brackets nested more than 200 deep"),
        "{messages:?}"
    );
    // Within Python's limit the target is parsed and its shallow names bound.
    let text = format!("b, {}a{} = 2, 1\n", "(".repeat(190), ",)".repeat(190));
    let (messages, module) = extract_on_small_stack(text);
    assert!(messages.is_empty(), "{messages:?}");
    assert!(module.body.iter().any(|stmt| matches!(
        &stmt.kind,
        StmtKind::Assign { target, .. } if target.name == "b"
    )));
}

#[test]
fn deeply_nested_blocks_are_pc002_not_a_parser_abort() {
    // tree-sitter-python 0.25 asserts (and aborts the process) when it
    // serializes an indentation stack this deep inside an open string.
    let depth = 511;
    let mut text = String::from("import sqlalchemy\n");
    for level in 0..depth {
        text.push_str(&" ".repeat(level));
        text.push_str("if x:\n");
    }
    text.push_str(&" ".repeat(depth));
    text.push_str("engine = sqlalchemy.create_engine(f\"{'postgresql://db/app'}\", pool_size=5)\n");
    let (messages, module) = extract_on_small_stack(text);
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(
        messages[0].contains("more than 100 levels of indentation"),
        "{messages:?}"
    );
    assert!(module.calls.is_empty());
}

#[test]
fn blocks_as_deep_as_python_allows_are_read() {
    let depth = 99;
    let mut text = String::from("import sqlalchemy\n");
    for level in 0..depth {
        text.push_str(&" ".repeat(level));
        text.push_str("if x:\n");
    }
    text.push_str(&" ".repeat(depth));
    text.push_str("engine = sqlalchemy.create_engine(\"postgresql://db/app\", pool_size=5)\n");
    let (messages, module) = extract_on_small_stack(text);
    assert!(messages.is_empty(), "{messages:?}");
    assert_eq!(module.calls.len(), 1);
}

#[test]
fn five_thousand_engines_in_one_file_are_five_thousand_pools() {
    let mut text = String::from("from sqlalchemy import create_engine\n");
    for i in 0..5_000 {
        let _ = writeln!(
            text,
            "engine{i} = create_engine(\"postgresql://db/app\", pool_size={})",
            1 + i % 7
        );
    }
    let repo = Repo::new(&[("app/db.py", text.as_str())]);
    let pools = repo.analyze(&Environment::new()).pools;
    assert_eq!(pools.len(), 5_000);
    assert_eq!(pools[4_999].name, "engine4999");
}

#[test]
fn thousands_of_calls_in_one_deep_expression_are_all_found() {
    let text = format!(
        "from sqlalchemy import create_engine\nx = {}None\n",
        "create_engine(URL, pool_size=5) if a else ".repeat(2_000)
    );
    let (messages, module) = extract_on_small_stack(text);
    assert!(messages.is_empty(), "{messages:?}");
    assert_eq!(module.calls.len(), 2_000);
}

#[test]
fn many_syntax_errors_on_one_long_line_are_one_finding() {
    let text = format!(
        "x = {}\nengine = create_engine(URL, pool_size=5,,)\n",
        "é = 1 1; ".repeat(20_000)
    );
    let (messages, module) = extract_on_small_stack(text);
    assert!(
        module.syntax_errors.len() >= 20_000,
        "{}",
        module.syntax_errors.len()
    );
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(messages[0].contains("`create_engine`"), "{messages:?}");
}

#[test]
fn a_long_chain_of_star_imports_is_not_a_stack_overflow() {
    let modules = 2_000;
    let texts: Vec<(String, String)> = (0..modules)
        .map(|i| {
            let text = if i == 0 {
                "POOL_SIZE = 7\n".to_owned()
            } else {
                format!("from pkg.m{} import *\n", i - 1)
            };
            (format!("pkg/m{i}.py"), text)
        })
        .chain(std::iter::once((
            "pkg/db.py".to_owned(),
            format!(
                "from pkg.m{} import *\nfrom sqlalchemy import create_engine\nengine = create_engine(\"postgresql://db/app\", pool_size=POOL_SIZE)\n",
                modules - 1
            ),
        )))
        .collect();
    let (pools, reason) = crate::on_small_stack(move || {
        let files: Vec<(&str, &str)> = texts
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        let repo = Repo::new(&files);
        let analysis = repo.analyze(&Environment::new());
        let reason = repo
            .value("pkg/db.py", "POOL_SIZE", &Environment::new())
            .unknown_reason()
            .map(str::to_owned);
        (analysis.pools.len(), reason)
    });
    assert_eq!(pools, 1);
    assert!(
        reason
            .as_deref()
            .is_some_and(|r| r.contains("imported through more than 64 modules")),
        "{reason:?}"
    );
}

#[test]
fn thousands_of_augmented_assignments_are_not_a_stack_overflow() {
    let mut text = String::from(
        "import os\nfrom sqlalchemy import create_engine\nPOOL = os.cpu_count()\nSIZE = 1\n",
    );
    for _ in 0..5_000 {
        text.push_str("POOL += 1\nSIZE += 1\n");
    }
    text.push_str(
        "engine = create_engine(\"postgresql://db/app\", pool_size=SIZE, max_overflow=POOL)\n",
    );
    let (size, pool) = crate::on_small_stack(move || {
        let repo = Repo::new(&[("app/db.py", text.as_str())]);
        let env = Environment::new();
        let size = repo.value("app/db.py", "SIZE", &env);
        let pool = repo.value("app/db.py", "POOL", &env);
        (int_of(&size), pool.unknown_reason().map(str::to_owned))
    });
    assert_eq!(size, None);
    assert!(
        pool.as_deref()
            .is_some_and(|r| r.contains("computed through too many steps")),
        "{pool:?}"
    );
    // A few augmented assignments still add up.
    let text = format!("SIZE = 1\n{}", "SIZE += 1\n".repeat(40));
    let repo = Repo::new(&[("app/db.py", text.as_str())]);
    assert_eq!(
        int_of(&repo.value("app/db.py", "SIZE", &Environment::new())),
        Some(41)
    );
}

#[test]
fn a_name_re_exported_by_a_package_star_import_has_its_value() {
    let repo = Repo::new(&[
        ("app/__init__.py", ""),
        ("app/config/__init__.py", "from .values import *\n"),
        ("app/config/values.py", "POOL_SIZE = 12\n"),
        ("app/db/__init__.py", "from .engine import *\n"),
        (
            "app/db/engine.py",
            "from app.config import POOL_SIZE\n__all__ = [\"SIZE\"]\nSIZE = POOL_SIZE + 1\nHIDDEN = 3\n",
        ),
        ("app/main.py", "from app.db import SIZE\nTOTAL = SIZE * 2\n"),
    ]);
    let e = Environment::new();
    assert_eq!(int_of(&repo.value("app/main.py", "TOTAL", &e)), Some(26));
}

#[test]
fn kwargs_mutated_by_setdefault_and_update_reach_the_engine() {
    let repo = Repo::new(&[(
        "db.py",
        r#"def build(url, **kwargs):
    kwargs.setdefault("pool_size", 1)
    kwargs.update(max_overflow=1)
    kwargs["pool_timeout"] = 5
    return kwargs

DEFAULTS = build("x")
GIVEN = build("x", pool_size=7, max_overflow=9)
"#,
    )]);
    let e = Environment::new();
    let get = |name: &str, key: &str| {
        let v = repo.value("db.py", name, &e);
        let Some(Value::Dict(d)) = &v.value else {
            panic!("{v:?}")
        };
        int_of(d.get(key).unwrap())
    };
    assert_eq!(get("DEFAULTS", "pool_size"), Some(1));
    assert_eq!(
        get("GIVEN", "pool_size"),
        Some(7),
        "setdefault keeps the caller's value"
    );
    assert_eq!(
        get("GIVEN", "max_overflow"),
        Some(1),
        "update overwrites it"
    );
    assert_eq!(get("DEFAULTS", "pool_timeout"), Some(5));
}

#[test]
fn a_float_factor_times_the_cpu_count_stays_symbolic_and_a_cap_bounds_it() {
    let repo = Repo::new(&[(
        "gunicorn.conf.py",
        r#"import multiprocessing
import os
per_core = float(os.getenv("WORKERS_PER_CORE", "1.5"))
cores = multiprocessing.cpu_count()
workers = min(int(per_core * cores) + 1, 9)
"#,
    )]);
    let e = Environment::new();
    let v = repo.value("gunicorn.conf.py", "workers", &e);
    let Some(Value::Int(expr)) = &v.value else {
        panic!("{v:?}")
    };
    assert_eq!(expr.eval(2), Some(4));
    assert_eq!(expr.eval(5), Some(8));
    assert_eq!(expr.eval(64), Some(9));
    assert_eq!(expr.cap(), Some(9));
}

#[test]
fn a_subclass_of_django_environ_reads_the_environment() {
    let repo = Repo::new(&[(
        "settings.py",
        r#"import environ

class Env(environ.FileAwareEnv):
    pass

env = Env()
plain = environ.FileAwareEnv()
AGE = env.int("CONN_MAX_AGE", default=60)
WORKERS = plain.int("WORKERS", default=2)
"#,
    )]);
    let e = env(&[("WORKERS", "5")]);
    assert_eq!(int_of(&repo.value("settings.py", "AGE", &e)), Some(60));
    assert_eq!(int_of(&repo.value("settings.py", "WORKERS", &e)), Some(5));
}
