//! Services: the declared process groups (see [`crate::declarations`]),
//! one service per distinct server started, each with its environment and
//! the pools the code it runs opens with that environment. Which platform
//! declared a group matters here only as precedence ([`DeclaredBy`]).

use poolcheck_core::Code;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use poolcheck_core::facts::pool::Driver;
use poolcheck_core::facts::process::{ServerInvocation, ServerKind, ServerSettings};
use poolcheck_core::{
    Diagnostic, Environment, FilePath, IntExpr, Location, Origin, Severity, Sourced, Span,
};
use poolcheck_extract::python::{
    Analyzer, GunicornConfig, PythonAnalysis, PythonProject, Unresolved,
};

use super::{Concurrency, Deployment, LinkedPool, Service, TargetRef};
use crate::declarations::{Declarations, DeclaredBy, ProcessGroup};
use crate::lower;
use crate::workspace::{Workspace, root_relative};

pub fn build(
    workspace: &Workspace,
    project: &PythonProject<'_>,
    declarations: &Declarations,
    deployment: &mut Deployment,
) {
    let project_env = &declarations.environment;
    // A workload's command over a Procfile's over a Dockerfile's…, and
    // standalone configurations last: the first of the same server wins.
    let mut found: Vec<&ProcessGroup> = declarations.process_groups.iter().collect();
    found.sort_by_key(|g| g.declared_by);

    // One evaluation of each module per environment, shared by the services.
    let analyzer = Analyzer::new(project);
    let service_code = project.service_code();
    let app_of = |f: &ProcessGroup| {
        f.invocation
            .settings
            .app
            .as_ref()
            .and_then(|a| a.value.clone())
    };
    // A file that starts the same app from several commands (an entrypoint
    // with one branch per process type: `worker_log_parser` and
    // `worker_misc` both run `celery -A app worker`) describes distinct
    // services; the same command reached twice is one.
    // Commands that differ only in how they are wrapped (`exec gosu app
    // celery …` in the root branch, `exec celery …` in the other) are one
    // service: the first of them stands for all.
    let mut commands_per_file: BTreeMap<(ServerKind, String, FilePath), Vec<(Span, String)>> =
        BTreeMap::new();
    for &f in &found {
        if let Some(app) = app_of(f) {
            let spans = commands_per_file
                .entry((f.invocation.kind, app, f.invocation.location.file.clone()))
                .or_default();
            let signature = settings_signature(&f.invocation.settings);
            if !spans.iter().any(|(_, s)| *s == signature) {
                spans.push((f.invocation.location.span, signature));
            }
        }
    }
    let mut seen_keys: std::collections::HashSet<(ServerKind, Option<String>, Option<Location>)> =
        std::collections::HashSet::new();
    // Services read from server config files that no command starts.
    let mut standalone: Vec<usize> = Vec::new();
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    for f in found {
        if f.invocation.development || f.invocation.kind == ServerKind::DevServer {
            continue;
        }
        let app = app_of(f);
        let same_in_file = app.as_ref().and_then(|app| {
            commands_per_file.get(&(
                f.invocation.kind,
                app.clone(),
                f.invocation.location.file.clone(),
            ))
        });
        let distinct_in_file = same_in_file.is_some_and(|spans| spans.len() > 1);
        let signature = settings_signature(&f.invocation.settings);
        let representative = same_in_file
            .and_then(|spans| spans.iter().find(|(_, s)| *s == signature))
            .map(|(span, _)| Location::new(f.invocation.location.file.clone(), *span));
        let key = (
            f.invocation.kind,
            app,
            distinct_in_file
                .then(|| representative.unwrap_or_else(|| f.invocation.location.clone())),
        );
        if key.1.is_some() && seen_keys.contains(&key) {
            // The same server started from a second file (a Procfile and a
            // Dockerfile CMD): one service, not two.
            continue;
        }
        seen_keys.insert(key);

        let mut f = f.clone();
        let name = unique_name(&mut names, service_name(&f.invocation));
        let decl = workspace.config.services.iter().find(|s| s.name == name);
        if let Some(decl) = decl {
            lower::layer_declared(&mut f.env, &decl.env, "poolcheck config [services]");
        }
        let (mut settings, gunicorn_config, config_path) =
            effective_settings(&f, project, deployment);
        // The command line's `--concurrency` wins; without it, the app's
        // configuration does, before Celery's default of one per CPU.
        let concurrency_defaulted = settings
            .concurrency
            .as_ref()
            .is_none_or(|c| matches!(c.origin, Origin::ToolDefault { .. }));
        if f.invocation.kind == ServerKind::Celery && concurrency_defaulted {
            let app = settings.app.as_ref().and_then(|a| a.value.clone());
            if let Some(configured) = app.and_then(|app| {
                poolcheck_extract::python::celery::configured_concurrency(
                    project,
                    &f.env,
                    &app,
                    &service_code,
                )
            }) {
                settings.concurrency = Some(configured);
            }
        }
        let inherited_class = settings
            .worker_class
            .as_ref()
            .and_then(|c| c.value.as_deref())
            .and_then(|c| {
                poolcheck_extract::python::workers::inherited_worker_class(project, &f.env, c)
            });
        let mut service = make_service(name, &f, settings, inherited_class, decl, deployment);
        service.gunicorn_config = gunicorn_config;
        let paths: Option<Vec<PathBuf>> = decl.filter(|d| !d.paths.is_empty()).map(|d| {
            d.paths
                .iter()
                .filter_map(|p| p.value.as_ref())
                .map(|p| root_relative(Path::new(p)).as_path().to_path_buf())
                .collect()
        });
        let scope = if let Some(paths) = paths {
            Scope::Paths(paths)
        } else {
            match code_of(
                &analyzer,
                project,
                &f,
                &service,
                config_path.as_ref(),
                &service_code,
            ) {
                Ok((entry, scope)) => {
                    service.entry = Some(entry);
                    scope
                }
                Err(reason) => {
                    service.runs_all_code = Some(reason);
                    Scope::Modules {
                        code: service_code.clone(),
                        config: service_code.clone(),
                    }
                }
            }
        };
        let analysis = analysis_for(&analyzer, &service.env, &scope);
        attach_pools(&mut service, &analysis, deployment);
        if f.declared_by.is_standalone_config() {
            standalone.push(deployment.services.len());
        }
        deployment.services.push(service);
    }
    if standalone.len() > 1 {
        for index in standalone {
            deployment.services[index].alternative_group = Some(0);
        }
    }

    if deployment.services.is_empty() {
        deployment.implicit_service = true;
        let mut service = implicit_service(project_env.clone());
        let scope = Scope::Modules {
            code: service_code.clone(),
            config: service_code.clone(),
        };
        let analysis = analysis_for(&analyzer, project_env, &scope);
        attach_pools(&mut service, &analysis, deployment);
        deployment.services.push(service);
    }

    for decl in &workspace.config.services {
        if !deployment.services.iter().any(|s| s.name == decl.name)
            && let Some(location) = &decl.location
        {
            let known: Vec<&str> = deployment
                .services
                .iter()
                .map(|s| s.name.as_str())
                .collect();
            deployment.diagnostics.push(
                Diagnostic::new(
                    Code::PC003,
                    Severity::Error,
                    location.clone(),
                    format!("`[services.{}]` matches no service", decl.name),
                )
                .with_help(format!(
                    "services found: {} (compose service keys, Procfile process types, else `web`/`worker`)",
                    known.join(", ")
                )),
            );
        }
    }
}

