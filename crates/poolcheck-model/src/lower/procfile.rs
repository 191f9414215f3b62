//! Procfiles: each process type's command is a process group named after
//! the type.

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
            DeclaredBy::Procfile,
            &facts.path,
            cx.project_env.clone(),
        ));
    }
}
