//! The Python front-end.
//!
//! Extraction ([`extract`]) is pure and per file: tree-sitter-python parses the
//! module into the [`PythonModule`] IR (bindings, imports, calls of interest,
//! all unevaluated). Analysis ([`PythonProject::analyze`]) runs at assembly
//! time with one service's [`Environment`]: the [`Evaluator`] folds values
//! across modules, and SQLAlchemy, Flask-SQLAlchemy and raw-driver calls and
//! Django `DATABASES` aliases become [`ClientPool`]s.

pub mod celery;
pub mod django;
pub mod drivers;
pub mod edits;
pub mod eval;
pub mod flask;
pub mod gunicorn;
pub mod import_scan;
pub mod incremental;
pub mod nesting;
pub mod parse;
pub mod project;
pub mod pydantic;
mod relocate;
pub mod sqlalchemy;
pub mod url;
pub mod value;
pub mod workers;

use poolcheck_core::Code;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use poolcheck_core::facts::pool::{ClientPool, EventSql, PoolCap, PoolKind};
use poolcheck_core::facts::process::{ServerInvocation, ServerKind, ServerSettings};
use poolcheck_core::facts::python::{Arg, CallSite, Expr, ExprKind, ImportTimeKind, StmtKind};
use poolcheck_core::facts::{FileFacts, PythonModule};
use poolcheck_core::{
    Diagnostic, Environment, FilePath, Location, Severity, SourceFile, Sourced, Span,
};

pub use eval::{EvalCtx, Evaluator, ScopeKind};
pub use gunicorn::{GunicornConfig, is_gunicorn_config_name};
pub use project::{ModuleNames, ModuleSource, PythonProject};
pub use value::{PyDict, PyStr, Value};

use sqlalchemy::{PoolArgs, engine_pool, sourced_bool, sourced_int, sourced_string};
use value::{FuncRef, render};

/// Words whose presence near a syntax error means the error may hide a setting.
const SETTING_WORDS: &[&str] = &[
    "create_engine",
    "create_async_engine",
    "pool_size",
    "max_overflow",
    "poolclass",
    "create_pool",
    "ConnectionPool",
    "DATABASES",
    "CONN_MAX_AGE",
    "SQLALCHEMY_",
    "workers",
    "threads",
    "worker_class",
    "worker_connections",
    "preload",
    "statement_cache_size",
    "prepare_threshold",
];

/// Parses one Python file into `facts.python`. A file with syntax errors
/// keeps everything tree-sitter recovered; an error on a line that names a
/// setting poolcheck reads becomes PC002.
pub fn extract(file: &SourceFile, facts: &mut FileFacts) {
    let (module, too_deep) = parse::parse_module_reporting(file.text());
    extract_parsed(file, facts, module, too_deep);
}

/// [`extract`] of a module already parsed.
fn extract_parsed(
    file: &SourceFile,
    facts: &mut FileFacts,
    module: PythonModule,
    too_deep: Vec<nesting::TooDeep>,
) {
    for unread in too_deep {
        facts.diagnostics.push(
            Diagnostic::new(
                Code::PC002,
                Severity::Error,
                file.location(unread.span),
                unread.message,
            )
            .with_label("nested too deep")
            .with_help("settings inside are left out of the budget; reduce the nesting so poolcheck can read them"),
        );
    }
    // Errors are sorted, so the lines they sit on come in order: each line
    // is searched for setting words once, however many errors it holds (one
    // long line of errors made this quadratic).
    let mut checked_line = None;
    for error in &module.syntax_errors {
        // The line number alone: a column would count the characters of a
        // long non-ASCII line for every error on it.
        let line = file.index().line_of(error.start as usize) as u32 + 1;
        if checked_line == Some(line) {
            continue;
        }
        checked_line = Some(line);
        let Some(line_span) = file.line_span(line) else {
            continue;
        };
        let line_text = file.slice(line_span);
        let Some(word) = SETTING_WORDS.iter().find(|w| line_text.contains(**w)) else {
            continue;
        };
        let span = if error.is_empty() {
            line_span
        } else {
            Span::new(
                error.start as usize,
                (error.end as usize)
                    .min(line_span.end as usize)
                    .max(error.start as usize),
            )
        };
        facts.diagnostics.push(
            Diagnostic::new(
                Code::PC002,
                Severity::Error,
                file.location(span),
                format!(
                    "syntax error hides a setting: this line mentions `{word}` but does not parse"
                ),
            )
            .with_label("syntax error")
            .with_help("fix the syntax so poolcheck (and Python) can read the setting"),
        );
    }
    facts.python = Some(module);
}