/// The values of a command's settings without where they were written:
/// equal for two commands that start the same server the same way.
fn settings_signature(settings: &ServerSettings) -> String {
    fn value<T: std::fmt::Debug>(field: Option<&Sourced<T>>) -> String {
        format!("{:?}", field.map(|s| &s.value))
    }
    [
        value(settings.workers.as_ref()),
        value(settings.threads.as_ref()),
        value(settings.worker_class.as_ref()),
        value(settings.worker_connections.as_ref()),
        value(settings.concurrency.as_ref()),
        value(settings.limit_concurrency.as_ref()),
        value(settings.preload.as_ref()),
        value(settings.bind.as_ref()),
        value(settings.app.as_ref()),
        value(settings.config_file.as_ref()),
        value(settings.blocking_threads.as_ref()),
    ]
    .join("|")
}

/// The Python modules one service runs, which decide the pools it opens.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    /// `[services.<name>] paths`.
    Paths(Vec<PathBuf>),
    /// Module indices: the code the service runs, and where frameworks that
    /// load configuration by name (Django, Flask-SQLAlchemy) find it.
    Modules {
        code: Vec<usize>,
        config: Vec<usize>,
    },
}

/// The analysis of the code one service runs. The analyzer evaluates each
/// module once per environment, so services that share code share its
/// evaluation and each analysis only joins the modules' results.
fn analysis_for(analyzer: &Analyzer<'_, '_>, env: &Environment, scope: &Scope) -> PythonAnalysis {
    match scope {
        Scope::Paths(paths) => analyzer.analyze(env, Some(paths)),
        Scope::Modules { code, config } => analyzer.analyze_modules(env, code, config),
    }
}

