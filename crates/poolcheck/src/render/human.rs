//! The default output: each finding with its source snippet, every related
//! location as a labelled note, a help line, then a summary.

use annotate_snippets::renderer::DecorStyle;
use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use poolcheck_core::{Diagnostic, Fix, Location, Severity};
use poolcheck_rules::sources::Sources;

fn level(severity: Severity) -> Level<'static> {
    match severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
        Severity::Info => Level::INFO,
    }
}

/// A snippet of the lines around `location`, or `None` when the file's text
/// is not known.
fn snippet<'a>(
    location: &Location,
    sources: &'a Sources,
    kind: AnnotationKind,
    label: Option<&'a str>,
) -> Option<Snippet<'a, annotate_snippets::Annotation<'a>>> {
    let file = sources.get(&location.file)?;
    let text = file.text();
    let index = file.index();
    let first = index.line_of(location.span.start as usize);
    let last = index.line_of(location.span.end as usize);
    let start = index.line_start(first)?;
    let end = index.line_range(last, text).map_or(text.len(), |r| r.end);
    let source = &text[start..end];
    let span = (location.span.start as usize - start)
        ..(location.span.end as usize - start).min(source.len());
    let mut annotation = kind.span(span);
    if let Some(label) = label {
        annotation = annotation.label(label);
    }
    Some(
        Snippet::source(source)
            .line_start(first + 1)
            .path(location.file.to_string())
            .annotation(annotation),
    )
}

/// The findings, then `closing` (the summary lines), one per line.
pub fn render(
    diagnostics: &[Diagnostic],
    sources: &Sources,
    color: bool,
    closing: &[String],
) -> String {
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    }
    .decor_style(DecorStyle::Unicode);
    let mut out = String::new();
    for d in diagnostics {
        let mut group = Group::with_title(
            level(d.severity)
                .primary_title(d.message.as_str())
                .id(d.code),
        );
        if let Some(s) = snippet(
            &d.primary,
            sources,
            AnnotationKind::Primary,
            d.label.as_deref(),
        ) {
            group = group.element(s);
        }
        let mut report: Vec<Group<'_>> = vec![group];
        for related in &d.related {
            let mut note = Group::with_title(Level::NOTE.secondary_title(related.message.as_str()));
            if let Some(s) = snippet(&related.location, sources, AnnotationKind::Context, None) {
                note = note.element(s);
            }
            report.push(note);
        }
        if let Some(help) = &d.help {
            report.push(Group::with_title(
                Level::HELP.secondary_title(help.as_str()),
            ));
        }
        if let Some(fix) = &d.fix {
            report.push(Group::with_title(
                Level::HELP.secondary_title(fix_line(fix)),
            ));
        }
        out.push_str(&renderer.render(&report));
        out.push_str("\n\n");
    }
    for line in closing {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// `2 fixable with `poolcheck check --fix`.`, when any finding offers a fix.
/// `fix available: …`, or for a fix that changes behaviour, the flag it needs.
pub fn fix_line(fix: &Fix) -> String {
    if fix.is_safe() {
        format!("fix available: {}", fix.title)
    } else {
        format!("unsafe fix available with `--unsafe-fixes`: {}", fix.title)
    }
}

/// How many of the remaining findings a fix run would handle: `3 fixable
/// with `poolcheck check --fix` (1 more with `--unsafe-fixes`).`. After
/// `--fix` only what the flags left behind is worth a line.
pub fn fixable_line(diagnostics: &[Diagnostic], fixed: bool, unsafe_fixes: bool) -> Option<String> {
    let safe = diagnostics
        .iter()
        .filter(|d| d.fix.as_ref().is_some_and(Fix::is_safe))
        .count();
    let unsafe_count = diagnostics
        .iter()
        .filter(|d| d.fix.as_ref().is_some_and(|f| !f.is_safe()))
        .count();
    let hidden_unsafe = if unsafe_fixes { 0 } else { unsafe_count };
    let offered = if unsafe_fixes {
        safe + unsafe_count
    } else {
        safe
    };
    match (fixed, offered, hidden_unsafe) {
        (false, 0, 0) | (true, _, 0) => None,
        (false, 0, n) => Some(format!(
            "{n} fixable with `poolcheck check --fix --unsafe-fixes` (changes behaviour: review first)."
        )),
        (true, _, n) => Some(format!(
            "{n} more fixable with `--unsafe-fixes` (changes behaviour: review first)."
        )),
        (false, n, 0) => Some(format!("{n} fixable with `poolcheck check --fix`.")),
        (false, n, u) => Some(format!(
            "{n} fixable with `poolcheck check --fix` ({u} more with `--unsafe-fixes`)."
        )),
    }
}

pub fn summary_line(diagnostics: &[Diagnostic]) -> String {
    if diagnostics.is_empty() {
        return "All checks passed!".to_owned();
    }
    let count = |s| diagnostics.iter().filter(|d| d.severity == s).count();
    let mut parts = Vec::new();
    for (n, one, many) in [
        (count(Severity::Error), "error", "errors"),
        (count(Severity::Warning), "warning", "warnings"),
        (count(Severity::Info), "info", "info"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {}", if n == 1 { one } else { many }));
        }
    }
    format!(
        "Found {} {} ({}).",
        diagnostics.len(),
        if diagnostics.len() == 1 {
            "problem"
        } else {
            "problems"
        },
        parts.join(", ")
    )
}
