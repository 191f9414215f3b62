//! Renders a Helm chart directory with poolcheck's built-in renderer and
//! prints what a deployment reader would see: per template, the lines that
//! set replicas, autoscaling bounds, commands and workers, with the origin of
//! each value, and every range that could not be rendered with its reason.
//!
//! `cargo run -p poolcheck-extract --example render_chart -- CHART_DIR [VALUES.yaml…] [--text]`
//!
//! A development tool to run by hand on real charts, not a test.

use std::path::{Path, PathBuf};

use poolcheck_core::SourceFile;
use poolcheck_extract::helm::{ChartSources, RenderedManifest, render_chart};
use saphyr::LoadableYamlNode as _;

fn read(path: &Path) -> Option<SourceFile> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(SourceFile::new(path, text))
}

fn templates(dir: &Path, out: &mut Vec<SourceFile>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            templates(&path, out);
        } else if let Some(file) = read(&path) {
            out.push(file);
        }
    }
}

const INTERESTING: &[&str] = &[
    "kind:",
    "replicas:",
    "minReplicas:",
    "maxReplicas:",
    "minReplicaCount:",
    "maxReplicaCount:",
    "maxSurge:",
    "command:",
    "args:",
    "--workers",
    "--concurrency",
    "WEB_CONCURRENCY",
    "processes",
];

fn report(manifest: &RenderedManifest, show_text: bool) {
    println!("== {}", manifest.template);
    // What helm would hand to Kubernetes must read back as YAML.
    if let Err(error) = saphyr::Yaml::load_from_str(&manifest.text) {
        println!("   NOT YAML after rendering: {error}");
    }
    if show_text {
        println!("{}", manifest.text);
    }
    let mut offset = 0;
    for line in manifest.text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let trimmed = line.trim();
        if !INTERESTING.iter().any(|w| trimmed.contains(w)) {
            continue;
        }
        let value_start = line
            .find(": ")
            .map_or(start + line.len() - line.trim_start().len(), |i| {
                start + i + 2
            });
        let value_end = start + line.trim_end().len();
        let origin = manifest
            .location_of(value_start..value_end.max(value_start))
            .map(|l| {
                format!(
                    "{}:{}",
                    l.file,
                    l.span.start // byte offset; enough to tell values from templates
                )
            })
            .unwrap_or_default();
        let unknown = manifest
            .unknown_reason(value_start..value_end.max(value_start))
            .map(|r| format!("  UNKNOWN: {r}"))
            .unwrap_or_default();
        println!("   {trimmed:<60} <- {origin}{unknown}");
    }
    for (range, reason) in &manifest.unknown {
        println!("   unknown at {range:?}: {reason}");
    }
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let show_text = args.iter().any(|a| a == "--text");
    args.retain(|a| a != "--text");
    let Some(dir) = args.first().map(PathBuf::from) else {
        eprintln!("usage: render_chart CHART_DIR [VALUES.yaml...] [--text]");
        std::process::exit(2);
    };
    let mut values: Vec<SourceFile> = read(&dir.join("values.yaml")).into_iter().collect();
    values.extend(args[1..].iter().filter_map(|p| read(Path::new(p))));
    let mut sources = ChartSources {
        chart: read(&dir.join("Chart.yaml")),
        values,
        ..ChartSources::default()
    };
    templates(&dir.join("templates"), &mut sources.templates);
    let started = std::time::Instant::now();
    let rendered = render_chart(&sources);
    let elapsed = started.elapsed();
    println!(
        "chart {}: {} manifests from {} template files in {elapsed:?}",
        rendered.name,
        rendered.manifests.len(),
        sources.templates.len()
    );
    for manifest in &rendered.manifests {
        if manifest.text.trim().is_empty() {
            continue;
        }
        report(manifest, show_text);
    }
    for diagnostic in &rendered.diagnostics {
        println!(
            "diagnostic {} {}: {}",
            diagnostic.code, diagnostic.primary.file, diagnostic.message
        );
    }
}
