//! The protocol layer: tower-lsp-server handlers over [`State`]. Handlers run
//! one at a time (`concurrency_level(1)`) and the state lock is held while a
//! change's diagnostics are sent, so edits apply and publish in order.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use poolcheck_core::SourceFile;
use serde_json::Value;
use tokio::sync::{Mutex, MutexGuard, Notify};
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{
    CodeActionKind, CodeActionOptions, CodeActionParams, CodeActionProviderCapability,
    CodeActionResponse, DidChangeConfigurationParams, DidChangeTextDocumentParams,
    DidChangeWatchedFilesParams, DidChangeWatchedFilesRegistrationOptions,
    DidCloseTextDocumentParams, DidOpenTextDocumentParams, DidSaveTextDocumentParams,
    ExecuteCommandOptions, ExecuteCommandParams, FileChangeType, FileSystemWatcher, GlobPattern,
    Hover, HoverContents, HoverParams, HoverProviderCapability, InitializeParams, InitializeResult,
    InitializedParams, InlayHint, InlayHintLabel, InlayHintParams, LSPAny, MarkupContent,
    MarkupKind, MessageType, OneOf, Registration, SaveOptions, ServerCapabilities, ServerInfo,
    ShowDocumentParams, TextDocumentSyncCapability, TextDocumentSyncKind, TextDocumentSyncOptions,
    TextDocumentSyncSaveOptions, Uri,
};
use tower_lsp_server::{Client, LanguageServer};

use crate::actions::{self, SHOW_DOCUMENTATION};
use crate::convert;
use crate::hover;
use crate::settings::Settings;
use crate::state::{self, ClientCaps, DocumentEdit, Publish, State};

/// How the server is run. The server never changes the process's working
/// directory: the workspace folders it is given are the roots, and a file's
/// identity is its path as resolved once at start, whatever a later
/// `chdir` of the process (or of a test sharing it) does.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerOptions {}

pub struct Backend {
    client: Client,
    state: Arc<Mutex<State>>,
    /// `didChange`s not applied yet. The handler only queues them, so that
    /// edits arriving while an analysis runs are applied together and only
    /// their last state is analysed and published.
    edits: Arc<EditQueue>,
    shutdown: Arc<AtomicBool>,
}

#[derive(Default)]
struct EditQueue {
    queued: std::sync::Mutex<Vec<DocumentEdit>>,
    wake: Notify,
}

impl EditQueue {
    fn push(&self, edit: DocumentEdit) {
        self.queued
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(edit);
        self.wake.notify_one();
    }

    fn is_empty(&self) -> bool {
        self.queued
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_empty()
    }

