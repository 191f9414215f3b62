//! Django settings: which settings modules are configurations, and the
//! client pool each PostgreSQL `DATABASES` alias of a configuration opens.
//!
//! Which module is a configuration: the one `DJANGO_SETTINGS_MODULE` names
//! (the environment first, since `os.environ.setdefault` only fills a missing
//! variable; then the `setdefault` in `wsgi.py`/`asgi.py`, then in other
//! modules such as `celery.py`, then in `manage.py`). Without a name, every
//! settings module (one that binds `DATABASES` by assignment or star import)
//! that no other settings module imports is a configuration of its own:
//! `base.py` imported by `prod.py` is a part. Modules whose name says
//! `example`, `sample` or `template` are guessed to be configurations only
//! when no other module is.
//!
//! Which alias is a PostgreSQL client: an `ENGINE` naming PostgreSQL
//! (`postgresql`, `postgres`, `postgis`, `psqlextra`, `psycopg`) is one. An
//! `ENGINE` naming another database (SQLite, MySQL, MariaDB, Oracle, SQL
//! Server, CockroachDB, Redshift, …) is skipped. A custom backend that names
//! none (`posthog.db_backends.failopen`) is taken to wrap PostgreSQL, and its
//! driver's provenance says so.
//!
//! The driver: an `ENGINE` that says `psycopg2` is psycopg2; otherwise psycopg
//! 3 is assumed (Django prefers it when installed, and `OPTIONS["pool"]`
//! requires it); the dependency pins can refine this at assembly.

use std::collections::HashSet;

use poolcheck_core::facts::PythonModule;
use poolcheck_core::facts::pool::{
    ClientPool, DjangoAliasSettings, DjangoPoolOption, Driver, PoolCap, PoolKind, PoolSettings,
    Target,
};
use poolcheck_core::facts::python::{Accessor, DictItem, ExprKind, ImportKind, StmtKind};
use poolcheck_core::{IntExpr, Location, Origin, Sourced, Span};

use super::Unresolved;
use super::eval::{EvalCtx, Evaluator, ScopeKind};
use super::project::PythonProject;
use super::sqlalchemy::{
    apply_driver_kwargs, sourced_bool, sourced_float, sourced_int, sourced_string,
};
use super::value::{PyDict, Value};

/// The environment variable that names the settings module.
pub const SETTINGS_VAR: &str = "DJANGO_SETTINGS_MODULE";

const TOOL: &str = "Django";
const POOL_TOOL: &str = "psycopg_pool";

/// Engines of databases that are not PostgreSQL servers.
const OTHER_DATABASES: &[&str] = &[
    "sqlite",
    "mysql",
    "mariadb",
    "oracle",
    "mssql",
    "sql_server",
    "sqlserver",
    "dummy",
    "cockroach",
    "redshift",
    "snowflake",
    "clickhouse",
    "djongo",
    "mongo",
    "firebird",
    "db2",
    "spanner",
];

/// Words in an `ENGINE` that say PostgreSQL.
const POSTGRES_WORDS: &[&str] = &["postgres", "postgis", "psqlextra", "psycopg"];

/// One settings module checked as a configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct DjangoConfiguration {
    /// Index of the module in the project.
    pub module: usize,
    /// Its dotted name as Django would import it (`shop.settings.prod`).
    pub name: String,
    /// The `DJANGO_SETTINGS_MODULE` value that selects it, when one does.
    pub selected_by: Option<Sourced<String>>,
}

/// A `DJANGO_SETTINGS_MODULE` assignment in code: `os.environ.setdefault(...)`
/// or `os.environ[...] = ...`, with where it is.
struct SettingsHint<'m> {
    module: usize,
    scope: ScopeKind,
    stmt: &'m poolcheck_core::facts::python::Stmt,
    value: &'m poolcheck_core::facts::python::Expr,
}

