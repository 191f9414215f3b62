//! Kubernetes (manifests, kustomize overlays, Helm-rendered templates):
//! what a workload's process groups need beyond the shared workload
//! lowering in `compose.rs` — replica bounds and rollout surge (from the
//! workload, an autoscaler naming it, a kustomize overlay; compose
//! `deploy.replicas` for a compose service), the Dockerfile an image-only
//! workload runs, and the ConfigMaps its environment imports.

use std::path::{Path, PathBuf};

use poolcheck_core::facts::deploy::{
    Autoscaler, Kustomization, Platform, ReplicaOverride, SurgeRule, Workload,
};
use poolcheck_core::{EnvVar, Environment, FileFacts, FileKind, FilePath, Sourced};
use poolcheck_extract::{compose, kubernetes};

use crate::topology::Scaling;
use crate::workspace::{Workspace, root_relative};

/// The replica bounds and surge of `workload`: an autoscaler's maximum,
/// else the declared replicas, else one (or unknown, for a DaemonSet).
pub(super) fn of_workload(
    workspace: &Workspace,
    workload: &Workload,
    env: &Environment,
) -> Scaling {
    let object = workload.name.split('/').next().unwrap_or(&workload.name);
    let overlay = (workload.platform == Platform::Kubernetes)
        .then(|| kustomize_replicas(workspace, &workload.name_location.file, object))
        .flatten();
    let declared = match &overlay {
        Some((count, _)) => Some(count.clone()),
        None => compose::replicas(workload, env),
    };
    let autoscaler = (workload.platform == Platform::Kubernetes)
        .then(|| autoscaler_of(workspace, &workload.scaling.kind, object))
        .flatten();
    let kind = if workload.scaling.kind.is_empty() {
        "compose service".to_owned()
    } else {
        workload.scaling.kind.clone()
    };
    let (min, max, source) = match autoscaler {
        Some(a) => {
            let max = Sourced::literal(a.max, a.max_location.clone());
            let min = match a.min {
                Some(min) => Sourced::literal(min, a.max_location.clone()),
                None => Sourced::tool_default(1, format!("{} default minimum", a.kind)),
            };
            (min, max, format!("{} `{}` maximum", a.kind, a.name))
        }
        None => match declared {
            Some(replicas) => {
                let source = match &overlay {
                    Some((_, kustomization)) => {
                        format!("kustomize overlay {kustomization} replicas of `{object}`")
                    }
                    None => format!("{kind} `{object}` replicas"),
                };
                (replicas.clone(), replicas, source)
            }
            None => {
                if let Some((reason, at)) = &workload.scaling.unknown_replicas {
                    let unknown = Sourced::unknown(reason.clone(), Some(at.clone()));
                    (unknown.clone(), unknown, format!("{kind} `{object}`"))
                } else {
                    let one = Sourced::tool_default(1, format!("{kind} default of one replica"));
                    (
                        one.clone(),
                        one,
                        format!("{kind} `{object}` (no replicas: one)"),
                    )
                }
            }
        },
    };
    let surge = match &workload.scaling.surge {
        None => Sourced::tool_default(0, "no rolling-update surge"),
        Some(surge) => {
            let extra = surge.rule.extra(max.value.unwrap_or(1));
            match (&surge.location, surge.rule) {
                (Some(at), SurgeRule::Count(_)) => Sourced::literal(extra, at.clone()),
                (Some(at), SurgeRule::Percent(p)) => Sourced::computed(
                    extra,
                    format!(
                        "maxSurge {p}% of {} replicas, rounded up",
                        max.value.unwrap_or(1)
                    ),
                    Some(at.clone()),
                ),
                (None, _) => Sourced::tool_default(
                    extra,
                    format!(
                        "Kubernetes default maxSurge 25% of {} replicas, rounded up",
                        max.value.unwrap_or(1)
                    ),
                ),
            }
        }
    };
    Scaling {
        min,
        max,
        surge,
        source,
    }
}

