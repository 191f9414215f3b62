//! SQLAlchemy engines: `create_engine`/`create_async_engine` calls (and
//! Flask-SQLAlchemy's settings, which end up in the same place) -> `ClientPool`.

use poolcheck_core::facts::pool::{
    ClientPool, Driver, PoolCap, PoolKind, PoolSettings, SettingSource, StartupParameter,
    StartupVia, Target,
};
use poolcheck_core::{IntExpr, Location, Origin, Sourced};

use super::Unresolved;
use super::eval::{Evaluator, as_int};
use super::url::{DbUrl, driver_for_scheme, parse_db_url, parse_options};
use super::value::{PyDict, Value};

const TOOL: &str = "SQLAlchemy";

/// Arguments of a pool constructor, explicit or spread from a dict.
#[derive(Debug, Clone)]
pub struct PoolArgs {
    pub positional: Vec<Sourced<Value>>,
    /// Name, value, and the `name=value` location when written in the call.
    pub named: Vec<(String, Sourced<Value>, Option<Location>)>,
    /// Why some keyword arguments may be missing (`**unresolved`).
    pub unknown: Vec<String>,
    /// The call (or settings block) that defines the pool.
    pub location: Location,
    /// The argument list, where a fix inserts a keyword.
    pub arguments: Option<Location>,
}

impl PoolArgs {
    pub fn get(&self, name: &str) -> Option<&Sourced<Value>> {
        self.named
            .iter()
            .rev()
            .find(|(n, v, _)| n == name && !matches!(v.value, Some(Value::None)))
            .map(|(_, v, _)| v)
    }

    /// Where the setting is written: the keyword in the call, else the value.
    pub fn setting_location(&self, name: &str) -> Option<Location> {
        self.named
            .iter()
            .rev()
            .find(|(n, _, _)| n == name)
            .and_then(|(_, v, at)| at.clone().or_else(|| v.location.clone()))
    }
}

/// Everything that decides a pool's cap, for one choice of pool class.
struct CapChoice {
    class: Sourced<String>,
    cap: PoolCap,
}

pub fn engine_pool(
    eval: &Evaluator<'_, '_>,
    url: Option<Sourced<Value>>,
    args: &PoolArgs,
    constructor_async: bool,
    name: String,
    unresolved: &mut Vec<Unresolved>,
) -> ClientPool {
    let mut alternatives = Vec::new();
    let (db_url, url_value) = pick_url(url, &mut alternatives);
    let driver = driver_of(db_url.as_ref(), &url_value, &args.location);
    let is_async = constructor_async
        || matches!(driver.value, Some(Driver::Asyncpg))
        || db_url
            .as_ref()
            .and_then(|u| u.scheme.as_deref())
            .is_some_and(|s| s.ends_with("_async"));
    if let Some(reason) = url_value.unknown_reason() {
        unresolved.push(Unresolved {
            assumed: None,
            location: url_value
                .location
                .clone()
                .unwrap_or_else(|| args.location.clone()),
            what: format!("database URL of engine `{name}`"),
            reason: reason.to_owned(),
        });
    }
    let target = target_of(db_url.as_ref(), &url_value);
    let memory_sqlite = db_url.as_ref().is_some_and(|u| {
        u.scheme.as_deref().is_some_and(|s| s.starts_with("sqlite"))
            && (u.dbname.is_none() || u.dbname.as_deref() == Some(":memory:"))
    });

    // Pool class: written, or SQLAlchemy's choice for the dialect.
    let default_class = if memory_sqlite {
        "SingletonThreadPool"
    } else if is_async {
        "AsyncAdaptedQueuePool"
    } else {
        "QueuePool"
    };
    let classes: Vec<Sourced<String>> = match args.get("poolclass") {
        None => vec![Sourced::tool_default(default_class.to_owned(), TOOL)],
        Some(v) => pool_class_names(v),
    };
    let mut choices: Vec<CapChoice> = classes
        .into_iter()
        .map(|class| {
            let cap = cap_for(eval, &class, args, &name, unresolved);
            CapChoice { class, cap }
        })
        .collect();
    if choices.len() > 1 {
        let names: Vec<String> = choices
            .iter()
            .map(|c| c.class.value.clone().unwrap_or_else(|| "unknown".into()))
            .collect();
        alternatives.push(format!(
            "poolclass is {} depending on a condition: the largest cap is used",
            names.join(" or ")
        ));
    }
    choices.sort_by_key(|c| std::cmp::Reverse(cap_rank(&c.cap)));
    let chosen = choices.remove(0);

    let cap_location = args
        .setting_location("pool_size")
        .filter(|l| l.file == args.location.file)
        .unwrap_or_else(|| args.location.clone());
    let mut settings = PoolSettings {
        pool_class: Some(chosen.class),
        pool_timeout: Some(float_setting(args, "pool_timeout", 30.0)),
        pool_recycle: Some(int_setting(args, "pool_recycle", -1)),
        pool_pre_ping: Some(bool_setting(args, "pool_pre_ping", false)),
        pool_use_lifo: Some(bool_setting(args, "pool_use_lifo", false)),
        isolation_level: isolation_level(args),
        arguments_location: args.arguments.clone(),
        ..PoolSettings::default()
    };
    apply_url_params(&mut settings, db_url.as_ref(), &url_value, &driver);
    if let Some(connect_args) = args.get("connect_args") {
        apply_connect_args(&mut settings, connect_args, &driver);
    }
    apply_driver_defaults(&mut settings, &driver);

    ClientPool {
        kind: PoolKind::SqlAlchemy,
        name,
        location: args.location.clone(),
        driver,
        is_async,
        target,
        cap: chosen.cap,
        cap_location,
        settings,
        single_connection: false,
        alternatives: (!alternatives.is_empty()).then(|| alternatives.join("; ")),
        event_sql: Vec::new(),
    }
}

