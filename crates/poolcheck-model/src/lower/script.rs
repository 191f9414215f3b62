//! Shell scripts (entrypoints, start scripts) and any other file whose
//! commands start servers: each server command is a process group, unless
//! a workload runs the script (then it is that workload's, see
//! `compose.rs`).

use poolcheck_core::FileFacts;
use poolcheck_extract::commands;

use super::{Context, group};
use crate::declarations::{Declarations, DeclaredBy};

pub(super) fn lower(cx: &Context<'_>, facts: &FileFacts, out: &mut Declarations) {
    let Some(deploy) = &facts.deploy else {
        return;
    };
    for invocation in commands::invocations(deploy, &cx.project_env) {
        out.process_groups.push(group(
            invocation,
            DeclaredBy::Script,
            &facts.path,
            cx.project_env.clone(),
        ));
    }
}
