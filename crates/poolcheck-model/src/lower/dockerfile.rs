//! Dockerfiles: the final stage's `ENV`/`ARG` (seen by every process), its
//! `CMD`/`ENTRYPOINT` as a process group, and the files its image holds
//! (`COPY`/`ADD` from the build context, `WORKDIR`) so that a path inside
//! the container names the repository file it came from.

use std::path::PathBuf;

use poolcheck_core::{Environment, FileFacts};
use poolcheck_extract::commands;

use super::supervisord::{self, SupervisordRun};
use super::{Context, group};
use crate::declarations::{ContainerFiles, Declarations, DeclaredBy};

pub(super) fn lower_environment(facts: &FileFacts, env: &mut Environment) {
    if let Some(deploy) = &facts.deploy {
        super::add_layers(env, deploy);
    }
}

pub(super) fn lower(
    cx: &Context<'_>,
    facts: &FileFacts,
    out: &mut Declarations,
    supervisord_runs: &mut Vec<SupervisordRun>,
) {
    let Some(deploy) = &facts.deploy else {
        return;
    };
    // Built on its own, the build context is the Dockerfile's directory.
    let context = facts
        .path
        .as_path()
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    for invocation in commands::invocations(deploy, &cx.project_env) {
        let mut lowered = group(
            invocation,
            DeclaredBy::Dockerfile,
            &facts.path,
            cx.project_env.clone(),
        );
        lowered.image = image(facts, context.clone());
        out.process_groups.push(lowered);
    }
    supervisord::record_runs(
        &deploy.commands,
        &cx.project_env,
        &SupervisordRun {
            config: None,
            declared_by: DeclaredBy::Dockerfile,
            declared_in: facts.path.clone(),
            env: cx.project_env.clone(),
            scaling: None,
            image: image(facts, context),
        },
        supervisord_runs,
    );
}

/// The files of the image a Dockerfile builds from `context`.
pub(super) fn image(facts: &FileFacts, context: PathBuf) -> Option<ContainerFiles> {
    let files = facts.deploy.as_ref()?.image_files.as_ref()?;
    Some(ContainerFiles {
        context,
        copies: files.copies.clone(),
        workdir: files.workdir.clone().unwrap_or_else(|| "/".to_owned()),
    })
}