    fn take(&self) -> Vec<DocumentEdit> {
        std::mem::take(
            &mut *self
                .queued
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

/// Applies and publishes the queued edits whenever some arrive.
async fn apply_edits_forever(state: Arc<Mutex<State>>, edits: Arc<EditQueue>, client: Client) {
    let mut in_burst = false;
    loop {
        edits.wake.notified().await;
        // Lets notifications already read off the wire join this batch.
        tokio::task::yield_now().await;
        if in_burst {
            // A burst is edits that arrive while an analysis runs: they are
            // typed faster than the project is analysed, so analysing each
            // would only publish states the user has already left. Its last
            // state is analysed once it pauses (the `debounce-ms` setting);
            // an edit that finds the server idle is analysed at once.
            let pause = state.lock().await.settings.debounce();
            // Each new edit restarts the pause.
            loop {
                tokio::select! {
                    () = tokio::time::sleep(pause) => break,
                    () = edits.wake.notified() => {}
                }
            }
        }
        let mut state = state.lock().await;
        let publishes = state.apply_edits(edits.take());
        // What is queued now came while this batch was analysed (not while
        // its results are sent, which a client answers with its next edit).
        in_burst = !edits.is_empty();
        send(&client, publishes).await;
        free_retired(&mut state);
    }
}

/// The globs of every file kind discovery reads.
const WATCHED: &[&str] = &[
    "**/*.py",
    "**/*.ini",
    "**/*.conf",
    "**/*.toml",
    "**/*.sh",
    "**/*.env",
    "**/.env*",
    "**/Procfile*",
    "**/Dockerfile*",
    "**/*.dockerfile",
    "**/Containerfile",
    // compose files, Kubernetes manifests and kustomizations.
    "**/*.yml",
    "**/*.yaml",
    "**/requirements*.txt",
    "**/*.lock",
    "**/*entrypoint*",
];

impl Backend {
    pub fn new(client: Client, _options: ServerOptions, shutdown: Arc<AtomicBool>) -> Self {
        Self {
            client,
            state: Arc::new(Mutex::new(State::default())),
            edits: Arc::new(EditQueue::default()),
            shutdown,
        }
    }

    /// The state, with every edit received so far applied (and its
    /// diagnostics sent): requests and notifications see the edits the
    /// client sent before them.
    async fn lock(&self) -> MutexGuard<'_, State> {
        let mut state = self.state.lock().await;
        let edits = self.edits.take();
        if !edits.is_empty() {
            let publishes = state.apply_edits(edits);
            send(&self.client, publishes).await;
            free_retired(&mut state);
        }
        state
    }

    /// Loads (or reloads) the whole workspace off the request path; requests
    /// keep being answered meanwhile, and edits made meanwhile are laid over
    /// the result.
    async fn start_load(&self) {
        let (generation, roots) = self.state.lock().await.begin_load();
        let state = Arc::clone(&self.state);
        let client = self.client.clone();
        tokio::spawn(async move {
            let Ok((loaded, error)) =
                tokio::task::spawn_blocking(move || state::load(&roots)).await
            else {
                client
                    .log_message(
                        MessageType::ERROR,
                        "poolcheck: loading the workspace failed",
                    )
                    .await;
                return;
            };
            if let Some(error) = error {
                client
                    .show_message(MessageType::WARNING, format!("poolcheck: {error}"))
                    .await;
            }
            let mut state = state.lock().await;
            let publishes = state.finish_load(generation, loaded);
            send(&client, publishes).await;
            free_retired(&mut state);
        });
    }

    async fn report_settings_problems(&self, problems: Vec<String>) {
        for problem in problems {
            self.client
                .show_message(
                    MessageType::WARNING,
                    format!("poolcheck settings: {problem}"),
                )
                .await;
        }
    }
}

/// Frees what the last edits replaced (a large module's old IR and tree, the
/// old analysis) off the handler's thread, once their diagnostics are sent:
/// the next edit does not wait for it.
fn free_retired(state: &mut State) {
    let retired = state.take_retired();
    if !retired.is_empty() {
        tokio::task::spawn_blocking(move || drop(retired));
    }
}

async fn send(client: &Client, publishes: Vec<Publish>) {
    for p in publishes {
        client
            .publish_diagnostics(p.uri, p.diagnostics, p.version)
            .await;
    }
}

fn roots_of(params: &InitializeParams) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = params
        .workspace_folders
        .iter()
        .flatten()
        .filter_map(|f| convert::uri_to_path(&f.uri))
        .collect();
    #[allow(deprecated)]
    if roots.is_empty() {
        if let Some(root) = params.root_uri.as_ref().and_then(convert::uri_to_path) {
            roots.push(root);
        } else if let Some(path) = params.root_path.as_ref() {
            roots.push(PathBuf::from(path));
        }
    }
    if roots.is_empty() {
        roots.extend(std::env::current_dir().ok());
    }
    roots
}

fn caps_of(params: &InitializeParams) -> ClientCaps {
    let c = &params.capabilities;
    let offered = c
        .general
        .as_ref()
        .and_then(|g| g.position_encodings.as_deref());
    ClientCaps {
        encoding: convert::negotiate_encoding(offered),
        related_information: c
            .text_document
            .as_ref()
            .and_then(|t| t.publish_diagnostics.as_ref())
            .and_then(|p| p.related_information)
            .unwrap_or(false),
        show_document: c
            .window
            .as_ref()
            .and_then(|w| w.show_document.as_ref())
            .is_some_and(|s| s.support),
        watched_files_dynamic: c
            .workspace
            .as_ref()
            .and_then(|w| w.did_change_watched_files.as_ref())
            .and_then(|d| d.dynamic_registration)
            .unwrap_or(false),
        configuration_dynamic: c
            .workspace
            .as_ref()
            .and_then(|w| w.did_change_configuration.as_ref())
            .and_then(|d| d.dynamic_registration)
            .unwrap_or(false),
    }
}

/// A document's text as a [`SourceFile`] named as the workspace names it.
fn current_file(state: &State, uri: &Uri) -> Option<(Arc<SourceFile>, PathBuf)> {
    let path = convert::uri_to_path(uri)?;
    let file_path = state.file_path(&path);
    if let Some(file) = state
        .workspace
        .as_ref()
        .and_then(|ws| ws.sources.get(&file_path))
    {
        return Some((Arc::clone(file), path));
    }
    let text = match state.open.get(&path) {
        Some(doc) => doc.text.clone(),
        None => poolcheck_workspace::discover::read_candidate(&path)
            .ok()?
            .ok()?,
    };
    Some((Arc::new(SourceFile::new(file_path, text)), path))
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        let roots = roots_of(&params);
        let caps = caps_of(&params);
        let (settings, problems) = params
            .initialization_options
            .as_ref()
            .map(Settings::from_json)
            .unwrap_or_default();
        *self.state.lock().await = State::new(roots, caps, settings);
        self.report_settings_problems(problems).await;

        Ok(InitializeResult {
            capabilities: ServerCapabilities {
                position_encoding: Some(convert::encoding_kind(caps.encoding)),
                text_document_sync: Some(TextDocumentSyncCapability::Options(
                    TextDocumentSyncOptions {
                        open_close: Some(true),
                        change: Some(TextDocumentSyncKind::INCREMENTAL),
                        save: Some(TextDocumentSyncSaveOptions::SaveOptions(SaveOptions {
                            include_text: Some(false),
                        })),
                        ..TextDocumentSyncOptions::default()
                    },
                )),
                hover_provider: Some(HoverProviderCapability::Simple(true)),
                inlay_hint_provider: Some(OneOf::Left(true)),
                code_action_provider: Some(CodeActionProviderCapability::Options(
                    CodeActionOptions {
                        code_action_kinds: Some(vec![
                            CodeActionKind::QUICKFIX,
                            actions::fix_all_kind(),
                        ]),
                        ..CodeActionOptions::default()
                    },
                )),
                execute_command_provider: Some(ExecuteCommandOptions {
                    commands: vec![SHOW_DOCUMENTATION.to_owned()],
                    ..ExecuteCommandOptions::default()
                }),
                ..ServerCapabilities::default()
            },
            server_info: Some(ServerInfo {
                name: "poolcheck".to_owned(),
                version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            }),
            offset_encoding: None,
        })
    }

