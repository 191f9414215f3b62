//! The server's state: the workspace the CLI would load, the editor's open
//! documents over it, the latest analysis and what was last published. Every
//! method is synchronous and cheap enough to run inside a notification
//! handler; the handlers apply them in the order the client sent them.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use poolcheck_core::{
    FileFacts, FileKind, FilePath, Location, PositionEncoding, Severity, SourceFile,
};
use poolcheck_extract::python::incremental::IncrementalParse;
use poolcheck_rules::analysis::{self, Analysis, AssemblyCache, Options};
use poolcheck_rules::registry;
use poolcheck_rules::workspace::{self, LoadOptions, Workspace};
use poolcheck_workspace::discover;
use serde_json::json;
use tower_lsp_server::ls_types::{
    self as lsp, CodeDescription, DiagnosticRelatedInformation, NumberOrString,
    TextDocumentContentChangeEvent, Uri,
};

use crate::convert;
use crate::settings::Settings;

/// What the client said it supports.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientCaps {
    pub encoding: PositionEncoding,
    pub related_information: bool,
    pub show_document: bool,
    pub watched_files_dynamic: bool,
    pub configuration_dynamic: bool,
}

#[derive(Debug, Clone)]
pub struct OpenDocument {
    pub uri: Uri,
    pub text: String,
    pub version: i32,
    /// The text's syntax tree as Python, kept across edits.
    parsed: IncrementalParse,
}

impl OpenDocument {
    pub fn new(uri: Uri, text: String, version: i32) -> Self {
        Self {
            uri,
            text,
            version,
            parsed: IncrementalParse::default(),
        }
    }

    /// Applies one `didChange` content change to the text and its tree.
    pub fn apply_change(
        &mut self,
        change: TextDocumentContentChangeEvent,
        encoding: PositionEncoding,
    ) {
        if let Some(range) = convert::change_range(&self.text, &change, encoding) {
            self.parsed.replace(&mut self.text, range, &change.text);
        } else {
            self.text = change.text;
            self.parsed.forget();
        }
    }
}

/// One `didChange` notification, queued until the analysis is free.
#[derive(Debug, Clone)]
pub struct DocumentEdit {
    pub path: PathBuf,
    pub changes: Vec<TextDocumentContentChangeEvent>,
    pub version: i32,
}

/// Diagnostics for one URI, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Publish {
    pub uri: Uri,
    pub diagnostics: Vec<lsp::Diagnostic>,
    pub version: Option<i32>,
}

#[derive(Default)]
pub struct State {
    /// Absolute workspace folders; the first is the analysis root.
    pub roots: Vec<PathBuf>,
    pub caps: ClientCaps,
    pub settings: Settings,
    pub workspace: Option<Workspace>,
    /// The configuration file in effect, absolute.
    pub config_path: Option<PathBuf>,
    /// Open documents by absolute path: their text wins over the disk's.
    pub open: BTreeMap<PathBuf, OpenDocument>,
    pub analysis: Option<Analysis>,
    /// Texts of files that findings point into but the workspace did not
    /// extract (modules read on demand), loaded from disk once.
    extra_sources: HashMap<FilePath, Arc<SourceFile>>,
    published: HashMap<Uri, Vec<lsp::Diagnostic>>,
    /// Bumped by every (re)load, so a slower, older load is discarded.
    pub generation: u64,
    /// What the last analysis of this workspace leaves for the next one.
    assembly: AssemblyCache,
    /// What an edit replaced (the old analysis, the edited files' old facts
    /// and trees), freed only once the edit's diagnostics are sent: freeing
    /// the IR of a large module is no part of the edit's latency.
    retired: Vec<Box<dyn std::any::Any + Send>>,
}

impl State {
    pub fn new(roots: Vec<PathBuf>, caps: ClientCaps, settings: Settings) -> Self {
        Self {
            roots,
            caps,
            settings,
            ..Self::default()
        }
    }

