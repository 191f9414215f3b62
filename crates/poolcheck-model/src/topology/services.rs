//! Services: groups of identical processes found in command lines, server
//! config files and code, each with its environment and the pools its code
//! opens with that environment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use poolcheck_core::facts::deploy::{
    CommandOrigin, ComposeEnvFile, DeployFacts, Platform, ShellWord, Workload,
};
use poolcheck_core::facts::pool::Driver;
use poolcheck_core::facts::process::{ServerInvocation, ServerKind, ServerSettings};
use poolcheck_core::{
    Diagnostic, EnvVar, Environment, FileFacts, FileKind, FilePath, IntExpr, Location, Origin,
    Severity, SourceFile, Sourced, Span,
};
use poolcheck_extract::python::{
    GunicornConfig, PythonAnalysis, PythonProject, is_gunicorn_config_name,
};
use poolcheck_extract::{commands, compose, dotenv, uwsgi};

use super::{Concurrency, Deployment, LinkedPool, Scaling, Service, TargetRef, scaling};
use crate::workspace::{Workspace, display_path};

/// Where an invocation was found, which decides precedence when the same
/// server is started from several files (compose over Procfile over
/// Dockerfile over scripts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    Compose,
    Procfile,
    Supervisord,
    Dockerfile,
    Script,
    Uwsgi,
    GunicornConfig,
    Code,
}

struct Found {
    invocation: ServerInvocation,
    env: Environment,
    source: Source,
    /// The replicas of the workload (compose service, Kubernetes
    /// Deployment…) that runs the invocation.
    scaling: Option<Scaling>,
    /// Copies of the process group a process manager starts (supervisord
    /// `numprocs`), counted as replicas.
    copies: Option<Sourced<i64>>,
}

