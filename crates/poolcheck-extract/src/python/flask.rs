//! Flask-SQLAlchemy: `SQLALCHEMY_DATABASE_URI` + `SQLALCHEMY_ENGINE_OPTIONS`
//! (and the legacy `SQLALCHEMY_POOL_SIZE`/`SQLALCHEMY_MAX_OVERFLOW`) in config
//! modules, config classes and `app.config[...] = ...`.

use poolcheck_core::facts::pool::ClientPool;
use poolcheck_core::facts::python::{Accessor, ExprKind, StmtKind};
use poolcheck_core::{Location, Sourced};

use super::Unresolved;
use super::eval::{EvalCtx, Evaluator, ScopeKind};
use super::sqlalchemy::{PoolArgs, engine_pool};
use super::value::{ClassRef, Value};

const URI: &str = "SQLALCHEMY_DATABASE_URI";
const OPTIONS: &str = "SQLALCHEMY_ENGINE_OPTIONS";
const LEGACY: &[(&str, &str)] = &[
    ("SQLALCHEMY_POOL_SIZE", "pool_size"),
    ("SQLALCHEMY_MAX_OVERFLOW", "max_overflow"),
    ("SQLALCHEMY_POOL_TIMEOUT", "pool_timeout"),
    ("SQLALCHEMY_POOL_RECYCLE", "pool_recycle"),
];

/// Whether any module imports flask_sqlalchemy.
pub fn uses_flask_sqlalchemy(eval: &Evaluator<'_, '_>) -> bool {
    eval.project().uses_flask_sqlalchemy()
}

/// Looks a config key up in one configuration source.
type Getter = Box<dyn Fn(&str) -> Option<Sourced<Value>>>;

/// One place that configures Flask-SQLAlchemy.
struct ConfigSource {
    name: String,
    location: Location,
    get: Getter,
}