/// A value a check needed but could not resolve (feeds PC004).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    pub location: Location,
    /// What was being resolved: `pool_size of `engine``.
    pub what: String,
    /// Why it is unknown and what to declare.
    pub reason: String,
    /// The value the budget counts instead (`SQLAlchemy's default 5`), when
    /// the checks still run; `None` when they are skipped.
    pub assumed: Option<String>,
}

/// Connection activity when a module is imported (PC401).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportTimeConnection {
    pub location: Location,
    pub kind: ImportTimeKind,
    /// The receiver as written (`engine`, `Base.metadata`).
    pub receiver: Option<String>,
}

/// An `@event.listens_for` handler and the pools it applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventHandler {
    pub location: Location,
    pub event: String,
    pub handler: String,
    /// The listened-to target as written (`engine.sync_engine`, `Engine`).
    pub target: String,
    /// SQL the handler executes, with locations.
    pub statements: Vec<(String, Location)>,
    /// Names of the pools it was attached to.
    pub pools: Vec<String>,
}

/// What the Python code of one service opens and starts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PythonAnalysis {
    pub pools: Vec<ClientPool>,
    /// `uvicorn.run(...)` calls.
    pub servers: Vec<ServerInvocation>,
    pub unresolved: Vec<Unresolved>,
    pub import_time_connections: Vec<ImportTimeConnection>,
    pub event_handlers: Vec<EventHandler>,
}

/// What a call site constructs.
enum Construct {
    Engine { is_async: bool, from_config: bool },
    Driver(drivers::DriverCall),
    UvicornRun,
    FlaskSqlAlchemy,
}

fn classify_callee(path: &str) -> Option<Construct> {
    // SQLModel re-exports SQLAlchemy's `create_engine` unchanged.
    let sqlmodel =
        path == "sqlmodel.create_engine" || path == "sqlmodel.engine.create.create_engine";
    if path.starts_with("sqlalchemy") || sqlmodel {
        let last = path.rsplit('.').next().unwrap_or("");
        return match last {
            "create_engine" => Some(Construct::Engine {
                is_async: false,
                from_config: false,
            }),
            "create_async_engine" => Some(Construct::Engine {
                is_async: true,
                from_config: false,
            }),
            "engine_from_config" => Some(Construct::Engine {
                is_async: false,
                from_config: true,
            }),
            "async_engine_from_config" => Some(Construct::Engine {
                is_async: true,
                from_config: true,
            }),
            _ => None,
        };
    }
    if path == "uvicorn.run" {
        return Some(Construct::UvicornRun);
    }
    if path.starts_with("flask_sqlalchemy") && path.ends_with("SQLAlchemy") {
        return Some(Construct::FlaskSqlAlchemy);
    }
    drivers::classify(path).map(Construct::Driver)
}

impl PythonProject<'_> {
    /// Every pool, server and unresolved value in the project's Python code
    /// as it runs with `env`. `only_paths` narrows the modules considered to
    /// those under the given paths (a service's `paths`).
    pub fn analyze(&self, env: &Environment, only_paths: Option<&[PathBuf]>) -> PythonAnalysis {
        Analyzer::new(self).analyze(env, only_paths)
    }

    /// Like [`Self::analyze`] over the modules a service runs (`modules`);
    /// Django and Flask-SQLAlchemy configuration is read from
    /// `config_modules`, since frameworks load settings by name rather than
    /// by import.
    pub fn analyze_modules(
        &self,
        env: &Environment,
        modules: &[usize],
        config_modules: &[usize],
    ) -> PythonAnalysis {
        Analyzer::new(self).analyze_modules(env, modules, config_modules)
    }

    /// What a Django process loads by name rather than by import: the
    /// settings modules in effect among `candidates`, the `ROOT_URLCONF`
    /// module and every module of the repository's `INSTALLED_APPS` packages.
    pub fn django_loaded_modules(&self, env: &Environment, candidates: &[usize]) -> Vec<usize> {
        Analyzer::new(self).django_loaded_modules(env, &[], candidates)
    }

    /// True when the module at `index` binds `name` at module level (star
    /// imports followed).
    pub fn module_binds(&self, index: usize, name: &str) -> bool {
        let env = Environment::new();
        Evaluator::new(self, &env).module_defines(index, name)
    }

    /// The settings of the gunicorn config file at `config_path`, evaluated with `env`.
    pub fn gunicorn_settings(
        &self,
        config_path: &FilePath,
        env: &Environment,
    ) -> Option<GunicornConfig> {
        let module = self.index_of_path(config_path.as_path())?;
        let eval = Evaluator::new(self, env);
        Some(gunicorn::gunicorn_config(&eval, module))
    }

    /// The value of `name` at the end of the module at `path` (for other front-ends).
    pub fn evaluate_name(
        &self,
        path: &Path,
        name: &str,
        env: &Environment,
    ) -> Option<Sourced<Value>> {
        let module = self.index_of_path(path)?;
        let eval = Evaluator::new(self, env);
        Some(eval.module_value(module, name))
    }
}