/// `DJANGO_SETTINGS_MODULE` assignments of one module, in every scope.
fn settings_hints(module_index: usize, module: &PythonModule) -> Vec<SettingsHint<'_>> {
    let scopes = std::iter::once((ScopeKind::Module, &module.body)).chain(
        module
            .functions
            .iter()
            .enumerate()
            .map(|(i, f)| (ScopeKind::Function(i), &f.body)),
    );
    let mut hints = Vec::new();
    for (scope, body) in scopes {
        for stmt in body {
            // `os.environ.setdefault("DJANGO_SETTINGS_MODULE", "x")` is an
            // update of `os.environ` that keeps a value already there.
            if let StmtKind::Update {
                target,
                value,
                keep_existing: true,
            } = &stmt.kind
                && is_os_environ(&target.name, &target.path)
                && let ExprKind::Dict(items) = &value.kind
                && let [DictItem::Pair(key, value)] = items.as_slice()
                && matches!(&key.kind, ExprKind::Str(k) if k == SETTINGS_VAR)
            {
                hints.push(SettingsHint {
                    module: module_index,
                    scope,
                    stmt,
                    value,
                });
                continue;
            }
            let StmtKind::Assign { target, value, .. } = &stmt.kind else {
                continue;
            };
            let key = match (target.name.as_str(), target.path.as_slice()) {
                ("os", [Accessor::Attr(environ), Accessor::Key(key)]) if environ == "environ" => {
                    key
                }
                ("environ", [Accessor::Key(key)]) => key,
                _ => continue,
            };
            if matches!(&key.kind, ExprKind::Str(k) if k == SETTINGS_VAR) {
                hints.push(SettingsHint {
                    module: module_index,
                    scope,
                    stmt,
                    value,
                });
            }
        }
    }
    hints
}

fn is_os_environ(name: &str, path: &[Accessor]) -> bool {
    match (name, path) {
        ("os", [Accessor::Attr(environ)]) => environ == "environ",
        ("environ", []) => true,
        _ => false,
    }
}