pub fn flask_pools(
    eval: &Evaluator<'_, '_>,
    modules: &[usize],
    engine_options: Option<&Sourced<Value>>,
    unresolved: &mut Vec<Unresolved>,
) -> Vec<ClientPool> {
    let mut pools = Vec::new();
    let project = eval.project();

    // Config classes: the leaves of each hierarchy that sets SQLALCHEMY_* keys.
    let mut classes = Vec::new();
    for &m in modules {
        // A config class sets `SQLALCHEMY_*`, a trigger word: modules read
        // only for their imports hold none.
        let Some(module) = project.activity(m) else {
            continue;
        };
        for (index, class) in module.classes.iter().enumerate() {
            let sets_key = class.body.iter().any(|s| match &s.kind {
                StmtKind::Assign { target, .. } => {
                    target.path.is_empty() && target.name.starts_with("SQLALCHEMY_")
                }
                _ => false,
            });
            let class_ref = ClassRef { module: m, index };
            let inherits = eval
                .mro(class_ref)
                .0
                .iter()
                .skip(1)
                .any(|c| classes.contains(c));
            if sets_key || inherits {
                classes.push(class_ref);
            }
        }
    }
    // A second pass catches subclasses declared before their base's module was seen.
    let classes: Vec<ClassRef> = (0..project.len())
        .flat_map(|m| {
            let count = project.activity(m).map_or(0, |module| module.classes.len());
            (0..count).map(move |index| ClassRef { module: m, index })
        })
        .filter(|c| {
            modules.contains(&c.module) && eval.mro(*c).0.iter().any(|a| classes.contains(a))
        })
        .collect();
    let leaves: Vec<ClassRef> = classes
        .iter()
        .copied()
        .filter(|c| {
            !classes
                .iter()
                .any(|other| other != c && eval.mro(*other).0.contains(c))
        })
        .filter(|c| {
            // A pydantic settings class that exposes these as properties is
            // read through `app.config[...] = settings.X` instead.
            let plain = |key: &str| {
                eval.class_attribute(*c, key)
                    .is_some_and(|v| !matches!(v.value, Some(Value::Function(_))))
            };
            !super::pydantic::is_settings_class(eval, *c) && (plain(URI) || plain(OPTIONS))
        })
        .collect();
    let preferred = choose_classes(eval, &leaves);
    let mut class_pools = Vec::new();
    for class in preferred {
        let def = eval.class_def(class);
        let source = ConfigSource {
            name: format!("flask-sqlalchemy ({})", def.name),
            location: eval.location(class.module, def.name_span),
            get: {
                // The evaluator is borrowed for the call only; collect values now.
                let mut values = Vec::new();
                for key in [URI, OPTIONS].iter().chain(LEGACY.iter().map(|(k, _)| k)) {
                    if let Some(v) = eval.class_attribute(class, key) {
                        values.push(((*key).to_owned(), v));
                    }
                }
                Box::new(move |key: &str| {
                    values
                        .iter()
                        .find(|(k, _)| k == key)
                        .map(|(_, v)| v.clone())
                })
            },
        };
        class_pools.push(build(eval, &source, engine_options, unresolved));
    }
    if class_pools.len() > 1 {
        let names: Vec<String> = class_pools.iter().map(|p| p.name.clone()).collect();
        class_pools.sort_by_key(|p| std::cmp::Reverse(cap_size(p)));
        let mut worst = class_pools.remove(0);
        worst.alternatives = Some(format!(
            "several config classes configure Flask-SQLAlchemy ({}): the largest cap is used",
            names.join(", ")
        ));
        pools.push(worst);
    } else {
        pools.extend(class_pools);
    }

    // Config modules that bind SQLALCHEMY_DATABASE_URI at module level.
    for &m in modules {
        let Some(module) = project.activity(m) else {
            continue;
        };
        let binds = module.body.iter().find(|s| match &s.kind {
            StmtKind::Assign { target, .. } => target.path.is_empty() && target.name == URI,
            _ => false,
        });
        let Some(stmt) = binds else {
            continue;
        };
        let mut values = Vec::new();
        for key in [URI, OPTIONS].iter().chain(LEGACY.iter().map(|(k, _)| k)) {
            if eval.module_defines(m, key) {
                values.push(((*key).to_owned(), eval.module_value(m, key)));
            }
        }
        let source = ConfigSource {
            name: "flask-sqlalchemy".into(),
            location: eval.location(m, stmt.span),
            get: Box::new(move |key: &str| {
                values
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.clone())
            }),
        };
        pools.push(build(eval, &source, engine_options, unresolved));
    }

    // `app.config["SQLALCHEMY_..."] = ...` and `app.config.update(...)`.
    for &m in modules {
        let Some(module) = project.activity(m) else {
            continue;
        };
        let scopes = std::iter::once((ScopeKind::Module, module.body.as_slice())).chain(
            module
                .functions
                .iter()
                .enumerate()
                .map(|(i, f)| (ScopeKind::Function(i), f.body.as_slice())),
        );
        for (scope, body) in scopes {
            let mut values: Vec<(String, Sourced<Value>)> = Vec::new();
            let mut first_location = None;
            for stmt in body {
                let ctx = EvalCtx::at(m, scope, stmt.span.start, stmt.guards.clone());
                match &stmt.kind {
                    StmtKind::Assign { target, value, .. } => {
                        if let [Accessor::Attr(attr), Accessor::Key(key)] = target.path.as_slice() {
                            if attr != "config" {
                                continue;
                            }
                            let ExprKind::Str(key) = &key.kind else {
                                continue;
                            };
                            if key.starts_with("SQLALCHEMY_") {
                                values.push((key.clone(), eval.eval(value, &ctx)));
                                first_location.get_or_insert_with(|| eval.location(m, stmt.span));
                            }
                        }
                    }
                    StmtKind::Update { target, value, .. } => {
                        if matches!(target.path.as_slice(), [Accessor::Attr(a)] if a == "config")
                            && let Some(Value::Dict(d)) = eval.eval(value, &ctx).value
                        {
                            for (k, v) in d.entries {
                                if k.starts_with("SQLALCHEMY_") {
                                    values.push((k, v));
                                    first_location
                                        .get_or_insert_with(|| eval.location(m, stmt.span));
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
            let Some(location) = first_location else {
                continue;
            };
            if !values.iter().any(|(k, _)| k == URI || k == OPTIONS) {
                continue;
            }
            let source = ConfigSource {
                name: "flask-sqlalchemy".into(),
                location,
                get: Box::new(move |key: &str| {
                    values
                        .iter()
                        .rev()
                        .find(|(k, _)| k == key)
                        .map(|(_, v)| v.clone())
                }),
            };
            pools.push(build(eval, &source, engine_options, unresolved));
        }
    }
    pools
}

/// Among several config classes, the production one when it is recognisable,
/// else every class that is not for tests or development.
fn choose_classes(eval: &Evaluator<'_, '_>, leaves: &[ClassRef]) -> Vec<ClassRef> {
    let name = |c: &ClassRef| eval.class_def(*c).name.to_ascii_lowercase();
    let prod: Vec<ClassRef> = leaves
        .iter()
        .copied()
        .filter(|c| name(c).contains("prod"))
        .collect();
    if !prod.is_empty() {
        return prod;
    }
    let serious: Vec<ClassRef> = leaves
        .iter()
        .copied()
        .filter(|c| {
            let n = name(c);
            !["test", "dev", "local", "debug"]
                .iter()
                .any(|w| n.contains(w))
        })
        .collect();
    if serious.is_empty() {
        leaves.to_vec()
    } else {
        serious
    }
}

fn cap_size(p: &ClientPool) -> i64 {
    use poolcheck_core::facts::pool::PoolCap;
    match &p.cap {
        PoolCap::Unbounded { .. } => i64::MAX,
        PoolCap::PerConcurrency { .. } => i64::MAX - 1,
        PoolCap::Bounded { size, overflow } => {
            size.get().and_then(|s| s.eval(8)).unwrap_or(0)
                + overflow
                    .as_ref()
                    .and_then(|o| o.get().and_then(|o| o.eval(8)))
                    .unwrap_or(0)
        }
    }
}

fn build(
    eval: &Evaluator<'_, '_>,
    source: &ConfigSource,
    engine_options: Option<&Sourced<Value>>,
    unresolved: &mut Vec<Unresolved>,
) -> ClientPool {
    let mut named: Vec<(String, Sourced<Value>, Option<Location>)> = Vec::new();
    let mut unknown = Vec::new();
    if let Some(Value::Dict(d)) = engine_options.and_then(|o| o.value.as_ref()) {
        named.extend(d.entries.iter().map(|(k, v)| (k.clone(), v.clone(), None)));
    }
    for (legacy, key) in LEGACY {
        if let Some(v) = (source.get)(legacy) {
            named.push(((*key).to_owned(), v, None));
        }
    }
    if let Some(options) = (source.get)(OPTIONS) {
        match &options.value {
            Some(Value::Dict(d)) => {
                named.extend(d.entries.iter().map(|(k, v)| (k.clone(), v.clone(), None)));
                unknown.extend(d.unknown.iter().cloned());
            }
            _ => unknown.push(format!(
                "{OPTIONS}: {}",
                options.unknown_reason().unwrap_or("not a known dict")
            )),
        }
    }
    let args = PoolArgs {
        positional: Vec::new(),
        named,
        unknown,
        location: source.location.clone(),
        arguments: None,
    };
    let url = (source.get)(URI);
    engine_pool(eval, url, &args, false, source.name.clone(), unresolved)
}
