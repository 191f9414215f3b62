//! The Helm renderer: a values file and a template (separated by a line
//! `%%%`) rendered as a chart, its output read by the Kubernetes reader and
//! every rendered range mapped back to its origin.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poolcheck_core::{FileFacts, FileKind, Location, SourceFile, Span};
use poolcheck_extract::helm::{ChartSources, render_chart};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (values, template) = text.split_once("\n%%%\n").unwrap_or(("", &text));
    let chart = ChartSources {
        chart: Some(SourceFile::new(
            "chart/Chart.yaml",
            "apiVersion: v2\nname: fuzz\nversion: 0.1.0\n".to_owned(),
        )),
        values: vec![SourceFile::new("chart/values.yaml", values.to_owned())],
        templates: vec![SourceFile::new(
            "chart/templates/fuzz.yaml",
            template.to_owned(),
        )],
        release_name: None,
        namespace: None,
    };
    let rendered = render_chart(&chart);
    for manifest in &rendered.manifests {
        let template = manifest.template.clone();
        let locate = |span: Span| Location::new(template.clone(), span);
        let mut facts = FileFacts::new(template.clone(), FileKind::HelmTemplate);
        poolcheck_extract::kubernetes::read_documents(&manifest.text, &locate, &mut facts);
        for at in [0, manifest.text.len() / 2, manifest.text.len()] {
            std::hint::black_box(manifest.location_of(at..manifest.text.len()));
        }
    }
});
