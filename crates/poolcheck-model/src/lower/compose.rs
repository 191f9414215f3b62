//! Workloads: compose services, Kubernetes workloads and Helm-rendered ones
//! (all read into one `Workload` shape by their parsers). A workload running
//! a PostgreSQL image is a server, one running a PgBouncer image a pooler;
//! every other workload's command — written in the file, in the script it
//! runs, or in the Dockerfile it builds — is a process group with the
//! workload's environment and scaling.

use std::path::{Path, PathBuf};

use poolcheck_core::facts::deploy::{
    CommandSite, ComposeEnvFile, DeployFacts, Platform, ShellWord, Workload,
};
use poolcheck_core::{Environment, FileFacts, FileKind, FilePath, SourceFile, Sourced};
use poolcheck_extract::{commands, compose, dotenv};

use super::supervisord::{self, SupervisordRun};
use super::{Context, config, dockerfile, group, kubernetes, pgconf};
use crate::declarations::{Declarations, DeclaredBy, ServerDeclaration, ServerSource};
use crate::topology::{DatabaseServer, PgBouncer};
use crate::workspace::{Workspace, root_relative};

pub(super) fn lower(
    cx: &Context<'_>,
    facts: &FileFacts,
    out: &mut Declarations,
    run_by_workloads: &mut Vec<FilePath>,
    supervisord_runs: &mut Vec<SupervisordRun>,
) {
    let Some(deploy) = &facts.deploy else {
        return;
    };
    if facts.kind == FileKind::Compose && describes_test_runs(facts.path.as_path()) {
        out.test_compose_files.push(facts.path.clone());
        return;
    }
    let ws = cx.workspace;
    let project_env = &cx.project_env;
    let mut load = |f: &ComposeEnvFile| env_file_environment(ws, f);
    for server in compose::postgres_servers(deploy, project_env, &mut load) {
        out.servers.push(ServerDeclaration {
            server: pgconf::described(&server),
            source: ServerSource::Workload,
        });
    }
    for config in compose::pgbouncers(deploy, project_env, &mut load) {
        out.poolers.push(PgBouncer {
            from_file: false,
            instances: config.instances.clone().unwrap_or_else(|| {
                Sourced::tool_default(1, "poolcheck (one instance unless declared)")
            }),
            version: config.version.clone(),
            config,
        });
    }
    out.file_pooler_hosts
        .extend(compose::file_configured_pgbouncer_services(deploy));
    if kubernetes::is_kustomize_patch(ws, &facts.path) {
        return;
    }
    process_groups(cx, facts, deploy, out, run_by_workloads);
    supervisord_started(cx, facts, deploy, supervisord_runs);
}

/// Workloads that start supervisord, from their own command, the script it
/// runs, or the command of the Dockerfile they build.
fn supervisord_started(
    cx: &Context<'_>,
    facts: &FileFacts,
    deploy: &DeployFacts,
    runs: &mut Vec<SupervisordRun>,
) {
    let ws = cx.workspace;
    let project_env = &cx.project_env;
    let mut load_env_file = |file: &ComposeEnvFile| env_file_environment(ws, file);
    for service in &deploy.workloads {
        let own: Vec<&CommandSite> = service
            .commands
            .iter()
            .filter_map(|index| deploy.commands.get(*index))
            .collect();
        let built = built_dockerfile(ws, &facts.path, service);
        let mut base = project_env.clone();
        if own.is_empty()
            && let Some(built) = built
        {
            dockerfile::lower_environment(built, &mut base);
        }
        let run = SupervisordRun {
            config: None,
            declared_by: DeclaredBy::Workload,
            declared_in: facts.path.clone(),
            env: service_env(ws, service, &base, &mut load_env_file),
            scaling: Some(kubernetes::of_workload(ws, service, project_env)),
            image: image_of(ws, &facts.path, service),
        };
        // Compose interpolates its own commands with the project's
        // environment; a script or a Dockerfile command runs in the service's.
        supervisord::record_runs(own.iter().copied(), project_env, &run, runs);
        for script in own
            .iter()
            .filter_map(|site| run_script(ws, &facts.path, service, site))
            .filter_map(|script| script.deploy.as_ref())
        {
            supervisord::record_runs(&script.commands, &run.env, &run, runs);
        }
        if own.is_empty()
            && let Some(docker) = built.and_then(|d| d.deploy.as_ref())
        {
            supervisord::record_runs(&docker.commands, &run.env, &run, runs);
        }
    }
}