/// The autoscaler (HPA or KEDA ScaledObject) that targets the object, in
/// any manifest of the repository.
fn autoscaler_of<'w>(workspace: &'w Workspace, kind: &str, object: &str) -> Option<&'w Autoscaler> {
    workspace
        .facts
        .iter()
        .filter(|f| f.kind.declares_kubernetes_objects())
        .filter_map(|f| f.deploy.as_ref())
        .flat_map(|d| d.autoscalers.iter())
        .find(|a| a.target == object && (kind.is_empty() || a.target_kind == kind))
}

/// Images that are not the project's code even when no command is given.
fn is_infrastructure_image(workload: &Workload) -> bool {
    let Some(image) = &workload.image else {
        return true;
    };
    let last = image.name.rsplit('/').next().unwrap_or(&image.name);
    compose::is_postgres_image(image)
        || compose::is_pgbouncer_image(image)
        || [
            "proxy",
            "redis",
            "nginx",
            "memcached",
            "rabbitmq",
            "envoy",
            "statsd",
            "exporter",
        ]
        .iter()
        .any(|infra| last.contains(infra))
}

/// The Dockerfile an image-only Kubernetes container runs: an image pushed
/// to a registry (`gcr.io/…/polls`) by the project, built from the nearest
/// Dockerfile at or above the manifest's directory, else the repository's
/// only one. Sidecars and infrastructure images run no project code.
pub(super) fn image_dockerfile<'w>(
    workspace: &'w Workspace,
    manifest: &FilePath,
    workload: &Workload,
) -> Option<&'w FileFacts> {
    if workload.name.contains('/') || is_infrastructure_image(workload) {
        return None;
    }
    let image = workload.image.as_ref()?;
    let registry = image
        .name
        .split('/')
        .next()
        .is_some_and(|first| first.contains('.') || first.contains(':'))
        && image.name.contains('/');
    if !registry {
        return None;
    }
    let dockerfiles: Vec<&FileFacts> = workspace
        .facts
        .iter()
        .filter(|f| f.kind == FileKind::Dockerfile)
        .collect();
    let mut dir = manifest.as_path().parent();
    while let Some(current) = dir {
        if let Some(found) = dockerfiles
            .iter()
            .find(|f| f.path.as_path().parent() == Some(current))
        {
            return Some(found);
        }
        dir = current.parent();
    }
    match dockerfiles.as_slice() {
        [only] => Some(only),
        _ => None,
    }
}

/// A ConfigMap of the repository as variables: every key (`envFrom`), or
/// one key under the variable name (`valueFrom.configMapKeyRef`).
pub(super) fn config_map_environment(
    workspace: &Workspace,
    name: &str,
    selection: Option<&(String, String)>,
) -> Option<Environment> {
    let wanted = kubernetes::config_map_source(name);
    let layer = workspace
        .facts
        .iter()
        .filter_map(|f| f.deploy.as_ref())
        .flat_map(|d| d.config_maps.iter())
        .find(|layer| layer.source == wanted)?;
    let mut env = Environment::new();
    for entry in &layer.entries {
        let variable = match selection {
            None => entry.name.clone(),
            Some((key, variable)) if *key == entry.name => variable.clone(),
            Some(_) => continue,
        };
        env.set(
            variable,
            EnvVar {
                value: entry.value.clone(),
                source: format!("{} ({})", layer.source, entry.name_location.file),
                location: Some(entry.value_location.clone()),
            },
        );
    }
    Some(env)
}

/// A kustomization of the repository, by its directory.
struct Kustomize<'w> {
    dir: PathBuf,
    path: &'w FilePath,
    kustomization: &'w Kustomization,
}

fn normalized(path: &Path) -> PathBuf {
    poolcheck_core::normalize_lexically(root_relative(path).as_path())
}

