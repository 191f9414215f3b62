//! Kubernetes manifests: multi-document YAML read into platform-neutral
//! [`Workload`]s, with their containers' commands, environment, images and
//! scaling, plus the autoscalers (HPA, KEDA ScaledObject) and ConfigMaps the
//! rules crate matches to workloads by name across files.
//!
//! Each container of a pod is a workload of its own (a PgBouncer or Cloud
//! SQL proxy sidecar is not the app), sharing the pod's replicas and the
//! Services that select it; the first container carries the object's name.
//! Plain init containers run to completion before the app and hold no
//! connection steadily, so only native sidecars (`restartPolicy: Always`)
//! among them are read.
//!
//! # Reading rendered text (Helm)
//!
//! [`read_documents`] reads manifests from any text together with a function
//! that maps a byte span of that text to the [`Location`] to report: a plain
//! file maps spans to themselves ([`extract`]), a template renderer maps them
//! to the values-file or template line the text came from. Shell-word spans
//! inside [`CommandSite`]s stay in the text's own coordinates.

use poolcheck_core::Code;
use poolcheck_core::facts::deploy::{
    Autoscaler, CommandOrigin, CommandSite, ComposeEnvEntry, ComposeEnvFile, ComposeImage,
    DeployFacts, EnvEntry, EnvLayer, Platform, ReplicaOverride, Scaling, ShellWord, Surge,
    SurgeRule, Workload,
};
use poolcheck_core::{Diagnostic, FileFacts, Location, Severity, SourceFile, Span};
use saphyr::{LoadableYamlNode, MarkedYaml, YamlData};

use crate::compose::split_image;
use crate::shell;
use crate::yaml::{Positions, entries, get, scalar_text};
use crate::{commands, kustomize};

/// Cheap test of a YAML file's content: a Kubernetes object has both
/// `apiVersion:` and `kind:` at the start of a line; a kustomization may
/// have neither, so its name decides.
pub fn looks_like_manifest(path: &std::path::Path, text: &str) -> bool {
    let named_kustomization = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
        n.eq_ignore_ascii_case("kustomization.yaml") || n.eq_ignore_ascii_case("kustomization.yml")
    });
    let at_line_start = |key: &str| text.starts_with(key) || text.contains(&format!("\n{key}"));
    named_kustomization || at_line_start("apiVersion:") && at_line_start("kind:")
}

/// Reads a manifest file.
pub fn extract(file: &SourceFile, facts: &mut FileFacts) {
    let path = file.path().clone();
    let locate = move |span: Span| Location::new(path.clone(), span);
    read_documents(file.text(), &locate, facts);
}