/// Keeps the first of each (location, what): the same unknown setting
/// reached through several engines or branches is one finding. Once per
/// analysis, with a set: per engine over a list, it was cubic in the number
/// of engines.
pub(crate) fn dedupe_unresolved(unresolved: &mut Vec<Unresolved>) {
    let mut seen = std::collections::HashSet::new();
    unresolved.retain(|u| seen.insert((u.location.clone(), u.what.clone())));
}

/// Picks the URL to analyse: with several candidates (branches), a PostgreSQL one.
fn pick_url(
    url: Option<Sourced<Value>>,
    alternatives: &mut Vec<String>,
) -> (Option<DbUrl>, Sourced<Value>) {
    let Some(url) = url else {
        return (
            None,
            Sourced::unknown("the engine has no URL argument", None),
        );
    };
    if let Some(Value::OneOf(options)) = &url.value {
        let parsed: Vec<(DbUrl, &Sourced<Value>)> = options
            .iter()
            .filter_map(|o| match &o.value {
                Some(Value::Str(s)) => Some((parse_db_url(s), o)),
                _ => None,
            })
            .collect();
        let postgres = parsed.iter().find(|(u, _)| {
            u.scheme
                .as_deref()
                .is_some_and(|s| !matches!(driver_for_scheme(s), Driver::NotPostgres(_)))
        });
        if let Some((db, value)) = postgres.or(parsed.first()) {
            if options.len() > 1 {
                alternatives.push(format!(
                    "the URL depends on a condition; the {} one is used",
                    db.scheme.as_deref().unwrap_or("first")
                ));
            }
            return (Some(db.clone()), (*value).clone());
        }
        return (None, url);
    }
    match &url.value {
        Some(Value::Str(s)) => (Some(parse_db_url(s)), url.clone()),
        // No alternative is a string: why each unknown one is unknown, once.
        Some(Value::OneOf(options)) if options.iter().any(|o| o.value.is_none()) => (
            None,
            super::eval::unknown_alternatives(options, url.location.clone())
                .unwrap_or_else(|| url.clone()),
        ),
        Some(Value::None) => (
            None,
            Sourced::unknown(
                "the URL is `None` where the engine is created, as far as poolcheck follows the \
                 code (a value set on an object after it is built is not followed)",
                url.location.clone(),
            ),
        ),
        Some(other) => (
            None,
            Sourced::unknown(
                format!("the URL is {}, not a string", other.describe()),
                url.location.clone(),
            ),
        ),
        None => (None, url),
    }
}

