//! Raw drivers: asyncpg pools and connections, psycopg 3 connections and
//! psycopg_pool pools, psycopg2 pools and connections.

use poolcheck_core::facts::pool::{ClientPool, Driver, PoolCap, PoolKind, PoolSettings, Target};
use poolcheck_core::{IntExpr, Sourced};

use super::Unresolved;
use super::sqlalchemy::{
    PoolArgs, apply_driver_defaults, apply_driver_kwargs, sourced_bool, sourced_float, sourced_int,
};
use super::url::parse_db_url;
use super::value::{PyDict, Value};

/// Which driver API a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverCall {
    AsyncpgPool,
    AsyncpgConnect,
    PsycopgConnect { is_async: bool },
    PsycopgPool { is_async: bool, null: bool },
    Psycopg2Pool,
    Psycopg2Connect,
}

/// Classifies a resolved callee path (`asyncpg.create_pool`, `psycopg_pool.ConnectionPool`).
pub fn classify(path: &str) -> Option<DriverCall> {
    let root = path.split('.').next().unwrap_or("");
    let last = path.rsplit('.').next().unwrap_or("");
    Some(match (root, last) {
        ("asyncpg", "create_pool" | "Pool") => DriverCall::AsyncpgPool,
        ("asyncpg", "connect") => DriverCall::AsyncpgConnect,
        ("psycopg", "connect") => DriverCall::PsycopgConnect {
            is_async: path.contains("AsyncConnection"),
        },
        ("psycopg_pool" | "psycopg", "ConnectionPool") => DriverCall::PsycopgPool {
            is_async: false,
            null: false,
        },
        ("psycopg_pool" | "psycopg", "AsyncConnectionPool") => DriverCall::PsycopgPool {
            is_async: true,
            null: false,
        },
        ("psycopg_pool" | "psycopg", "NullConnectionPool") => DriverCall::PsycopgPool {
            is_async: false,
            null: true,
        },
        ("psycopg_pool" | "psycopg", "AsyncNullConnectionPool") => DriverCall::PsycopgPool {
            is_async: true,
            null: true,
        },
        (
            "psycopg2",
            "SimpleConnectionPool" | "ThreadedConnectionPool" | "PersistentConnectionPool",
        ) => DriverCall::Psycopg2Pool,
        ("psycopg2", "connect") => DriverCall::Psycopg2Connect,
        _ => return None,
    })
}

fn const_default(v: i64, tool: &str) -> Sourced<IntExpr> {
    Sourced::tool_default(IntExpr::Const(v), tool)
}

