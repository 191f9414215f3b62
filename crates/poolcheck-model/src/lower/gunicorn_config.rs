//! gunicorn config files (`gunicorn.conf.py`, `-c conf/gunicorn.py`): the
//! file each gunicorn group reads, and a process group for a config that
//! no command names when nothing else starts gunicorn.

use poolcheck_core::facts::process::{ServerInvocation, ServerKind, ServerSettings};
use poolcheck_core::{FileFacts, Location, Sourced, Span};
use poolcheck_extract::python::is_gunicorn_config_name;

use super::{Context, config_file_of, group};
use crate::declarations::{Declarations, DeclaredBy};

pub(super) fn lower(cx: &Context<'_>, out: &mut Declarations) {
    let configs: Vec<&FileFacts> = cx
        .workspace
        .facts
        .iter()
        .filter(|f| f.python.is_some() && is_gunicorn_config_name(f.path.as_path()))
        .collect();
    for group in &mut out.process_groups {
        if group.invocation.kind != ServerKind::Gunicorn {
            continue;
        }
        group.config_file = match &group.invocation.settings.config_file {
            Some(written) => written
                .value
                .as_deref()
                .and_then(|w| config_file_of(group.image.as_ref(), w, &configs)),
            // gunicorn reads ./gunicorn.conf.py when no -c is given.
            None => configs
                .iter()
                .find(|f| f.path.file_name() == "gunicorn.conf.py")
                .map(|f| f.path.clone()),
        };
    }
    let gunicorn_started = out
        .process_groups
        .iter()
        .any(|g| g.invocation.kind == ServerKind::Gunicorn);
    // A gunicorn config that no command names still describes the web
    // service gunicorn will run with it.
    if let Some(config) = configs.first().filter(|_| !gunicorn_started) {
        let at = Location::new(config.path.clone(), Span::empty(0));
        let invocation = ServerInvocation {
            kind: ServerKind::Gunicorn,
            location: at.clone(),
            name_hint: None,
            settings: ServerSettings {
                config_file: Some(Sourced::literal(config.path.display_string(), at)),
                ..ServerSettings::default()
            },
            development: false,
        };
        let mut lowered = group(
            invocation,
            DeclaredBy::GunicornConfig,
            &config.path,
            cx.project_env.clone(),
        );
        lowered.config_file = Some(config.path.clone());
        out.process_groups.push(lowered);
    }
}
