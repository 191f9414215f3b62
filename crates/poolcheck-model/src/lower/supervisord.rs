//! supervisord `[program:x]`: each program's command with the program's
//! `environment=` over the environment supervisord starts in, as
//! `numprocs` copies.
//!
//! A command that starts supervisord (a Dockerfile `CMD ["supervisord",
//! "-c", "/etc/supervisor/conf.d/app.conf"]`, a compose `command:`, a
//! script a workload runs) ties the file it reads to where it runs: the
//! programs take that workload's environment, image and replicas, and each
//! replica runs `numprocs` copies. A supervisord file that nothing starts
//! stands alone, in the project environment.

use poolcheck_core::facts::deploy::{CommandSite, DeployFacts, SupervisordProgram};
use poolcheck_core::{
    Code, Diagnostic, Environment, FileFacts, FilePath, Origin, Severity, Sourced,
};
use poolcheck_extract::commands;

use super::{Context, config_file_of, group};
use crate::declarations::{ContainerFiles, Declarations, DeclaredBy};
use crate::topology::Scaling;

/// A command that starts supervisord, and what it runs in.
#[derive(Debug, Clone)]
pub(super) struct SupervisordRun {
    /// `-c` as written; `None` when supervisord searches its default places.
    pub config: Option<String>,
    pub declared_by: DeclaredBy,
    /// The file whose command starts supervisord.
    pub declared_in: FilePath,
    /// supervisord's own environment: what `%(ENV_X)s` expands from.
    pub env: Environment,
    pub scaling: Option<Scaling>,
    pub image: Option<ContainerFiles>,
}

/// Where supervisord looks without `-c`, in its order, from the working
/// directory of the image.
const DEFAULT_CONFIGS: [&str; 4] = [
    "supervisord.conf",
    "etc/supervisord.conf",
    "/etc/supervisord.conf",
    "/etc/supervisor/supervisord.conf",
];

/// Records every command of `sites` that starts supervisord, expanded with
/// `expand_with`.
pub(super) fn record_runs<'s>(
    sites: impl IntoIterator<Item = &'s CommandSite>,
    expand_with: &Environment,
    run: &SupervisordRun,
    runs: &mut Vec<SupervisordRun>,
) {
    for site in sites {
        if let Some(config) = commands::supervisord_config(site, expand_with) {
            runs.push(SupervisordRun {
                config,
                ..run.clone()
            });
        }
    }
}

/// Lowers every supervisord file: once per command that starts it (the
/// largest deployment first, so that it names the service), or once on its
/// own when nothing does.
pub(super) fn lower(
    cx: &Context<'_>,
    mut runs: Vec<SupervisordRun>,
    run_by_workloads: &[FilePath],
    out: &mut Declarations,
) {
    // A Dockerfile or script a workload runs was recorded again with the
    // workload's scaling: its own record is not a second deployment.
    runs.retain(|run| {
        !(matches!(run.declared_by, DeclaredBy::Dockerfile | DeclaredBy::Script)
            && run_by_workloads.contains(&run.declared_in))
    });
    runs.sort_by_key(|run| {
        std::cmp::Reverse(run.scaling.as_ref().and_then(|s| s.max.value).unwrap_or(1))
    });
    let configs: Vec<&FileFacts> = cx
        .workspace
        .facts
        .iter()
        .filter(|f| {
            f.deploy
                .as_ref()
                .is_some_and(|d| !d.supervisord_programs.is_empty())
        })
        .collect();
    let read_by: Vec<Option<FilePath>> = runs
        .iter()
        .map(|run| config_read_by(run, &configs))
        .collect();
    for config in &configs {
        let Some(deploy) = &config.deploy else {
            continue;
        };
        let starts: Vec<&SupervisordRun> = runs
            .iter()
            .zip(&read_by)
            .filter(|(_, read)| read.as_ref() == Some(&config.path))
            .map(|(run, _)| run)
            .collect();
        if starts.is_empty() {
            let standalone = SupervisordRun {
                config: None,
                declared_by: DeclaredBy::Supervisord,
                declared_in: config.path.clone(),
                env: cx.project_env.clone(),
                scaling: None,
                image: None,
            };
            lower_programs(config, deploy, &standalone, out);
        }
        for run in starts {
            lower_programs(config, deploy, run, out);
        }
    }
}