/// The entry point of a service (as written) and the code it runs: the
/// modules reachable by imports from its app target, its gunicorn config
/// file, and for a Django process what Django loads by name. `Err` says why
/// the entry point could not be resolved in the repository.
fn code_of(
    analyzer: &Analyzer<'_, '_>,
    project: &PythonProject<'_>,
    found: &ProcessGroup,
    service: &Service,
    gunicorn_config: Option<&FilePath>,
    service_code: &[usize],
) -> Result<(String, Scope), String> {
    let kind = found.invocation.kind;
    let app = service.settings.app.as_ref().and_then(|a| a.value.clone());
    let (entry, mut starts) = match (&app, found.declared_by) {
        // `uvicorn.run(app)` in a module run as a script: that module is the entry.
        (_, DeclaredBy::Code) => {
            let file = &found.invocation.location.file;
            let module = project
                .index_of_path(file.as_path())
                .ok_or_else(|| format!("`{file}` is not a module of the repository"))?;
            let mut starts = vec![module];
            // `uvicorn.run("app.api:app")` imports the app by name too.
            starts.extend(app.as_deref().and_then(|a| project.entry_module(a)));
            (file.display_string(), starts)
        }
        (Some(app), _) => {
            let module = project
                .entry_module(app)
                .ok_or_else(|| format!("its app `{app}` names no module of the repository"))?;
            let attribute = app
                .split_once(':')
                .map(|(_, attr)| attr.split('(').next().unwrap_or(attr).trim())
                .filter(|attr| {
                    !attr.is_empty() && attr.chars().all(|c| c.is_alphanumeric() || c == '_')
                });
            let mut starts = vec![module];
            if let Some(attr) = attribute {
                if !project.module_binds(module, attr) {
                    return Err(format!(
                        "its app `{app}`: `{}` defines no `{attr}`",
                        project.path(module)
                    ));
                }
            } else if matches!(kind, ServerKind::Celery | ServerKind::CeleryBeat)
                && !project.module_binds(module, "app")
                && !project.module_binds(module, "celery")
            {
                // `celery -A proj` with a package `proj` loads `proj.celery`.
                let name = &project.entry(module).name;
                let submodule = project
                    .entry(module)
                    .is_package
                    .then(|| project.index_of_name(&format!("{name}.celery")))
                    .flatten()
                    .ok_or_else(|| {
                        format!("its app `{app}` names no module that defines a Celery app")
                    })?;
                starts.push(submodule);
            }
            (app.clone(), starts)
        }
        (None, _) => {
            return Err(format!(
                "its `{}` command names no app module",
                kind.as_str()
            ));
        }
    };
    if let Some(path) = gunicorn_config {
        starts.extend(project.index_of_path(path.as_path()));
    }
    let mut code = project.reachable_from(&starts);
    let django = project.imports_package(&code, "django")
        || code.iter().any(|&m| {
            project.activity(m).is_some_and(|module| {
                !poolcheck_extract::python::django::named_settings_modules(module).is_empty()
            })
        });
    let flask = project.imports_package(&code, "flask")
        || project.imports_package(&code, "flask_sqlalchemy");
    if django {
        starts.extend(analyzer.django_loaded_modules(&service.env, &code, service_code));
        code = project.reachable_from(&starts);
    }
    let config = if django || flask {
        service_code.to_vec()
    } else {
        code.clone()
    };
    Ok((entry, Scope::Modules { code, config }))
}

fn service_name(invocation: &ServerInvocation) -> String {
    if let Some(hint) = &invocation.name_hint {
        return hint.clone();
    }
    match invocation.kind {
        ServerKind::CeleryBeat => "beat".to_owned(),
        kind if !kind.is_http() => "worker".to_owned(),
        _ => "web".to_owned(),
    }
}