pub fn build(workspace: &Workspace, project_env: &Environment, deployment: &mut Deployment) {
    let modules = workspace
        .facts
        .iter()
        .filter_map(|f| f.python.as_ref().map(|m| (&f.path, m)));
    let project = PythonProject::new(&workspace.root, modules);

    let mut found = find_invocations(workspace, project_env);
    let uwsgi_inis: Vec<&FileFacts> = workspace
        .facts
        .iter()
        .filter(|f| {
            f.kind == FileKind::Ini
                && f.deploy
                    .as_ref()
                    .is_some_and(|d| uwsgi::uwsgi_invocation(d, project_env).is_some())
        })
        .collect();
    // An ini file a command names (`uwsgi /opt/app/docker/uwsgi.ini`) is
    // that command's configuration: read it for the command, so that the
    // ini found on its own is the same service, not a second one.
    for f in &mut found {
        let settings = with_uwsgi_ini(f.invocation.settings.clone(), f, &uwsgi_inis);
        f.invocation.settings = settings;
    }
    let base_analysis = project.analyze(project_env, None);
    for server in &base_analysis.servers {
        found.push(Found {
            invocation: server.clone(),
            env: project_env.clone(),
            source: Source::Code,
            scaling: None,
            copies: None,
        });
    }
    found.sort_by_key(|f| f.source);

    let gunicorn_configs: Vec<&FileFacts> = workspace
        .facts
        .iter()
        .filter(|f| f.python.is_some() && is_gunicorn_config_name(f.path.as_path()))
        .collect();
    if !found
        .iter()
        .any(|f| f.invocation.kind == ServerKind::Gunicorn)
    {
        // A gunicorn config that no command names still describes the web
        // service gunicorn will run with it.
        if let Some(config) = gunicorn_configs.first() {
            found.push(Found {
                invocation: ServerInvocation {
                    kind: ServerKind::Gunicorn,
                    location: Location::new(config.path.clone(), Span::empty(0)),
                    name_hint: None,
                    settings: ServerSettings {
                        config_file: Some(Sourced::literal(
                            config.path.display_string(),
                            Location::new(config.path.clone(), Span::empty(0)),
                        )),
                        ..ServerSettings::default()
                    },
                    development: false,
                },
                env: project_env.clone(),
                source: Source::GunicornConfig,
                scaling: None,
                copies: None,
            });
        }
    }

    // Analyses by (environment, code the service runs).
    let service_code = project.service_code();
    let mut cache: Vec<(Environment, Scope, PythonAnalysis)> = Vec::new();
    let app_of = |f: &Found| {
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
    for f in &found {
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
    for mut f in found {
        if f.invocation.development || f.invocation.kind == ServerKind::DevServer {
            continue;
        }
        let app = app_of(&f);
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

        let name = unique_name(&mut names, service_name(&f.invocation));
        let decl = workspace.config.services.iter().find(|s| s.name == name);
        if let Some(decl) = decl {
            layer_declared(&mut f.env, &decl.env, "poolcheck config [services]");
        }
        let (mut settings, gunicorn_config, config_path) =
            effective_settings(&f, &project, &gunicorn_configs, deployment);
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
                    &project,
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
                poolcheck_extract::python::workers::inherited_worker_class(&project, &f.env, c)
            });
        let mut service = make_service(name, &f, settings, inherited_class, decl, deployment);
        service.gunicorn_config = gunicorn_config;
        let paths: Option<Vec<PathBuf>> = decl.filter(|d| !d.paths.is_empty()).map(|d| {
            d.paths
                .iter()
                .filter_map(|p| p.value.as_ref())
                .map(|p| {
                    display_path(&workspace.root.join(p))
                        .as_path()
                        .to_path_buf()
                })
                .collect()
        });
        let scope = if let Some(paths) = paths {
            Scope::Paths(paths)
        } else {
            match code_of(&project, &f, &service, config_path.as_ref(), &service_code) {
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
        let analysis = analysis_for(&project, &mut cache, &service.env, scope);
        attach_pools(&mut service, analysis, deployment);
        if matches!(f.source, Source::Uwsgi | Source::GunicornConfig) {
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
        let analysis = analysis_for(&project, &mut cache, project_env, scope);
        attach_pools(&mut service, analysis, deployment);
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
                    "PC003",
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

/// What every process sees unless its service says otherwise: `.env` files
/// and Dockerfile `ENV`, under `[tool.poolcheck.env]`.
pub(super) fn project_environment(workspace: &Workspace) -> Environment {
    let mut env = Environment::new();
    for facts in &workspace.facts {
        let Some(deploy) = &facts.deploy else {
            continue;
        };
        let is_dotenv =
            facts.kind == FileKind::DotEnv && facts.path.file_name().eq_ignore_ascii_case(".env");
        if facts.kind == FileKind::Dockerfile || is_dotenv {
            add_layers(&mut env, deploy);
        }
    }
    layer_declared(&mut env, &workspace.config.env, "poolcheck config [env]");
    env
}

fn add_layers(env: &mut Environment, deploy: &DeployFacts) {
    for layer in &deploy.env_layers {
        for entry in &layer.entries {
            env.set(
                entry.name.clone(),
                EnvVar {
                    value: entry.value.clone(),
                    source: format!("{} ({})", layer.source, entry.name_location.file),
                    location: Some(entry.value_location.clone()),
                },
            );
        }
    }
}

fn layer_declared(env: &mut Environment, declared: &[(String, Sourced<String>)], source: &str) {
    for (name, value) in declared {
        if let Some(v) = &value.value {
            env.set(
                name.clone(),
                EnvVar {
                    value: v.clone(),
                    source: source.to_owned(),
                    location: value.location.clone(),
                },
            );
        }
    }
}

/// Reads a compose `env_file:` (relative to the compose file).
pub(super) fn load_env_file(workspace: &Workspace, file: &ComposeEnvFile) -> Option<Environment> {
    if let Some(selection) = &file.config_map {
        return scaling::config_map_environment(workspace, &file.path, selection.as_ref());
    }
    let path = crate::workspace::env_file_path(&file.location.file, &file.path);
    let text = workspace.referenced_text(&path)?.to_owned();
    let source = SourceFile::new(path, text);
    let mut env = Environment::new();
    let mut facts = FileFacts::new(source.path().clone(), FileKind::DotEnv);
    dotenv::extract(&source, &mut facts);
    if let Some(deploy) = &facts.deploy {
        add_layers(&mut env, deploy);
    }
    Some(env)
}

fn find_invocations(workspace: &Workspace, project_env: &Environment) -> Vec<Found> {
    let mut found = Vec::new();
    let mut load_env_file = |file: &ComposeEnvFile| load_env_file(workspace, file);
    // Dockerfiles whose CMD a compose service runs (`build:` without
    // `command:`): that service owns the command, with its environment.
    let mut built: Vec<&FilePath> = Vec::new();
    for facts in workspace
        .facts
        .iter()
        .filter(|f| f.kind.declares_workloads())
    {
        let Some(deploy) = &facts.deploy else {
            continue;
        };
        if scaling::is_kustomize_patch(workspace, &facts.path) {
            continue;
        }
        for (service_name, invocation) in
            compose::compose_invocations(deploy, project_env, &mut load_env_file)
        {
            let Some(service) = deploy.workloads.iter().find(|s| s.name == service_name) else {
                continue;
            };
            let env = compose_service_env(workspace, service, project_env, &mut load_env_file);
            found.push(Found {
                invocation,
                env,
                source: Source::Compose,
                scaling: Some(scaling::of_workload(workspace, service, project_env)),
                copies: None,
            });
        }
        // `command: ./bin/entrypoint.sh`: the script's server runs as this
        // service, with its environment.
        for service in &deploy.workloads {
            for script in service
                .commands
                .iter()
                .filter_map(|index| deploy.commands.get(*index))
                .filter_map(|site| run_script(workspace, &facts.path, service, site))
            {
                let Some(script_deploy) = &script.deploy else {
                    continue;
                };
                let service_env =
                    compose_service_env(workspace, service, project_env, &mut load_env_file);
                for mut invocation in commands::invocations(script_deploy, &service_env) {
                    invocation.name_hint = Some(service.name.clone());
                    found.push(Found {
                        invocation,
                        env: service_env.clone(),
                        source: Source::Compose,
                        scaling: Some(scaling::of_workload(workspace, service, project_env)),
                        copies: None,
                    });
                }
                built.push(&script.path);
            }
        }
        for service in deploy.workloads.iter().filter(|s| s.commands.is_empty()) {
            let Some(dockerfile) = built_dockerfile(workspace, &facts.path, service) else {
                continue;
            };
            let Some(docker) = &dockerfile.deploy else {
                continue;
            };
            let mut env = project_env.clone();
            add_layers(&mut env, docker);
            let service_env = compose_service_env(workspace, service, &env, &mut load_env_file);
            for mut invocation in commands::invocations(docker, &service_env) {
                invocation.name_hint = Some(service.name.clone());
                found.push(Found {
                    invocation,
                    env: service_env.clone(),
                    source: Source::Compose,
                    scaling: Some(scaling::of_workload(workspace, service, project_env)),
                    copies: None,
                });
            }
            built.push(&dockerfile.path);
        }
    }
    for facts in &workspace.facts {
        let Some(deploy) = &facts.deploy else {
            continue;
        };
        match facts.kind {
            kind if kind.declares_workloads() => {}
            FileKind::Dockerfile | FileKind::Shell if built.contains(&&facts.path) => {}
            FileKind::Ini => {
                found.extend(supervisord_programs(deploy, project_env));
                // uwsgi `attach-daemon` commands run beside the uwsgi workers.
                for site in deploy
                    .commands
                    .iter()
                    .filter(|c| !matches!(c.origin, CommandOrigin::Supervisord { .. }))
                {
                    if let Some(invocation) = commands::invocation(site, project_env) {
                        found.push(Found {
                            invocation,
                            env: project_env.clone(),
                            source: Source::Script,
                            scaling: None,
                            copies: None,
                        });
                    }
                }
                if let Some(invocation) = uwsgi::uwsgi_invocation(deploy, project_env) {
                    found.push(Found {
                        invocation,
                        env: project_env.clone(),
                        source: Source::Uwsgi,
                        scaling: None,
                        copies: None,
                    });
                }
            }
            kind => {
                let source = match kind {
                    FileKind::Procfile => Source::Procfile,
                    FileKind::Dockerfile => Source::Dockerfile,
                    _ => Source::Script,
                };
                for invocation in commands::invocations(deploy, project_env) {
                    found.push(Found {
                        invocation,
                        env: project_env.clone(),
                        source,
                        scaling: None,
                        copies: None,
                    });
                }
            }
        }
    }
    found
}

/// Each supervisord `[program:x]` command with the program's environment
/// over the project's, as `numprocs` copies.
fn supervisord_programs(deploy: &DeployFacts, project_env: &Environment) -> Vec<Found> {
    let mut found = Vec::new();
    for program in &deploy.supervisord_programs {
        let mut env = project_env.clone();
        add_layers(
            &mut env,
            &DeployFacts {
                env_layers: vec![program.environment.clone()],
                ..DeployFacts::default()
            },
        );
        let copies = program.numprocs.as_ref().map(|(count, location)| {
            Sourced::with_origin(
                *count,
                Origin::Computed {
                    expr: format!("supervisord [program:{}] numprocs", program.name),
                },
                Some(location.clone()),
            )
        });
        for site in program
            .commands
            .iter()
            .filter_map(|index| deploy.commands.get(*index))
        {
            if let Some(invocation) = commands::invocation(site, &env) {
                found.push(Found {
                    invocation,
                    env: env.clone(),
                    source: Source::Supervisord,
                    scaling: None,
                    copies: copies.clone(),
                });
            }
        }
    }
    found
}

/// A compose service's environment over `base`, under the declared `[env]`.
fn compose_service_env(
    workspace: &Workspace,
    service: &Workload,
    base: &Environment,
    load_env_file: &mut dyn FnMut(&ComposeEnvFile) -> Option<Environment>,
) -> Environment {
    let mut env = base.clone();
    env.overlay(&compose::service_environment(service, base, load_env_file));
    layer_declared(&mut env, &workspace.config.env, "poolcheck config [env]");
    env
}

/// The shell script a compose command runs (`./bin/start.sh`, `sh
/// bin/start.sh`, `/app/bin/start.sh`): relative to the build context, else
/// to the compose file, else the one script in the repository whose path ends
/// with the one written (an image-only service runs a path inside the image).
fn run_script<'w>(
    workspace: &'w Workspace,
    compose_file: &FilePath,
    service: &Workload,
    site: &poolcheck_core::facts::deploy::CommandSite,
) -> Option<&'w FileFacts> {
    let mut words = site.words.iter().filter_map(ShellWord::literal_text);
    let first = words.next()?;
    let written = if matches!(first.as_str(), "sh" | "bash" | "/bin/sh" | "/bin/bash") {
        words.next()?
    } else {
        first
    };
    if !Path::new(&written)
        .extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("sh"))
    {
        return None;
    }
    let relative = Path::new(written.trim_start_matches("./").trim_start_matches('/'));
    let scripts = || workspace.facts.iter().filter(|f| f.kind == FileKind::Shell);
    let base = compose_file.as_path().parent().unwrap_or(Path::new(""));
    let mut candidates = Vec::new();
    if let Some(build) = &service.build
        && !written.starts_with('/')
    {
        candidates.push(base.join(&build.context).join(relative));
    }
    if !written.starts_with('/') {
        candidates.push(base.join(relative));
    }
    for candidate in candidates {
        let normalized = poolcheck_core::normalize_lexically(display_path(&candidate).as_path());
        if let Some(found) =
            scripts().find(|f| poolcheck_core::normalize_lexically(f.path.as_path()) == normalized)
        {
            return Some(found);
        }
    }
    // Inside the image: match the longest tail of the path that names
    // exactly one script (`/code/bin/start.sh` → `apps/api/bin/start.sh`).
    let components: Vec<_> = relative.components().collect();
    (0..components.len()).find_map(|skip| {
        let tail: PathBuf = components[skip..].iter().collect();
        if tail.components().count() < 2 {
            return None;
        }
        let mut matching = scripts().filter(|f| f.path.as_path().ends_with(&tail));
        match (matching.next(), matching.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        }
    })
}

/// The Dockerfile a compose service builds: `build.context` (relative to the
/// compose file) joined with `build.dockerfile` (default `Dockerfile`).
fn built_dockerfile<'w>(
    workspace: &'w Workspace,
    compose_file: &FilePath,
    service: &Workload,
) -> Option<&'w FileFacts> {
    if service.platform == Platform::Kubernetes {
        return scaling::image_dockerfile(workspace, compose_file, service);
    }
    let build = service.build.as_ref()?;
    let base = compose_file.as_path().parent().unwrap_or(Path::new(""));
    let name = build.dockerfile.as_deref().unwrap_or("Dockerfile");
    let path = display_path(&base.join(&build.context).join(name));
    let normalized = poolcheck_core::normalize_lexically(path.as_path());
    workspace.facts.iter().find(|f| {
        f.kind == FileKind::Dockerfile
            && poolcheck_core::normalize_lexically(f.path.as_path()) == normalized
    })
}