fn kustomizations(workspace: &Workspace) -> Vec<Kustomize<'_>> {
    workspace
        .facts
        .iter()
        .filter_map(|f| {
            let kustomization = f.deploy.as_ref()?.kustomization.as_ref()?;
            Some(Kustomize {
                dir: normalized(f.path.as_path().parent().unwrap_or(Path::new(""))),
                path: &f.path,
                kustomization,
            })
        })
        .collect()
}

/// The resources of a kustomization: other kustomizations (by index) and
/// manifest files.
fn resources(all: &[Kustomize<'_>], k: &Kustomize<'_>) -> (Vec<usize>, Vec<PathBuf>) {
    let mut children = Vec::new();
    let mut files = Vec::new();
    for resource in &k.kustomization.resources {
        let path = normalized(&k.dir.join(resource));
        match all.iter().position(|other| other.dir == path) {
            Some(index) => children.push(index),
            None => files.push(path),
        }
    }
    (children, files)
}

/// True for a file a kustomization applies as a patch: it changes a
/// workload of another file rather than describing one.
pub(super) fn is_kustomize_patch(workspace: &Workspace, path: &FilePath) -> bool {
    let path = normalized(path.as_path());
    kustomizations(workspace).iter().any(|k| {
        k.kustomization
            .patch_files
            .iter()
            .any(|p| normalized(&k.dir.join(p)) == path)
    })
}

/// The replica count kustomize gives the object of `manifest`: each leaf
/// overlay (one no other kustomization includes) that includes the file
/// sets the count nearest to it (the overlay over its bases); across
/// leaf overlays the largest counts, since each is a configuration that
/// may be deployed. Returns the count and the overlay's path.
fn kustomize_replicas(
    workspace: &Workspace,
    manifest: &FilePath,
    object: &str,
) -> Option<(Sourced<i64>, String)> {
    let all = kustomizations(workspace);
    if all.is_empty() {
        return None;
    }
    let manifest = normalized(manifest.as_path());
    let included: Vec<usize> = all.iter().flat_map(|k| resources(&all, k).0).collect();
    let patch_counts = |k: &Kustomize<'_>| -> Option<ReplicaOverride> {
        let own = k
            .kustomization
            .replicas
            .iter()
            .rev()
            .find(|r| r.name == object);
        let patched = k.kustomization.patch_files.iter().find_map(|p| {
            let path = normalized(&k.dir.join(p));
            workspace
                .facts
                .iter()
                .find(|f| normalized(f.path.as_path()) == path)?
                .deploy
                .as_ref()?
                .patch_replicas
                .iter()
                .find(|r| r.name == object)
        });
        own.or(patched).cloned()
    };
    (0..all.len())
        .filter(|i| !included.contains(i))
        .filter_map(|leaf| {
            let Reach::Included(found) = find(&all, leaf, &manifest, &patch_counts, 0) else {
                return None;
            };
            let found = found?;
            Some((found, all[leaf].path.display_string()))
        })
        .max_by_key(|(r, _)| r.count)
        .map(|(r, overlay)| (Sourced::literal(r.count, r.location), overlay))
}

/// Whether a kustomization includes a manifest, and the replica count the
/// nearest kustomization on the way sets.
enum Reach {
    NotIncluded,
    Included(Option<ReplicaOverride>),
}

fn find(
    all: &[Kustomize<'_>],
    index: usize,
    manifest: &Path,
    own: &dyn Fn(&Kustomize<'_>) -> Option<ReplicaOverride>,
    depth: usize,
) -> Reach {
    // kustomize rejects cycles; a bound keeps a cyclic repository finite.
    if depth > 16 {
        return Reach::NotIncluded;
    }
    let k = &all[index];
    let (children, files) = resources(all, k);
    let here = own(k);
    if files.iter().any(|f| f == manifest) {
        return Reach::Included(here);
    }
    for child in children {
        if let Reach::Included(inner) = find(all, child, manifest, own, depth + 1) {
            return Reach::Included(here.or(inner));
        }
    }
    Reach::NotIncluded
}