/// The supervisord file of the repository that `run` reads.
fn config_read_by(run: &SupervisordRun, configs: &[&FileFacts]) -> Option<FilePath> {
    match &run.config {
        Some(written) => config_file_of(run.image.as_ref(), written, configs),
        None => DEFAULT_CONFIGS
            .iter()
            .find_map(|written| config_file_of(run.image.as_ref(), written, configs)),
    }
}

fn lower_programs(
    config: &FileFacts,
    deploy: &DeployFacts,
    run: &SupervisordRun,
    out: &mut Declarations,
) {
    for program in &deploy.supervisord_programs {
        let mut env = run.env.clone();
        super::add_layers(
            &mut env,
            &DeployFacts {
                env_layers: vec![program.environment.clone()],
                ..DeployFacts::default()
            },
        );
        let copies = copies(program, &run.env, &mut out.diagnostics);
        let (scaling, copies) = match (&run.scaling, copies) {
            (Some(scaling), Some(copies)) => (Some(scaled(scaling, &copies, program)), None),
            (scaling, copies) => (scaling.clone(), copies),
        };
        for site in program
            .commands
            .iter()
            .filter_map(|index| deploy.commands.get(*index))
        {
            if let Some(invocation) = commands::invocation(site, &env) {
                let mut lowered = group(
                    invocation,
                    DeclaredBy::Supervisord,
                    &config.path,
                    env.clone(),
                );
                lowered.copies.clone_from(&copies);
                lowered.scaling.clone_from(&scaling);
                lowered.image.clone_from(&run.image);
                out.process_groups.push(lowered);
            }
        }
    }
}

/// `numprocs`: written as a number, or `%(ENV_X)s` read from the
/// environment supervisord starts in. An unknown variable is said once,
/// and the program counted as one process.
fn copies(
    program: &SupervisordProgram,
    supervisord_env: &Environment,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Sourced<i64>> {
    if let Some((count, location)) = &program.numprocs {
        return Some(Sourced::with_origin(
            *count,
            Origin::Computed {
                expr: format!("supervisord [program:{}] numprocs", program.name),
            },
            Some(location.clone()),
        ));
    }
    let variable = program.numprocs_variable.as_ref()?;
    let found = supervisord_env.get(&variable.name);
    let count = found.and_then(|var| var.value.trim().parse::<i64>().ok().filter(|n| *n >= 1));
    if let (Some(var), Some(count)) = (found, count) {
        return Some(Sourced::with_origin(
            count,
            Origin::EnvValue {
                var: variable.name.clone(),
                source: format!(
                    "{}, read by supervisord [program:{}] numprocs",
                    var.source, program.name
                ),
            },
            Some(variable.location.clone()),
        ));
    }
    let why = match found {
        Some(var) => format!(
            "`{}` is `{}` in {}, not a whole number of at least 1",
            variable.name, var.value, var.source
        ),
        None => format!(
            "`{}` is not set in the known environment (.env, compose `environment:`, Dockerfile `ENV`, `[tool.poolcheck.env]`)",
            variable.name
        ),
    };
    let finding = Diagnostic::new(
        Code::PC004,
        Severity::Info,
        variable.location.clone(),
        format!(
            "supervisord expands `numprocs = {}` from its environment when it starts, and {why}, so `[program:{}]` is counted as 1 process",
            variable.written, program.name
        ),
    )
    .with_help(format!(
        "declare the value the deployment sets, e.g. `[tool.poolcheck.env] {} = \"4\"`",
        variable.name
    ));
    if !diagnostics
        .iter()
        .any(|d| d.primary == finding.primary && d.code == finding.code)
    {
        diagnostics.push(finding);
    }
    None
}

/// The workload's replicas, each running `copies` of the program: the
/// counts a rollout adds scale alike.
fn scaled(scaling: &Scaling, copies: &Sourced<i64>, program: &SupervisordProgram) -> Scaling {
    let times = |count: &Sourced<i64>, what: &str| -> Sourced<i64> {
        match (count.value, copies.value) {
            (Some(count_value), Some(copies_value)) => Sourced::with_origin(
                count_value.saturating_mul(copies_value),
                Origin::Computed {
                    expr: format!(
                        "{count_value} {what} ({}) × {copies_value} supervisord [program:{}] numprocs",
                        scaling.source, program.name
                    ),
                },
                count.location.clone(),
            ),
            _ => count.clone(),
        }
    };
    Scaling {
        min: times(&scaling.min, "replicas"),
        max: times(&scaling.max, "replicas"),
        surge: times(&scaling.surge, "surge replicas"),
        source: format!(
            "{} × supervisord [program:{}] numprocs",
            scaling.source, program.name
        ),
    }
}