/// Reads every Kubernetes object of `text` into `facts.deploy`, reporting
/// at `locate(span)` (see the module documentation).
pub fn read_documents(text: &str, locate: &dyn Fn(Span) -> Location, facts: &mut FileFacts) {
    let mut deploy = facts.deploy.take().unwrap_or_default();
    let positions = Positions::new(text);
    let docs = match MarkedYaml::load_from_str(text) {
        Ok(docs) => docs,
        Err(error) => {
            let offset = positions.byte(error.marker().index());
            facts.diagnostics.push(Diagnostic::new(
                Code::PC004,
                Severity::Info,
                locate(Span::new(offset, offset)),
                format!(
                    "cannot read this Kubernetes manifest ({}), so its workloads are left out of the budget",
                    error.info()
                ),
            ));
            facts.deploy = Some(deploy);
            return;
        }
    };
    let reader = Reader {
        positions: &positions,
        locate,
    };
    let mut selectors: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let mut pod_labels: Vec<(usize, Vec<(String, String)>)> = Vec::new();
    let file_name = locate(Span::empty(0)).file.file_name().to_ascii_lowercase();
    let named = file_name == "kustomization.yaml" || file_name == "kustomization.yml";
    for doc in &docs {
        if kustomize::is_kustomization(doc, &positions, named) {
            deploy.kustomization = Some(kustomize::read(doc, &positions, locate));
            continue;
        }
        let Some(kind) = get(doc, "kind").and_then(|k| scalar_text(k, &positions)) else {
            continue;
        };
        let metadata = get(doc, "metadata");
        let name_node = metadata.and_then(|m| get(m, "name"));
        let Some(name) = name_node.and_then(|n| scalar_text(n, &positions)) else {
            continue;
        };
        let name_span = name_node.map_or_else(|| positions.span(doc), |n| positions.span(n));
        let spec = get(doc, "spec");
        match kind.as_str() {
            "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" | "CronJob" => {
                let Some(spec) = spec else { continue };
                if spec_template(&kind, spec).is_none() {
                    if let Some(count) = get(spec, "replicas")
                        && let Some(value) = reader.int(count)
                    {
                        deploy.patch_replicas.push(ReplicaOverride {
                            name: name.clone(),
                            count: value,
                            location: reader.location(count),
                        });
                    }
                    continue;
                }
                let first = deploy.workloads.len();
                reader.read_workload(&kind, &name, name_span, spec, &mut deploy, facts);
                let labels = spec_template(&kind, spec)
                    .and_then(|t| get(t, "metadata"))
                    .and_then(|m| get(m, "labels"))
                    .map(|l| reader.string_map(l))
                    .unwrap_or_default();
                for index in first..deploy.workloads.len() {
                    pod_labels.push((index, labels.clone()));
                }
            }
            "HorizontalPodAutoscaler" | "ScaledObject" => {
                if let Some(spec) = spec
                    && let Some(autoscaler) = reader.autoscaler(&kind, &name, name_span, spec)
                {
                    deploy.autoscalers.push(autoscaler);
                }
            }
            "ConfigMap" => {
                if let Some(data) = get(doc, "data") {
                    deploy.config_maps.push(EnvLayer {
                        source: config_map_source(&name),
                        entries: reader.env_entries(data),
                    });
                }
            }
            "Service" => {
                let selector = spec
                    .and_then(|s| get(s, "selector"))
                    .map(|s| reader.string_map(s))
                    .unwrap_or_default();
                if !selector.is_empty() {
                    selectors.push((name, selector));
                }
            }
            _ => {}
        }
    }
    // A Service's name is a host name of the pods it selects.
    for (service, selector) in selectors {
        for (index, labels) in &pod_labels {
            let selected = selector.iter().all(|pair| labels.contains(pair));
            let workload = &mut deploy.workloads[*index];
            if selected && workload.name != service && !workload.aliases.contains(&service) {
                workload.aliases.push(service.clone());
            }
        }
    }
    facts.deploy = Some(deploy);
}

/// The [`EnvLayer::source`] of a ConfigMap, by which workloads find it.
pub fn config_map_source(name: &str) -> String {
    format!("ConfigMap {name}")
}

/// The pod template of a workload's spec.
fn spec_template<'n, 'i>(kind: &str, spec: &'n MarkedYaml<'i>) -> Option<&'n MarkedYaml<'i>> {
    if kind == "CronJob" {
        get(spec, "jobTemplate")
            .and_then(|j| get(j, "spec"))
            .and_then(|s| get(s, "template"))
    } else {
        get(spec, "template")
    }
}

struct Reader<'a> {
    positions: &'a Positions<'a>,
    locate: &'a dyn Fn(Span) -> Location,
}