fn unique_name(names: &mut BTreeMap<String, usize>, base: String) -> String {
    let count = names.entry(base.clone()).or_insert(0);
    *count += 1;
    if *count == 1 {
        base
    } else {
        format!("{base}-{count}")
    }
}

/// gunicorn: defaults < environment < config file < `GUNICORN_CMD_ARGS` <
/// command line, with the config file read (for its server hooks). Other
/// servers: what their command line says.
fn effective_settings(
    found: &ProcessGroup,
    project: &PythonProject<'_>,
    deployment: &mut Deployment,
) -> (ServerSettings, Option<GunicornConfig>, Option<FilePath>) {
    let cli = &found.invocation.settings;
    if found.invocation.kind != ServerKind::Gunicorn {
        return (cli.clone(), None, None);
    }
    let mut settings = ServerSettings::default();
    let config_path = found.config_file.clone();
    let config = config_path
        .as_ref()
        .and_then(|path| project.gunicorn_settings(path, &found.env));
    if let Some(config) = &config {
        settings.overlay(&config.settings);
        report_unresolved_gunicorn(config, deployment);
    }
    if let Some(from_env) = lower::settings_from_environment(found.invocation.kind, &found.env) {
        settings.overlay(&from_env);
    }
    let mut cli = cli.clone();
    cli.config_file = None;
    settings.overlay(&cli);
    (settings, config, config_path)
}

fn report_unresolved_gunicorn(config: &GunicornConfig, deployment: &mut Deployment) {
    let unresolved: Vec<&Unresolved> = config.unresolved.iter().collect();
    report_unresolved(&unresolved, deployment);
}

fn env_int(env: &Environment, var: &str) -> Option<Sourced<IntExpr>> {
    let value = env.get(var)?;
    let parsed = value.value.trim().parse::<i64>().ok()?;
    Some(Sourced::with_origin(
        IntExpr::Const(parsed),
        Origin::EnvValue {
            var: var.to_owned(),
            source: value.source.clone(),
        },
        value.location.clone(),
    ))
}