/// The Python analyses of one project for many services. Each module is
/// evaluated once per distinct environment, and a service's analysis joins
/// the results of the modules it runs: before, every service with its own
/// code was a fresh evaluation of all of it (200 services of a monorepo
/// evaluated the shared code 200 times, and Django's settings candidates
/// once per service).
pub struct Analyzer<'p, 'a> {
    project: &'p PythonProject<'a>,
    by_env: RefCell<Vec<Rc<EnvAnalysis<'p, 'a>>>>,
}

/// What is known under one environment: the evaluator with its memos, and
/// the results of each module and of each set of configuration modules.
struct EnvAnalysis<'p, 'a> {
    eval: Evaluator<'p, 'a>,
    modules: RefCell<HashMap<usize, Rc<ModuleSites>>>,
    /// By (the modules that select the settings, the configuration modules).
    django: RefCell<HashMap<DjangoInputs, DjangoResult>>,
    django_loaded: RefCell<HashMap<DjangoInputs, Rc<Vec<usize>>>>,
}

/// The modules of a process that write `DJANGO_SETTINGS_MODULE`, and the
/// modules Django may load settings from.
type DjangoInputs = (Vec<usize>, Vec<usize>);
type DjangoResult = Rc<(Vec<ClientPool>, Vec<Unresolved>)>;

/// The constructors one module calls, evaluated.
#[derive(Default)]
struct ModuleSites {
    engines: Vec<(ClientPool, GroupKey)>,
    servers: Vec<(ServerInvocation, GroupKey)>,
    /// Flask-SQLAlchemy's `engine_options`, the last written in the module.
    flask_engine_options: Option<Sourced<Value>>,
    unresolved: Vec<Unresolved>,
}

impl<'p, 'a> Analyzer<'p, 'a> {
    pub fn new(project: &'p PythonProject<'a>) -> Self {
        Self {
            project,
            by_env: RefCell::new(Vec::new()),
        }
    }

    fn state(&self, env: &Environment) -> Rc<EnvAnalysis<'p, 'a>> {
        if let Some(state) = self.by_env.borrow().iter().find(|s| s.eval.env() == env) {
            return Rc::clone(state);
        }
        let state = Rc::new(EnvAnalysis {
            eval: Evaluator::owning(self.project, env.clone()),
            modules: RefCell::new(HashMap::new()),
            django: RefCell::new(HashMap::new()),
            django_loaded: RefCell::new(HashMap::new()),
        });
        self.by_env.borrow_mut().push(Rc::clone(&state));
        state
    }

    /// [`PythonProject::analyze`], sharing this analyzer's evaluations.
    pub fn analyze(&self, env: &Environment, only_paths: Option<&[PathBuf]>) -> PythonAnalysis {
        let project = self.project;
        let modules: Vec<usize> = (0..project.len())
            .filter(|m| match only_paths {
                None => true,
                Some(paths) => {
                    let path = without_cur_dir(project.path(*m).as_path());
                    paths.iter().any(|p| path.starts_with(without_cur_dir(p)))
                }
            })
            .collect();
        self.analyze_modules(env, &modules, &modules)
    }