pub fn driver_pool(
    call: DriverCall,
    args: &PoolArgs,
    name: String,
    unresolved: &mut Vec<Unresolved>,
) -> ClientPool {
    let (kind, driver, is_async, tool) = match call {
        DriverCall::AsyncpgPool | DriverCall::AsyncpgConnect => {
            (PoolKind::AsyncpgPool, Driver::Asyncpg, true, "asyncpg")
        }
        DriverCall::PsycopgConnect { is_async } | DriverCall::PsycopgPool { is_async, .. } => (
            PoolKind::PsycopgPool,
            Driver::Psycopg3,
            is_async,
            "psycopg_pool",
        ),
        DriverCall::Psycopg2Pool | DriverCall::Psycopg2Connect => {
            (PoolKind::Psycopg2Pool, Driver::Psycopg2, false, "psycopg2")
        }
    };
    let driver = Sourced::literal(driver, args.location.clone());
    // The DSN: first positional (psycopg2 pools: third), or dsn=/conninfo=.
    let dsn_index = usize::from(call == DriverCall::Psycopg2Pool) * 2;
    let dsn = args
        .get("dsn")
        .or_else(|| args.get("conninfo"))
        .or_else(|| args.positional.get(dsn_index));
    let mut target = Target::default();
    let mut settings = PoolSettings {
        arguments_location: args.arguments.clone(),
        ..PoolSettings::default()
    };
    let mut target_origin = None;
    if let Some(Sourced {
        value: Some(Value::Str(s)),
        origin,
        location,
    }) = dsn
    {
        let url = parse_db_url(s);
        target = Target {
            host: url.host.clone(),
            port: url.port,
            dbname: url.dbname.clone(),
            user: url.user.clone(),
        };
        target_origin = Some((origin.clone(), location.clone()));
        let mut params = PyDict::default();
        for (k, v) in &url.params {
            params.insert(
                k.clone(),
                Sourced::with_origin(Value::str(v.clone()), origin.clone(), location.clone()),
            );
        }
        apply_driver_kwargs(&mut settings, &params, &driver);
    } else if let Some(reason) = dsn.and_then(|d| d.unknown_reason()) {
        unresolved.push(Unresolved {
            assumed: None,
            location: dsn
                .and_then(|d| d.location.clone())
                .unwrap_or_else(|| args.location.clone()),
            what: format!("connection string of `{name}`"),
            reason: reason.to_owned(),
        });
    }
    // Keyword connection parameters (asyncpg host=, psycopg host=, …).
    let text = |key: &str| match args.get(key).and_then(|v| v.value.as_ref()) {
        Some(Value::Str(s)) => s.complete().map(str::to_owned),
        Some(Value::Int(IntExpr::Const(i))) => Some(i.to_string()),
        _ => None,
    };
    if let Some(host) = text("host") {
        target.host = Some(host);
    }
    if let Some(port) = text("port").and_then(|p| p.parse().ok()) {
        target.port = Some(port);
    }
    if let Some(db) = text("database").or_else(|| text("dbname")) {
        target.dbname = Some(db);
    }
    if let Some(user) = text("user") {
        target.user = Some(user);
    }
    let keyword_dict = PyDict {
        entries: args
            .named
            .iter()
            .map(|(n, v, _)| (n.clone(), v.clone()))
            .collect(),
        unknown: args.unknown.clone(),
        literal: None,
    };
    match call {
        DriverCall::PsycopgPool { .. } => {
            if let Some(kwargs) = args.get("kwargs")
                && let Some(Value::Dict(d)) = &kwargs.value
            {
                settings.connect_args_location.clone_from(&d.literal);
                apply_driver_kwargs(&mut settings, d, &driver);
            }
        }
        _ => apply_driver_kwargs(&mut settings, &keyword_dict, &driver),
    }
    apply_driver_defaults(&mut settings, &driver);

    let size_of =
        |key: &str, default: Option<Sourced<IntExpr>>, unresolved: &mut Vec<Unresolved>| {
            let value = args.get(key).map(sourced_int).or(default)?;
            if let Some(reason) = value.unknown_reason() {
                unresolved.push(Unresolved {
                    assumed: None,
                    location: args
                        .setting_location(key)
                        .unwrap_or_else(|| args.location.clone()),
                    what: format!("{key} of `{name}`"),
                    reason: reason.to_owned(),
                });
            }
            Some(value)
        };
    let mut single_connection = false;
    let cap = match call {
        DriverCall::AsyncpgPool => {
            settings.min_size = size_of("min_size", Some(const_default(10, "asyncpg")), unresolved);
            settings.max_size = size_of("max_size", Some(const_default(10, "asyncpg")), unresolved);
            settings.max_idle = Some(
                args.get("max_inactive_connection_lifetime")
                    .map_or_else(|| Sourced::tool_default(300.0, "asyncpg"), sourced_float),
            );
            PoolCap::Bounded {
                size: settings
                    .max_size
                    .clone()
                    .unwrap_or_else(|| const_default(10, "asyncpg")),
                overflow: None,
            }
        }
        DriverCall::PsycopgPool { null, .. } => {
            let min_default = if null { 0 } else { 4 };
            settings.min_size = size_of(
                "min_size",
                Some(const_default(min_default, tool)),
                unresolved,
            );
            // `max_size=None` means "the same as min_size".
            settings.max_size = size_of("max_size", None, unresolved).or_else(|| {
                settings.min_size.clone().map(|m| Sourced {
                    origin: match m.origin {
                        poolcheck_core::Origin::ToolDefault { tool } => {
                            poolcheck_core::Origin::ToolDefault { tool }
                        }
                        other => other,
                    },
                    ..m
                })
            });
            settings.timeout = Some(
                args.get("timeout")
                    .map_or_else(|| Sourced::tool_default(30.0, tool), sourced_float),
            );
            settings.max_idle = Some(
                args.get("max_idle")
                    .map_or_else(|| Sourced::tool_default(600.0, tool), sourced_float),
            );
            settings.max_lifetime = Some(
                args.get("max_lifetime")
                    .map_or_else(|| Sourced::tool_default(3600.0, tool), sourced_float),
            );
            settings.check = args.get("check").and_then(|c| c.location.clone());
            settings.open = Some(
                args.get("open")
                    .map_or_else(|| Sourced::tool_default(true, tool), sourced_bool),
            );
            if null && args.get("max_size").is_none() {
                PoolCap::PerConcurrency {
                    reason: "NullConnectionPool without max_size opens a connection per request"
                        .into(),
                }
            } else {
                PoolCap::Bounded {
                    size: settings
                        .max_size
                        .clone()
                        .unwrap_or_else(|| const_default(4, tool)),
                    overflow: None,
                }
            }
        }
        DriverCall::Psycopg2Pool => {
            let min = args
                .get("minconn")
                .or_else(|| args.positional.first())
                .map(sourced_int);
            let max = args
                .get("maxconn")
                .or_else(|| args.positional.get(1))
                .map(sourced_int);
            settings.min_size = min;
            settings.max_size.clone_from(&max);
            match max {
                Some(max) => {
                    if let Some(reason) = max.unknown_reason() {
                        unresolved.push(Unresolved {
                            assumed: None,
                            location: args.location.clone(),
                            what: format!("maxconn of `{name}`"),
                            reason: reason.to_owned(),
                        });
                    }
                    PoolCap::Bounded {
                        size: max,
                        overflow: None,
                    }
                }
                None => PoolCap::Bounded {
                    size: Sourced::unknown(
                        "the pool has no maxconn argument",
                        Some(args.location.clone()),
                    ),
                    overflow: None,
                },
            }
        }
        DriverCall::AsyncpgConnect
        | DriverCall::PsycopgConnect { .. }
        | DriverCall::Psycopg2Connect => {
            single_connection = true;
            PoolCap::Bounded {
                size: Sourced::tool_default(IntExpr::Const(1), format!("{tool} connect()")),
                overflow: None,
            }
        }
    };
    let target = match target_origin {
        Some((origin, location)) => Sourced::with_origin(target, origin, location),
        None if target.host.is_some() => Sourced::literal(target, args.location.clone()),
        None => Sourced::unknown(
            "no connection string or host is given (libpq then reads $PGHOST)",
            Some(args.location.clone()),
        ),
    };
    let cap_location = args
        .setting_location(match call {
            DriverCall::Psycopg2Pool => "maxconn",
            _ => "max_size",
        })
        .filter(|l| l.file == args.location.file)
        .unwrap_or_else(|| args.location.clone());
    ClientPool {
        kind,
        name,
        location: args.location.clone(),
        driver,
        is_async,
        target,
        cap,
        cap_location,
        settings,
        single_connection,
        alternatives: None,
        event_sql: Vec::new(),
    }
}
