//! Code actions: a finding's own fix, "Ignore PCxxx on this line", "Show
//! documentation for PCxxx", and `source.fixAll.poolcheck`.

use std::collections::HashMap;

use poolcheck_core::{Diagnostic, Edit, FileKind, FilePath, Span};
use poolcheck_rules::fix_plan::{self, FixMode};
use poolcheck_rules::{registry, suppress};
use serde_json::json;
use tower_lsp_server::ls_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, Command, TextEdit, Uri, WorkspaceEdit,
};

use crate::convert;
use crate::hover;
use crate::state::State;

pub const SHOW_DOCUMENTATION: &str = "poolcheck.showDocumentation";

pub fn fix_all_kind() -> CodeActionKind {
    CodeActionKind::new("source.fixAll.poolcheck")
}

/// The actions for `span` of `path`, limited to the kinds the client asked for.
pub fn code_actions(
    state: &mut State,
    path: &FilePath,
    span: Span,
    only: Option<&[CodeActionKind]>,
) -> Vec<CodeActionOrCommand> {
    let wanted = |kind: &CodeActionKind| {
        only.is_none_or(|only| {
            only.iter().any(|o| {
                kind.as_str() == o.as_str()
                    || kind.as_str().starts_with(&format!("{}.", o.as_str()))
            })
        })
    };
    let Some(analysis) = state.analysis.clone() else {
        return Vec::new();
    };
    let touches = |l: &poolcheck_core::Location| {
        &l.file == path && l.span.start <= span.end && span.start <= l.span.end
    };
    let mut actions = Vec::new();
    let mut ignored: Vec<&str> = Vec::new();
    let mut documented: Vec<&str> = Vec::new();
    if wanted(&CodeActionKind::QUICKFIX) {
        for d in &analysis.diagnostics {
            let here = touches(&d.primary);
            let copy_here =
                !here && d.primary.file != *path && d.related.iter().any(|r| touches(&r.location));
            if !here && !copy_here {
                continue;
            }
            if let Some(fix) = &d.fix {
                if let Some(edit) = workspace_edit(state, &fix.edits) {
                    // An unsafe fix is offered but never preferred: editors
                    // apply preferred fixes without asking (e.g. on save).
                    let title = if fix.is_safe() {
                        fix.title.clone()
                    } else {
                        format!("{} (unsafe: changes behaviour)", fix.title)
                    };
                    actions.push(CodeActionOrCommand::CodeAction(CodeAction {
                        title,
                        kind: Some(CodeActionKind::QUICKFIX),
                        edit: Some(edit),
                        is_preferred: Some(fix.is_safe()),
                        ..CodeAction::default()
                    }));
                }
            }
            if !ignored.contains(&d.code) {
                if let Some(edit) = ignore_edit(state, d) {
                    ignored.push(d.code);
                    let title = if here {
                        format!("Ignore {} on this line", d.code)
                    } else {
                        format!("Ignore {} at {}", d.code, state.describe(&d.primary))
                    };
                    if let Some(edit) = workspace_edit(state, &[edit]) {
                        actions.push(CodeActionOrCommand::CodeAction(CodeAction {
                            title,
                            kind: Some(CodeActionKind::QUICKFIX),
                            edit: Some(edit),
                            ..CodeAction::default()
                        }));
                    }
                }
            }
            if !documented.contains(&d.code) {
                documented.push(d.code);
                let title = format!("Show documentation for {}", d.code);
                actions.push(CodeActionOrCommand::CodeAction(CodeAction {
                    title: title.clone(),
                    kind: Some(CodeActionKind::QUICKFIX),
                    command: Some(Command {
                        title,
                        command: SHOW_DOCUMENTATION.to_owned(),
                        arguments: Some(vec![json!(registry::docs_url(d.code))]),
                    }),
                    ..CodeAction::default()
                }));
            }
        }
    }
    let fix_all = fix_all_kind();
    if wanted(&fix_all) {
        let edits = fix_all_edits(state, &analysis.diagnostics, path);
        if !edits.is_empty() {
            if let Some(edit) = workspace_edit(state, &edits) {
                actions.push(CodeActionOrCommand::CodeAction(CodeAction {
                    title: "Fix all poolcheck findings".to_owned(),
                    kind: Some(fix_all),
                    edit: Some(edit),
                    ..CodeAction::default()
                }));
            }
        }
    }
    actions
}