    /// [`PythonProject::analyze_modules`], sharing this analyzer's evaluations.
    pub fn analyze_modules(
        &self,
        env: &Environment,
        modules: &[usize],
        config_modules: &[usize],
    ) -> PythonAnalysis {
        let state = self.state(env);
        let eval = &state.eval;
        let mut analysis = PythonAnalysis::default();
        let mut engine_sites: Vec<(ClientPool, GroupKey)> = Vec::new();
        let mut server_sites: Vec<(ServerInvocation, GroupKey)> = Vec::new();
        let mut flask_engine_options: Option<Sourced<Value>> = None;
        for &m in modules {
            // A module read only for its imports starts nothing; skipping
            // it keeps a tree of thousands of such modules from filling
            // the memo with empty entries on every analysis.
            if self.project.activity(m).is_none() {
                continue;
            }
            let sites = state.module_sites(m);
            engine_sites.extend(sites.engines.iter().cloned());
            server_sites.extend(sites.servers.iter().cloned());
            if let Some(options) = &sites.flask_engine_options {
                flask_engine_options = Some(options.clone());
            }
            analysis.unresolved.extend(sites.unresolved.iter().cloned());
        }
        sqlalchemy::dedupe_unresolved(&mut analysis.unresolved);
        analysis.pools = merge_branches(engine_sites);
        analysis.servers = merge_server_branches(server_sites);
        if flask::uses_flask_sqlalchemy(eval) {
            let pools = flask::flask_pools(
                eval,
                config_modules,
                flask_engine_options.as_ref(),
                &mut analysis.unresolved,
            );
            analysis.pools.extend(pools);
        }
        // The process's own `DJANGO_SETTINGS_MODULE` decides which of the
        // configuration modules it loads.
        let selectors = django::settings_selectors(self.project, modules);
        let django = state.django_pools(selectors, config_modules);
        analysis.pools.extend(django.0.iter().cloned());
        // Django's reader skips a value already said at the same place.
        let said: std::collections::HashSet<(Location, String)> = analysis
            .unresolved
            .iter()
            .map(|u| (u.location.clone(), u.what.clone()))
            .collect();
        analysis.unresolved.extend(
            django
                .1
                .iter()
                .filter(|u| !said.contains(&(u.location.clone(), u.what.clone())))
                .cloned(),
        );
        attach_event_handlers(eval, modules, &mut analysis);
        for &m in modules {
            let Some(module) = self.project.activity(m) else {
                continue;
            };
            for activity in &module.import_time {
                analysis.import_time_connections.push(ImportTimeConnection {
                    location: eval.location(m, activity.span),
                    kind: activity.kind,
                    receiver: activity.receiver.as_ref().map(render),
                });
            }
        }
        analysis
    }

    /// [`PythonProject::django_loaded_modules`] for a process that runs
    /// `code`, whose own `DJANGO_SETTINGS_MODULE` decides among
    /// `candidates`; computed once per environment and selection.
    pub fn django_loaded_modules(
        &self,
        env: &Environment,
        code: &[usize],
        candidates: &[usize],
    ) -> Vec<usize> {
        let state = self.state(env);
        let key = (
            django::settings_selectors(self.project, code),
            candidates.to_vec(),
        );
        if let Some(found) = state.django_loaded.borrow().get(&key) {
            return found.to_vec();
        }
        let found = django_loaded_modules(&state.eval, &key.0, candidates);
        state
            .django_loaded
            .borrow_mut()
            .insert(key, Rc::new(found.clone()));
        found
    }
}

impl EnvAnalysis<'_, '_> {
    fn module_sites(&self, m: usize) -> Rc<ModuleSites> {
        if let Some(sites) = self.modules.borrow().get(&m) {
            return Rc::clone(sites);
        }
        let sites = Rc::new(evaluate_sites(&self.eval, m));
        self.modules.borrow_mut().insert(m, Rc::clone(&sites));
        sites
    }

    fn django_pools(&self, selectors: Vec<usize>, config_modules: &[usize]) -> DjangoResult {
        let key = (selectors, config_modules.to_vec());
        if let Some(found) = self.django.borrow().get(&key) {
            return Rc::clone(found);
        }
        let mut unresolved = Vec::new();
        let pools = django::django_pools_selected_by(&self.eval, &key.0, &key.1, &mut unresolved);
        let found = Rc::new((pools, unresolved));
        self.django.borrow_mut().insert(key, Rc::clone(&found));
        found
    }
}

