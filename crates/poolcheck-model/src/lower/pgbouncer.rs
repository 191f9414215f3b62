//! `pgbouncer.ini` (with `%include`): each file with a `[pgbouncer]`
//! section that no other includes is a PgBouncer.

use std::path::Path;
use std::sync::Arc;

use poolcheck_core::decode::ReadProblem;
use poolcheck_core::facts::pgbouncer::PgBouncerFile;
use poolcheck_core::{SourceFile, Sourced};
use poolcheck_extract::pgbouncer;

use super::{Context, includes};
use crate::declarations::Declarations;
use crate::topology::PgBouncer;

pub(super) fn lower(cx: &Context<'_>, out: &mut Declarations) {
    let ws = cx.workspace;
    let checked_root = includes::checked_root();
    let top_level = includes::top_level(
        ws,
        |f| {
            f.pgbouncer
                .as_ref()
                .map(|p| p.includes.iter().map(|i| i.path.as_str()).collect())
        },
        |f| {
            f.pgbouncer
                .as_ref()
                .is_some_and(|p| p.pgbouncer_section.is_some())
        },
    );
    for facts in top_level {
        let Some(file) = &facts.pgbouncer else {
            continue;
        };
        if file.pgbouncer_section.is_none() {
            continue;
        }
        let Some(root) = ws.sources.get(&facts.path) else {
            continue;
        };
        let mut loader = |path: &Path| -> Result<(Arc<SourceFile>, PgBouncerFile), ReadProblem> {
            let file = includes::load(ws, path)?;
            let (parsed, _) = pgbouncer::parse(&file);
            Ok((file, parsed))
        };
        let (config, diagnostics) = pgbouncer::resolve(root, file, &mut loader, &checked_root);
        out.diagnostics.extend(diagnostics);
        out.poolers.push(PgBouncer {
            config,
            from_file: true,
            instances: Sourced::tool_default(1, "poolcheck (one instance unless declared)"),
            version: None,
        });
    }
}