    async fn initialized(&self, _: InitializedParams) {
        let caps = self.lock().await.caps;
        if caps.watched_files_dynamic {
            let options = DidChangeWatchedFilesRegistrationOptions {
                watchers: WATCHED
                    .iter()
                    .map(|glob| FileSystemWatcher {
                        glob_pattern: GlobPattern::String((*glob).to_owned()),
                        kind: None,
                    })
                    .collect(),
            };
            let registration = Registration {
                id: "poolcheck-watched-files".to_owned(),
                method: "workspace/didChangeWatchedFiles".to_owned(),
                register_options: serde_json::to_value(options).ok(),
            };
            let client = self.client.clone();
            // Not awaited here: the client answers registrations in its own time.
            tokio::spawn(async move {
                if let Err(error) = client.register_capability(vec![registration]).await {
                    client
                        .log_message(
                            MessageType::WARNING,
                            format!("poolcheck: could not watch files: {error}"),
                        )
                        .await;
                }
            });
        }
        tokio::spawn(apply_edits_forever(
            Arc::clone(&self.state),
            Arc::clone(&self.edits),
            self.client.clone(),
        ));
        self.start_load().await;
    }

    async fn shutdown(&self) -> Result<()> {
        self.shutdown.store(true, Ordering::SeqCst);
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let doc = params.text_document;
        let Some(path) = convert::uri_to_path(&doc.uri) else {
            return;
        };
        let mut state = self.lock().await;
        state.open.insert(
            path.clone(),
            state::OpenDocument::new(doc.uri, doc.text.clone(), doc.version),
        );
        if state.sync_file(&path, Some(doc.text)) {
            let publishes = state.reanalyze();
            send(&self.client, publishes).await;
            free_retired(&mut state);
        }
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        let Some(path) = convert::uri_to_path(&params.text_document.uri) else {
            return;
        };
        self.edits.push(DocumentEdit {
            path,
            changes: params.content_changes,
            version: params.text_document.version,
        });
    }

    async fn did_save(&self, params: DidSaveTextDocumentParams) {
        let Some(path) = convert::uri_to_path(&params.text_document.uri) else {
            return;
        };
        let (is_config, watched) = {
            let state = self.lock().await;
            (
                state.is_config_file(&path),
                state.caps.watched_files_dynamic,
            )
        };
        // Clients that watch files report the save there too.
        if is_config && !watched {
            self.start_load().await;
        }
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        let Some(path) = convert::uri_to_path(&params.text_document.uri) else {
            return;
        };
        let mut state = self.lock().await;
        state.open.remove(&path);
        state.sync_from_disk(&path);
        let publishes = state.reanalyze();
        send(&self.client, publishes).await;
        free_retired(&mut state);
    }