    /// What a background load needs, with the generation it will carry.
    pub fn begin_load(&mut self) -> (u64, Vec<PathBuf>) {
        self.generation += 1;
        (self.generation, self.roots.clone())
    }

    /// Installs a freshly loaded workspace (unless a newer load started),
    /// lays the open documents over it, analyses and returns what to publish.
    pub fn finish_load(&mut self, generation: u64, loaded: LoadedWorkspace) -> Vec<Publish> {
        if generation != self.generation {
            return Vec::new();
        }
        self.workspace = Some(loaded.workspace);
        self.config_path = loaded.config_path;
        self.extra_sources.clear();
        self.assembly = AssemblyCache::default();
        let open: Vec<(PathBuf, String)> = self
            .open
            .iter()
            .map(|(p, d)| (p.clone(), d.text.clone()))
            .collect();
        for (path, text) in open {
            self.sync_file(&path, Some(text));
        }
        self.reanalyze()
    }

    pub fn is_loaded(&self) -> bool {
        self.workspace.is_some()
    }

    /// The directory the workspace's paths are relative to: the loaded
    /// project's root, else the first workspace folder. Never the server's
    /// working directory.
    fn project_root(&self) -> &Path {
        match &self.workspace {
            Some(ws) => &ws.root,
            None => self.roots.first().map_or(Path::new(""), PathBuf::as_path),
        }
    }

    /// The path as the workspace names it (relative to the project root).
    pub fn file_path(&self, absolute: &Path) -> FilePath {
        workspace::file_id(self.project_root(), absolute)
    }

    pub fn absolute(&self, path: &FilePath) -> PathBuf {
        self.project_root().join(path.as_path())
    }

    pub fn uri_of(&self, path: &FilePath) -> Option<Uri> {
        convert::path_to_uri(&self.absolute(path))
    }

    /// Replaces (or, with `None`, drops) one file's text in the workspace and
    /// re-extracts only that file. Returns whether the workspace changed.
    ///
    /// The text is admitted as the CLI's discovery admits a file on disk: a
    /// text with a NUL byte is binary and skipped, and a text the content
    /// prefilter rejects is not analysed — unless it is a Python module that
    /// an analysed module imports, which the CLI reads too.
    pub fn sync_file(&mut self, absolute: &Path, text: Option<String>) -> bool {
        let file_path = self.file_path(absolute);
        self.extra_sources.remove(&file_path);
        let config_path = self.config_path.clone();
        let Some(ws) = self.workspace.as_mut() else {
            return false;
        };
        let retired = &mut self.retired;
        let existing = ws.facts_of(&file_path).map(|f| f.kind);
        let text = text.filter(|t| !t.contains('\0'));
        let Some(text) = text else {
            if existing.is_some() {
                ws.remove(&file_path);
                return true;
            }
            return false;
        };
        let kind = match discover::classify_text(absolute, &text) {
            Some(FileKind::PoolcheckToml | FileKind::PyProject)
                if config_path.as_deref() != Some(absolute) =>
            {
                // Another project's configuration, or a pyproject without
                // [tool.poolcheck]: not this analysis's.
                None
            }
            other => other,
        };
        if kind == Some(FileKind::Python) {
            update_python(ws, self.open.get_mut(absolute), &file_path, text, retired);
            return true;
        }
        if let Some(kind) = kind {
            ws.update(&file_path, kind, text);
            return true;
        }
        if existing == Some(FileKind::Python)
            && discover::classify(absolute) == Some(FileKind::Python)
            && ws
                .sources
                .get(&file_path)
                .is_some_and(|old| discover::classify_text(absolute, old.text()).is_none())
        {
            // A module read because another imports it, and still without a
            // trigger word: still imported, so only its text changes.
            update_python(ws, self.open.get_mut(absolute), &file_path, text, retired);
            return true;
        }
        if existing.is_some() {
            ws.remove(&file_path);
        }
        if discover::classify(absolute) == Some(FileKind::Python) {
            // Imported by an analysed module: read, with the buffer's text.
            ws.load_imported_modules(None);
            if ws.facts_of(&file_path).is_some() {
                ws.update(&file_path, FileKind::Python, text);
                return true;
            }
        }
        existing.is_some()
    }

