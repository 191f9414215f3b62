use super::*;

const HELPERS: &str = r#"{{/* Expand the name of the chart. */}}
{{- define "app.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "app.fullname" -}}
{{- printf "%s-%s" .Release.Name (include "app.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "app.labels" -}}
app.kubernetes.io/name: {{ include "app.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
"#;

const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "app.fullname" . }}
  labels:
    {{- include "app.labels" . | nindent 4 }}
spec:
  {{- if not .Values.autoscaling.enabled }}
  replicas: {{ .Values.replicaCount }}
  {{- end }}
  template:
    spec:
      containers:
        - name: {{ .Chart.Name }}
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
          command: ["gunicorn", "--workers", {{ .Values.workers | quote }}, "app:app"]
          env:
            {{- range $key, $value := .Values.env }}
            - name: {{ $key }}
              value: {{ $value | quote }}
            {{- end }}
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
"#;

const HPA: &str = r#"{{- if .Values.autoscaling.enabled }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "app.fullname" . }}
spec:
  minReplicas: {{ .Values.autoscaling.minReplicas }}
  maxReplicas: {{ .Values.autoscaling.maxReplicas }}
{{- end }}
"#;

const VALUES: &str = "replicaCount: 3
image:
  repository: example/web
  tag: \"\"
workers: 4
autoscaling:
  enabled: false
  minReplicas: 2
  maxReplicas: 10
env:
  WEB_CONCURRENCY: \"4\"
  DB_POOL_SIZE: 10
resources:
  limits:
    cpu: 500m
    memory: 512Mi
";

const CHART: &str = "apiVersion: v2\nname: web\nversion: 0.1.0\nappVersion: \"1.2.3\"\n";

fn chart(values: &[(&str, &str)], templates: &[(&str, &str)]) -> ChartSources {
    ChartSources {
        chart: Some(SourceFile::new("chart/Chart.yaml", CHART)),
        values: values
            .iter()
            .map(|(path, text)| SourceFile::new(*path, *text))
            .collect(),
        templates: templates
            .iter()
            .map(|(path, text)| SourceFile::new(*path, *text))
            .collect(),
        release_name: None,
        namespace: None,
    }
}

fn render_one(values: &str, template: &str) -> RenderedManifest {
    let rendered = render_chart(&chart(
        &[("chart/values.yaml", values)],
        &[("chart/templates/x.yaml", template)],
    ));
    rendered.manifests.into_iter().next().expect("one manifest")
}

fn web_chart(values: &[(&str, &str)]) -> RenderedChart {
    render_chart(&chart(
        values,
        &[
            ("chart/templates/_helpers.tpl", HELPERS),
            ("chart/templates/deployment.yaml", DEPLOYMENT),
            ("chart/templates/hpa.yaml", HPA),
        ],
    ))
}

fn manifest<'c>(chart: &'c RenderedChart, name: &str) -> &'c RenderedManifest {
    chart
        .manifests
        .iter()
        .find(|m| m.template.file_name() == name)
        .expect("the template is rendered")
}

/// The location of the first occurrence of `needle` in the rendered text.
fn origin_of(m: &RenderedManifest, needle: &str) -> (String, String) {
    let start = m.text.find(needle).expect("the text is rendered");
    let location = m
        .location_of(start..start + needle.len())
        .expect("the text has an origin");
    (
        location.file.display_string(),
        format!("{:?}", location.span),
    )
}

#[test]
fn the_deployment_renders_with_helpers_ranges_and_to_yaml() {
    let rendered = web_chart(&[("chart/values.yaml", VALUES)]);
    assert!(
        rendered.diagnostics.is_empty(),
        "{:?}",
        rendered.diagnostics
    );
    assert_eq!(rendered.name, "web");
    // _helpers.tpl renders nothing of its own.
    assert_eq!(rendered.manifests.len(), 2);
    let deployment = manifest(&rendered, "deployment.yaml");
    let expected = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: release-name-web
  labels:
    app.kubernetes.io/name: web
    app.kubernetes.io/instance: release-name
spec:
  replicas: 3
  template:
    spec:
      containers:
        - name: web
          image: "example/web:1.2.3"
          command: ["gunicorn", "--workers", "4", "app:app"]
          env:
            - name: DB_POOL_SIZE
              value: "10"
            - name: WEB_CONCURRENCY
              value: "4"
          resources:
            limits:
              cpu: 500m
              memory: 512Mi
"#;
    assert_eq!(deployment.text, expected);
    assert!(deployment.unknown.is_empty(), "{:?}", deployment.unknown);
    // The HPA is off: its template renders to nothing but whitespace.
    assert_eq!(manifest(&rendered, "hpa.yaml").text.trim(), "");
}

#[test]
fn replicas_point_at_the_values_line() {
    let rendered = web_chart(&[("chart/values.yaml", VALUES)]);
    let deployment = manifest(&rendered, "deployment.yaml");
    let at = deployment.text.find("replicas: 3").unwrap() + "replicas: ".len();
    let location = deployment.location_of(at..at + 1).unwrap();
    assert_eq!(location.file.display_string(), "chart/values.yaml");
    let values = SourceFile::new("chart/values.yaml", VALUES);
    assert_eq!(values.slice(location.span), "3");
    assert_eq!(values.line_col(location.span.start as usize).line, 1);
    // Literal template text points at the template.
    let (file, _) = origin_of(deployment, "kind: Deployment");
    assert_eq!(file, "chart/templates/deployment.yaml");
    // A quoted value and a toYaml'd leaf keep their values lines.
    let (file, span) = origin_of(deployment, "500m");
    assert_eq!(file, "chart/values.yaml");
    let cpu = VALUES.find("500m").unwrap();
    assert_eq!(span, format!("{:?}", Span::new(cpu, cpu + 4)));
    // The span of the YAML scalar `"4"` (quotes included) is the value's.
    let workers = deployment.text.find("\"4\", \"app").unwrap();
    let location = deployment.location_of(workers..workers + 3).unwrap();
    assert_eq!(values.slice(location.span), "4");
    // A scalar made of template text and a value points at the value.
    let image = deployment.text.find("\"example/web").unwrap();
    let location = deployment.location_of(image..image + "\"example/web:1.2.3\"".len());
    assert_eq!(location.unwrap().file.display_string(), "chart/values.yaml");
}

#[test]
fn an_override_file_wins_and_is_the_origin() {
    let prod = "replicaCount: 8\nautoscaling:\n  enabled: true\n  maxReplicas: 20\n";
    let rendered = web_chart(&[
        ("chart/values.yaml", VALUES),
        ("chart/values-prod.yaml", prod),
    ]);
    let deployment = manifest(&rendered, "deployment.yaml");
    // Autoscaling on: the Deployment leaves replicas to the HPA.
    assert!(
        !deployment.text.contains("replicas:"),
        "{}",
        deployment.text
    );
    let hpa = manifest(&rendered, "hpa.yaml");
    assert!(hpa.text.contains("kind: HorizontalPodAutoscaler"));
    assert!(hpa.text.contains("minReplicas: 2\n"), "{}", hpa.text);
    assert!(hpa.text.contains("maxReplicas: 20"), "{}", hpa.text);
    let (file, _) = origin_of(hpa, "20");
    assert_eq!(file, "chart/values-prod.yaml");
    let min = hpa.text.find("minReplicas: 2").unwrap() + "minReplicas: ".len();
    let location = hpa.location_of(min..min + 1).unwrap();
    assert_eq!(location.file.display_string(), "chart/values.yaml");
}

#[test]
fn trim_markers_follow_go_templates() {
    let m = render_one(
        "a: 1\n",
        "x:\n  {{- .Values.a }}\ny: {{ .Values.a -}}\n\n  z\n",
    );
    assert_eq!(m.text, "x:1\ny: 1z\n");
    let m = render_one("a: 1\n", "{{- /* comment */ -}}\n  k: v\n");
    assert_eq!(m.text, "k: v\n");
}

#[test]
fn default_and_missing_values() {
    let m = render_one(
        "given: 5\nzero: 0\n",
        "a: {{ .Values.missing | default 2 }}\nb: {{ .Values.given | default 2 }}\nc: {{ default 7 .Values.zero }}\nd: {{ .Values.none.deeper }}\n",
    );
    assert_eq!(m.text, "a: 2\nb: 5\nc: 7\nd: \n");
}

#[test]
fn with_range_variables_and_else() {
    let values = "items: [a, b]\nmap:\n  z: 1\n  y: 2\nempty: []\nsub:\n  port: 8000\n";
    let template = "{{- $root := . -}}\n{{- range $i, $v := .Values.items }}{{ $i }}={{ $v }} {{ end }}\n{{- range .Values.empty }}x{{ else }}none{{ end }}\n{{ range $k, $v := .Values.map }}{{ $k }}{{ $v }}{{ end }}\n{{ with .Values.sub }}{{ .port }} {{ $root.Values.items | len }}{{ end }}\n{{ with .Values.nothing }}no{{ else }}else{{ end }}\n";
    let m = render_one(values, template);
    assert_eq!(m.text, "0=a 1=b none\ny2z1\n8000 2\nelse\n");
}

#[test]
fn comparisons_and_logic() {
    let values = "mode: prod\nn: 3\nflag: false\nmap:\n  k: v\n";
    let template = "{{ if and (eq .Values.mode \"prod\") (gt .Values.n 2) }}yes{{ end }}\n{{ if or .Values.flag (not .Values.flag) }}or{{ end }}\n{{ if hasKey .Values.map \"k\" }}has{{ end }}\n{{ ternary \"on\" \"off\" .Values.flag }}\n{{ if empty .Values.missing }}empty{{ end }}\n{{ if ne .Values.mode \"dev\" }}ne{{ end }}\n";
    let m = render_one(values, template);
    assert_eq!(m.text, "yes\nor\nhas\noff\nempty\nne\n");
}

#[test]
fn an_unsupported_function_makes_the_value_unknown_with_its_reason() {
    let m = render_one(
        "replicas: 3\n",
        "replicas: {{ lookup \"v1\" \"Secret\" \"ns\" \"x\" | default .Values.replicas }}\nother: {{ .Values.replicas | b64enc }}\nok: {{ .Values.replicas }}\n",
    );
    assert!(
        m.text
            .starts_with(&format!("replicas: {UNKNOWN_PLACEHOLDER}\n")),
        "{}",
        m.text
    );
    let at = m.text.find(UNKNOWN_PLACEHOLDER).unwrap();
    let reason = m.unknown_reason(at..at + 1).expect("unknown");
    assert!(reason.contains("lookup"), "{reason}");
    assert!(reason.contains("not rendered by poolcheck"), "{reason}");
    assert_eq!(m.unknown.len(), 2);
    assert!(m.unknown[1].1.contains("b64enc"));
    assert!(m.text.ends_with("ok: 3\n"));
}

#[test]
fn an_unknown_condition_renders_neither_branch_and_says_why() {
    let rendered = render_chart(&chart(
        &[("chart/values.yaml", "a: 1\n")],
        &[(
            "chart/templates/x.yaml",
            "{{ if lookup \"v1\" \"Pod\" \"\" \"\" }}replicas: 1{{ else }}replicas: 2{{ end }}\n",
        )],
    ));
    let m = &rendered.manifests[0];
    assert_eq!(m.text, "\n");
    assert!(m.unknown[0].1.contains("lookup"));
    assert_eq!(rendered.diagnostics.len(), 1);
    assert!(rendered.diagnostics[0].message.contains("neither branch"));
}

#[test]
fn include_loops_and_deep_nesting_give_a_diagnostic_not_a_crash() {
    let rendered = crate::on_small_stack(|| {
        render_chart(&chart(
            &[("chart/values.yaml", "a: 1\n")],
            &[
                (
                    "chart/templates/_loop.tpl",
                    "{{ define \"a\" }}{{ include \"b\" . }}{{ end }}{{ define \"b\" }}x{{ include \"a\" . }}{{ end }}",
                ),
                ("chart/templates/x.yaml", "v: {{ include \"a\" . }}\n"),
            ],
        ))
    });
    let m = &rendered.manifests[0];
    assert!(!m.unknown.is_empty());
    assert!(
        rendered
            .diagnostics
            .iter()
            .any(|d| d.message.contains("levels deep")),
        "{:?}",
        rendered.diagnostics
    );
    let deep_if = "{{ if .Values.a }}".repeat(5_000) + "x";
    let deep_parens = format!("{{{{ {}1{} }}}}", "(".repeat(5_000), ")".repeat(5_000));
    let rendered = crate::on_small_stack(move || {
        render_chart(&chart(
            &[("chart/values.yaml", "a: 1\n")],
            &[
                ("chart/templates/if.yaml", deep_if.as_str()),
                ("chart/templates/parens.yaml", deep_parens.as_str()),
            ],
        ))
    });
    assert_eq!(rendered.manifests.len(), 2);
    assert!(rendered.manifests.iter().all(|m| !m.unknown.is_empty()));
}

#[test]
fn huge_loops_stop_with_a_diagnostic() {
    let rendered = render_chart(&chart(
        &[("chart/values.yaml", "a: 1\n")],
        &[(
            "chart/templates/x.yaml",
            "{{ range until 100000 }}{{ range until 100000 }}{{ . }}{{ end }}{{ end }}",
        )],
    ));
    assert!(
        rendered
            .diagnostics
            .iter()
            .any(|d| d.message.contains("stopped rendering")),
        "{:?}",
        rendered.diagnostics
    );
}

#[test]
fn malformed_templates_and_values_do_not_panic() {
    for template in [
        "{{",
        "{{ end }}",
        "{{ if .Values.a }}",
        "{{ .Values.a | }}",
        "{{ include }}",
        "{{ template \"missing\" . }}",
        "{{ printf }}",
        "{{ printf \"%d %s %q %\" 1 }}",
        "{{ index .Values.a 5 }}",
        "{{ trunc -100 \"abc\" }}",
        "{{ nindent -5 \"x\" }}",
        "{{ div 1 0 }}",
        "{{ add 9223372036854775807 1 }}",
        "{{ .Values.a.b.c.d }}",
        "{{ $x }}",
        "{{ break }}{{ continue }}",
        "{{ tpl \"{{ .Values.a }}\" . }}",
        "{{ tpl \"{{\" . }}",
        "{{ .Files.Get \"x\" }}",
        "{{ .Values.a 1 2 }}",
        "é{{ \"ü\" | trunc 1 }}",
    ] {
        for values in ["a: 1\n", "a: [\n", "- list\n", "", "a: !!binary x\n"] {
            let _ = render_one(values, template);
        }
    }
}

#[test]
fn an_unknown_value_piped_into_nindent_keeps_the_document_yaml() {
    let m = render_one(
        "a: 1\n",
        "data:\n  file: |-\n    {{- .Files.Get \"x.yml\" | nindent 4 }}\n",
    );
    assert_eq!(
        m.text,
        format!("data:\n  file: |-\n    {UNKNOWN_PLACEHOLDER}\n")
    );
    assert!(m.unknown[0].1.contains(".Files.Get"), "{:?}", m.unknown);
}

#[test]
fn tpl_and_printf_and_capabilities() {
    let values = "host: db\nurl: \"postgres://{{ .Values.host }}:5432\"\nport: 5432\n";
    let template = "{{ tpl .Values.url . }}\n{{ printf \"%s:%d\" .Values.host .Values.port }}\n{{ if .Capabilities.APIVersions.Has \"autoscaling/v2\" }}v2{{ end }}\n{{ if semverCompare \">=1.23-0\" .Capabilities.KubeVersion.GitVersion }}new{{ end }}\n{{ .Release.Namespace }} {{ .Chart.Version }} {{ .Template.Name }}\n";
    let m = render_one(values, template);
    assert_eq!(
        m.text,
        "postgres://db:5432\ndb:5432\nv2\nnew\ndefault 0.1.0 web/templates/x.yaml\n"
    );
    let (file, _) = origin_of(&m, "5432\nv2");
    assert_eq!(file, "chart/values.yaml");
}

#[test]
fn set_on_a_variable_is_seen_later() {
    let m = render_one(
        "a: 1\n",
        "{{- $d := dict \"x\" 1 -}}\n{{- $_ := set $d \"z\" 2 -}}\n{{ $d.z }} {{ toYaml $d }}\n",
    );
    assert_eq!(m.text, "2 x: 1\nz: 2\n");
}

#[test]
fn yaml_merge_keys_in_values_are_applied() {
    let values = "base: &base\n  enabled: true\n  replicas: 2\nweb:\n  <<: *base\n  replicas: 5\n";
    let m = render_one(
        values,
        "{{ .Values.web.enabled }} {{ .Values.web.replicas }}\n",
    );
    assert_eq!(m.text, "true 5\n");
}

mod fixture {
    use super::*;

    const DIR: &str = "fixtures/projects/helm-autoscaling/chart";

    fn file(name: &str, text: &str) -> SourceFile {
        SourceFile::new(FilePath::new(format!("{DIR}/{name}")), text)
    }

    fn files() -> Vec<(FileKind, SourceFile)> {
        let root = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/projects/helm-autoscaling/chart"
        );
        let read = |name: &str| std::fs::read_to_string(format!("{root}/{name}")).expect(name);
        vec![
            (FileKind::HelmChart, file("Chart.yaml", &read("Chart.yaml"))),
            (
                FileKind::HelmValues,
                file("values.yaml", &read("values.yaml")),
            ),
            (
                FileKind::HelmValues,
                file("values-autoscaling.yaml", &read("values-autoscaling.yaml")),
            ),
            (
                FileKind::HelmTemplate,
                file("templates/_helpers.tpl", &read("templates/_helpers.tpl")),
            ),
            (
                FileKind::HelmTemplate,
                file(
                    "templates/deployment.yaml",
                    &read("templates/deployment.yaml"),
                ),
            ),
            (
                FileKind::HelmTemplate,
                file("templates/worker.yaml", &read("templates/worker.yaml")),
            ),
            (
                FileKind::HelmTemplate,
                file("templates/hpa.yaml", &read("templates/hpa.yaml")),
            ),
        ]
    }

    /// The value rendered after `key: ` and the file:line it comes from.
    fn value_at(
        m: &RenderedManifest,
        key: &str,
        files: &[(FileKind, SourceFile)],
    ) -> (String, String) {
        let start = m
            .text
            .find(key)
            .unwrap_or_else(|| panic!("{key} in\n{}", m.text))
            + key.len();
        let end = start + m.text[start..].find('\n').unwrap_or(m.text.len() - start);
        let location = m.location_of(start..end).expect("an origin");
        let source = files
            .iter()
            .map(|(_, f)| f)
            .find(|f| *f.path() == location.file)
            .expect("a chart file");
        let line = source.line_col(location.span.start as usize).line;
        (
            m.text[start..end].to_owned(),
            format!("{}:{line}", location.file.file_name()),
        )
    }

    #[test]
    fn autoscaling_off_gives_the_deployment_its_replicas_from_values() {
        let files = files();
        // The override file is not applied unless configured.
        let charts = group_charts(files.iter().map(|(k, f)| (*k, f)), &[], None, None);
        assert_eq!(charts.len(), 1);
        assert_eq!(charts[0].values.len(), 1);
        let rendered = render_chart(&charts[0]);
        assert!(
            rendered.diagnostics.is_empty(),
            "{:?}",
            rendered.diagnostics
        );
        let web = manifest(&rendered, "deployment.yaml");
        assert_eq!(
            value_at(web, "replicas: ", &files),
            ("3".to_owned(), "values.yaml:2".to_owned())
        );
        assert!(web.text.contains(r#""--workers", "4""#));
        let worker = manifest(&rendered, "worker.yaml");
        assert_eq!(
            value_at(worker, "replicas: ", &files),
            ("2".to_owned(), "values.yaml:12".to_owned())
        );
        assert_eq!(
            value_at(worker, "--concurrency=", &files),
            ("8".to_owned(), "values.yaml:13".to_owned())
        );
        assert_eq!(manifest(&rendered, "hpa.yaml").text.trim(), "");
    }

    #[test]
    fn autoscaling_on_leaves_replicas_to_the_hpa_from_the_override_file() {
        let files = files();
        let overrides: Vec<&SourceFile> = files
            .iter()
            .filter(|(_, f)| f.path().file_name() == "values-autoscaling.yaml")
            .map(|(_, f)| f)
            .collect();
        let charts = group_charts(
            files.iter().map(|(k, f)| (*k, f)),
            &overrides,
            Some("prod"),
            None,
        );
        let rendered = render_chart(&charts[0]);
        let web = manifest(&rendered, "deployment.yaml");
        assert!(!web.text.contains("replicas:"), "{}", web.text);
        assert!(web.text.contains("name: prod-shop-web"));
        let hpa = manifest(&rendered, "hpa.yaml");
        assert!(
            hpa.text
                .contains("kind: Deployment\n    name: prod-shop-web\n"),
            "{}",
            hpa.text
        );
        assert_eq!(
            value_at(hpa, "maxReplicas: ", &files),
            ("12".to_owned(), "values-autoscaling.yaml:4".to_owned())
        );
        assert_eq!(
            value_at(hpa, "minReplicas: ", &files),
            ("3".to_owned(), "values.yaml:17".to_owned())
        );
    }
}
