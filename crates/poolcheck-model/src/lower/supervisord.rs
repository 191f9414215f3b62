//! supervisord `[program:x]`: each program's command with the program's
//! `environment=` over the project's, as `numprocs` copies.

use poolcheck_core::facts::deploy::DeployFacts;
use poolcheck_core::{FileFacts, Origin, Sourced};
use poolcheck_extract::commands;

use super::{Context, group};
use crate::declarations::{Declarations, DeclaredBy};

pub(super) fn lower(cx: &Context<'_>, facts: &FileFacts, out: &mut Declarations) {
    let Some(deploy) = &facts.deploy else {
        return;
    };
    for program in &deploy.supervisord_programs {
        let mut env = cx.project_env.clone();
        super::add_layers(
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
                let mut lowered = group(
                    invocation,
                    DeclaredBy::Supervisord,
                    &facts.path,
                    env.clone(),
                );
                lowered.copies.clone_from(&copies);
                out.process_groups.push(lowered);
            }
        }
    }
}
