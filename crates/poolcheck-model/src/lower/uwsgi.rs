//! uwsgi ini files: the `[uwsgi]` section is a process group of its own
//! when no command names the file (a standalone configuration), its
//! `attach-daemon` commands run beside it, and a command that names the
//! file (`uwsgi --ini /opt/app/docker/uwsgi.ini`) reads its settings under
//! the command's environment.

use poolcheck_core::FileFacts;
use poolcheck_core::facts::deploy::CommandOrigin;
use poolcheck_core::facts::process::ServerKind;
use poolcheck_extract::{commands, uwsgi};

use super::{Context, config_file_of, group};
use crate::declarations::{Declarations, DeclaredBy};

pub(super) fn lower(cx: &Context<'_>, facts: &FileFacts, out: &mut Declarations) {
    let Some(deploy) = &facts.deploy else {
        return;
    };
    // uwsgi `attach-daemon` commands run beside the uwsgi workers.
    for site in deploy
        .commands
        .iter()
        .filter(|c| !matches!(c.origin, CommandOrigin::Supervisord { .. }))
    {
        if let Some(invocation) = commands::invocation(site, &cx.project_env) {
            out.process_groups.push(group(
                invocation,
                DeclaredBy::Script,
                &facts.path,
                cx.project_env.clone(),
            ));
        }
    }
    if let Some(invocation) = uwsgi::uwsgi_invocation(deploy, &cx.project_env) {
        out.process_groups.push(group(
            invocation,
            DeclaredBy::UwsgiConfig,
            &facts.path,
            cx.project_env.clone(),
        ));
    }
}

/// An ini file a command names is that command's configuration: its
/// settings under the command's, read with the command's environment, so
/// that the ini found on its own is the same service, not a second one.
pub(super) fn read_named_configs(cx: &Context<'_>, out: &mut Declarations) {
    let inis: Vec<&FileFacts> = cx
        .workspace
        .facts
        .iter()
        .filter(|f| {
            f.deploy
                .as_ref()
                .is_some_and(|d| uwsgi::uwsgi_invocation(d, &cx.project_env).is_some())
        })
        .collect();
    for group in &mut out.process_groups {
        if group.invocation.kind != ServerKind::Uwsgi
            || group.declared_by == DeclaredBy::UwsgiConfig
        {
            continue;
        }
        let Some(path) = group
            .invocation
            .settings
            .config_file
            .as_ref()
            .and_then(|c| c.value.as_deref())
            .and_then(|written| config_file_of(group.image.as_ref(), written, &inis))
        else {
            continue;
        };
        let Some(ini) = inis
            .iter()
            .find(|f| f.path == path)
            .and_then(|f| f.deploy.as_ref())
            .and_then(|d| uwsgi::uwsgi_invocation(d, &group.env))
        else {
            continue;
        };
        let mut merged = ini.settings;
        let mut cli = group.invocation.settings.clone();
        cli.config_file = None;
        merged.overlay(&cli);
        group.invocation.settings = merged;
        group.config_file = Some(path);
    }
}
