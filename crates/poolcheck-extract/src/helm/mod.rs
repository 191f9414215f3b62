//! Helm charts rendered in memory: a built-in renderer for the subset of Go
//! templates and sprig functions charts use around their values, so that
//! every number in a rendered manifest keeps its origin in `values.yaml` (or
//! the values file that overrode it).
//!
//! A construct outside the subset (`lookup`, `b64enc`, a method call, a
//! condition on such a value) renders as the placeholder word
//! [`UNKNOWN_PLACEHOLDER`] with the reason recorded in
//! [`RenderedManifest::unknown`]: a reader sees a value it cannot use,
//! never a wrong number.
//!
//! Pure: the caller loads the chart's files ([`ChartSources`]).

mod capabilities;
mod eval;
mod functions;
mod template;
mod text;
mod values;

use poolcheck_core::Code;
use std::collections::BTreeMap;
use std::ops::Range;
use std::rc::Rc;

use poolcheck_core::{Diagnostic, FileKind, FilePath, Location, Severity, SourceFile, Span};

pub use text::UNKNOWN_PLACEHOLDER;

use text::Mark;
use values::{Kind, Val};

/// The release name `helm template` uses when none is given.
pub const DEFAULT_RELEASE_NAME: &str = "release-name";

/// The files of one chart, already read.
#[derive(Debug, Default)]
pub struct ChartSources {
    /// `Chart.yaml`.
    pub chart: Option<SourceFile>,
    /// `values.yaml` first, then the override files in the order given
    /// (`helm -f a.yaml -f b.yaml`: later files win).
    pub values: Vec<SourceFile>,
    /// Everything under `templates/` (`_helpers.tpl` included), in any order.
    pub templates: Vec<SourceFile>,
    /// `.Release.Name`; [`DEFAULT_RELEASE_NAME`] when `None`.
    pub release_name: Option<String>,
    /// `.Release.Namespace`; `default` when `None`.
    pub namespace: Option<String>,
}

/// One rendered template file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedManifest {
    /// The template it was rendered from.
    pub template: FilePath,
    /// The rendered YAML (possibly several documents).
    pub text: String,
    /// Byte ranges of `text` and where they come from: a values file's
    /// scalar, or the template's literal text. Ordered, non-overlapping.
    pub origins: Vec<(Range<usize>, Location)>,
    /// Byte ranges of `text` that poolcheck could not render, with why. An
    /// empty range marks where a condition poolcheck cannot decide would
    /// have written one branch or the other.
    pub unknown: Vec<(Range<usize>, String)>,
}

impl RenderedManifest {
    /// Where the rendered bytes `span` (a YAML scalar, quotes included)
    /// come from. A value interpolated into the span wins over the
    /// template's text around it (`"{{ .Values.a }}:{{ .Values.b }}"`
    /// points at `a`'s line). The exact bytes are given when they were
    /// copied verbatim; otherwise the whole origin. `None` when nothing in
    /// the span has an origin.
    pub fn location_of(&self, span: Range<usize>) -> Option<Location> {
        // Marks nest (an `include` holds the values it interpolates), so the
        // list is not a partition: every overlapping origin is looked at, and
        // the first interpolated value wins over template text.
        let overlapping = self.origins.iter().filter(|(range, _)| {
            range.start < span.end.max(span.start + 1)
                && span.start < range.end.max(range.start + 1)
        });
        let mut best: Option<&(Range<usize>, Location)> = None;
        for candidate in overlapping {
            let is_value = !is_template_file(&candidate.1.file);
            match best {
                Some(b) if !is_template_file(&b.1.file) || !is_value => {}
                _ => best = Some(candidate),
            }
        }
        let (range, location) = best?;
        let verbatim = location.span.len() == range.len();
        if verbatim && range.start <= span.start && span.end <= range.end {
            let start = location.span.start as usize + (span.start - range.start);
            let end = location.span.start as usize + (span.end - range.start);
            return Some(Location::new(location.file.clone(), Span::new(start, end)));
        }
        Some(location.clone())
    }

    /// The reason the bytes `span` could not be rendered, if they overlap an
    /// unknown range.
    pub fn unknown_reason(&self, span: Range<usize>) -> Option<&str> {
        self.unknown
            .iter()
            .find(|(range, _)| {
                range.start < span.end.max(span.start + 1)
                    && span.start < range.end.max(range.start + 1)
            })
            .map(|(_, reason)| reason.as_str())
    }
}