fn process_groups(
    cx: &Context<'_>,
    facts: &FileFacts,
    deploy: &DeployFacts,
    out: &mut Declarations,
    run_by_workloads: &mut Vec<FilePath>,
) {
    let ws = cx.workspace;
    let project_env = &cx.project_env;
    let mut load_env_file = |file: &ComposeEnvFile| env_file_environment(ws, file);
    for (service_name, invocation) in
        compose::compose_invocations(deploy, project_env, &mut load_env_file)
    {
        let Some(service) = deploy.workloads.iter().find(|s| s.name == service_name) else {
            continue;
        };
        let env = service_env(ws, service, project_env, &mut load_env_file);
        let mut lowered = group(invocation, DeclaredBy::Workload, &facts.path, env);
        lowered.scaling = Some(kubernetes::of_workload(ws, service, project_env));
        lowered.image = image_of(ws, &facts.path, service);
        out.process_groups.push(lowered);
    }
    // `command: ./bin/entrypoint.sh`: the script's server runs as this
    // service, with its environment.
    for service in &deploy.workloads {
        for script in service
            .commands
            .iter()
            .filter_map(|index| deploy.commands.get(*index))
            .filter_map(|site| run_script(ws, &facts.path, service, site))
        {
            let Some(script_deploy) = &script.deploy else {
                continue;
            };
            let service_env = service_env(ws, service, project_env, &mut load_env_file);
            for mut invocation in commands::invocations(script_deploy, &service_env) {
                invocation.name_hint = Some(service.name.clone());
                let mut lowered = group(
                    invocation,
                    DeclaredBy::Workload,
                    &facts.path,
                    service_env.clone(),
                );
                lowered.scaling = Some(kubernetes::of_workload(ws, service, project_env));
                lowered.image = image_of(ws, &facts.path, service);
                out.process_groups.push(lowered);
            }
            run_by_workloads.push(script.path.clone());
        }
    }
    // `build:` without `command:` (or an image the project builds): the
    // workload runs the Dockerfile's command, with its environment.
    for service in deploy.workloads.iter().filter(|s| s.commands.is_empty()) {
        let Some(dockerfile) = built_dockerfile(ws, &facts.path, service) else {
            continue;
        };
        let Some(docker) = &dockerfile.deploy else {
            continue;
        };
        let mut env = project_env.clone();
        dockerfile::lower_environment(dockerfile, &mut env);
        let service_env = service_env(ws, service, &env, &mut load_env_file);
        for mut invocation in commands::invocations(docker, &service_env) {
            invocation.name_hint = Some(service.name.clone());
            let mut lowered = group(
                invocation,
                DeclaredBy::Workload,
                &facts.path,
                service_env.clone(),
            );
            lowered.scaling = Some(kubernetes::of_workload(ws, service, project_env));
            lowered.image = image_of(ws, &facts.path, service);
            out.process_groups.push(lowered);
        }
        run_by_workloads.push(dockerfile.path.clone());
    }
}

/// A compose file for test runs (`docker-compose.test.yml`,
/// `compose.ci.yaml`, `docker-compose-e2e.yml`, `tests/docker-compose.yml`):
/// its services, databases and poolers start for a test suite, never beside
/// the production deployment, so none of them is counted.
pub(super) fn describes_test_runs(path: &Path) -> bool {
    const TEST_WORDS: [&str; 7] = [
        "test",
        "tests",
        "testing",
        "ci",
        "e2e",
        "integration",
        "pytest",
    ];
    let in_tests_dir = path
        .parent()
        .into_iter()
        .flat_map(Path::components)
        .any(|c| matches!(c.as_os_str().to_str(), Some("test" | "tests")));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let stem = name
        .strip_suffix(".yml")
        .or_else(|| name.strip_suffix(".yaml"))
        .unwrap_or(&name);
    in_tests_dir
        || stem
            .split(['.', '-', '_'])
            .any(|word| TEST_WORDS.contains(&word))
}