    async fn did_change_watched_files(&self, params: DidChangeWatchedFilesParams) {
        let mut reload = false;
        let mut state = self.lock().await;
        for change in params.changes {
            let Some(path) = convert::uri_to_path(&change.uri) else {
                continue;
            };
            if state.is_config_file(&path) {
                reload = true;
            } else if state.open.contains_key(&path) {
                // The editor's buffer wins over the disk.
            } else if change.typ == FileChangeType::DELETED {
                state.sync_file(&path, None);
            } else {
                state.sync_from_disk(&path);
            }
        }
        if reload {
            drop(state);
            self.start_load().await;
        } else {
            let publishes = state.reanalyze();
            send(&self.client, publishes).await;
            free_retired(&mut state);
        }
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        if params.settings.is_null() {
            return;
        }
        let problems = {
            let mut state = self.lock().await;
            let (settings, problems) = Settings::from_json_over(&params.settings, &state.settings);
            state.settings = settings;
            let publishes = state.reanalyze();
            send(&self.client, publishes).await;
            free_retired(&mut state);
            problems
        };
        self.report_settings_problems(problems).await;
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        let at = params.text_document_position_params;
        let state = self.lock().await;
        let Some((file, _)) = current_file(&state, &at.text_document.uri) else {
            return Ok(None);
        };
        let offset = convert::offset(file.index(), file.text(), at.position, state.caps.encoding);
        let kind = state
            .workspace
            .as_ref()
            .and_then(|ws| ws.facts_of(file.path()))
            .map(|f| f.kind);
        let empty = poolcheck_rules::sources::Sources::default();
        let sources = state.workspace.as_ref().map_or(&empty, |ws| &ws.sources);
        let text = hover::hover(
            &file,
            hover::kind_of(file.path(), kind),
            offset,
            state.analysis.as_ref(),
            sources,
        );
        Ok(text.map(|value| Hover {
            contents: HoverContents::Markup(MarkupContent {
                kind: MarkupKind::Markdown,
                value,
            }),
            range: None,
        }))
    }

    async fn inlay_hint(&self, params: InlayHintParams) -> Result<Option<Vec<InlayHint>>> {
        let state = self.lock().await;
        let Some((file, _)) = current_file(&state, &params.text_document.uri) else {
            return Ok(None);
        };
        let (Some(analysis), Some(workspace)) = (state.analysis.as_ref(), state.workspace.as_ref())
        else {
            return Ok(None);
        };
        let range = convert::span_of(&file, params.range, state.caps.encoding);
        let hints = hover::inlay_hints(&file, analysis, &workspace.sources)
            .into_iter()
            .filter(|(offset, _)| range.start as usize <= *offset && *offset <= range.end as usize)
            .map(|(offset, label)| InlayHint {
                position: convert::position(&file, offset, state.caps.encoding),
                label: InlayHintLabel::String(label),
                kind: None,
                text_edits: None,
                tooltip: None,
                padding_left: Some(true),
                padding_right: None,
                data: None,
            })
            .collect();
        Ok(Some(hints))
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        let mut state = self.lock().await;
        let Some((file, _)) = current_file(&state, &params.text_document.uri) else {
            return Ok(None);
        };
        let span = convert::span_of(&file, params.range, state.caps.encoding);
        let actions = actions::code_actions(
            &mut state,
            file.path(),
            span,
            params.context.only.as_deref(),
        );
        Ok(Some(actions))
    }

    async fn execute_command(&self, params: ExecuteCommandParams) -> Result<Option<LSPAny>> {
        if params.command != SHOW_DOCUMENTATION {
            return Err(tower_lsp_server::jsonrpc::Error::invalid_params(format!(
                "unknown command `{}`",
                params.command
            )));
        }
        let Some(url) = params.arguments.first().and_then(Value::as_str) else {
            return Err(tower_lsp_server::jsonrpc::Error::invalid_params(
                "expected the documentation URL as the first argument",
            ));
        };
        let show_document = self.lock().await.caps.show_document;
        let shown = match convert::web_uri(url) {
            Some(uri) if show_document => self
                .client
                .show_document(ShowDocumentParams {
                    uri,
                    external: Some(true),
                    take_focus: Some(true),
                    selection: None,
                })
                .await
                .unwrap_or(false),
            _ => false,
        };
        if !shown {
            self.client
                .show_message(MessageType::INFO, format!("poolcheck documentation: {url}"))
                .await;
        }
        Ok(None)
    }
}