/// The safe fixes of the findings in `path`, chosen as `check --fix` chooses
/// them ([`fix_plan::plan`]): a fix that would overlap one already taken is
/// left out (the next run offers it again).
pub fn fix_all_edits(state: &mut State, diagnostics: &[Diagnostic], path: &FilePath) -> Vec<Edit> {
    let plan = fix_plan::plan(
        diagnostics.iter().filter(|d| &d.primary.file == path),
        FixMode::SafeOnly,
        |file| state.source(file).map(|s| s.text().to_owned()),
    );
    plan.edits.into_values().flatten().collect()
}

fn workspace_edit(state: &mut State, edits: &[Edit]) -> Option<WorkspaceEdit> {
    let mut changes: HashMap<Uri, Vec<TextEdit>> = HashMap::new();
    for edit in edits {
        let file = state.source(&edit.location.file)?;
        let uri = state.uri_of(&edit.location.file)?;
        changes.entry(uri).or_default().push(TextEdit {
            range: convert::range(&file, edit.location.span, state.caps.encoding),
            new_text: edit.new_text.clone(),
        });
    }
    Some(WorkspaceEdit {
        changes: Some(changes),
        ..WorkspaceEdit::default()
    })
}

/// Inserts the suppression comment for `d` where it takes effect: added to an
/// existing `poolcheck: ignore[...]` on the finding's line, else at the end of
/// the line, or on its own line above where a trailing comment would change
/// the value (INI and Dockerfile lines, `.env`, a Python line continued with `\`).
pub fn ignore_edit(state: &mut State, d: &Diagnostic) -> Option<Edit> {
    let file = state.source(&d.primary.file)?;
    let workspace_kind = state
        .workspace
        .as_ref()
        .and_then(|ws| ws.facts_of(&d.primary.file))
        .map(|f| f.kind);
    let kind = hover::kind_of(&d.primary.file, workspace_kind).unwrap_or(FileKind::Python);
    let text = file.text();
    let index = file.index();
    let line = index.line_of(d.primary.span.start as usize);
    let range = index.line_range(line, text)?;
    for s in suppress::parse(&file, kind) {
        let on_line = s.line as usize == line + 1;
        let above = line > 0 && s.line as usize == line && comment_only(text, index, line - 1);
        if !s.file_wide && (on_line || above) {
            if s.codes.iter().any(|(c, _)| c == d.code) {
                return None;
            }
            let at = s.list.end as usize - 1;
            let separator = if s.codes.is_empty() { "" } else { ", " };
            return Some(Edit {
                location: file.location(Span::empty(at)),
                new_text: format!("{separator}{}", d.code),
            });
        }
    }
    let comment = format!("# poolcheck: ignore[{}]", d.code);
    let line_text = &text[range.clone()];
    let own_line = matches!(
        kind,
        FileKind::Ini | FileKind::Dockerfile | FileKind::DotEnv
    ) || line_text.trim_end().ends_with('\\');
    if own_line {
        let indent: String = line_text
            .chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .collect();
        let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
        Some(Edit {
            location: file.location(Span::empty(range.start)),
            new_text: format!("{indent}{comment}{newline}"),
        })
    } else {
        let trimmed_end = range.start + line_text.trim_end().len();
        Some(Edit {
            location: file.location(Span::new(trimmed_end, range.end)),
            new_text: format!("  {comment}"),
        })
    }
}