/// A uwsgi command's settings over those of the ini file it names, found
/// in the repository by the longest matching tail of the path written (a
/// path inside the container after `WORKDIR`/`COPY . /opt/app/`).
fn with_uwsgi_ini(settings: ServerSettings, found: &Found, inis: &[&FileFacts]) -> ServerSettings {
    if found.invocation.kind != ServerKind::Uwsgi || found.source == Source::Uwsgi {
        return settings;
    }
    let Some(path) = settings
        .config_file
        .as_ref()
        .and_then(|c| c.value.as_deref())
        .and_then(|written| find_config_file(written, inis))
    else {
        return settings;
    };
    let Some(ini) = inis
        .iter()
        .find(|f| f.path == path)
        .and_then(|f| f.deploy.as_ref())
        .and_then(|d| uwsgi::uwsgi_invocation(d, &found.env))
    else {
        return settings;
    };
    let mut merged = ini.settings;
    let mut cli = settings;
    cli.config_file = None;
    merged.overlay(&cli);
    merged
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

fn analysis_for<'c>(
    project: &PythonProject<'_>,
    cache: &'c mut Vec<(Environment, Scope, PythonAnalysis)>,
    env: &Environment,
    scope: Scope,
) -> &'c PythonAnalysis {
    let cached = cache.iter().position(|(e, s, _)| e == env && *s == scope);
    let index = cached.unwrap_or_else(|| {
        let analysis = match &scope {
            Scope::Paths(paths) => project.analyze(env, Some(paths)),
            Scope::Modules { code, config } => project.analyze_modules(env, code, config),
        };
        cache.push((env.clone(), scope, analysis));
        cache.len() - 1
    });
    &cache[index].2
}