#[derive(Debug, Default)]
pub struct RenderedChart {
    /// `.Chart.Name` (the directory's name when Chart.yaml has none).
    pub name: String,
    pub manifests: Vec<RenderedManifest>,
    pub diagnostics: Vec<Diagnostic>,
}

/// `Chart.yaml`'s keys as `.Chart` exposes them (`appVersion` →
/// `.Chart.AppVersion`).
fn chart_value(chart: Option<&SourceFile>, diagnostics: &mut Vec<Diagnostic>) -> Val {
    let Some(file) = chart else {
        return Val::map(BTreeMap::new());
    };
    let loaded = match values::load_yaml(file) {
        Ok(v) => v,
        Err((message, offset)) => {
            diagnostics.push(unreadable(file, &message, offset, "its `.Chart` fields"));
            return Val::map(BTreeMap::new());
        }
    };
    let Kind::Map(map) = loaded.kind else {
        return Val::map(BTreeMap::new());
    };
    let renamed = Rc::unwrap_or_clone(map)
        .into_iter()
        .map(|(key, value)| {
            let mut chars = key.chars();
            let upper = chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default();
            let upper = if upper == "ApiVersion" {
                "APIVersion".to_owned()
            } else {
                upper
            };
            (upper, value)
        })
        .collect();
    Val::map(renamed)
}

fn unreadable(file: &SourceFile, message: &str, offset: usize, what: &str) -> Diagnostic {
    let offset = offset.min(file.text().len());
    Diagnostic::new(
        Code::PC004,
        Severity::Info,
        file.location(Span::empty(offset)),
        format!("cannot read this YAML file ({message}), so {what} are unknown to poolcheck"),
    )
}

/// Whether a path is one of a chart's templates (values files never lie
/// under `templates/`).
fn is_template_file(path: &FilePath) -> bool {
    path.as_path()
        .components()
        .any(|c| c.as_os_str() == "templates")
}

/// Whether a template file renders to a manifest: Helm skips files whose
/// name starts with `_` (helpers) and NOTES.txt.
fn renders_manifest(path: &FilePath) -> bool {
    let name = path.file_name();
    !name.starts_with('_') && !name.eq_ignore_ascii_case("NOTES.txt")
}

/// The path Helm gives `.Template.Name`: `<chart>/templates/…`.
fn template_name(chart: &str, path: &FilePath) -> String {
    let display = path.display_string();
    match display.rfind("templates/") {
        Some(i) => format!("{chart}/{}", &display[i..]),
        None => format!("{chart}/templates/{}", path.file_name()),
    }
}