fn driver_of(db: Option<&DbUrl>, url: &Sourced<Value>, location: &Location) -> Sourced<Driver> {
    if let Some(scheme) = db.as_ref().and_then(|u| u.scheme.as_deref()) {
        Sourced::with_origin(
            driver_for_scheme(scheme),
            derived_origin(url),
            url.location.clone(),
        )
    } else {
        let reason = match &url.value {
            Some(Value::Str(s)) if !s.holes.is_empty() => {
                format!("the URL's scheme is not known: {}", s.holes.join("; "))
            }
            Some(_) => "the URL has no scheme".to_owned(),
            None => url
                .unknown_reason()
                .unwrap_or("the URL is not known")
                .to_owned(),
        };
        Sourced::unknown(reason, url.location.clone().or(Some(location.clone())))
    }
}

/// A value read out of a string keeps the string's provenance (an env default stays one).
fn derived_origin(v: &Sourced<Value>) -> Origin {
    v.origin.clone()
}

fn target_of(db: Option<&DbUrl>, url: &Sourced<Value>) -> Sourced<Target> {
    match db {
        Some(u) => Sourced::with_origin(
            Target {
                host: u.host.clone(),
                port: u.port,
                dbname: u.dbname.clone(),
                user: u.user.clone(),
            },
            derived_origin(url),
            url.location.clone(),
        ),
        None => Sourced::unknown(
            url.unknown_reason().unwrap_or("the URL is not known"),
            url.location.clone(),
        ),
    }
}

fn pool_class_names(v: &Sourced<Value>) -> Vec<Sourced<String>> {
    let one = |v: &Sourced<Value>| -> Sourced<String> {
        let name = match &v.value {
            Some(Value::External(path)) => path.rsplit('.').next().map(str::to_owned),
            Some(Value::Class(_)) => Some("custom pool class".to_owned()),
            Some(Value::Str(s)) => s
                .complete()
                .map(|t| t.rsplit('.').next().unwrap_or(t).to_owned()),
            _ => None,
        };
        match name {
            Some(n) => Sourced {
                value: Some(n),
                origin: v.origin.clone(),
                location: v.location.clone(),
            },
            None => Sourced::unknown(
                v.unknown_reason().unwrap_or("the pool class is not known"),
                v.location.clone(),
            ),
        }
    };
    match &v.value {
        Some(Value::OneOf(options)) => options.iter().map(one).collect(),
        _ => vec![one(v)],
    }
}

fn cap_for(
    _eval: &Evaluator<'_, '_>,
    class: &Sourced<String>,
    args: &PoolArgs,
    name: &str,
    unresolved: &mut Vec<Unresolved>,
) -> PoolCap {
    let Some(class_name) = class.value.as_deref() else {
        let reason = class.unknown_reason().unwrap_or("unknown").to_owned();
        unresolved.push(Unresolved {
            assumed: None,
            location: class
                .location
                .clone()
                .unwrap_or_else(|| args.location.clone()),
            what: format!("poolclass of engine `{name}`"),
            reason: reason.clone(),
        });
        return PoolCap::Bounded {
            size: Sourced::unknown(
                format!("the pool class is not known: {reason}"),
                class.location.clone(),
            ),
            overflow: None,
        };
    };
    match class_name {
        "NullPool" => PoolCap::PerConcurrency {
            reason: "NullPool opens a new connection for every checkout".into(),
        },
        "SingletonThreadPool" => PoolCap::PerConcurrency {
            reason: "SingletonThreadPool keeps one connection per thread".into(),
        },
        "StaticPool" | "AssertionPool" => PoolCap::Bounded {
            size: Sourced {
                value: Some(IntExpr::Const(1)),
                origin: Origin::ToolDefault {
                    tool: format!("{TOOL} {class_name}"),
                },
                location: class.location.clone(),
            },
            overflow: None,
        },
        _ => {
            let size = int_expr_setting(args, "pool_size", 5, name, unresolved);
            let overflow = int_expr_setting(args, "max_overflow", 10, name, unresolved);
            if size.get().and_then(IntExpr::constant) == Some(0) {
                return PoolCap::Unbounded {
                    reason: "pool_size=0 means no limit for QueuePool".into(),
                    location: args.setting_location("pool_size"),
                };
            }
            if overflow.get().and_then(IntExpr::constant) == Some(-1) {
                return PoolCap::Unbounded {
                    reason: "max_overflow=-1 means no limit on overflow connections".into(),
                    location: args.setting_location("max_overflow"),
                };
            }
            PoolCap::Bounded {
                size,
                overflow: Some(overflow),
            }
        }
    }
}