/// The entry point of a service (as written) and the code it runs: the
/// modules reachable by imports from its app target, its gunicorn config
/// file, and for a Django process what Django loads by name. `Err` says why
/// the entry point could not be resolved in the repository.
fn code_of(
    project: &PythonProject<'_>,
    found: &Found,
    service: &Service,
    gunicorn_config: Option<&FilePath>,
    service_code: &[usize],
) -> Result<(String, Scope), String> {
    let kind = found.invocation.kind;
    let app = service.settings.app.as_ref().and_then(|a| a.value.clone());
    let (entry, mut starts) = match (&app, found.source) {
        // `uvicorn.run(app)` in a module run as a script: that module is the entry.
        (_, Source::Code) => {
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
            !poolcheck_extract::python::django::named_settings_modules(project.module(m)).is_empty()
        });
    let flask = project.imports_package(&code, "flask")
        || project.imports_package(&code, "flask_sqlalchemy");
    if django {
        starts.extend(project.django_loaded_modules(&service.env, service_code));
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
    found: &Found,
    project: &PythonProject<'_>,
    gunicorn_configs: &[&FileFacts],
    deployment: &mut Deployment,
) -> (ServerSettings, Option<GunicornConfig>, Option<FilePath>) {
    let cli = &found.invocation.settings;
    if found.invocation.kind != ServerKind::Gunicorn {
        return (cli.clone(), None, None);
    }
    let mut settings = ServerSettings::default();
    let config_path = match &cli.config_file {
        Some(written) => written
            .value
            .as_deref()
            .and_then(|w| find_config_file(w, gunicorn_configs)),
        // gunicorn reads ./gunicorn.conf.py when no -c is given.
        None => gunicorn_configs
            .iter()
            .find(|f| f.path.file_name() == "gunicorn.conf.py")
            .map(|f| f.path.clone()),
    };
    let config = config_path
        .as_ref()
        .and_then(|path| project.gunicorn_settings(path, &found.env));
    if let Some(config) = &config {
        settings.overlay(&config.settings);
        report_unresolved_gunicorn(config, deployment);
    }
    if let Some(from_env) = commands::gunicorn_cmd_args(&found.env) {
        settings.overlay(&from_env);
    }
    let mut cli = cli.clone();
    cli.config_file = None;
    settings.overlay(&cli);
    (settings, config, config_path)
}

fn report_unresolved_gunicorn(config: &GunicornConfig, deployment: &mut Deployment) {
    for u in &config.unresolved {
        deployment
            .diagnostics
            .push(unresolved_diagnostic(&u.location, &u.what, &u.reason));
    }
}

/// The gunicorn config a `-c` path names: matched by trailing path
/// components, since commands often name it by its path in the container.
fn find_config_file(written: &str, configs: &[&FileFacts]) -> Option<FilePath> {
    let written = written.strip_prefix("file:").unwrap_or(written);
    let wanted: Vec<&str> = written
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    let file_name = *wanted.last()?;
    configs
        .iter()
        .filter(|f| f.path.file_name() == file_name)
        .max_by_key(|f| {
            let have: Vec<String> = f
                .path
                .as_path()
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            have.iter()
                .rev()
                .zip(wanted.iter().rev())
                .take_while(|(a, b)| a == *b)
                .count()
        })
        .map(|f| f.path.clone())
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
    found: &Found,
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
                let threads = commands::granian_wsgi_blocking_threads(&settings);
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
    Diagnostic::new(
        "PC004",
        Severity::Info,
        location.clone(),
        // No claim about which check was skipped: a budget with other known
        // terms may still be checked, and a default may stand in.
        format!("{what} is unknown: {reason}"),
    )
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
    for u in analysis
        .unresolved
        .iter()
        .filter(|u| !u.location.file.is_python_test())
    {
        deployment
            .diagnostics
            .push(unresolved_diagnostic(&u.location, &u.what, &u.reason));
    }
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