fn comment_only(text: &str, index: &poolcheck_core::LineIndex, line: usize) -> bool {
    index
        .line_range(line, text)
        .is_some_and(|r| text[r].trim_start().starts_with(['#', ';']))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use poolcheck_core::{Severity, SourceFile};
    use poolcheck_rules::Workspace;

    use super::*;

    fn edit_for(path: &str, text: &str, span: Span, code: poolcheck_core::Code) -> Option<Edit> {
        let file = SourceFile::new(path, text);
        let d = Diagnostic::new(code, Severity::Warning, file.location(span), "m");
        let mut workspace = Workspace::default();
        workspace.sources.insert(Arc::new(file));
        let mut state = State::default();
        state.workspace = Some(workspace);
        ignore_edit(&mut state, &d)
    }

    fn apply(text: &str, edit: &Edit) -> String {
        let mut out = text.to_owned();
        out.replace_range(edit.location.span.range(), &edit.new_text);
        out
    }

    #[test]
    fn an_unsafe_fix_is_offered_but_never_preferred_nor_in_fix_all() {
        let file = SourceFile::new("/tmp/poolcheck-actions/settings.py", "CONN_MAX_AGE = 600\n");
        let span = Span::new(15, 18);
        let d = Diagnostic::new(
            poolcheck_core::Code::PC301,
            Severity::Warning,
            file.location(span),
            "m",
        )
        .with_fix(poolcheck_core::Fix::unsafe_fix(
            "set `CONN_MAX_AGE` to 0",
            vec![Edit {
                location: file.location(span),
                new_text: "0".to_owned(),
            }],
        ));
        let path = file.path().clone();
        let mut workspace = Workspace::default();
        workspace.sources.insert(Arc::new(file));
        let mut analysis =
            poolcheck_rules::analyze(&workspace, &poolcheck_rules::analysis::Options::default());
        analysis.diagnostics = vec![d];
        let mut state = State::default();
        state.workspace = Some(workspace);
        state.analysis = Some(analysis);
        let found = code_actions(&mut state, &path, span, None);
        let fix = found
            .iter()
            .find_map(|a| match a {
                CodeActionOrCommand::CodeAction(a)
                    if a.edit.is_some() && a.title.contains("CONN") =>
                {
                    Some(a)
                }
                _ => None,
            })
            .expect("the fix is offered");
        assert_eq!(fix.is_preferred, Some(false));
        assert!(
            fix.title.ends_with("(unsafe: changes behaviour)"),
            "{}",
            fix.title
        );
        let all = code_actions(&mut state, &path, span, Some(&[fix_all_kind()]));
        assert!(all.is_empty(), "fix all takes safe fixes only: {all:?}");
    }

    #[test]
    fn python_gets_a_trailing_comment() {
        let text = "x = 1\nengine = create_engine(url, pool_size=5)   \n";
        let at = text.find("pool_size").unwrap_or_default();
        let edit = edit_for(
            "db.py",
            text,
            Span::new(at, at + 11),
            poolcheck_core::Code::PC101,
        )
        .expect("an edit");
        assert_eq!(
            apply(text, &edit),
            "x = 1\nengine = create_engine(url, pool_size=5)  # poolcheck: ignore[PC101]\n"
        );
    }

    #[test]
    fn ini_and_continued_lines_get_a_comment_line_above() {
        // A trailing `#` would become part of a PgBouncer value.
        let text = "[pgbouncer]\n  pool_mode = transaction\n";
        let edit = edit_for(
            "pgbouncer.ini",
            text,
            Span::new(14, 37),
            poolcheck_core::Code::PC205,
        )
        .expect("an edit");
        assert_eq!(
            apply(text, &edit),
            "[pgbouncer]\n  # poolcheck: ignore[PC205]\n  pool_mode = transaction\n"
        );
        let text = "workers = 4 + \\\n  2\n";
        let edit = edit_for(
            "gunicorn.conf.py",
            text,
            Span::new(0, 7),
            poolcheck_core::Code::PC104,
        )
        .expect("an edit");
        assert!(apply(text, &edit).starts_with("# poolcheck: ignore[PC104]\nworkers"));
    }

    #[test]
    fn an_existing_ignore_list_is_extended_once() {
        let text = "max_connections = 50  # poolcheck: ignore[PC102]\n";
        let edit = edit_for(
            "postgresql.conf",
            text,
            Span::new(18, 20),
            poolcheck_core::Code::PC101,
        )
        .expect("an edit");
        let once = apply(text, &edit);
        assert_eq!(
            once,
            "max_connections = 50  # poolcheck: ignore[PC102, PC101]\n"
        );
        assert!(
            edit_for(
                "postgresql.conf",
                &once,
                Span::new(18, 20),
                poolcheck_core::Code::PC101
            )
            .is_none()
        );
    }
}
