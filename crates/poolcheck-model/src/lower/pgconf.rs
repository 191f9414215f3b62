//! `postgresql.conf` (with `include`, `include_if_exists`, `include_dir`):
//! each file no other includes is a server.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use poolcheck_core::SourceFile;
use poolcheck_core::decode::ReadProblem;
use poolcheck_core::facts::postgres::{PostgresConfFile, PostgresServer};
use poolcheck_extract::pgconf::{self, PgSettings};

use super::{Context, includes};
use crate::declarations::{Declarations, ServerDeclaration, ServerSource};
use crate::topology::DatabaseServer;
use crate::workspace::root_relative;

pub(super) fn lower(cx: &Context<'_>, out: &mut Declarations) {
    let ws = cx.workspace;
    let checked_root = includes::checked_root();
    // Files another postgresql.conf includes are parts, not servers.
    let top_level = includes::top_level(
        ws,
        |f| {
            f.postgres
                .as_ref()
                .map(|c| c.includes.iter().map(|i| i.path.as_str()).collect())
        },
        |_| true,
    );
    for facts in top_level {
        let Some(conf) = &facts.postgres else {
            continue;
        };
        let Some(root) = ws.sources.get(&facts.path) else {
            continue;
        };
        let mut loader = |path: &Path| -> Result<(Arc<SourceFile>, PostgresConfFile), ReadProblem> {
            let file = includes::load(ws, path)?;
            let (parsed, _) = pgconf::parse(&file);
            Ok((file, parsed))
        };
        let mut list_dir = |dir: &Path| -> Vec<PathBuf> {
            ws.listings
                .get(&root_relative(dir))
                .cloned()
                .unwrap_or_default()
        };
        let (server, diagnostics) =
            pgconf::resolve(root, conf, &mut loader, &mut list_dir, &checked_root);
        out.diagnostics.extend(diagnostics);
        out.servers.push(ServerDeclaration {
            server: described(&server),
            source: ServerSource::ConfigFile,
        });
    }
}

/// A server with the settings a file gives it (postgresql.conf, or
/// `postgres -c` in a workload).
pub(super) fn described(server: &PostgresServer) -> DatabaseServer {
    let settings = PgSettings::new(server);
    DatabaseServer {
        name: server.name.clone(),
        location: Some(server.location.clone()),
        max_connections: settings.max_connections(),
        superuser_reserved_connections: settings.superuser_reserved_connections(),
        reserved_connections: settings.reserved_connections(),
        provider_reserve: None,
        other_clients: None,
        cores: None,
        spindles: None,
        idle_session_timeout_ms: Some(settings.idle_session_timeout_ms()),
        declared_idle_timeout_s: None,
        version: server.version.clone(),
        hosts: server.host_aliases.clone(),
        assumed: false,
        provider: None,
    }
}
