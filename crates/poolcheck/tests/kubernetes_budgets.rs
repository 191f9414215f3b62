//! Kubernetes manifests end to end: each fixture's demand is the one a
//! person computes from its Deployment, autoscaler, overlay or PgBouncer.

use std::path::{Path, PathBuf};
use std::process::Command;

fn project(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/projects")
        .join(name)
}

fn run(dir: &Path, args: &[&str]) -> (String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_poolcheck"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("poolcheck runs");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8(out.stdout).expect("UTF-8"),
        out.status.code().expect("exit code"),
    )
}

fn budget(dir: &Path) -> serde_json::Value {
    let (json, code) = run(dir, &["budget", "--format", "json"]);
    assert_eq!(code, 0, "{json}");
    serde_json::from_str(&json).expect("budget JSON")
}

fn codes(dir: &Path) -> Vec<String> {
    let (json, _) = run(dir, &["check", "--format", "json"]);
    let value: serde_json::Value = serde_json::from_str(&json).expect("check JSON");
    value["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .map(|d| d["code"].as_str().expect("code").to_owned())
        .collect()
}

/// `replicas: 3` × `gunicorn --workers 4` × (pool_size 5 + max_overflow 5)
/// = 120 against the StatefulSet's `-c max_connections=200` (197 usable),
/// reached through the `db` Service's `*.svc.cluster.local` name with
/// DATABASE_URL from a ConfigMap imported by `envFrom`.
#[test]
fn a_deployment_multiplies_replicas_workers_and_pool() {
    let b = budget(&project("k8s-deployment"));
    let db = &b["databases"][0];
    assert_eq!(db["max_connections"], 200);
    assert_eq!(db["usable"], 197);
    assert_eq!(db["demand"], 120);
    let web = &b["services"][0];
    assert_eq!(web["name"], "web");
    assert_eq!(web["replicas"], 3);
    assert_eq!(web["processes"], 4);
    assert_eq!(web["scaling"]["max"], 3);
    // 25 % of 3 replicas, rounded up.
    assert_eq!(web["scaling"]["surge"], 1);
    assert_eq!(db["rollout_demand"], 160);
}

/// An HPA with `maxReplicas: 10` raises the same Deployment to
/// 10 × 4 × 10 = 400 > 197: PC101, and not PC109 for the same server.
#[test]
fn an_hpa_maximum_is_the_replica_count() {
    let dir = project("k8s-hpa");
    let b = budget(&dir);
    let web = &b["services"][0];
    assert_eq!(web["replicas"], 10);
    assert_eq!(web["scaling"]["min"], 3);
    assert_eq!(web["scaling"]["max"], 10);
    assert!(
        web["scaling"]["source"]
            .as_str()
            .expect("source")
            .contains("HorizontalPodAutoscaler")
    );
    assert_eq!(b["databases"][0]["demand"], 400);
    let codes = codes(&dir);
    assert!(codes.contains(&"PC101".to_owned()), "{codes:?}");
    assert!(!codes.contains(&"PC109".to_owned()), "{codes:?}");
}

/// The leaf overlay `overlays/prod` patches `web` to 4 replicas (its
/// sibling `staging` sets 2; the larger configuration counts):
/// 4 × 4 × 10 = 160, and the patch file is not a workload of its own.
#[test]
fn a_kustomize_overlay_patch_sets_the_replicas() {
    let b = budget(&project("k8s-kustomize-overlay"));
    let services = b["services"].as_array().expect("services");
    assert_eq!(services.len(), 1, "{services:#?}");
    assert_eq!(services[0]["replicas"], 4);
    assert!(
        services[0]["scaling"]["source"]
            .as_str()
            .expect("source")
            .contains("overlays/prod")
    );
    assert_eq!(b["databases"][0]["demand"], 160);
}

/// A PgBouncer Deployment of 3 replicas (edoburu image configured by env,
/// DEFAULT_POOL_SIZE 20) reached through its Service: the server side is
/// 3 instances × 20 = 60, the clients' 120 go to PgBouncer.
#[test]
fn a_pgbouncer_deployment_counts_each_instance() {
    let b = budget(&project("k8s-pgbouncer"));
    assert_eq!(b["databases"][0]["demand"], 60);
    let bouncer = &b["pgbouncers"][0];
    assert_eq!(bouncer["client_demand"], 120);
    assert_eq!(bouncer["server_demand"], 60);
}

/// `resources.limits.cpu: "2"` does not change what `os.cpu_count()`
/// reports, so celery's default concurrency stays CPU-dependent: PC107.
#[test]
fn a_cpu_limit_does_not_declare_the_cpu_count() {
    let dir = project("k8s-celery-cpu-limit");
    let codes = codes(&dir);
    assert!(codes.contains(&"PC107".to_owned()), "{codes:?}");
    let b = budget(&dir);
    assert_eq!(b["services"][0]["replicas"], 2);
    // Unknown until `[services.worker] cpu_count` is declared.
    assert!(b["databases"][0]["demand"].is_null());
}

/// A Helm chart rendered with its values: 3 web pods × 4 gunicorn workers ×
/// pool 5 + 2 worker pods × 8 celery processes × pool 5 = 140 steady, and
/// 180 while the worker Deployment surges one pod. With the production
/// values file the HPA (maxReplicas 12) owns the web replicas: 12 × 4 × 5 +
/// 80 = 320 > 297 usable, and the replicas' origin is that values file.
#[test]
fn helm_chart_values_decide_replicas_and_autoscaling() {
    let dir = project("helm-autoscaling");
    let steady = budget(&dir);
    assert_eq!(steady["databases"][0]["demand"], 140, "{steady:#}");
    assert_eq!(steady["databases"][0]["rollout_demand"], 180, "{steady:#}");
    let web = &steady["services"][0];
    assert_eq!(web["replicas"], 3, "{web:#}");
    assert_eq!(web["processes"], 4, "{web:#}");
    assert!(!codes(&dir).contains(&"PC101".to_owned()));

    let values = "helm.values=[\"chart/values-autoscaling.yaml\"]";
    let (json, code) = run(&dir, &["budget", "--format", "json", "--set", values]);
    assert_eq!(code, 0, "{json}");
    let autoscaled: serde_json::Value = serde_json::from_str(&json).expect("budget JSON");
    assert_eq!(autoscaled["databases"][0]["demand"], 320, "{autoscaled:#}");
    assert_eq!(autoscaled["services"][0]["replicas"], 12, "{autoscaled:#}");
    let (human, code) = run(&dir, &["check", "--set", values]);
    assert_eq!(code, 1, "{human}");
    assert!(human.contains("error[PC101]"), "{human}");
    assert!(
        human.contains("chart/values-autoscaling.yaml:4"),
        "the HPA maximum points at the values file that sets it: {human}"
    );
}
