//! One analysis: assemble the deployment, compute the budget, run the
//! selected rules, apply severities and suppressions, sort and deduplicate.

use std::collections::BTreeMap;

use poolcheck_core::{Diagnostic, FilePath};

use crate::context::Context;
use crate::registry;
use crate::selection::{Overrides, Selection};
use crate::suppress::{self, FileSuppressions};
pub use crate::topology::assemble::AssemblyCache;
use crate::topology::budget::{self, Budget, Cpus};
use crate::topology::{Deployment, assemble};
use crate::workspace::Workspace;

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub overrides: Overrides,
    /// Ignore every suppression comment (`--no-ignores`).
    pub no_ignores: bool,
}

#[derive(Debug, Clone)]
pub struct Analysis {
    pub deployment: Deployment,
    pub budget: Budget,
    /// Findings after selection, severity overrides and suppressions, sorted.
    pub diagnostics: Vec<Diagnostic>,
}

pub fn analyze(workspace: &Workspace, options: &Options) -> Analysis {
    analyze_reusing(workspace, options, &mut AssemblyCache::default())
}

/// [`analyze`] for a workspace analysed before with some files' contents
/// changed since: reuses what `cache` kept from the last analysis of it
/// (see [`AssemblyCache`]). The result is the same as [`analyze`]'s.
pub fn analyze_reusing(
    workspace: &Workspace,
    options: &Options,
    cache: &mut AssemblyCache,
) -> Analysis {
    let deployment = assemble::assemble_reusing(workspace, cache);
    let budget = budget::compute(&deployment, Cpus::Declared, &workspace.sources);
    let selection = Selection::new(&workspace.config, &options.overrides);

    let context = Context::new(
        &deployment,
        &budget,
        &workspace.facts,
        &workspace.sources,
        &workspace.config,
    );
    let mut found = Vec::new();
    for rule in registry::all() {
        if !selection.is_enabled(rule.meta.code.as_str()) {
            continue;
        }
        if let Some(check) = rule.check {
            check(&context, &mut found);
        }
    }
    for d in &mut found {
        let default = registry::by_code(d.code).map_or(d.severity, |r| r.meta.severity);
        // A rule may lower its own default for a stated reason (an assumed
        // version); an explicit override wins over both.
        let base = if d.severity < default {
            d.severity
        } else {
            default
        };
        d.severity = selection.severity_of(d.code, base);
    }

    let diagnostics = if options.no_ignores {
        found
    } else {
        apply_suppressions(workspace, found, &selection)
    };
    let mut diagnostics = diagnostics;
    // `check app/db.py` analyses the whole project and reports what concerns the path.
    diagnostics.retain(|d| {
        workspace.in_scope(&d.primary.file)
            || d.related
                .iter()
                .any(|r| workspace.in_scope(&r.location.file))
    });
    diagnostics.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    diagnostics.dedup();
    Analysis {
        deployment,
        budget,
        diagnostics,
    }
}

fn apply_suppressions(
    workspace: &Workspace,
    found: Vec<Diagnostic>,
    selection: &Selection,
) -> Vec<Diagnostic> {
    let mut by_file: BTreeMap<FilePath, FileSuppressions<'_>> = BTreeMap::new();
    // Only texts that mention the marker can hold a suppression; the
    // sources know which, so a large tree is not searched again per analysis.
    for file in workspace.sources.with_suppression_marker() {
        let Some(facts) = workspace.facts_of(file.path()) else {
            continue;
        };
        let entries = suppress::parse(file, facts.kind);
        if !entries.is_empty() {
            by_file.insert(facts.path.clone(), FileSuppressions::new(file, entries));
        }
    }
    let mut kept: Vec<Diagnostic> = found
        .into_iter()
        .filter(|d| {
            by_file
                .get_mut(&d.primary.file)
                .is_none_or(|s| !s.suppresses(d))
        })
        .collect();
    if selection.is_enabled("PC001") {
        for s in by_file.values() {
            kept.extend(
                s.unused(|code| selection.is_enabled(code))
                    .into_iter()
                    .map(|mut d| {
                        d.severity = selection.severity_of(d.code, d.severity);
                        d
                    }),
            );
        }
    }
    kept
}