fn make_service(
    name: String,
    found: &ProcessGroup,
    settings: ServerSettings,
    inherited_class: Option<String>,
    decl: Option<&poolcheck_core::facts::config::ServiceDecl>,
    deployment: &mut Deployment,
) -> Service {
    let kind = found.invocation.kind;
    let default = |v: i64, tool: &str| Sourced::tool_default(IntExpr::Const(v), tool);
    let worker_class = settings.worker_class.clone();
    // Messages name the class as written; what it runs decides its kind,
    // through its base class when the repository defines it.
    let written_class = worker_class
        .as_ref()
        .and_then(|c| c.value.clone())
        .unwrap_or_default();
    let class = inherited_class
        .unwrap_or_else(|| written_class.clone())
        .to_ascii_lowercase();
    let app_is_asgi = settings
        .app
        .as_ref()
        .and_then(|a| a.value.as_deref())
        .is_some_and(|a| a.contains("asgi"));
    let unbounded = |why: &str| Concurrency::Unbounded {
        reason: why.to_owned(),
    };

    let (processes, concurrency, asgi, effective_class) = match kind {
        ServerKind::Gunicorn => {
            let workers = settings.workers.clone().unwrap_or_else(|| {
                env_int(&found.env, "WEB_CONCURRENCY").unwrap_or_else(|| default(1, "gunicorn"))
            });
            let threads = settings.threads.clone();
            let threads_n = threads
                .as_ref()
                .and_then(|t| t.value.as_ref())
                .and_then(IntExpr::constant);
            if class.contains("uvicorn") || class.contains("asgi") {
                (
                    workers,
                    unbounded(&format!(
                        "the ASGI worker `{written_class}` takes requests without limit"
                    )),
                    true,
                    worker_class,
                )
            } else if class.contains("gevent") || class.contains("eventlet") {
                let c = settings
                    .worker_connections
                    .clone()
                    .unwrap_or_else(|| default(1000, "gunicorn worker_connections"));
                (workers, Concurrency::Bounded(c), false, worker_class)
            } else if class == "tornado" {
                (
                    workers,
                    unbounded("the tornado worker takes requests without limit"),
                    false,
                    worker_class,
                )
            } else if class == "gthread" || threads_n.is_some_and(|t| t > 1) {
                let t = threads.unwrap_or_else(|| default(1, "gunicorn threads"));
                let class = Some(worker_class.clone().map_or_else(
                    || {
                        Sourced::computed(
                            "gthread".to_owned(),
                            "threads > 1 with the sync worker",
                            t.location.clone(),
                        )
                    },
                    |c| {
                        if class == "sync" {
                            Sourced::computed(
                                "gthread".to_owned(),
                                "threads > 1 with the sync worker",
                                c.location.clone(),
                            )
                        } else {
                            c
                        }
                    },
                ));
                (workers, Concurrency::Bounded(t), app_is_asgi, class)
            } else {
                (
                    workers,
                    Concurrency::Bounded(default(1, "gunicorn sync worker")),
                    app_is_asgi,
                    worker_class,
                )
            }
        }
        ServerKind::Uvicorn | ServerKind::Hypercorn => {
            let workers = settings.workers.clone().unwrap_or_else(|| {
                env_int(&found.env, "WEB_CONCURRENCY").unwrap_or_else(|| default(1, kind.as_str()))
            });
            let concurrency = match &settings.limit_concurrency {
                Some(limit) => Concurrency::Bounded(limit.clone()),
                None => unbounded(&format!(
                    "{} takes requests without limit (no --limit-concurrency)",
                    kind.as_str()
                )),
            };
            (workers, concurrency, true, worker_class)
        }
        ServerKind::Daphne => (
            default(1, "daphne"),
            unbounded("daphne takes requests without limit"),
            true,
            worker_class,
        ),
        ServerKind::Granian => {
            let workers = settings
                .workers
                .clone()
                .unwrap_or_else(|| default(1, "granian"));
            if class.is_empty() || class == "wsgi" {
                let threads = settings.granian_wsgi_blocking_threads();
                (
                    workers,
                    Concurrency::Bounded(threads),
                    app_is_asgi && class.is_empty(),
                    worker_class,
                )
            } else {
                (
                    workers,
                    unbounded(&format!(
                        "granian's `{class}` interface takes requests without limit"
                    )),
                    true,
                    worker_class,
                )
            }
        }
        ServerKind::Uwsgi => {
            let workers = settings
                .workers
                .clone()
                .unwrap_or_else(|| default(1, "uwsgi processes"));
            let threads = settings
                .threads
                .clone()
                .unwrap_or_else(|| default(1, "uwsgi threads"));
            (workers, Concurrency::Bounded(threads), false, worker_class)
        }
        ServerKind::Celery => {
            let concurrency = settings
                .concurrency
                .clone()
                .unwrap_or_else(|| Sourced::tool_default(IntExpr::Cpus, "Celery (one per CPU)"));
            match class.as_str() {
                "threads" | "gevent" | "eventlet" => (
                    default(1, "celery"),
                    Concurrency::Bounded(concurrency),
                    false,
                    worker_class,
                ),
                "solo" => (
                    default(1, "celery"),
                    Concurrency::Bounded(default(1, "celery solo pool")),
                    false,
                    worker_class,
                ),
                _ => (
                    concurrency,
                    Concurrency::Bounded(default(1, "celery prefork pool")),
                    false,
                    worker_class,
                ),
            }
        }
        ServerKind::Dramatiq => (
            settings
                .workers
                .clone()
                .unwrap_or_else(|| Sourced::tool_default(IntExpr::Cpus, "dramatiq (one per CPU)")),
            Concurrency::Bounded(
                settings
                    .threads
                    .clone()
                    .unwrap_or_else(|| default(8, "dramatiq threads")),
            ),
            false,
            worker_class,
        ),
        ServerKind::Rq => (
            settings.workers.clone().unwrap_or_else(|| default(2, "rq")),
            Concurrency::Bounded(default(1, "rq: one job at a time")),
            false,
            worker_class,
        ),
        ServerKind::Huey => {
            let workers = settings
                .concurrency
                .clone()
                .unwrap_or_else(|| default(1, "huey workers"));
            if class == "process" {
                (
                    workers,
                    Concurrency::Bounded(default(1, "huey process worker")),
                    false,
                    worker_class,
                )
            } else {
                (
                    default(1, "huey consumer"),
                    Concurrency::Bounded(workers),
                    false,
                    worker_class,
                )
            }
        }
        ServerKind::CeleryBeat | ServerKind::DevServer | ServerKind::DjangoCommand => (
            default(1, kind.as_str()),
            Concurrency::Bounded(default(1, kind.as_str())),
            false,
            worker_class,
        ),
    };

    if let Some(reason) = processes.unknown_reason() {
        let at = processes
            .location
            .as_ref()
            .unwrap_or(&found.invocation.location);
        // The config file's own report of the same value says it already.
        if !deployment
            .diagnostics
            .iter()
            .any(|d| d.code == "PC004" && d.primary == *at)
        {
            deployment.diagnostics.push(unresolved_diagnostic(
                at,
                &format!("the process count of service `{name}`"),
                reason,
            ));
        }
    }
    let replicas = decl
        .and_then(|d| d.replicas.clone())
        .or_else(|| found.copies.clone())
        .or_else(|| found.scaling.as_ref().map(|s| s.max.clone()))
        .unwrap_or_else(|| {
            Sourced::tool_default(1, "poolcheck: no replica count declared, so one replica")
        });
    if let Some(reason) = replicas.unknown_reason() {
        let at = replicas
            .location
            .as_ref()
            .unwrap_or(&found.invocation.location);
        deployment.diagnostics.push(unresolved_diagnostic(
            at,
            &format!("the replica count of service `{name}`"),
            &format!("{reason}; declare it with `[services.{name}] replicas`"),
        ));
    }
    Service {
        name,
        server: Some(kind),
        location: Some(found.invocation.location.clone()),
        replicas,
        processes,
        concurrency,
        asgi,
        worker_class: effective_class,
        settings,
        entry: None,
        alternative_group: None,
        runs_all_code: None,
        cpu_count: decl.and_then(|d| d.cpu_count.clone()),
        scaling: found.scaling.clone(),
        env: found.env.clone(),
        pools: Vec::new(),
        import_time_connections: Vec::new(),
        gunicorn_config: None,
    }
}