/// Evaluates the constructor calls of module `m`.
fn evaluate_sites(eval: &Evaluator<'_, '_>, m: usize) -> ModuleSites {
    let project = eval.project();
    let mut out = ModuleSites::default();
    let Some(module) = project.activity(m) else {
        return out;
    };
    for site in &module.calls {
        let ctx = site_context(eval, m, site);
        if eval.guards_taken(
            &EvalCtx {
                guards: Vec::new(),
                ..ctx.clone()
            },
            &site.guards,
        ) == eval::Tri::False
        {
            continue;
        }
        let ExprKind::Call { func, .. } = &site.call.kind else {
            continue;
        };
        let callee = eval.eval(func, &ctx);
        let Some(Value::External(path)) = &callee.value else {
            continue;
        };
        let Some(construct) = classify_callee(path) else {
            continue;
        };
        let name = pool_name(project, m, site);
        match construct {
            Construct::Engine {
                is_async,
                from_config,
            } => {
                let mut args = pool_args(eval, &ctx, &site.call);
                let url = if from_config {
                    config_engine_args(&mut args)
                } else {
                    args.get("url")
                        .cloned()
                        .or_else(|| args.positional.first().cloned())
                };
                let mut pool = engine_pool(eval, url, &args, is_async, name, &mut out.unresolved);
                if pool.settings.prepared_statement_cache_size.is_none()
                    && matches!(
                        pool.driver.value,
                        Some(poolcheck_core::facts::pool::Driver::Asyncpg)
                    )
                {
                    pool.settings.prepared_statement_cache_size =
                        Some(Sourced::tool_default(100, "SQLAlchemy"));
                }
                out.engines.push((pool, GroupKey::of(m, site)));
            }
            Construct::Driver(call) => {
                let args = pool_args(eval, &ctx, &site.call);
                let pool = drivers::driver_pool(call, &args, name, &mut out.unresolved);
                out.engines.push((pool, GroupKey::of(m, site)));
            }
            Construct::UvicornRun => {
                out.servers
                    .push((uvicorn_run(eval, &ctx, &site.call), GroupKey::of(m, site)));
            }
            Construct::FlaskSqlAlchemy => {
                let args = pool_args(eval, &ctx, &site.call);
                if let Some(options) = args.get("engine_options") {
                    out.flask_engine_options = Some(options.clone());
                }
            }
        }
    }
    out
}

/// What a Django process loads by name (see [`PythonProject::django_loaded_modules`]).
fn django_loaded_modules(
    eval: &Evaluator<'_, '_>,
    selectors: &[usize],
    candidates: &[usize],
) -> Vec<usize> {
    let project = eval.project();
    let mut ignored = Vec::new();
    let mut out = Vec::new();
    for config in django::configurations_selected_by(eval, selectors, candidates, &mut ignored) {
        out.push(config.module);
        let urlconf = eval.module_value(config.module, "ROOT_URLCONF");
        if let Some(Value::Str(name)) = &urlconf.value {
            out.extend(project.entry_module(&name.text));
        }
        let apps = eval.module_value(config.module, "INSTALLED_APPS");
        if let Some(Value::List(items)) = &apps.value {
            for item in items {
                let Some(Value::Str(app)) = &item.value else {
                    continue;
                };
                // `shop.apps.ShopConfig` names a class in the package `shop`.
                let name = app.text.split(".apps.").next().unwrap_or(&app.text);
                if name == "django" || name.starts_with("django.") {
                    continue;
                }
                out.extend(project.package_modules(name));
            }
        }
    }
    out
}