    /// Applies `didChange` notifications, in the order they came, to the
    /// open documents' texts, then re-extracts each changed document once and
    /// analyses once: a burst of edits costs one analysis, of its last state.
    pub fn apply_edits(&mut self, edits: Vec<DocumentEdit>) -> Vec<Publish> {
        let encoding = self.caps.encoding;
        let mut changed: Vec<PathBuf> = Vec::new();
        for edit in edits {
            let Some(doc) = self.open.get_mut(&edit.path) else {
                continue;
            };
            for change in edit.changes {
                doc.apply_change(change, encoding);
            }
            doc.version = edit.version;
            if !changed.contains(&edit.path) {
                changed.push(edit.path);
            }
        }
        let mut reanalyze = false;
        for path in changed {
            let text = self.open.get(&path).map(|d| d.text.clone());
            reanalyze |= self.sync_file(&path, text);
        }
        if reanalyze {
            self.reanalyze()
        } else {
            Vec::new()
        }
    }

    /// Re-reads a closed file from disk (or drops it when it is gone).
    pub fn sync_from_disk(&mut self, absolute: &Path) -> bool {
        let text = match discover::read_candidate(absolute) {
            Ok(Ok(text)) => Some(text),
            _ => None,
        };
        self.sync_file(absolute, text)
    }

    pub fn is_config_file(&self, absolute: &Path) -> bool {
        if self.config_path.as_deref() == Some(absolute) {
            return true;
        }
        // A new or changed configuration nearer than the one in effect.
        let name = absolute.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let is_config_name = name.eq_ignore_ascii_case("poolcheck.toml")
            || name.eq_ignore_ascii_case("pyproject.toml");
        is_config_name
            && self
                .roots
                .first()
                .is_some_and(|root| root.starts_with(absolute.parent().unwrap_or(absolute)))
    }

    /// Runs the analysis the CLI runs and returns the URIs whose diagnostics changed.
    pub fn reanalyze(&mut self) -> Vec<Publish> {
        let Some(ws) = &self.workspace else {
            return Vec::new();
        };
        let analysis = analysis::analyze_reusing(
            ws,
            &Options {
                overrides: self.settings.overrides(),
                no_ignores: false,
            },
            &mut self.assembly,
        );
        if let Some(old) = self.analysis.replace(analysis) {
            self.retired.push(Box::new(old));
        }
        self.publish_changes()
    }

    /// What the last edits replaced, to be freed once their diagnostics are
    /// sent.
    pub fn take_retired(&mut self) -> Vec<Box<dyn std::any::Any + Send>> {
        std::mem::take(&mut self.retired)
    }

    /// The text of a file a finding points into: the workspace's, an open
    /// document's, or the disk's.
    pub fn source(&mut self, path: &FilePath) -> Option<Arc<SourceFile>> {
        if let Some(file) = self.workspace.as_ref().and_then(|ws| ws.sources.get(path)) {
            return Some(Arc::clone(file));
        }
        if let Some(file) = self.extra_sources.get(path) {
            return Some(Arc::clone(file));
        }
        let absolute = self.absolute(path);
        let text = match self.open.get(&absolute) {
            Some(doc) => doc.text.clone(),
            None => discover::read_candidate(&absolute).ok()?.ok()?,
        };
        let file = Arc::new(SourceFile::new(path.clone(), text));
        self.extra_sources.insert(path.clone(), Arc::clone(&file));
        Some(file)
    }

    pub fn lsp_location(&mut self, location: &Location) -> Option<lsp::Location> {
        let file = self.source(&location.file)?;
        Some(lsp::Location::new(
            self.uri_of(&location.file)?,
            convert::range(&file, location.span, self.caps.encoding),
        ))
    }