fn unresolved_diagnostic(location: &Location, what: &str, reason: &str) -> Diagnostic {
    pc004_diagnostic(location, &[what], reason, &[])
}

/// The PC004 of one root cause: every value it leaves unknown (`pool_size`
/// and `max_overflow` of one `**kwargs`) in one finding, what the budget does
/// without them, and what the user can declare when the reason does not say.
fn pc004_diagnostic(
    location: &Location,
    whats: &[&str],
    reason: &str,
    assumed: &[&str],
) -> Diagnostic {
    let first = whats.first().copied().unwrap_or("a value");
    let (subject, verb) = match whats {
        [] | [_] => (first.to_owned(), "is"),
        _ => (join_whats(whats), "are"),
    };
    let consequence = if !assumed.is_empty() {
        format!("so the budget assumes {}", assumed.join(" and "))
    } else if first.starts_with("database URL") || first.starts_with("connection string") {
        let whose = if whats.len() > 1 { "their" } else { "its" };
        format!("so the budget counts {whose} connections on an assumed server")
    } else if whats.len() > 1 {
        "so the budget checks that need them were skipped".to_owned()
    } else {
        "so the budget checks that need it were skipped".to_owned()
    };
    let mut message = format!("{subject} {verb} unknown, {consequence}: {reason}");
    let advises = [
        "[tool.poolcheck.env]",
        "[databases.",
        "[services.",
        "--set ",
    ]
    .iter()
    .any(|a| reason.contains(a));
    if !advises {
        message.push_str("; ");
        message.push_str(&pc004_advice(first));
    }
    Diagnostic::new(Code::PC004, Severity::Info, location.clone(), message)
}

/// `pool_size of `e`` and `max_overflow of `e`` read as `pool_size and
/// max_overflow of `e``.
fn join_whats(whats: &[&str]) -> String {
    let owner = whats[0].split_once(" of ").map(|(_, owner)| owner);
    let same_owner = owner.is_some_and(|owner| {
        whats
            .iter()
            .all(|w| w.split_once(" of ").is_some_and(|(_, o)| o == owner))
    });
    match owner {
        Some(owner) if same_owner => {
            let keys: Vec<&str> = whats
                .iter()
                .filter_map(|w| w.split_once(" of ").map(|(key, _)| key))
                .collect();
            format!("{} of {owner}", keys.join(" and "))
        }
        _ => whats.join(" and "),
    }
}