/// Reads a compose `env_file:` (relative to the compose file) or the
/// ConfigMap a Kubernetes container imports.
pub(super) fn env_file_environment(
    workspace: &Workspace,
    file: &ComposeEnvFile,
) -> Option<Environment> {
    if let Some(selection) = &file.config_map {
        return kubernetes::config_map_environment(workspace, &file.path, selection.as_ref());
    }
    let mut path = crate::workspace::env_file_path(&file.location.file, &file.path);
    if let Some(stand_in) = workspace
        .missing_env_files
        .get(&path)
        .and_then(|missing| missing.stand_in.clone())
    {
        path = stand_in;
    }
    let text = workspace.referenced_text(&path)?.to_owned();
    let source = SourceFile::new(path, text);
    let mut env = Environment::new();
    let mut facts = FileFacts::new(source.path().clone(), FileKind::DotEnv);
    dotenv::extract(&source, &mut facts);
    if let Some(deploy) = &facts.deploy {
        super::add_layers(&mut env, deploy);
    }
    Some(env)
}

/// A workload's environment over `base`, under the declared `[env]`.
fn service_env(
    workspace: &Workspace,
    service: &Workload,
    base: &Environment,
    load_env_file: &mut dyn FnMut(&ComposeEnvFile) -> Option<Environment>,
) -> Environment {
    let mut env = base.clone();
    env.overlay(&compose::service_environment(service, base, load_env_file));
    config::lower_environment(&workspace.config, &mut env);
    env
}

/// The files of the image a workload runs in, when the repository's
/// Dockerfile builds it (`build:` or an image the project pushes).
fn image_of(
    workspace: &Workspace,
    manifest: &FilePath,
    service: &Workload,
) -> Option<crate::declarations::ContainerFiles> {
    let dockerfile = built_dockerfile(workspace, manifest, service)?;
    let context = match (&service.build, service.platform) {
        (Some(build), Platform::Compose) => {
            let base = manifest.as_path().parent().unwrap_or(Path::new(""));
            root_relative(&base.join(&build.context))
                .as_path()
                .to_path_buf()
        }
        _ => dockerfile
            .path
            .as_path()
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
    };
    dockerfile::image(dockerfile, context)
}

/// The shell script a compose command runs (`./bin/start.sh`, `sh
/// bin/start.sh`, `/app/bin/start.sh`): relative to the build context, else
/// to the compose file, else the one script in the repository whose path ends
/// with the one written (an image-only service runs a path inside the image).
fn run_script<'w>(
    workspace: &'w Workspace,
    compose_file: &FilePath,
    service: &Workload,
    site: &CommandSite,
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
        let normalized = poolcheck_core::normalize_lexically(root_relative(&candidate).as_path());
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
/// compose file) joined with `build.dockerfile` (default `Dockerfile`); for
/// a Kubernetes workload, the Dockerfile of the image it runs.
fn built_dockerfile<'w>(
    workspace: &'w Workspace,
    compose_file: &FilePath,
    service: &Workload,
) -> Option<&'w FileFacts> {
    if service.platform == Platform::Kubernetes {
        return kubernetes::image_dockerfile(workspace, compose_file, service);
    }
    let build = service.build.as_ref()?;
    let base = compose_file.as_path().parent().unwrap_or(Path::new(""));
    let name = build.dockerfile.as_deref().unwrap_or("Dockerfile");
    let path = root_relative(&base.join(&build.context).join(name));
    let normalized = poolcheck_core::normalize_lexically(path.as_path());
    workspace.facts.iter().find(|f| {
        f.kind == FileKind::Dockerfile
            && poolcheck_core::normalize_lexically(f.path.as_path()) == normalized
    })
}

/// Several compose files often describe the same deployment (plain, with
/// nginx, for development): a server a workload declares again with the
/// same host names and slots is one server, not five.
pub(super) fn merge_repeated_servers(servers: &mut Vec<ServerDeclaration>) {
    let mut kept: Vec<ServerDeclaration> = Vec::with_capacity(servers.len());
    for declaration in servers.drain(..) {
        let repeated = declaration.source == ServerSource::Workload
            && kept
                .iter()
                .filter(|k| k.source <= ServerSource::Workload)
                .any(|k| same_server(&k.server, &declaration.server));
        if !repeated {
            kept.push(declaration);
        }
    }
    *servers = kept;
}

/// The same host names and the same slots: one server described twice.
fn same_server(a: &DatabaseServer, b: &DatabaseServer) -> bool {
    a.hosts == b.hosts
        && a.max_connections.value == b.max_connections.value
        && a.superuser_reserved_connections.value == b.superuser_reserved_connections.value
        && a.reserved_connections.value == b.reserved_connections.value
}