impl Reader<'_> {
    fn location(&self, node: &MarkedYaml<'_>) -> Location {
        (self.locate)(self.positions.trimmed_span(node))
    }

    fn text(&self, node: &MarkedYaml<'_>) -> Option<String> {
        scalar_text(node, self.positions)
    }

    fn int(&self, node: &MarkedYaml<'_>) -> Option<i64> {
        self.text(node)?.trim().parse().ok()
    }

    /// A scalar as one literal shell word (Kubernetes does not interpolate
    /// `${VAR}`; its `$(VAR)` stays an unknown part).
    fn word(&self, node: &MarkedYaml<'_>) -> Option<ShellWord> {
        let text = self.text(node)?;
        Some(shell::parse_interpolated(
            &text,
            &self.positions.value_map(node, &text),
        ))
    }

    fn string_map(&self, node: &MarkedYaml<'_>) -> Vec<(String, String)> {
        entries(node)
            .into_iter()
            .filter_map(|(k, _, v)| Some((k, self.text(v)?)))
            .collect()
    }

    fn env_entries(&self, data: &MarkedYaml<'_>) -> Vec<EnvEntry> {
        entries(data)
            .into_iter()
            .filter_map(|(name, key, value)| {
                Some(EnvEntry {
                    name,
                    value: self.text(value)?,
                    name_location: self.location(key),
                    value_location: self.location(value),
                })
            })
            .collect()
    }

    fn read_workload(
        &self,
        kind: &str,
        name: &str,
        name_span: Span,
        spec: &MarkedYaml<'_>,
        deploy: &mut DeployFacts,
        facts: &mut FileFacts,
    ) {
        let mut scaling = Scaling {
            kind: kind.to_owned(),
            ..Scaling::default()
        };
        match kind {
            "Job" => scaling.replicas = get(spec, "parallelism").and_then(|n| self.word(n)),
            "CronJob" => {
                scaling.replicas = get(spec, "jobTemplate")
                    .and_then(|j| get(j, "spec"))
                    .and_then(|s| get(s, "parallelism"))
                    .and_then(|n| self.word(n));
            }
            "DaemonSet" => {
                scaling.unknown_replicas = Some((
                    "a DaemonSet runs one pod on every node, and the node count is in no file"
                        .to_owned(),
                    (self.locate)(name_span),
                ));
            }
            _ => scaling.replicas = get(spec, "replicas").and_then(|n| self.word(n)),
        }
        if kind == "Deployment" {
            scaling.surge = Some(self.surge(spec));
        }
        let Some(pod) = spec_template(kind, spec).and_then(|t| get(t, "spec")) else {
            return;
        };
        let mut containers: Vec<&MarkedYaml<'_>> = Vec::new();
        if let Some(YamlData::Sequence(items)) = get(pod, "containers").map(|c| &c.data) {
            containers.extend(items.iter());
        }
        if let Some(YamlData::Sequence(items)) = get(pod, "initContainers").map(|c| &c.data) {
            containers.extend(items.iter().filter(|c| {
                get(c, "restartPolicy")
                    .and_then(|r| self.text(r))
                    .is_some_and(|r| r == "Always")
            }));
        }
        for (index, container) in containers.into_iter().enumerate() {
            let container_name = get(container, "name")
                .and_then(|n| self.text(n))
                .unwrap_or_else(|| index.to_string());
            let workload_name = if index == 0 {
                name.to_owned()
            } else {
                format!("{name}/{container_name}")
            };
            let workload = self.read_container(
                &workload_name,
                name,
                &container_name,
                name_span,
                container,
                scaling.clone(),
                deploy,
            );
            for site_index in &workload.commands {
                if let Some(site) = deploy.commands.get(*site_index) {
                    commands::check_site(
                        site,
                        Some(&workload.name),
                        &mut facts.diagnostics,
                        &mut deploy.links,
                    );
                }
            }
            deploy.workloads.push(workload);
        }
    }

    /// `strategy.rollingUpdate.maxSurge` (a count or a percentage), 0 for
    /// `Recreate`, else Kubernetes' default of 25 %.
    fn surge(&self, spec: &MarkedYaml<'_>) -> Surge {
        let strategy = get(spec, "strategy");
        if let Some(kind) = strategy.and_then(|s| get(s, "type"))
            && self.text(kind).as_deref() == Some("Recreate")
        {
            return Surge {
                rule: SurgeRule::Count(0),
                location: Some(self.location(kind)),
            };
        }
        let max_surge = strategy
            .and_then(|s| get(s, "rollingUpdate"))
            .and_then(|r| get(r, "maxSurge"));
        if let Some(node) = max_surge
            && let Some(text) = self.text(node)
        {
            let text = text.trim();
            let rule = match text.strip_suffix('%') {
                Some(percent) => percent.trim().parse().ok().map(SurgeRule::Percent),
                None => text.parse().ok().map(SurgeRule::Count),
            };
            if let Some(rule) = rule {
                return Surge {
                    rule,
                    location: Some(self.location(node)),
                };
            }
        }
        Surge {
            rule: SurgeRule::Percent(25),
            location: None,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn read_container(
        &self,
        workload_name: &str,
        object: &str,
        container_name: &str,
        name_span: Span,
        container: &MarkedYaml<'_>,
        scaling: Scaling,
        deploy: &mut DeployFacts,
    ) -> Workload {
        let mut workload = Workload {
            platform: Platform::Kubernetes,
            name: workload_name.to_owned(),
            name_location: (self.locate)(name_span),
            image: None,
            build: None,
            commands: Vec::new(),
            environment: Vec::new(),
            env_files: Vec::new(),
            scaling,
            aliases: Vec::new(),
        };
        if let Some(image) = get(container, "image")
            && let Some(text) = self.text(image)
        {
            let (name, tag) = split_image(&text);
            workload.image = Some(ComposeImage {
                name,
                tag,
                location: self.location(image),
            });
        }
        let command = get(container, "command");
        let args = get(container, "args");
        let mut words = Vec::new();
        let mut span: Option<Span> = None;
        for node in [command, args].into_iter().flatten() {
            if let YamlData::Sequence(items) = &node.data {
                words.extend(items.iter().filter_map(|item| self.word(item)));
                let node_span = self.positions.trimmed_span(node);
                span = Some(span.map_or(node_span, |s| s.cover(node_span)));
            }
        }
        if let Some(span) = span
            && !words.is_empty()
        {
            deploy.commands.push(CommandSite {
                location: (self.locate)(span),
                origin: CommandOrigin::Kubernetes {
                    workload: object.to_owned(),
                    container: container_name.to_owned(),
                },
                name_hint: Some(workload_name.to_owned()),
                words,
                assignments: Vec::new(),
            });
            workload.commands.push(deploy.commands.len() - 1);
        }
        if let Some(YamlData::Sequence(items)) = get(container, "env").map(|e| &e.data) {
            for item in items {
                self.env_item(item, &mut workload);
            }
        }
        if let Some(YamlData::Sequence(items)) = get(container, "envFrom").map(|e| &e.data) {
            // `envFrom` comes before `env`: explicit variables win.
            let imports: Vec<ComposeEnvFile> = items
                .iter()
                .filter_map(|item| {
                    let reference = get(item, "configMapRef")?;
                    let name = get(reference, "name")?;
                    Some(ComposeEnvFile {
                        path: self.text(name)?,
                        location: self.location(name),
                        required: !optional(reference, self),
                        config_map: Some(None),
                    })
                })
                .collect();
            workload.env_files.splice(0..0, imports);
        }
        workload
    }

    fn env_item(&self, item: &MarkedYaml<'_>, workload: &mut Workload) {
        let Some(name_node) = get(item, "name") else {
            return;
        };
        let Some(name) = self.text(name_node) else {
            return;
        };
        if let Some(value) = get(item, "value") {
            let word = self.word(value).unwrap_or(ShellWord {
                parts: Vec::new(),
                span: self.positions.span(value),
            });
            workload.environment.push(ComposeEnvEntry {
                name,
                value: Some(word),
                name_location: self.location(name_node),
                value_location: self.location(value),
            });
            return;
        }
        let reference = get(item, "valueFrom").and_then(|v| get(v, "configMapKeyRef"));
        if let Some(reference) = reference
            && let Some(map) = get(reference, "name")
            && let Some(map_name) = self.text(map)
            && let Some(key) = get(reference, "key").and_then(|k| self.text(k))
        {
            workload.env_files.push(ComposeEnvFile {
                path: map_name,
                location: self.location(map),
                required: !optional(reference, self),
                config_map: Some(Some((key, name))),
            });
        }
    }

    fn autoscaler(
        &self,
        kind: &str,
        name: &str,
        name_span: Span,
        spec: &MarkedYaml<'_>,
    ) -> Option<Autoscaler> {
        let target = get(spec, "scaleTargetRef")?;
        let target_name = self.text(get(target, "name")?)?;
        let target_kind = get(target, "kind")
            .and_then(|k| self.text(k))
            .unwrap_or_else(|| "Deployment".to_owned());
        let (min_key, max_key, default_max) = if kind == "ScaledObject" {
            // KEDA's documented default maximum.
            ("minReplicaCount", "maxReplicaCount", Some(100))
        } else {
            ("minReplicas", "maxReplicas", None)
        };
        let max_node = get(spec, max_key);
        let max = max_node.and_then(|n| self.int(n)).or(default_max)?;
        Some(Autoscaler {
            kind: kind.to_owned(),
            name: name.to_owned(),
            target_kind,
            target: target_name,
            min: get(spec, min_key).and_then(|n| self.int(n)),
            max,
            max_location: max_node.map_or_else(|| (self.locate)(name_span), |n| self.location(n)),
        })
    }
}

fn optional(reference: &MarkedYaml<'_>, reader: &Reader<'_>) -> bool {
    get(reference, "optional")
        .and_then(|o| reader.text(o))
        .is_some_and(|o| o == "true")
}

#[cfg(test)]
mod tests {
    use poolcheck_core::facts::deploy::{DeployFacts, ShellWord, SurgeRule};
    use poolcheck_core::{FileFacts, FileKind, SourceFile};

    fn read(path: &str, text: &str) -> (DeployFacts, FileFacts) {
        let file = SourceFile::new(poolcheck_core::FilePath::new(path), text.to_owned());
        let mut facts = FileFacts::new(file.path().clone(), FileKind::Kubernetes);
        super::extract(&file, &mut facts);
        (facts.deploy.clone().expect("deploy facts"), facts)
    }

    const APP: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 8
  strategy:
    rollingUpdate:
      maxSurge: 50%
  template:
    metadata:
      labels: {app: web, tier: front}
    spec:
      initContainers:
        - name: migrate
          image: ghcr.io/x/web
          command: [python, manage.py, migrate]
      containers:
        - name: app
          image: ghcr.io/x/web:2
          command: [sh, -c]
          args: [\"gunicorn -w 3 app:app\"]
        - name: proxy
          image: gcr.io/cloud-sql-connectors/cloud-sql-proxy:2
          args: [--port=5432, proj:region:db]
---
apiVersion: v1
kind: Service
metadata: {name: web-svc}
spec:
  selector: {app: web}
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: web-scaler}
spec:
  scaleTargetRef: {name: web}
";

    #[test]
    fn every_document_is_read_and_each_container_is_a_workload() {
        let (deploy, facts) = read("k8s/web.yaml", APP);
        assert!(facts.diagnostics.is_empty(), "{:?}", facts.diagnostics);
        let names: Vec<&str> = deploy.workloads.iter().map(|w| w.name.as_str()).collect();
        // The init container runs to completion before the app: not a workload.
        assert_eq!(names, ["web", "web/proxy"]);
        let web = &deploy.workloads[0];
        assert_eq!(web.scaling.kind, "Deployment");
        assert_eq!(
            web.scaling
                .replicas
                .as_ref()
                .and_then(ShellWord::literal_text)
                .as_deref(),
            Some("8")
        );
        assert_eq!(
            web.scaling.surge.as_ref().map(|s| s.rule),
            Some(SurgeRule::Percent(50))
        );
        assert_eq!(web.aliases, ["web-svc"]);
        let words: Vec<String> = deploy.commands[web.commands[0]]
            .words
            .iter()
            .filter_map(ShellWord::literal_text)
            .collect();
        assert_eq!(words, ["sh", "-c", "gunicorn -w 3 app:app"]);
        // KEDA's default maximum.
        assert_eq!(deploy.autoscalers[0].max, 100);
        assert_eq!(deploy.autoscalers[0].target, "web");
    }

    #[test]
    fn daemonsets_have_no_replica_count_and_jobs_run_their_parallelism() {
        let (deploy, _) = read(
            "k8s/jobs.yaml",
            "\
kind: DaemonSet
apiVersion: apps/v1
metadata: {name: agent}
spec:
  template:
    spec:
      containers: [{name: a, image: ghcr.io/x/agent, args: [celery, worker]}]
---
kind: CronJob
apiVersion: batch/v1
metadata: {name: nightly}
spec:
  schedule: '0 3 * * *'
  jobTemplate:
    spec:
      parallelism: 4
      template:
        spec:
          containers: [{name: n, image: ghcr.io/x/app}]
---
kind: Deployment
apiVersion: apps/v1
metadata: {name: old}
spec:
  strategy: {type: Recreate}
  template:
    spec:
      containers: [{name: o, image: ghcr.io/x/app}]
",
        );
        let agent = &deploy.workloads[0];
        assert!(agent.scaling.unknown_replicas.is_some());
        assert!(agent.scaling.surge.is_none());
        let nightly = &deploy.workloads[1];
        assert_eq!(
            nightly
                .scaling
                .replicas
                .as_ref()
                .and_then(ShellWord::literal_text)
                .as_deref(),
            Some("4")
        );
        let old = &deploy.workloads[2];
        assert_eq!(
            old.scaling.surge.as_ref().map(|s| s.rule),
            Some(SurgeRule::Count(0))
        );
    }

    #[test]
    fn config_map_imports_are_recorded_and_config_maps_kept() {
        let (deploy, _) = read(
            "k8s/app.yaml",
            "\
kind: ConfigMap
apiVersion: v1
metadata: {name: settings}
data: {WEB_CONCURRENCY: '5', DATABASE_URL: 'postgres://db/app'}
---
kind: Deployment
apiVersion: apps/v1
metadata: {name: web}
spec:
  template:
    spec:
      containers:
        - name: web
          image: ghcr.io/x/app
          envFrom: [{configMapRef: {name: settings}}]
          env:
            - {name: POOL, valueFrom: {configMapKeyRef: {name: settings, key: WEB_CONCURRENCY}}}
            - {name: MODE, value: prod}
",
        );
        assert_eq!(deploy.config_maps[0].source, "ConfigMap settings");
        assert_eq!(deploy.config_maps[0].entries.len(), 2);
        let web = &deploy.workloads[0];
        assert_eq!(web.env_files[0].config_map, Some(None));
        assert_eq!(
            web.env_files[1].config_map,
            Some(Some(("WEB_CONCURRENCY".to_owned(), "POOL".to_owned())))
        );
        assert_eq!(web.environment[0].name, "MODE");
    }

    #[test]
    fn kustomizations_record_resources_and_replica_changes() {
        let (deploy, _) = read(
            "overlays/prod/kustomization.yaml",
            "\
resources: [../../base]
replicas: [{name: worker, count: 6}]
patches:
  - target: {kind: Deployment, name: web}
    patch: |-
      - op: replace
        path: /spec/replicas
        value: 9
  - path: more.yaml
",
        );
        let k = deploy.kustomization.expect("a kustomization");
        assert_eq!(k.resources, ["../../base"]);
        assert_eq!(k.patch_files, ["more.yaml"]);
        let counts: Vec<(&str, i64)> = k
            .replicas
            .iter()
            .map(|r| (r.name.as_str(), r.count))
            .collect();
        assert_eq!(counts, [("worker", 6), ("web", 9)]);
        assert!(deploy.workloads.is_empty());
    }

    #[test]
    fn broken_yaml_is_a_diagnostic_not_a_panic() {
        let (deploy, facts) = read("k8s/bad.yaml", "kind: Deployment\napiVersion: v1\n  : [\n");
        assert!(deploy.workloads.is_empty());
        assert_eq!(facts.diagnostics[0].code, "PC004");
    }

    #[test]
    fn only_yaml_with_api_version_and_kind_is_a_manifest() {
        let path = std::path::Path::new("deploy/app.yaml");
        assert!(super::looks_like_manifest(
            path,
            "apiVersion: v1\nkind: Service\n"
        ));
        assert!(!super::looks_like_manifest(path, "name: CI\non: push\n"));
        let kustomization = std::path::Path::new("base/kustomization.yaml");
        assert!(super::looks_like_manifest(
            kustomization,
            "resources: [a.yaml]\n"
        ));
    }
}