/// `./a/b` as `a/b`, so relative paths compare by their real components.
fn without_cur_dir(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

/// Pools created in different arms of one `if` for the same name are one pool.
#[derive(Debug, Clone, PartialEq, Eq)]
struct GroupKey {
    module: usize,
    function: Option<usize>,
    name: Option<String>,
    returned: bool,
    guards: Vec<poolcheck_core::facts::python::Guard>,
}

impl GroupKey {
    fn of(module: usize, site: &CallSite) -> Self {
        Self {
            module,
            function: site.function,
            name: site.assigned_to.clone(),
            returned: site.returned,
            guards: site.guards.clone(),
        }
    }

    /// Both sit in the same function, in different arms of one branch point.
    fn in_other_arm_than(&self, other: &GroupKey) -> bool {
        self.module == other.module
            && self.function == other.function
            && self.guards.iter().any(|a| {
                other
                    .guards
                    .iter()
                    .any(|b| a.branch == b.branch && a.arm != b.arm)
            })
    }

    /// Both create the same thing and can never both run: they sit in
    /// different arms of one branch point.
    fn exclusive_with(&self, other: &GroupKey) -> bool {
        self.module == other.module
            && self.function == other.function
            && self.name == other.name
            && self.returned == other.returned
            && (self.name.is_some() || self.returned)
            && self.guards.iter().any(|a| {
                other
                    .guards
                    .iter()
                    .any(|b| a.branch == b.branch && a.arm != b.arm)
            })
    }
}

/// Module, function, bound name and whether it is returned.
type Binding = (usize, Option<usize>, Option<String>, bool);

fn merge_branches(sites: Vec<(ClientPool, GroupKey)>) -> Vec<ClientPool> {
    let mut groups: Vec<(Vec<GroupKey>, Vec<ClientPool>)> = Vec::new();
    // Only sites that bind the same name in the same scope can be exclusive:
    // each site is compared with those groups alone, not with every group
    // (10,000 engines in one file made this quadratic).
    let mut by_binding: HashMap<Binding, Vec<usize>> = HashMap::new();
    for (pool, key) in sites {
        if key.name.is_none() && !key.returned {
            groups.push((vec![key], vec![pool]));
            continue;
        }
        let binding = (key.module, key.function, key.name.clone(), key.returned);
        let candidates = by_binding.entry(binding).or_default();
        let group = candidates
            .iter()
            .copied()
            .find(|&g| groups[g].0.iter().all(|k| k.exclusive_with(&key)));
        if let Some(g) = group {
            groups[g].0.push(key);
            groups[g].1.push(pool);
        } else {
            candidates.push(groups.len());
            groups.push((vec![key], vec![pool]));
        }
    }
    let mut out = Vec::new();
    for (_, mut pools) in groups {
        if pools.len() == 1 {
            out.extend(pools);
            continue;
        }
        let described: Vec<String> = pools.iter().map(|p| describe_cap(&p.cap)).collect();
        pools.sort_by_key(|p| std::cmp::Reverse(cap_weight(&p.cap)));
        let mut worst = pools.remove(0);
        let note = format!(
            "`{}` is created in {} branches ({}): the largest cap is used",
            worst.name,
            described.len(),
            described.join("; ")
        );
        worst.alternatives = Some(match worst.alternatives.take() {
            Some(existing) => format!("{note}; {existing}"),
            None => note,
        });
        out.push(worst);
    }
    out
}

/// `if single: uvicorn.run(app) else: uvicorn.run(app, workers=n)` starts
/// one server either way: the arms of one branch point are alternatives, and
/// the one with the most workers counts.
fn merge_server_branches(sites: Vec<(ServerInvocation, GroupKey)>) -> Vec<ServerInvocation> {
    let mut groups: Vec<Vec<(ServerInvocation, GroupKey)>> = Vec::new();
    for (server, key) in sites {
        let group = groups.iter_mut().find(|g| {
            g.iter().all(|(other, k)| {
                other.settings.app.as_ref().and_then(|a| a.value.as_ref())
                    == server.settings.app.as_ref().and_then(|a| a.value.as_ref())
                    && k.in_other_arm_than(&key)
            })
        });
        match group {
            Some(group) => group.push((server, key)),
            None => groups.push(vec![(server, key)]),
        }
    }
    groups
        .into_iter()
        .filter_map(|group| {
            group
                .into_iter()
                .map(|(server, _)| server)
                .max_by_key(|server| {
                    server
                        .settings
                        .workers
                        .as_ref()
                        .and_then(|w| w.get().and_then(|e| e.eval(8)))
                        .unwrap_or(1)
                })
        })
        .collect()
}

fn cap_weight(cap: &PoolCap) -> (u8, i64) {
    match cap {
        PoolCap::Unbounded { .. } => (3, 0),
        PoolCap::PerConcurrency { .. } => (2, 0),
        PoolCap::Bounded { size, overflow } => {
            let s = size.get().and_then(|e| e.eval(8)).unwrap_or(0);
            let o = overflow
                .as_ref()
                .and_then(|o| o.get().and_then(|e| e.eval(8)))
                .unwrap_or(0);
            (1, s.saturating_add(o))
        }
    }
}

fn describe_cap(cap: &PoolCap) -> String {
    match cap {
        PoolCap::Unbounded { .. } => "unbounded".into(),
        PoolCap::PerConcurrency { .. } => "one per request".into(),
        PoolCap::Bounded { size, overflow } => {
            let s = size.get().map_or_else(|| "?".into(), ToString::to_string);
            match overflow {
                Some(o) => format!(
                    "{s} + {}",
                    o.get().map_or_else(|| "?".into(), ToString::to_string)
                ),
                None => s,
            }
        }
    }
}

fn pool_name(project: &PythonProject<'_>, module: usize, site: &CallSite) -> String {
    if let Some(name) = &site.assigned_to {
        return name.clone();
    }
    if let Some(f) = site.function {
        return project.module(module).functions[f].name.clone();
    }
    site.callee_name.clone()
}

/// The evaluation context of a call site, with the function's parameters
/// bound from its only caller when there is exactly one.
fn site_context(eval: &Evaluator<'_, '_>, module: usize, site: &CallSite) -> EvalCtx {
    let scope = match (site.function, site.class) {
        (Some(f), _) => ScopeKind::Function(f),
        (None, Some(c)) => ScopeKind::Class(c),
        _ => ScopeKind::Module,
    };
    let mut ctx = EvalCtx::at(module, scope, site.call.span.start, site.guards.clone());
    if let Some(f) = site.function
        && let Some(locals) = caller_locals(eval, FuncRef { module, index: f })
    {
        ctx.locals = Some(Rc::new(locals));
    }
    ctx
}

fn caller_locals(
    eval: &Evaluator<'_, '_>,
    func: FuncRef,
) -> Option<HashMap<String, Sourced<Value>>> {
    let project = eval.project();
    let def = &project.module(func.module).functions[func.index];
    let needs = def
        .params
        .iter()
        .enumerate()
        .any(|(i, p)| !(def.class.is_some() && i == 0) && p.name != "self");
    if !needs {
        return None;
    }
    for caller in project.callers_of(&def.name) {
        let (m, scope, stmt) = (caller.module, caller.scope, caller.stmt);
        let (StmtKind::Assign { value, .. } | StmtKind::Return { value: Some(value) }) = &stmt.kind
        else {
            continue;
        };
        let value = project::called(value);
        let ExprKind::Call {
            func: callee,
            args,
            keywords,
        } = &value.kind
        else {
            continue;
        };
        if scope == ScopeKind::Function(func.index) && m == func.module {
            continue;
        }
        let ctx = EvalCtx::at(m, scope, stmt.span.start, stmt.guards.clone());
        let resolved = eval.eval(callee, &ctx);
        if resolved.value == Some(Value::Function(func)) {
            let loc = eval.location(m, value.span);
            return Some(eval.bind_arguments(func, args, keywords, &ctx, &loc));
        }
    }
    None
}

/// Evaluates a constructor call's arguments, keeping where each keyword is written.
fn pool_args(eval: &Evaluator<'_, '_>, ctx: &EvalCtx, call: &Expr) -> PoolArgs {
    let location = eval.location(ctx.module, call.span);
    let ExprKind::Call {
        func,
        args,
        keywords,
    } = &call.kind
    else {
        return PoolArgs {
            positional: Vec::new(),
            named: Vec::new(),
            unknown: Vec::new(),
            location,
            arguments: None,
        };
    };
    let mut positional = Vec::new();
    let mut unknown = Vec::new();
    for arg in args {
        match arg {
            Arg::Positional(e) => positional.push(eval.eval(e, ctx)),
            Arg::Star(e) => match eval.eval(e, ctx).value {
                Some(Value::List(items)) => positional.extend(items),
                _ => unknown.push(format!("`*{}` is not a known list", render(e))),
            },
        }
    }
    let mut named = Vec::new();
    for keyword in keywords {
        if let Some(name) = &keyword.name {
            named.push((
                name.clone(),
                eval.eval(&keyword.value, ctx),
                Some(eval.location(ctx.module, keyword.span)),
            ));
        } else {
            let spread = eval.eval(&keyword.value, ctx);
            match spread.value {
                Some(Value::Dict(d)) => {
                    named.extend(d.entries.into_iter().map(|(k, v)| (k, v, None)));
                    unknown.extend(d.unknown);
                }
                _ => unknown.push(spread.unknown_reason().map_or_else(
                    || format!("`**{}` is not a known dict", render(&keyword.value)),
                    |r| format!("`**{}`: {r}", render(&keyword.value)),
                )),
            }
        }
    }
    PoolArgs {
        positional,
        named,
        unknown,
        location,
        arguments: Some(eval.location(
            ctx.module,
            Span::new(func.span.end as usize, call.span.end as usize),
        )),
    }
}

/// `engine_from_config(config, prefix="sqlalchemy.")`: options are the
/// config's keys under the prefix; returns the URL.
fn config_engine_args(args: &mut PoolArgs) -> Option<Sourced<Value>> {
    let prefix = match args.get("prefix").and_then(|p| p.value.as_ref()) {
        Some(Value::Str(s)) => s.complete().unwrap_or("sqlalchemy.").to_owned(),
        _ => "sqlalchemy.".to_owned(),
    };
    let config = args
        .get("configuration")
        .or_else(|| args.positional.first())
        .cloned()?;
    let Some(Value::Dict(d)) = &config.value else {
        args.unknown.push(
            config
                .unknown_reason()
                .unwrap_or("the configuration is not a known dict")
                .to_owned(),
        );
        return None;
    };
    let mut url = None;
    for (k, v) in &d.entries {
        if let Some(key) = k.strip_prefix(&prefix) {
            if key == "url" {
                url = Some(v.clone());
            } else {
                args.named.insert(0, (key.to_owned(), v.clone(), None));
            }
        }
    }
    args.unknown.extend(d.unknown.iter().cloned());
    url
}

fn uvicorn_run(eval: &Evaluator<'_, '_>, ctx: &EvalCtx, call: &Expr) -> ServerInvocation {
    let args = pool_args(eval, ctx, call);
    let mut settings = ServerSettings::default();
    if let Some(w) = args.get("workers") {
        settings.workers = Some(sourced_int(w));
    }
    if let Some(l) = args.get("limit_concurrency") {
        settings.limit_concurrency = Some(sourced_int(l));
    }
    if let Some(app) = args.get("app").or_else(|| args.positional.first()) {
        settings.app = Some(if let Some(Value::Str(_)) = &app.value {
            sourced_string(app)
        } else {
            let written = match &call.kind {
                ExprKind::Call { args: a, .. } => match a.first() {
                    Some(Arg::Positional(e)) => render(e),
                    _ => "app".into(),
                },
                _ => "app".into(),
            };
            Sourced::literal(written, args.location.clone())
        });
    }
    if let (Some(host), Some(port)) = (args.get("host"), args.get("port")) {
        let host = sourced_string(host);
        let port = sourced_int(port);
        if let (Some(h), Some(p)) = (
            host.get(),
            port.get().and_then(poolcheck_core::IntExpr::constant),
        ) {
            settings.bind = Some(Sourced::literal(format!("{h}:{p}"), args.location.clone()));
        }
    }
    let development = args
        .get("reload")
        .map(sourced_bool)
        .and_then(|r| r.value)
        .unwrap_or(false);
    ServerInvocation {
        kind: ServerKind::Uvicorn,
        location: args.location.clone(),
        name_hint: None,
        settings,
        development,
    }
}

fn attach_event_handlers(
    eval: &Evaluator<'_, '_>,
    modules: &[usize],
    analysis: &mut PythonAnalysis,
) {
    for &m in modules {
        let Some(module) = eval.project().activity(m) else {
            continue;
        };
        for handler in &module.event_handlers {
            let ctx = EvalCtx::module_end(m);
            let target_text = render(&handler.target);
            let resolved = eval.eval(&handler.target, &ctx);
            let class_wide = matches!(
                &resolved.value,
                Some(Value::External(p)) if p.ends_with("Engine") || p.ends_with("Pool")
            );
            let base = match &handler.target.kind {
                ExprKind::Attribute(base, attr) if attr == "sync_engine" || attr == "pool" => {
                    base.as_ref()
                }
                _ => &handler.target,
            };
            let wanted = base.last_name().map(str::to_owned);
            let statements: Vec<(String, Location)> = handler
                .statements
                .iter()
                .map(|s| (s.sql.clone(), eval.location(m, s.span)))
                .collect();
            let mut attached = Vec::new();
            let same_module = eval.project().path(m).clone();
            let candidates: Vec<usize> = analysis
                .pools
                .iter()
                .enumerate()
                .filter(|(_, p)| p.kind == PoolKind::SqlAlchemy)
                .filter(|(_, p)| class_wide || wanted.as_deref() == Some(p.name.as_str()))
                .map(|(i, _)| i)
                .collect();
            // Prefer the engine of the same name in the handler's own module.
            let local: Vec<usize> = candidates
                .iter()
                .copied()
                .filter(|i| analysis.pools[*i].location.file == same_module)
                .collect();
            let chosen = if class_wide || local.is_empty() {
                candidates
            } else {
                local
            };
            for i in chosen {
                let pool = &mut analysis.pools[i];
                for (sql, location) in &statements {
                    pool.event_sql.push(EventSql {
                        event: handler.event.clone(),
                        handler: handler.handler.clone(),
                        sql: sql.clone(),
                        location: location.clone(),
                    });
                }
                attached.push(pool.name.clone());
            }
            analysis.event_handlers.push(EventHandler {
                location: eval.location(m, handler.span),
                event: handler.event.clone(),
                handler: handler.handler.clone(),
                target: target_text,
                statements,
                pools: attached,
            });
        }
    }
}

/// Parses a file on its own (tests, the LSP's quick path).
pub fn parse_source(text: &str) -> PythonModule {
    parse::parse_module(text)
}

#[cfg(test)]
mod tests;
