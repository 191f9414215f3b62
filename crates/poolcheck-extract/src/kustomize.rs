//! kustomize's `kustomization.yaml`: the resources an overlay includes and
//! the replica counts it sets (`replicas:`, strategic-merge patches and
//! JSON 6902 patches of `/spec/replicas`, inline or in a patch file of the
//! repository). The rules crate resolves includes and applies the counts;
//! patch files read here are those of this kustomization's own directory.

use poolcheck_core::facts::deploy::{Kustomization, ReplicaOverride};
use poolcheck_core::{Location, Span};
use saphyr::{LoadableYamlNode, MarkedYaml, YamlData};

use crate::yaml::{Positions, get, scalar_text};

/// True for a document that is a kustomization (the kind, or a file named
/// `kustomization.yaml` whose top level has kustomize's keys).
pub(crate) fn is_kustomization(
    doc: &MarkedYaml<'_>,
    positions: &Positions<'_>,
    named: bool,
) -> bool {
    let kind = get(doc, "kind").and_then(|k| scalar_text(k, positions));
    kind.as_deref() == Some("Kustomization")
        || named
            && kind.is_none()
            && [
                "resources",
                "bases",
                "replicas",
                "patches",
                "patchesStrategicMerge",
            ]
            .iter()
            .any(|key| get(doc, key).is_some())
}

/// Reads one kustomization document.
pub(crate) fn read(
    doc: &MarkedYaml<'_>,
    positions: &Positions<'_>,
    locate: &dyn Fn(Span) -> Location,
) -> Kustomization {
    let mut out = Kustomization::default();
    let strings = |key: &str| -> Vec<String> {
        match get(doc, key).map(|n| &n.data) {
            Some(YamlData::Sequence(items)) => items
                .iter()
                .filter_map(|i| scalar_text(i, positions))
                .collect(),
            _ => Vec::new(),
        }
    };
    out.resources = strings("resources");
    out.resources.extend(strings("bases"));
    out.patch_files = strings("patchesStrategicMerge");
    if let Some(YamlData::Sequence(items)) = get(doc, "replicas").map(|n| &n.data) {
        for item in items {
            let name = get(item, "name").and_then(|n| scalar_text(n, positions));
            let count = get(item, "count");
            if let (Some(name), Some(count)) = (name, count)
                && let Some(value) =
                    scalar_text(count, positions).and_then(|c| c.trim().parse().ok())
            {
                out.replicas.push(ReplicaOverride {
                    name,
                    count: value,
                    location: locate(positions.trimmed_span(count)),
                });
            }
        }
    }
    for key in ["patches", "patchesJson6902"] {
        let Some(YamlData::Sequence(items)) = get(doc, key).map(|n| &n.data) else {
            continue;
        };
        for item in items {
            if let Some(path) = get(item, "path").and_then(|p| scalar_text(p, positions)) {
                out.patch_files.push(path);
            }
            let target = get(item, "target")
                .and_then(|t| get(t, "name"))
                .and_then(|n| scalar_text(n, positions));
            if let Some(patch) = get(item, "patch") {
                inline_patch(
                    patch,
                    target.as_deref(),
                    positions,
                    locate,
                    &mut out.replicas,
                );
            }
        }
    }
    out
}

/// An inline patch: a JSON 6902 list (`op: replace, path: /spec/replicas,
/// value: 5`) for `target`, or a strategic-merge object naming itself.
fn inline_patch(
    patch: &MarkedYaml<'_>,
    target: Option<&str>,
    positions: &Positions<'_>,
    locate: &dyn Fn(Span) -> Location,
    out: &mut Vec<ReplicaOverride>,
) {
    let Some(text) = scalar_text(patch, positions) else {
        return;
    };
    let Ok(docs) = MarkedYaml::load_from_str(&text) else {
        return;
    };
    // The patch is a block scalar: its lines are not where the value sits
    // in the file, so the patch itself is the location.
    let location = locate(positions.trimmed_span(patch));
    let inner = Positions::new(&text);
    for doc in &docs {
        if let YamlData::Sequence(ops) = &doc.data {
            let Some(name) = target else { continue };
            for op in ops {
                let path = get(op, "path").and_then(|p| scalar_text(p, &inner));
                let value = get(op, "value")
                    .and_then(|v| scalar_text(v, &inner))
                    .and_then(|v| v.trim().parse().ok());
                let kind = get(op, "op").and_then(|o| scalar_text(o, &inner));
                if path.as_deref() == Some("/spec/replicas")
                    && matches!(kind.as_deref(), Some("replace" | "add"))
                    && let Some(count) = value
                {
                    out.push(ReplicaOverride {
                        name: name.to_owned(),
                        count,
                        location: location.clone(),
                    });
                }
            }
        } else {
            let name = get(doc, "metadata")
                .and_then(|m| get(m, "name"))
                .and_then(|n| scalar_text(n, &inner))
                .or_else(|| target.map(str::to_owned));
            let count = get(doc, "spec")
                .and_then(|s| get(s, "replicas"))
                .and_then(|r| scalar_text(r, &inner))
                .and_then(|r| r.trim().parse().ok());
            if let (Some(name), Some(count)) = (name, count) {
                out.push(ReplicaOverride {
                    name,
                    count,
                    location: location.clone(),
                });
            }
        }
    }
}