/// Renders every manifest template of the chart.
pub fn render_chart(chart: &ChartSources) -> RenderedChart {
    let mut diagnostics = Vec::new();
    let chart_val = chart_value(chart.chart.as_ref(), &mut diagnostics);
    let name = match chart_val.get("Name").map(|v| &v.kind) {
        Some(Kind::Str(t)) => t.text.clone(),
        _ => chart
            .chart
            .as_ref()
            .and_then(|c| c.path().as_path().parent())
            .and_then(|p| p.file_name())
            .map_or_else(|| "chart".to_owned(), |n| n.to_string_lossy().into_owned()),
    };

    let mut merged = Val::map(BTreeMap::new());
    for file in &chart.values {
        match values::load_yaml(file) {
            Ok(v) if matches!(v.kind, Kind::Map(_)) => values::merge(&mut merged, v),
            Ok(v) if matches!(v.kind, Kind::Nil) => {}
            Ok(_) => diagnostics.push(unreadable(
                file,
                "its top level is not a mapping",
                0,
                "the values it sets",
            )),
            Err((message, offset)) => {
                diagnostics.push(unreadable(file, &message, offset, "the values it sets"));
            }
        }
    }

    let mut release = BTreeMap::new();
    release.insert(
        "Name".to_owned(),
        Val::str(
            chart
                .release_name
                .clone()
                .unwrap_or_else(|| DEFAULT_RELEASE_NAME.to_owned()),
        ),
    );
    release.insert(
        "Namespace".to_owned(),
        Val::str(
            chart
                .namespace
                .clone()
                .unwrap_or_else(|| "default".to_owned()),
        ),
    );
    release.insert("Service".to_owned(), Val::str("Helm"));
    release.insert("IsInstall".to_owned(), Val::new(Kind::Bool(true)));
    release.insert("IsUpgrade".to_owned(), Val::new(Kind::Bool(false)));
    release.insert("Revision".to_owned(), Val::new(Kind::Int(1)));
    let release = Val::map(release);

    let mut templates: Vec<&SourceFile> = chart.templates.iter().collect();
    templates.sort_by(|a, b| a.path().cmp(b.path()));
    let mut engine = eval::Engine::new();
    let mut parsed = Vec::new();
    for file in templates {
        let file = Rc::new(SourceFile::new(file.path().clone(), file.text()));
        let tree = template::parse(file.text());
        engine.add_defines(&file, tree.defines);
        parsed.push((file, tree.nodes));
    }
    let base = format!("{name}/templates");
    let mut manifests = Vec::new();
    for (file, nodes) in &parsed {
        if !renders_manifest(file.path()) {
            continue;
        }
        let root = eval::root(
            merged.clone(),
            chart_val.clone(),
            release.clone(),
            &template_name(&name, file.path()),
            &base,
        );
        let out = engine.render(file, nodes, &root);
        let mut origins = Vec::new();
        let mut unknown = Vec::new();
        for (range, mark) in out.marks {
            match mark {
                Mark::Origin(location) => origins.push((range, location)),
                Mark::Unknown(reason) => unknown.push((range, reason)),
            }
        }
        manifests.push(RenderedManifest {
            template: file.path().clone(),
            text: out.text,
            origins,
            unknown,
        });
    }
    diagnostics.append(&mut engine.diagnostics);
    RenderedChart {
        name,
        manifests,
        diagnostics,
    }
}

/// Groups a workspace's Helm files into charts, one per `Chart.yaml`: its
/// `values.yaml`, then the `extra_values` files (`[helm] values`, in order)
/// that lie in the chart's directory or outside every chart, and the files
/// under its `templates/` (a subchart under `charts/` is a chart of its own,
/// rendered with its own values).
pub fn group_charts<'a>(
    files: impl IntoIterator<Item = (FileKind, &'a SourceFile)>,
    extra_values: &[&'a SourceFile],
    release_name: Option<&str>,
    namespace: Option<&str>,
) -> Vec<ChartSources> {
    let files: Vec<(FileKind, &SourceFile)> = files.into_iter().collect();
    let chart_dirs: Vec<std::path::PathBuf> = files
        .iter()
        .filter(|(kind, _)| *kind == FileKind::HelmChart)
        .filter_map(|(_, f)| {
            f.path()
                .as_path()
                .parent()
                .map(std::path::Path::to_path_buf)
        })
        .collect();
    let copy = |f: &SourceFile| SourceFile::new(f.path().clone(), f.text());
    let mut charts = Vec::new();
    for (kind, chart) in &files {
        if *kind != FileKind::HelmChart {
            continue;
        }
        let Some(dir) = chart.path().as_path().parent() else {
            continue;
        };
        let mut values: Vec<SourceFile> = files
            .iter()
            .filter(|(k, f)| {
                *k == FileKind::HelmValues
                    && f.path().as_path() == dir.join("values.yaml").as_path()
            })
            .map(|(_, f)| copy(f))
            .collect();
        values.extend(extra_values.iter().filter_map(|f| {
            let path = f.path().as_path();
            // The deepest chart holding the file is the one it configures.
            let owner = chart_dirs
                .iter()
                .filter(|d| path.starts_with(d))
                .max_by_key(|d| d.components().count());
            owner.is_none_or(|o| o == dir).then(|| copy(f))
        }));
        let templates_dir = dir.join("templates");
        let templates = files
            .iter()
            .filter(|(k, f)| {
                *k == FileKind::HelmTemplate && f.path().as_path().starts_with(&templates_dir)
            })
            .map(|(_, f)| copy(f))
            .collect();
        charts.push(ChartSources {
            chart: Some(copy(chart)),
            values,
            templates,
            release_name: release_name.map(str::to_owned),
            namespace: namespace.map(str::to_owned),
        });
    }
    charts
}

#[cfg(test)]
mod tests;