/// What a user declares so that poolcheck knows a value of this kind.
fn pc004_advice(what: &str) -> String {
    let sizes = [
        "pool_size",
        "max_overflow",
        "maxconn",
        "min_size",
        "max_size",
    ];
    if what.contains("process count") {
        "write the count on the service's command, or declare the environment variable that \
         sets it in [tool.poolcheck.env] (or `[services.<name>] env`)"
            .to_owned()
    } else if what.starts_with("`DATABASES`") {
        "Django's connections are counted once poolcheck can read `DATABASES`: write it in the \
         settings module (values the environment gives declared in [tool.poolcheck.env]), or \
         check a tree that holds the configuration module the deployment provides"
            .to_owned()
    } else if sizes.iter().any(|k| what.starts_with(k)) {
        "if the deployment sets it, write it as a keyword of the call, or read it from an \
         environment variable declared in [tool.poolcheck.env]"
            .to_owned()
    } else {
        "declare the environment variables the code reads in [tool.poolcheck.env], or the \
         server it reaches with `[databases.<name>] hosts`"
            .to_owned()
    }
}

/// One PC004 per root cause: values unknown for the same reason at the
/// same place (`pool_size` and `max_overflow` from one unknown `**kwargs`)
/// are one finding.
fn report_unresolved(unresolved: &[&Unresolved], deployment: &mut Deployment) {
    let mut groups: Vec<(&Unresolved, Vec<&str>, Vec<&str>)> = Vec::new();
    for u in unresolved {
        let group = groups.iter_mut().find(|(first, _, _)| {
            first.location == u.location
                && first.reason == u.reason
                && first.assumed.is_some() == u.assumed.is_some()
        });
        match group {
            Some((_, whats, assumed)) => {
                if !whats.contains(&u.what.as_str()) {
                    whats.push(&u.what);
                    assumed.extend(u.assumed.as_deref());
                }
            }
            None => groups.push((u, vec![&u.what], u.assumed.as_deref().into_iter().collect())),
        }
    }
    for (first, whats, assumed) in groups {
        deployment.diagnostics.push(pc004_diagnostic(
            &first.location,
            &whats,
            &first.reason,
            &assumed,
        ));
    }
}

/// Adds the PostgreSQL pools of an analysis (targets are linked later) and
/// the connections its modules open at import time.
fn attach_pools(service: &mut Service, analysis: &PythonAnalysis, deployment: &mut Deployment) {
    service
        .import_time_connections
        .clone_from(&analysis.import_time_connections);
    for pool in &analysis.pools {
        // Test suites open their own engines; no service runs them.
        if matches!(pool.driver.value, Some(Driver::NotPostgres(_)))
            || pool.location.file.is_python_test()
        {
            continue;
        }
        // A one-off `connect(**params)` to a host nothing names is a
        // connection to a database the user configures at run time (query
        // runners, admin tools), not the deployment's own database.
        let host_known = pool.target.value.as_ref().is_some_and(|t| t.host.is_some());
        if pool.single_connection && !host_known {
            continue;
        }
        service.pools.push(LinkedPool {
            pool: pool.clone(),
            target: TargetRef::Server(0),
        });
    }
    let unresolved: Vec<&Unresolved> = analysis
        .unresolved
        .iter()
        .filter(|u| !u.location.file.is_python_test())
        .collect();
    report_unresolved(&unresolved, deployment);
}

/// No server command anywhere: one process serving one request at a time.
fn implicit_service(env: Environment) -> Service {
    Service {
        name: "app".to_owned(),
        server: None,
        location: None,
        replicas: Sourced::tool_default(1, "poolcheck"),
        processes: Sourced::tool_default(
            IntExpr::Const(1),
            "poolcheck: no server command found, so one implicit process",
        ),
        concurrency: Concurrency::Bounded(Sourced::tool_default(
            IntExpr::Const(1),
            "poolcheck: no server command found, so one request at a time",
        )),
        asgi: false,
        worker_class: None,
        settings: ServerSettings::default(),
        entry: None,
        alternative_group: None,
        runs_all_code: Some("no server command was found".to_owned()),
        cpu_count: None,
        scaling: None,
        env,
        pools: Vec::new(),
        import_time_connections: Vec::new(),
        gunicorn_config: None,
    }
}