/// The settings module names a module writes literally into
/// `DJANGO_SETTINGS_MODULE` (so that assembly can load those modules even when
/// they hold no trigger word).
pub fn named_settings_modules(module: &PythonModule) -> Vec<String> {
    settings_hints(0, module)
        .into_iter()
        .filter_map(|h| match &h.value.kind {
            ExprKind::Str(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

/// How strongly a module's `setdefault` speaks for the deployed processes:
/// servers load `wsgi.py`/`asgi.py`, `manage.py` is for commands, and test
/// code (`conftest.py`, `tests/…`) selects test settings.
fn hint_tier(module_name: &str) -> u8 {
    let is_test = module_name
        .split('.')
        .any(|part| matches!(part, "test" | "tests" | "conftest") || part.starts_with("test_"));
    if is_test {
        return 3;
    }
    match module_name.rsplit('.').next().unwrap_or(module_name) {
        "wsgi" | "asgi" => 0,
        "manage" => 2,
        _ => 1,
    }
}

/// The `DJANGO_SETTINGS_MODULE` values in effect: the environment's, else
/// the literal `setdefault`s of the strongest tier (each with the module that
/// wrote it).
fn selected_names(eval: &Evaluator<'_, '_>, modules: &[usize]) -> Vec<(Sourced<String>, usize)> {
    let from_env = eval.env().sourced(SETTINGS_VAR);
    if from_env.is_known() {
        return vec![(from_env, modules.first().copied().unwrap_or(0))];
    }
    let project = eval.project();
    let mut found: Vec<(u8, Sourced<String>, usize)> = Vec::new();
    for &m in modules {
        // `DJANGO_SETTINGS_MODULE` is a trigger word.
        let Some(module) = project.activity(m) else {
            continue;
        };
        for hint in settings_hints(m, module) {
            let ctx = EvalCtx::at(
                hint.module,
                hint.scope,
                hint.stmt.span.start,
                hint.stmt.guards.clone(),
            );
            let value = sourced_string(&eval.eval(hint.value, &ctx));
            found.push((hint_tier(&project.entry(m).name), value, m));
        }
    }
    let Some(best) = found.iter().map(|(tier, _, _)| *tier).min() else {
        return Vec::new();
    };
    let mut names: Vec<(Sourced<String>, usize)> = Vec::new();
    for (tier, value, m) in found {
        if tier == best && !names.iter().any(|(n, _)| n.value == value.value) {
            names.push((value, m));
        }
    }
    names
}

/// Whether a module binds `DATABASES` as a settings module does: by
/// assignment or star import, not by importing the name from elsewhere.
fn is_settings_module(eval: &Evaluator<'_, '_>, module: usize) -> bool {
    if !eval.module_defines(module, "DATABASES") {
        return false;
    }
    !eval.project().module(module).body.iter().any(|stmt| {
        matches!(&stmt.kind, StmtKind::Import(import)
            if matches!(&import.kind, ImportKind::Names(names)
                if names.iter().any(|n| n.bound_name() == "DATABASES")))
    })
}

fn looks_like_example(name: &str) -> bool {
    let last = name.rsplit('.').next().unwrap_or(name).to_ascii_lowercase();
    ["example", "sample", "template"]
        .iter()
        .any(|w| last.contains(w))
}

/// The settings modules of `modules` that another settings module imports.
fn imported_settings_modules(eval: &Evaluator<'_, '_>, settings: &[usize]) -> HashSet<usize> {
    let project = eval.project();
    let mut imported = HashSet::new();
    for &m in settings {
        for stmt in &project.module(m).body {
            let StmtKind::Import(import) = &stmt.kind else {
                continue;
            };
            let target = project.import_target_name(m, &import.module, import.level);
            if let Some(i) = project.index_of_name(&target) {
                imported.insert(i);
            }
            if let ImportKind::Names(names) = &import.kind {
                for n in names {
                    if let Some(i) = project.index_of_name(&format!("{target}.{}", n.name)) {
                        imported.insert(i);
                    }
                }
            }
        }
    }
    imported.retain(|i| settings.contains(i));
    imported
}

/// The modules among `modules` that write `DJANGO_SETTINGS_MODULE`
/// (`os.environ.setdefault(…)` in a `wsgi.py`, `manage.py`, `celery.py`).
pub fn settings_selectors(project: &PythonProject<'_>, modules: &[usize]) -> Vec<usize> {
    modules
        .iter()
        .copied()
        .filter(|&m| {
            project
                .activity(m)
                .is_some_and(|module| !settings_hints(m, module).is_empty())
        })
        .collect()
}

/// The settings modules checked as configurations for one service.
pub fn configurations(
    eval: &Evaluator<'_, '_>,
    modules: &[usize],
    unresolved: &mut Vec<Unresolved>,
) -> Vec<DjangoConfiguration> {
    configurations_selected_by(eval, &[], modules, unresolved)
}

/// [`configurations`] for a process whose own code is `selectors` (the
/// modules of it that write `DJANGO_SETTINGS_MODULE`): what the process
/// sets for itself decides, and only when it sets nothing do the
/// `setdefault`s elsewhere among `modules` (every service's `wsgi.py` in a
/// monorepo) speak for it.
pub fn configurations_selected_by(
    eval: &Evaluator<'_, '_>,
    selectors: &[usize],
    modules: &[usize],
    unresolved: &mut Vec<Unresolved>,
) -> Vec<DjangoConfiguration> {
    let project = eval.project();
    let mut chosen = Vec::new();
    let mut names = Vec::new();
    if !selectors.is_empty() {
        names = selected_names(eval, selectors);
    }
    if names.is_empty() {
        names = selected_names(eval, modules);
    }
    for (name, from) in names {
        let Some(text) = name.value.clone() else {
            if let Some(location) = name.location.clone() {
                unresolved.push(Unresolved {
                    assumed: None,
                    location,
                    what: format!("the Django settings module (`{SETTINGS_VAR}`)"),
                    reason: name
                        .unknown_reason()
                        .unwrap_or("the value is not known")
                        .to_owned(),
                });
            }
            continue;
        };
        let module = project
            .index_of_name(&text)
            .or_else(|| project.resolve_absolute(from, &text));
        match module {
            Some(module) => chosen.push(DjangoConfiguration {
                module,
                name: text,
                selected_by: Some(name),
            }),
            None => {
                if let Some(location) = name.location.clone() {
                    unresolved.push(Unresolved {
                        assumed: None,
                        location,
                        what: format!("the Django settings module (`{SETTINGS_VAR}`)"),
                        reason: format!(
                            "`{SETTINGS_VAR}` is `{text}`, which is not a module of the repository: every unimported settings module is checked instead"
                        ),
                    });
                }
            }
        }
    }
    if !chosen.is_empty() {
        return chosen;
    }
    let settings: Vec<usize> = modules
        .iter()
        .copied()
        .filter(|&m| is_settings_module(eval, m))
        .collect();
    let imported = imported_settings_modules(eval, &settings);
    let (examples, real): (Vec<usize>, Vec<usize>) = settings
        .into_iter()
        .filter(|m| !imported.contains(m))
        .partition(|&m| looks_like_example(&project.entry(m).name));
    // An example is what gets copied into place at install (netbox's
    // `configuration_example.py`, Sentry's `sentry.conf.example.py`): it
    // speaks for the deployment only when nothing else does.
    let chosen = if real.is_empty() { examples } else { real };
    chosen
        .into_iter()
        .map(|module| DjangoConfiguration {
            module,
            name: project.entry(module).name.clone(),
            selected_by: None,
        })
        .collect()
}

/// Every PostgreSQL alias of every configuration, as client pools.
pub fn django_pools(
    eval: &Evaluator<'_, '_>,
    modules: &[usize],
    unresolved: &mut Vec<Unresolved>,
) -> Vec<ClientPool> {
    django_pools_selected_by(eval, &[], modules, unresolved)
}

/// [`django_pools`] of the configurations [`configurations_selected_by`] chooses.
pub fn django_pools_selected_by(
    eval: &Evaluator<'_, '_>,
    selectors: &[usize],
    modules: &[usize],
    unresolved: &mut Vec<Unresolved>,
) -> Vec<ClientPool> {
    let configs = configurations_selected_by(eval, selectors, modules, unresolved);
    let names: Vec<&str> = configs.iter().map(|c| c.name.as_str()).collect();
    let several = configs.len() > 1;
    let mut pools = Vec::new();
    for config in &configs {
        let mut reader = AliasReader {
            eval,
            config,
            configurations: configs.len(),
            asgi_application: asgi_application(eval, config.module),
            unresolved,
        };
        for mut pool in reader.pools() {
            if several {
                pool.name = format!("{} ({})", pool.name, config.name);
                let note = format!(
                    "`{}` is one of {} Django settings modules that nothing selects ({}), and the budget counts the largest pool of each alias among them: set `{SETTINGS_VAR}` to count only the one deployed",
                    config.name,
                    configs.len(),
                    names.join(", ")
                );
                pool.alternatives = Some(match pool.alternatives.take() {
                    Some(existing) => format!("{existing}; {note}"),
                    None => note,
                });
            }
            pools.push(pool);
        }
    }
    if several && let Some(first) = pools.first() {
        unresolved.push(Unresolved {
            assumed: None,
            location: first.location.clone(),
            what: format!("the Django settings module (`{SETTINGS_VAR}`)"),
            reason: format!(
                "nothing sets `{SETTINGS_VAR}` and {} settings modules could be deployed ({}): the budget counts the largest pool of each alias among them; declare it in [tool.poolcheck.env]",
                configs.len(),
                names.join(", ")
            ),
        });
    }
    pools
}

fn asgi_application(eval: &Evaluator<'_, '_>, module: usize) -> Option<Sourced<String>> {
    eval.module_defines(module, "ASGI_APPLICATION")
        .then(|| sourced_string(&eval.module_value(module, "ASGI_APPLICATION")))
}

/// The options of a value that depends on conditions, flattened.
fn branches(v: &Sourced<Value>) -> Vec<Sourced<Value>> {
    match &v.value {
        Some(Value::OneOf(options)) => options.iter().flat_map(branches).collect(),
        _ => vec![v.clone()],
    }
}

struct AliasReader<'e, 'p, 'a, 'u> {
    eval: &'e Evaluator<'p, 'a>,
    config: &'e DjangoConfiguration,
    configurations: usize,
    asgi_application: Option<Sourced<String>>,
    unresolved: &'u mut Vec<Unresolved>,
}

impl AliasReader<'_, '_, '_, '_> {
    fn module_location(&self) -> Location {
        self.eval.location(self.config.module, Span::empty(0))
    }

    fn unresolved(&mut self, location: Option<Location>, what: String, reason: &str) {
        let location = location.unwrap_or_else(|| self.module_location());
        if !self
            .unresolved
            .iter()
            .any(|u| u.location == location && u.what == what)
        {
            self.unresolved.push(Unresolved {
                assumed: None,
                location,
                what,
                reason: reason.to_owned(),
            });
        }
    }

    fn pools(&mut self) -> Vec<ClientPool> {
        let databases = self.eval.module_value(self.config.module, "DATABASES");
        let what = format!("`DATABASES` of Django settings `{}`", self.config.name);
        if let Some(reason) = databases.unknown_reason() {
            self.unresolved(databases.location.clone(), what, reason);
            return Vec::new();
        }
        // Aliases in order of first appearance, with every branch's value.
        let mut aliases: Vec<(String, Vec<Sourced<Value>>)> = Vec::new();
        for option in branches(&databases) {
            match &option.value {
                Some(Value::Dict(dict)) => {
                    for (alias, value) in &dict.entries {
                        match aliases.iter_mut().find(|(a, _)| a == alias) {
                            Some((_, values)) => values.extend(branches(value)),
                            None => aliases.push((alias.clone(), branches(value))),
                        }
                    }
                    if !dict.unknown.is_empty() {
                        self.unresolved(
                            option.location.clone(),
                            format!("some aliases of {what}"),
                            &dict.unknown.join("; "),
                        );
                    }
                }
                Some(other) => self.unresolved(
                    option.location.clone(),
                    what.clone(),
                    &format!("`DATABASES` is {}, not a dict", other.describe()),
                ),
                None => self.unresolved(
                    option.location.clone(),
                    what.clone(),
                    option.unknown_reason().unwrap_or("the value is not known"),
                ),
            }
        }
        let mut pools = Vec::new();
        for (alias, values) in aliases {
            let mut candidates: Vec<ClientPool> = values
                .iter()
                .filter_map(|v| self.alias_pool(&alias, v))
                .collect();
            if candidates.len() > 1 {
                let described: Vec<String> = candidates
                    .iter()
                    .map(|p| super::describe_cap(&p.cap))
                    .collect();
                candidates.sort_by_key(|p| std::cmp::Reverse(super::cap_weight(&p.cap)));
                let mut worst = candidates.remove(0);
                worst.alternatives = Some(format!(
                    "alias `{alias}` depends on a condition ({}): the largest cap is used",
                    described.join("; ")
                ));
                pools.push(worst);
            } else {
                pools.extend(candidates);
            }
        }
        pools
    }

    /// The pool of one alias in one branch; `None` when it is not PostgreSQL
    /// or cannot be read (then an unresolved value says why).
    fn alias_pool(&mut self, alias: &str, value: &Sourced<Value>) -> Option<ClientPool> {
        let what = |setting: &str| format!("{setting} of Django alias `{alias}`");
        let Some(Value::Dict(dict)) = &value.value else {
            let reason = value.unknown_reason().map_or_else(
                || {
                    format!(
                        "the alias is {}, not a dict",
                        value
                            .value
                            .as_ref()
                            .map_or("unknown".into(), Value::describe)
                    )
                },
                str::to_owned,
            );
            self.unresolved(value.location.clone(), what("the settings"), &reason);
            return None;
        };
        let location = dict
            .literal
            .clone()
            .or_else(|| value.location.clone())
            .unwrap_or_else(|| self.module_location());
        let engine = self.engine(alias, dict, value, &location)?;
        let engine_text = engine.value.clone()?;
        let family = engine_family(&engine_text)?;

        let options = match dict.get("OPTIONS") {
            None => PyDict::default(),
            Some(o) => {
                let dicts: Vec<PyDict> = branches(o)
                    .into_iter()
                    .filter_map(|b| match b.value {
                        Some(Value::Dict(d)) => Some(d),
                        _ => None,
                    })
                    .collect();
                // With branches, the one that enables a pool decides the cap.
                let pooled = dicts.iter().position(|d| {
                    d.get("pool")
                        .and_then(|p| p.value.as_ref())
                        .and_then(Value::truthy)
                        == Some(true)
                });
                if let Some(d) = pooled.or((!dicts.is_empty()).then_some(0)) {
                    dicts[d].clone()
                } else {
                    self.unresolved(
                        o.location.clone(),
                        what("OPTIONS"),
                        o.unknown_reason().unwrap_or("OPTIONS is not a dict"),
                    );
                    PyDict::default()
                }
            }
        };
        if !options.unknown.is_empty() {
            self.unresolved(
                options.literal.clone().or_else(|| Some(location.clone())),
                what("some OPTIONS"),
                &options.unknown.join("; "),
            );
        }
        let pool = self.pool_option(alias, &options);
        let driver = match family {
            Family::Psycopg2 => Sourced::with_origin(
                Driver::Psycopg2,
                Origin::Computed {
                    expr: format!("ENGINE `{engine_text}`"),
                },
                engine.location.clone(),
            ),
            Family::Postgres => Sourced::tool_default(
                Driver::Psycopg3,
                "Django (psycopg 3 assumed; the dependency pins decide)",
            ),
            Family::Custom => Sourced::with_origin(
                Driver::Psycopg3,
                Origin::Computed {
                    expr: format!(
                        "ENGINE `{engine_text}` names no other database, so it is taken to wrap Django's PostgreSQL backend (psycopg 3 assumed)"
                    ),
                },
                engine.location.clone(),
            ),
        };

        let mut settings = PoolSettings {
            connect_args_location: options.literal.clone(),
            ..PoolSettings::default()
        };
        apply_driver_kwargs(&mut settings, &options, &driver);
        let server_side_binding = self.flag(&options, "server_side_binding", false, true, alias);
        if server_side_binding.value == Some(true) && settings.prepare_threshold.is_none() {
            settings.prepare_threshold = Some(Sourced::tool_default(Some(5), "psycopg"));
        } else if server_side_binding.value != Some(true) {
            // Client-side binding cursors never prepare: the setting does not apply.
            settings.prepare_threshold = settings
                .prepare_threshold
                .take()
                .filter(|p| p.location.is_some());
        }

        let (kind, cap, cap_location) = match &pool {
            None => (
                PoolKind::DjangoAlias,
                PoolCap::PerConcurrency {
                    reason: "one connection per thread (Django without a pool)".into(),
                },
                location.clone(),
            ),
            Some((option, pool_dict)) => {
                fill_pool_settings(&mut settings, option, pool_dict.as_ref());
                let size = option
                    .max_size
                    .clone()
                    .unwrap_or_else(|| option.min_size.clone());
                if let Some(reason) = size.unknown_reason() {
                    self.unresolved(size.location.clone(), what("the pool size"), reason);
                }
                let cap_location = option
                    .max_size
                    .as_ref()
                    .and_then(|m| m.location.clone())
                    .filter(|l| l.file == location.file)
                    .unwrap_or_else(|| location.clone());
                (
                    PoolKind::DjangoPool,
                    PoolCap::Bounded {
                        size,
                        overflow: None,
                    },
                    cap_location,
                )
            }
        };

        let conn_max_age = self.conn_max_age(dict, alias);
        settings.django = Some(DjangoAliasSettings {
            alias: alias.to_owned(),
            settings_module: self.config.name.clone(),
            selected_by: self.config.selected_by.clone(),
            configurations: self.configurations,
            engine: engine.clone(),
            conn_max_age,
            conn_health_checks: self.flag(dict, "CONN_HEALTH_CHECKS", false, false, alias),
            disable_server_side_cursors: self.flag(
                dict,
                "DISABLE_SERVER_SIDE_CURSORS",
                false,
                false,
                alias,
            ),
            atomic_requests: self.flag(dict, "ATOMIC_REQUESTS", false, true, alias),
            pool: pool.map(|(option, _)| option),
            server_side_binding,
            sslmode: options.get("sslmode").map(sourced_string),
            asgi_application: self.asgi_application.clone(),
            alias_dict: dict.literal.clone(),
            options_dict: options.literal.clone(),
        });

        let target = self.target(alias, dict);
        let mut pool = ClientPool::new(
            kind,
            alias,
            location,
            driver,
            false,
            target,
            cap,
            cap_location,
        );
        pool.settings = settings;
        Some(pool)
    }

    /// `ENGINE`, the PostgreSQL one when it depends on a condition. `None`
    /// (after saying why) when it is missing or unknown.
    fn engine(
        &mut self,
        alias: &str,
        dict: &PyDict,
        value: &Sourced<Value>,
        location: &Location,
    ) -> Option<Sourced<String>> {
        let what = format!("ENGINE of Django alias `{alias}`");
        let Some(engine) = dict.get("ENGINE") else {
            let reason = if dict.unknown.is_empty() {
                match value.origin_phrase() {
                    Some(phrase) if dict.entries.is_empty() => {
                        format!("the alias is empty ({phrase})")
                    }
                    _ => "the alias has no ENGINE".to_owned(),
                }
            } else {
                dict.unknown.join("; ")
            };
            self.unresolved(Some(location.clone()), what, &reason);
            return None;
        };
        let options: Vec<Sourced<String>> = branches(engine).iter().map(sourced_string).collect();
        let chosen = options
            .iter()
            .find(|e| {
                e.value
                    .as_deref()
                    .is_some_and(|t| engine_family(t).is_some())
            })
            .or_else(|| options.iter().find(|e| e.is_known()))
            .or(options.first())
            .cloned()?;
        if let Some(reason) = chosen.unknown_reason() {
            self.unresolved(
                chosen.location.clone().or_else(|| Some(location.clone())),
                what,
                reason,
            );
        }
        Some(chosen)
    }

    /// `OPTIONS["pool"]` when truthy, with the dict it holds.
    fn pool_option(
        &mut self,
        alias: &str,
        options: &PyDict,
    ) -> Option<(DjangoPoolOption, Option<PyDict>)> {
        let written = options.get("pool")?;
        let mut truthy = Vec::new();
        for branch in branches(written) {
            match branch.value.as_ref().map(Value::truthy) {
                Some(Some(true)) => truthy.push(branch),
                Some(Some(false)) => {}
                _ => self.unresolved(
                    branch.location.clone().or_else(|| options.literal.clone()),
                    format!("OPTIONS[\"pool\"] of Django alias `{alias}`"),
                    branch
                        .unknown_reason()
                        .unwrap_or("cannot tell whether the pool is enabled"),
                ),
            }
        }
        let chosen = truthy.into_iter().next()?;
        let described = Sourced {
            value: chosen.value.as_ref().map(|v| match v {
                Value::Dict(_) => "a dict".to_owned(),
                other => other.describe(),
            }),
            origin: chosen.origin.clone(),
            location: chosen.location.clone(),
        };
        let dict = match &chosen.value {
            Some(Value::Dict(d)) => Some(d.clone()),
            _ => None,
        };
        // `None` means unset (`max_size=None` is fixed at `min_size`); with
        // branches, the ones that set a number decide.
        let int = |key: &str| -> Option<Sourced<IntExpr>> {
            let v = dict.as_ref()?.get(key)?;
            let set: Vec<Sourced<Value>> = branches(v)
                .into_iter()
                .filter(|b| !matches!(b.value, Some(Value::None)))
                .collect();
            match set.len() {
                0 => None,
                1 => Some(sourced_int(&set[0])),
                _ if set.len() == branches(v).len() => Some(sourced_int(v)),
                _ => Some(sourced_int(&Sourced {
                    value: Some(Value::OneOf(set)),
                    ..v.clone()
                })),
            }
        };
        let min_size = int("min_size").unwrap_or_else(|| {
            Sourced::tool_default(IntExpr::Const(4), format!("{POOL_TOOL} min_size"))
        });
        let max_size = int("max_size");
        if let Some(reason) = min_size.unknown_reason() {
            self.unresolved(
                min_size.location.clone(),
                format!("the pool min_size of Django alias `{alias}`"),
                reason,
            );
        }
        let option = DjangoPoolOption {
            value: described,
            is_dict: dict.is_some(),
            keys: dict
                .as_ref()
                .map(|d| {
                    d.entries
                        .iter()
                        .map(|(k, v)| (k.clone(), v.location.clone()))
                        .collect()
                })
                .unwrap_or_default(),
            min_size,
            max_size,
            location: dict
                .as_ref()
                .and_then(|d| d.literal.clone())
                .or_else(|| chosen.location.clone()),
        };
        Some((option, dict))
    }

    /// A boolean setting; when it depends on a condition, the `risky` value
    /// wins if any branch has it.
    fn flag(
        &mut self,
        dict: &PyDict,
        key: &str,
        default: bool,
        risky: bool,
        alias: &str,
    ) -> Sourced<bool> {
        let Some(written) = dict.get(key) else {
            return Sourced::tool_default(default, TOOL);
        };
        let values: Vec<Sourced<bool>> = branches(written).iter().map(sourced_bool).collect();
        let chosen = values
            .iter()
            .find(|v| v.value == Some(risky))
            .or_else(|| values.iter().find(|v| !v.is_known()))
            .or(values.first())
            .cloned()
            .unwrap_or_else(|| Sourced::tool_default(default, TOOL));
        if let Some(reason) = chosen.unknown_reason() {
            self.unresolved(
                chosen.location.clone().or_else(|| dict.literal.clone()),
                format!("{key} of Django alias `{alias}`"),
                reason,
            );
        }
        if values.len() > 1 {
            return Sourced {
                origin: Origin::Computed {
                    expr: format!(
                        "{key} depends on a condition; {} is assumed",
                        if risky { "True" } else { "False" }
                    ),
                },
                ..chosen
            };
        }
        chosen
    }

    /// `CONN_MAX_AGE`: `None` is unlimited; with branches, the longest wins.
    fn conn_max_age(&mut self, dict: &PyDict, alias: &str) -> Sourced<Option<i64>> {
        let Some(written) = dict.get("CONN_MAX_AGE") else {
            return Sourced::tool_default(Some(0), TOOL);
        };
        let values: Vec<Sourced<Option<i64>>> = branches(written)
            .iter()
            .map(|b| match &b.value {
                Some(Value::None) => {
                    Sourced::with_origin(None, b.origin.clone(), b.location.clone())
                }
                _ => sourced_int(b)
                    .and_then("CONN_MAX_AGE is not a whole number of seconds", |e| {
                        e.constant().map(Some)
                    }),
            })
            .collect();
        let rank = |v: &Sourced<Option<i64>>| match v.value {
            Some(None) => i64::MAX,
            Some(Some(s)) => s,
            None => i64::MIN,
        };
        let chosen = if values.iter().any(|v| !v.is_known()) {
            values.iter().find(|v| !v.is_known()).cloned()
        } else {
            values.iter().max_by_key(|v| rank(v)).cloned()
        }
        .unwrap_or_else(|| Sourced::tool_default(Some(0), TOOL));
        if let Some(reason) = chosen.unknown_reason() {
            self.unresolved(
                chosen.location.clone().or_else(|| dict.literal.clone()),
                format!("CONN_MAX_AGE of Django alias `{alias}`"),
                reason,
            );
            return chosen;
        }
        if values.len() > 1 {
            return Sourced {
                origin: Origin::Computed {
                    expr: "CONN_MAX_AGE depends on a condition; the longest is assumed".into(),
                },
                ..chosen
            };
        }
        chosen
    }

    /// `HOST`/`PORT`/`NAME`/`USER`; an empty or missing `HOST` is localhost.
    fn target(&mut self, alias: &str, dict: &PyDict) -> Sourced<Target> {
        let text = |key: &str| -> Option<Sourced<String>> {
            let v = dict.get(key)?;
            Some(match &v.value {
                Some(Value::Int(i)) => match i.constant() {
                    Some(c) => {
                        Sourced::with_origin(c.to_string(), v.origin.clone(), v.location.clone())
                    }
                    None => sourced_string(v),
                },
                Some(Value::None) => {
                    Sourced::with_origin(String::new(), v.origin.clone(), v.location.clone())
                }
                _ => sourced_string(v),
            })
        };
        let host = text("HOST");
        if let Some(h) = &host
            && let Some(reason) = h.unknown_reason()
        {
            self.unresolved(
                h.location.clone().or_else(|| dict.literal.clone()),
                format!("HOST of Django alias `{alias}`"),
                reason,
            );
            return Sourced::unknown(reason, h.location.clone());
        }
        let known = |s: Option<Sourced<String>>| s.and_then(|s| s.value).filter(|t| !t.is_empty());
        let target = Target {
            host: Some(
                host.as_ref()
                    .and_then(|h| h.value.clone())
                    .filter(|h| !h.is_empty())
                    .unwrap_or_else(|| "localhost".to_owned()),
            ),
            port: known(text("PORT")).and_then(|p| p.trim().parse().ok()),
            dbname: known(text("NAME")),
            user: known(text("USER")),
        };
        match host {
            Some(h) if h.value.as_deref().is_some_and(|t| !t.is_empty()) => {
                Sourced::with_origin(target, h.origin, h.location)
            }
            _ => Sourced::tool_default(target, "Django (no HOST: localhost)"),
        }
    }
}

fn fill_pool_settings(
    settings: &mut PoolSettings,
    option: &DjangoPoolOption,
    dict: Option<&PyDict>,
) {
    settings.min_size = Some(option.min_size.clone());
    settings.max_size = Some(
        option
            .max_size
            .clone()
            .unwrap_or_else(|| option.min_size.clone()),
    );
    let float = |key: &str, default: f64| {
        dict.and_then(|d| d.get(key))
            .filter(|v| !matches!(v.value, Some(Value::None)))
            .map_or_else(|| Sourced::tool_default(default, POOL_TOOL), sourced_float)
    };
    settings.timeout = Some(float("timeout", 30.0));
    settings.max_idle = Some(float("max_idle", 600.0));
    settings.max_lifetime = Some(float("max_lifetime", 3600.0));
    settings.check = dict
        .and_then(|d| d.get("check"))
        .and_then(|c| c.location.clone());
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Postgres,
    Psycopg2,
    Custom,
}

/// The kind of PostgreSQL backend an `ENGINE` is; `None` for other databases.
fn engine_family(engine: &str) -> Option<Family> {
    let lower = engine.to_ascii_lowercase();
    if lower.contains("psycopg2") {
        return Some(Family::Psycopg2);
    }
    if POSTGRES_WORDS.iter().any(|w| lower.contains(w)) {
        return Some(Family::Postgres);
    }
    if OTHER_DATABASES.iter().any(|w| lower.contains(w)) {
        return None;
    }
    Some(Family::Custom)
}

#[cfg(test)]
mod tests;
