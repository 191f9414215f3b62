//! Lowering: each front-end turns the facts of its files into the one
//! vocabulary assembly reads, [`Declarations`]. One module per front-end;
//! this driver is the only place that dispatches on a file's kind. A new
//! deployment platform is a parser in `poolcheck-extract` plus a module
//! here; assembly does not change.
//!
//! Front-ends never meet each other except where one file names another as
//! the platform does: a compose service's `build:` runs the Dockerfile it
//! builds, its `command:` runs a script, a kustomization patches a
//! manifest. Those lookups read the in-memory workspace, never the disk.

mod compose;
mod config;
mod dockerfile;
mod dotenv;
mod gunicorn_config;
mod includes;
mod kubernetes;
mod pgbouncer;
mod pgconf;
mod procfile;
mod python;
mod script;
mod supervisord;
mod terraform;
mod uwsgi;

use std::path::Path;

use poolcheck_core::facts::deploy::DeployFacts;
use poolcheck_core::facts::process::{ServerInvocation, ServerKind, ServerSettings};

use poolcheck_core::{
    EnvVar, Environment, FileFacts, FileKind, FilePath, Sourced, normalize_lexically,
};
use poolcheck_extract::python::PythonProject;

use crate::declarations::{ContainerFiles, Declarations, DeclaredBy, ProcessGroup};
use crate::workspace::Workspace;

/// What every lowering may read besides its own file.
pub(crate) struct Context<'w> {
    pub workspace: &'w Workspace,
    /// `.env`, Dockerfile `ENV` and `[env]`: what compose interpolation and
    /// every process group start from.
    pub project_env: Environment,
}

/// Lowers every file of the workspace, and the Python code that starts a
/// server, into [`Declarations`].
pub fn lower(workspace: &Workspace, project: &PythonProject<'_>) -> Declarations {
    let mut declarations = Declarations::default();
    for facts in &workspace.facts {
        match facts.kind {
            FileKind::DotEnv => dotenv::lower_environment(facts, &mut declarations.environment),
            FileKind::Dockerfile => {
                dockerfile::lower_environment(facts, &mut declarations.environment);
            }
            _ => {}
        }
    }
    config::lower_environment(&workspace.config, &mut declarations.environment);
    let cx = Context {
        workspace,
        project_env: declarations.environment.clone(),
    };

    pgconf::lower(&cx, &mut declarations);
    pgbouncer::lower(&cx, &mut declarations);
    // Dockerfiles and scripts a workload runs belong to that workload.
    let mut run_by_workloads: Vec<FilePath> = Vec::new();
    // Commands that start supervisord: its programs run where they run.
    let mut supervisord_runs = Vec::new();
    terraform::lower(&cx, &mut declarations);
    for facts in &workspace.facts {
        if facts.kind.declares_workloads() {
            // Compose, Kubernetes manifests and Helm-rendered templates are
            // all read into one `Workload` shape, and lowered alike.
            compose::lower(
                &cx,
                facts,
                &mut declarations,
                &mut run_by_workloads,
                &mut supervisord_runs,
            );
            continue;
        }
        if facts.deploy.is_none() {
            continue;
        }
        match facts.kind {
            FileKind::Ini => uwsgi::lower(&cx, facts, &mut declarations),
            FileKind::Procfile => procfile::lower(&cx, facts, &mut declarations),
            FileKind::Dockerfile => {
                dockerfile::lower(&cx, facts, &mut declarations, &mut supervisord_runs);
            }
            _ => script::lower(&cx, facts, &mut declarations),
        }
    }
    declarations.process_groups.retain(|group| {
        !(matches!(
            group.declared_by,
            DeclaredBy::Dockerfile | DeclaredBy::Script
        ) && run_by_workloads.contains(&group.declared_in))
    });
    supervisord::lower(&cx, supervisord_runs, &run_by_workloads, &mut declarations);
    // Servers in the order assembly numbers them: config files, workloads,
    // Terraform; file-configured PgBouncers before those run by workloads.
    declarations.servers.sort_by_key(|s| s.source);
    compose::merge_repeated_servers(&mut declarations.servers);
    declarations.poolers.sort_by_key(|p| !p.from_file);
    uwsgi::read_named_configs(&cx, &mut declarations);
    python::lower(&cx, project, &mut declarations);
    gunicorn_config::lower(&cx, &mut declarations);
    declarations
}

/// Server settings a process reads from its environment (gunicorn's
/// `GUNICORN_CMD_ARGS`), which sit between its config file and its command
/// line. Assembly asks once a group's environment is final (after
/// `[services.<name>] env`).
pub fn settings_from_environment(kind: ServerKind, env: &Environment) -> Option<ServerSettings> {
    match kind {
        ServerKind::Gunicorn => poolcheck_extract::commands::gunicorn_cmd_args(env),
        _ => None,
    }
}

/// A process group with nothing known beyond its command and environment.
fn group(
    invocation: ServerInvocation,
    declared_by: DeclaredBy,
    declared_in: &FilePath,
    env: Environment,
) -> ProcessGroup {
    ProcessGroup {
        invocation,
        declared_by,
        declared_in: declared_in.clone(),
        env,
        scaling: None,
        copies: None,
        config_file: None,
        image: None,
    }
}

/// The variables a file declares (`.env`, Dockerfile `ENV`), over `env`.
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

/// Variables the configuration declares (`[env]`, `[services.<name>]
/// env`) over `env`; `source` names the table in messages.
pub fn layer_declared(env: &mut Environment, declared: &[(String, Sourced<String>)], source: &str) {
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

/// The repository file a server's configuration path names (`-c
/// /app/conf/gunicorn.py`, `--ini uwsgi.ini`) among `candidates`. When a
/// Dockerfile of the repository builds the group's image, its `COPY`/`ADD`
/// and `WORKDIR` say exactly which file that is.
///
/// Fallback — the image is unknown (a Procfile, an image built elsewhere)
/// or its copies cannot be followed (`COPY --from`, variables): the
/// candidate whose path shares the longest tail with the one written.
fn config_file_of(
    image: Option<&ContainerFiles>,
    written: &str,
    candidates: &[&FileFacts],
) -> Option<FilePath> {
    let written = written.strip_prefix("file:").unwrap_or(written);
    if let Some(image) = image {
        let exists = |path: &Path| {
            candidates
                .iter()
                .any(|f| normalize_lexically(f.path.as_path()) == path)
        };
        if let Some(found) = image.repository_path(written, &exists) {
            return Some(found);
        }
    }
    longest_matching_tail(written, candidates)
}

/// The candidate named like `written` whose path ends with most of its
/// components.
fn longest_matching_tail(written: &str, candidates: &[&FileFacts]) -> Option<FilePath> {
    let wanted: Vec<&str> = written
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    let file_name = *wanted.last()?;
    candidates
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