    /// Every finding as the editor shows it, by URI: each at its primary
    /// range, and a copy in every other file that holds one of its factors.
    pub fn diagnostics_by_uri(&mut self) -> HashMap<Uri, Vec<lsp::Diagnostic>> {
        let mut out: HashMap<Uri, Vec<lsp::Diagnostic>> = HashMap::new();
        let Some(analysis) = self.analysis.take() else {
            return out;
        };
        for d in &analysis.diagnostics {
            let Some(primary) = self.lsp_location(&d.primary) else {
                continue;
            };
            let related: Vec<(Location, DiagnosticRelatedInformation)> = d
                .related
                .iter()
                .filter_map(|r| {
                    Some((
                        r.location.clone(),
                        DiagnosticRelatedInformation {
                            location: self.lsp_location(&r.location)?,
                            message: r.message.clone(),
                        },
                    ))
                })
                .collect();
            let mut message = d.message.clone();
            if let Some(help) = &d.help {
                message.push_str("\nhelp: ");
                message.push_str(help);
            }
            let primary_where = self.describe(&d.primary);
            let base = lsp::Diagnostic {
                range: primary.range,
                severity: Some(self.shown_severity(d.severity)),
                code: Some(NumberOrString::String(d.code.to_owned())),
                code_description: convert::web_uri(&registry::docs_url(d.code))
                    .map(|href| CodeDescription { href }),
                source: Some("poolcheck".to_owned()),
                message: message.clone(),
                related_information: None,
                tags: None,
                data: Some(json!({ "primary": true })),
            };
            let mut shown = base.clone();
            shown.related_information =
                self.related(related.iter().map(|(_, r)| r.clone()).collect());
            if !self.caps.related_information && !related.is_empty() {
                for (_, r) in &related {
                    shown.message.push_str("\nnote: ");
                    shown.message.push_str(&r.message);
                }
            }
            out.entry(primary.uri.clone()).or_default().push(shown);

            let mut copied: Vec<&Location> = Vec::new();
            for (location, info) in &related {
                if location.file == d.primary.file
                    || copied
                        .iter()
                        .any(|c| c.file == location.file && c.span == location.span)
                {
                    continue;
                }
                copied.push(location);
                let mut back = vec![DiagnosticRelatedInformation {
                    location: primary.clone(),
                    message: format!(
                        "{} reported here: {}",
                        d.code,
                        d.label.as_deref().unwrap_or(&d.message)
                    ),
                }];
                back.extend(
                    related
                        .iter()
                        .filter(|(l, _)| l != location)
                        .map(|(_, r)| r.clone()),
                );
                let mut copy = base.clone();
                copy.range = info.location.range;
                copy.message = format!(
                    "{} (a factor of {} at {primary_where}): {message}",
                    info.message, d.code
                );
                copy.data = Some(json!({ "primary": false }));
                copy.related_information = self.related(back);
                out.entry(info.location.uri.clone()).or_default().push(copy);
            }
        }
        self.analysis = Some(analysis);
        out
    }

    fn related(
        &self,
        related: Vec<DiagnosticRelatedInformation>,
    ) -> Option<Vec<DiagnosticRelatedInformation>> {
        (self.caps.related_information && !related.is_empty()).then_some(related)
    }

    /// With an editor `fail-on`, what would not fail the check is a hint.
    fn shown_severity(&self, severity: Severity) -> lsp::DiagnosticSeverity {
        match self.settings.fail_on {
            Some(fail_on) if severity < fail_on => lsp::DiagnosticSeverity::HINT,
            _ => convert::severity(severity),
        }
    }

    /// `path:line` for messages.
    pub fn describe(&mut self, location: &Location) -> String {
        match self.source(&location.file) {
            Some(file) => format!(
                "{}:{}",
                location.file,
                file.line_col(location.span.start as usize).line
            ),
            None => location.file.to_string(),
        }
    }