/// Orders caps from least to most connections: unknown < bounded by size < per-concurrency < unbounded.
fn cap_rank(cap: &PoolCap) -> (u8, i64) {
    match cap {
        PoolCap::Unbounded { .. } => (3, 0),
        PoolCap::PerConcurrency { .. } => (2, 0),
        PoolCap::Bounded { size, overflow } => {
            let s = size.get().and_then(|e| e.eval(8));
            let o = overflow
                .as_ref()
                .map_or(Some(0), |o| o.get().and_then(|e| e.eval(8)));
            match (s, o) {
                (Some(s), Some(o)) => (1, s.saturating_add(o)),
                _ => (0, 0),
            }
        }
    }
}

/// An integer setting as an `IntExpr`, worst case over branches, defaulted when absent.
pub fn int_expr_setting(
    args: &PoolArgs,
    key: &str,
    default: i64,
    pool: &str,
    unresolved: &mut Vec<Unresolved>,
) -> Sourced<IntExpr> {
    let Some(v) = args.get(key) else {
        if !args.unknown.is_empty() {
            // The setting may hide in an unresolved `**kwargs`: say so, keep the default.
            unresolved.push(Unresolved {
                assumed: Some(format!("SQLAlchemy's default {key} {default}")),
                location: args.location.clone(),
                what: format!("{key} of `{pool}`"),
                reason: format!(
                    "keyword arguments are not all known ({})",
                    args.unknown.join("; ")
                ),
            });
        }
        return Sourced::tool_default(IntExpr::Const(default), TOOL);
    };
    let result = sourced_int(v);
    if let Some(reason) = result.unknown_reason() {
        unresolved.push(Unresolved {
            assumed: None,
            // Where the unknown value is computed (a settings class's
            // `int(os.environ["POOL_SIZE"])`) holds the cause, not the keyword.
            location: result
                .location
                .clone()
                .or_else(|| args.setting_location(key))
                .unwrap_or_else(|| args.location.clone()),
            what: format!("{key} of `{pool}`"),
            reason: reason.to_owned(),
        });
    }
    result
}

/// A sourced integer; with branches, the largest.
pub fn sourced_int(v: &Sourced<Value>) -> Sourced<IntExpr> {
    if let Some(Value::OneOf(options)) = &v.value {
        let mut best: Option<Sourced<IntExpr>> = None;
        for o in options {
            let i = sourced_int(o);
            let Some(value) = i.get() else {
                return i;
            };
            let better = best
                .as_ref()
                .and_then(|b| b.get())
                .is_none_or(|b| value.eval(8) > b.eval(8));
            if better {
                best = Some(i);
            }
        }
        return best.map_or_else(
            || Sourced::unknown("no branch has a value", v.location.clone()),
            |b| Sourced {
                origin: match b.origin {
                    Origin::Computed { expr } => Origin::Computed {
                        expr: format!("{expr} (the largest of several branches)"),
                    },
                    other => other,
                },
                ..b
            },
        );
    }
    match as_int(v) {
        Some(i) => Sourced {
            value: Some(i),
            origin: v.origin.clone(),
            location: v.location.clone(),
        },
        None => Sourced::unknown(
            v.unknown_reason().map_or_else(
                || {
                    format!(
                        "{} is not an integer",
                        v.value.as_ref().map_or("unknown".into(), Value::describe)
                    )
                },
                str::to_owned,
            ),
            v.location.clone(),
        ),
    }
}

