//! `.Capabilities` as `helm template` sees it without a cluster: a fixed
//! Kubernetes version and the built-in API groups (no custom resources).

use std::collections::BTreeMap;

use super::values::{Kind, Val};

/// The Kubernetes version assumed for `.Capabilities.KubeVersion` and
/// `semverCompare` against it.
pub const KUBE_VERSION: (u64, u64, u64) = (1, 30, 0);

const BUILT_IN_APIS: &[&str] = &[
    "v1",
    "apps/v1",
    "batch/v1",
    "autoscaling/v1",
    "autoscaling/v2",
    "policy/v1",
    "networking.k8s.io/v1",
    "rbac.authorization.k8s.io/v1",
    "storage.k8s.io/v1",
    "scheduling.k8s.io/v1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "apiextensions.k8s.io/v1",
    "admissionregistration.k8s.io/v1",
    "certificates.k8s.io/v1",
    "events.k8s.io/v1",
    "node.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1",
];

/// `.Capabilities.APIVersions.Has "group/version"` or `"group/version/Kind"`.
pub fn has_api(api: &str) -> bool {
    let group_version = match api.matches('/').count() {
        2 => api.rsplit_once('/').map_or(api, |(gv, _)| gv),
        1 if api.starts_with("v1/") => "v1",
        _ => api,
    };
    BUILT_IN_APIS.contains(&group_version)
}

pub fn value() -> Val {
    let (major, minor, patch) = KUBE_VERSION;
    let version = format!("v{major}.{minor}.{patch}");
    let mut kube = BTreeMap::new();
    kube.insert("Version".to_owned(), Val::str(version.clone()));
    kube.insert("GitVersion".to_owned(), Val::str(version));
    kube.insert("Major".to_owned(), Val::str(major.to_string()));
    kube.insert("Minor".to_owned(), Val::str(minor.to_string()));
    let mut helm = BTreeMap::new();
    helm.insert("Version".to_owned(), Val::str("v3.16.0"));
    let mut caps = BTreeMap::new();
    caps.insert("KubeVersion".to_owned(), Val::map(kube));
    caps.insert("APIVersions".to_owned(), Val::new(Kind::ApiVersions));
    caps.insert("HelmVersion".to_owned(), Val::map(helm));
    Val::map(caps)
}

/// A version `v1.2.3-pre`, read as far as it goes.
fn parse_version(s: &str) -> Option<(u64, u64, u64)> {
    let s = s.trim().trim_start_matches(['v', 'V', '=']);
    let core = s.split(['-', '+']).next()?;
    let mut parts = core.split('.');
    let major = parts.next()?.trim().parse().ok()?;
    let minor = parts.next().map_or(Some(0), |p| {
        if p == "x" || p == "*" {
            Some(0)
        } else {
            p.parse().ok()
        }
    })?;
    let patch = parts.next().map_or(Some(0), |p| {
        if p == "x" || p == "*" {
            Some(0)
        } else {
            p.parse().ok()
        }
    })?;
    Some((major, minor, patch))
}

/// sprig's `semverCompare` for the usual constraint forms (`>=1.19-0`,
/// `>= 1.21, < 1.25`, `^1.2`, `~1.2`, `||`). `None` for a form it does not read.
pub fn semver_compare(constraint: &str, version: &str) -> Option<bool> {
    let version = parse_version(version)?;
    let mut any = false;
    for alternative in constraint.split("||") {
        let mut all = true;
        let normalized = alternative.replace(", ", ",").replace(' ', ",");
        let mut parts: Vec<String> = Vec::new();
        for part in normalized.split(',').filter(|p| !p.is_empty()) {
            // `>= 1.2` was split into `>=` and `1.2`: join them back.
            if let Some(last) = parts.last_mut()
                && last.chars().all(|c| "<>=!~^".contains(c))
            {
                last.push_str(part);
                continue;
            }
            parts.push(part.to_owned());
        }
        for part in &parts {
            let op_len = part
                .find(|c: char| !"<>=!~^".contains(c))
                .unwrap_or(part.len());
            let (op, v) = part.split_at(op_len);
            let want = parse_version(v)?;
            let ok = match op {
                ">=" => version >= want,
                ">" => version > want,
                "<=" => version <= want,
                "<" => version < want,
                "" | "=" | "==" => version == want,
                "!=" => version != want,
                "~" | "~>" => version >= want && version < (want.0, want.1 + 1, 0),
                "^" => version >= want && version < (want.0 + 1, 0, 0),
                _ => return None,
            };
            all &= ok;
        }
        any |= all;
    }
    Some(any)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraints_charts_use() {
        let v = "v1.30.0";
        assert_eq!(semver_compare(">=1.19-0", v), Some(true));
        assert_eq!(semver_compare("<1.21-0", v), Some(false));
        assert_eq!(semver_compare(">= 1.21, < 1.31", v), Some(true));
        assert_eq!(semver_compare("^1.2 || ^2", v), Some(true));
        assert_eq!(semver_compare("~1.29", v), Some(false));
        assert_eq!(semver_compare("what", v), None);
        assert!(has_api("autoscaling/v2"));
        assert!(has_api("apps/v1/Deployment"));
        assert!(!has_api("keda.sh/v1alpha1"));
    }
}