    /// Diffs the diagnostics against what was last sent.
    fn publish_changes(&mut self) -> Vec<Publish> {
        let mut current = self.diagnostics_by_uri();
        let mut out = Vec::new();
        let mut uris: Vec<Uri> = current
            .keys()
            .chain(self.published.keys())
            .cloned()
            .collect();
        // The open documents first: the file being typed in is the one
        // whose diagnostics the user waits for.
        uris.sort_by_cached_key(|uri| {
            let open = convert::uri_to_path(uri).is_some_and(|p| self.open.contains_key(&p));
            (!open, uri.clone())
        });
        uris.dedup();
        for uri in uris {
            let new = current.remove(&uri).unwrap_or_default();
            let old = self.published.get(&uri);
            if old.is_some_and(|old| *old == new) || (old.is_none() && new.is_empty()) {
                continue;
            }
            let version = convert::uri_to_path(&uri)
                .and_then(|p| self.open.get(&p))
                .map(|d| d.version);
            if new.is_empty() {
                self.published.remove(&uri);
            } else {
                self.published.insert(uri.clone(), new.clone());
            }
            out.push(Publish {
                uri,
                diagnostics: new,
                version,
            });
        }
        out
    }

    /// Everything the server published and still stands, for tests and hover.
    pub fn published(&self, uri: &Uri) -> &[lsp::Diagnostic] {
        self.published.get(uri).map_or(&[], Vec::as_slice)
    }
}

/// Re-extracts a Python module, from the open document's kept tree when it
/// is open, and follows its imports again only when they changed: the
/// modules it imported before are in the workspace already.
fn update_python(
    ws: &mut Workspace,
    document: Option<&mut OpenDocument>,
    file_path: &FilePath,
    text: String,
    retired: &mut Vec<Box<dyn std::any::Any + Send>>,
) {
    let file = SourceFile::new(file_path.clone(), text);
    let facts = match document {
        Some(document) if document.text == file.text() => {
            let facts = document.parsed.extract(&file);
            if let Some(tree) = document.parsed.take_replaced_tree() {
                retired.push(Box::new(tree));
            }
            facts
        }
        _ => poolcheck_extract::extract(&file, FileKind::Python),
    };
    let imports_before = ws.facts_of(file_path).map(imports_of);
    let imports_changed = imports_before.as_ref() != Some(&imports_of(&facts));
    if let Ok(at) = ws.facts.binary_search_by(|f| f.path.cmp(file_path)) {
        let placeholder = FileFacts::new(file_path.clone(), FileKind::Python);
        retired.push(Box::new(std::mem::replace(&mut ws.facts[at], placeholder)));
    }
    if let Some(old) = ws.sources.get(file_path) {
        retired.push(Box::new(Arc::clone(old)));
    }
    ws.insert(Arc::new(file), facts);
    if imports_changed {
        ws.load_imported_modules(Some(file_path));
    }
}

/// What a module makes the workspace read: the modules it imports and the
/// settings modules it names.
fn imports_of(facts: &FileFacts) -> Option<(Vec<String>, Vec<String>)> {
    let module = facts.python.as_ref()?;
    Some((
        module.imported_modules().map(str::to_owned).collect(),
        poolcheck_extract::python::django::named_settings_modules(module),
    ))
}

/// A workspace read in the background, with the configuration file it used.
pub struct LoadedWorkspace {
    pub workspace: Workspace,
    pub config_path: Option<PathBuf>,
}

/// Loads the workspace exactly as `poolcheck check` does. Never fails: an
/// unreadable root gives an empty workspace and the reason.
pub fn load(roots: &[PathBuf]) -> (LoadedWorkspace, Option<String>) {
    let root = roots.first().cloned().unwrap_or_default();
    let config_path = poolcheck_workspace::config::find_config(&root);
    match Workspace::load(
        roots,
        &LoadOptions {
            respect_gitignore: true,
            ..LoadOptions::default()
        },
    ) {
        Ok(workspace) => (
            LoadedWorkspace {
                workspace,
                config_path,
            },
            None,
        ),
        Err(error) => (
            LoadedWorkspace {
                workspace: Workspace {
                    root,
                    ..Workspace::default()
                },
                config_path: None,
            },
            Some(error),
        ),
    }
}