pub fn sourced_float(v: &Sourced<Value>) -> Sourced<f64> {
    let value = match &v.value {
        Some(Value::Float(f)) => Some(*f),
        Some(Value::Int(i)) => i.constant().map(|i| i as f64),
        Some(Value::Str(s)) => s.complete().and_then(|t| t.trim().parse().ok()),
        _ => None,
    };
    match value {
        Some(f) => Sourced {
            value: Some(f),
            origin: v.origin.clone(),
            location: v.location.clone(),
        },
        None => Sourced::unknown(
            v.unknown_reason().unwrap_or("not a number"),
            v.location.clone(),
        ),
    }
}

pub fn sourced_bool(v: &Sourced<Value>) -> Sourced<bool> {
    let value = match &v.value {
        Some(Value::Str(s)) => s.complete().map(|t| {
            matches!(
                t.trim().to_ascii_lowercase().as_str(),
                "true" | "1" | "yes" | "on"
            )
        }),
        Some(other) => other.truthy(),
        None => None,
    };
    match value {
        Some(b) => Sourced {
            value: Some(b),
            origin: v.origin.clone(),
            location: v.location.clone(),
        },
        None => Sourced::unknown(
            v.unknown_reason().unwrap_or("not a boolean"),
            v.location.clone(),
        ),
    }
}

pub fn sourced_string(v: &Sourced<Value>) -> Sourced<String> {
    match &v.value {
        Some(Value::Str(s)) if s.is_complete() => Sourced {
            value: Some(s.text.clone()),
            origin: v.origin.clone(),
            location: v.location.clone(),
        },
        _ => Sourced::unknown(
            v.unknown_reason().unwrap_or("not a known string"),
            v.location.clone(),
        ),
    }
}

fn float_setting(args: &PoolArgs, key: &str, default: f64) -> Sourced<f64> {
    args.get(key)
        .map_or_else(|| Sourced::tool_default(default, TOOL), sourced_float)
}

fn int_setting(args: &PoolArgs, key: &str, default: i64) -> Sourced<i64> {
    args.get(key).map_or_else(
        || Sourced::tool_default(default, TOOL),
        |v| sourced_int(v).and_then("not a constant", |e| e.constant()),
    )
}

fn bool_setting(args: &PoolArgs, key: &str, default: bool) -> Sourced<bool> {
    args.get(key)
        .map_or_else(|| Sourced::tool_default(default, TOOL), sourced_bool)
}

fn isolation_level(args: &PoolArgs) -> Option<Sourced<String>> {
    if let Some(v) = args.get("isolation_level") {
        return Some(sourced_string(v));
    }
    match args.get("execution_options").and_then(|v| v.value.as_ref()) {
        Some(Value::Dict(d)) => d.get("isolation_level").map(sourced_string),
        _ => None,
    }
}

fn apply_url_params(
    settings: &mut PoolSettings,
    db: Option<&DbUrl>,
    url: &Sourced<Value>,
    driver: &Sourced<Driver>,
) {
    let Some(db) = db else {
        return;
    };
    let at = |_: &str| Sourced::with_origin((), url.origin.clone(), url.location.clone());
    if let Some(v) = db
        .param("prepared_statement_cache_size")
        .and_then(|v| v.parse().ok())
    {
        let base = at("");
        settings.prepared_statement_cache_size =
            Some(Sourced::with_origin(v, base.origin, base.location));
        settings.prepared_statement_cache_size_source = Some(SettingSource::Url);
    }
    if let Some(v) = db.param("connect_timeout").and_then(|v| v.parse().ok()) {
        let base = at("");
        settings.connect_timeout = Some(Sourced::with_origin(v, base.origin, base.location));
    }
    if let Some(options) = db.param("options") {
        for (name, value) in parse_options(options) {
            settings.startup_parameters.push(StartupParameter {
                name,
                value,
                via: StartupVia::Options,
                location: url.location.clone(),
            });
        }
    }
    if matches!(driver.value, Some(Driver::Psycopg3))
        && let Some(v) = db.param("prepare_threshold")
    {
        let base = at("");
        let parsed = if v.eq_ignore_ascii_case("none") {
            None
        } else {
            v.parse().ok()
        };
        settings.prepare_threshold = Some(Sourced::with_origin(parsed, base.origin, base.location));
    }
}

/// `connect_args={...}`: driver settings that the pitfall rules read.
pub fn apply_connect_args(
    settings: &mut PoolSettings,
    connect_args: &Sourced<Value>,
    driver: &Sourced<Driver>,
) {
    let Some(Value::Dict(dict)) = &connect_args.value else {
        return;
    };
    settings.connect_args_location.clone_from(&dict.literal);
    apply_driver_kwargs(settings, dict, driver);
}

/// Driver keyword settings from a dict (connect_args, psycopg_pool kwargs, asyncpg kwargs).
pub fn apply_driver_kwargs(settings: &mut PoolSettings, dict: &PyDict, driver: &Sourced<Driver>) {
    if let Some(v) = dict.get("statement_cache_size") {
        settings.statement_cache_size =
            Some(sourced_int(v).and_then("not a constant", |e| e.constant()));
    }
    if let Some(v) = dict.get("prepared_statement_cache_size") {
        settings.prepared_statement_cache_size =
            Some(sourced_int(v).and_then("not a constant", |e| e.constant()));
        settings.prepared_statement_cache_size_source = Some(SettingSource::ConnectArgs);
    }
    if let Some(v) = dict.get("prepared_statement_name_func") {
        settings
            .prepared_statement_name_func
            .clone_from(&v.location);
    }
    if let Some(v) = dict.get("prepare_threshold") {
        settings.prepare_threshold = Some(match &v.value {
            Some(Value::None) => Sourced::with_origin(None, v.origin.clone(), v.location.clone()),
            _ => sourced_int(v).and_then("not a constant", |e| e.constant().map(Some)),
        });
    }
    let timeout_key = if matches!(driver.value, Some(Driver::Asyncpg)) {
        "timeout"
    } else {
        "connect_timeout"
    };
    if let Some(v) = dict.get(timeout_key) {
        settings.connect_timeout = Some(sourced_float(v));
    }
    if let Some(Value::Dict(server_settings)) =
        dict.get("server_settings").and_then(|v| v.value.as_ref())
    {
        for (name, value) in &server_settings.entries {
            settings.startup_parameters.push(StartupParameter {
                name: name.to_ascii_lowercase(),
                value: match &value.value {
                    Some(Value::Str(s)) => s.complete().map(str::to_owned),
                    _ => None,
                },
                via: StartupVia::ServerSettings,
                location: value.location.clone(),
            });
        }
    }
    if let Some(v) = dict.get("options")
        && let Some(Value::Str(s)) = &v.value
    {
        for (name, value) in parse_options(&s.text) {
            if name.contains(super::value::HOLE) {
                continue;
            }
            settings.startup_parameters.push(StartupParameter {
                name,
                value: value.filter(|v| !v.contains(super::value::HOLE)),
                via: StartupVia::Options,
                location: v.location.clone(),
            });
        }
    }
    if let Some(v) = dict.get("application_name") {
        settings.startup_parameters.push(StartupParameter {
            name: "application_name".into(),
            value: match &v.value {
                Some(Value::Str(s)) => s.complete().map(str::to_owned),
                _ => None,
            },
            via: StartupVia::Direct,
            location: v.location.clone(),
        });
    }
}

/// Driver defaults the rules compare against, when nothing set them.
pub fn apply_driver_defaults(settings: &mut PoolSettings, driver: &Sourced<Driver>) {
    match driver.value {
        Some(Driver::Asyncpg) if settings.statement_cache_size.is_none() => {
            settings.statement_cache_size = Some(Sourced::tool_default(100, "asyncpg"));
        }
        Some(Driver::Psycopg3) if settings.prepare_threshold.is_none() => {
            settings.prepare_threshold = Some(Sourced::tool_default(Some(5), "psycopg"));
        }
        _ => {}
    }
}
