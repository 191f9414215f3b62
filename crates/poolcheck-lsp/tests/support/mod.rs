//! An in-process LSP client over an in-memory duplex pipe.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Duration;

use poolcheck_lsp::{Ending, ServerOptions};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, DuplexStream};
use tokio::task::JoinHandle;

pub struct TestClient {
    reader: BufReader<tokio::io::ReadHalf<DuplexStream>>,
    writer: tokio::io::WriteHalf<DuplexStream>,
    next_id: i64,
    /// Server messages read while waiting for something else.
    pending: VecDeque<Value>,
    pub server: JoinHandle<Ending>,
    pub root: PathBuf,
    dir: Option<tempfile::TempDir>,
}

/// A copy of a fixture project in a temporary directory.
pub fn copy_fixture(name: &str) -> tempfile::TempDir {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/projects")
        .join(name);
    let dir = tempfile::tempdir().expect("temporary directory");
    copy_dir(&source, dir.path());
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create directory");
    for entry in std::fs::read_dir(from).expect("read fixture") {
        let entry = entry.expect("fixture entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy fixture file");
        }
    }
}

pub fn uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

impl TestClient {
    pub fn start(dir: tempfile::TempDir) -> TestClient {
        let root = dir.path().canonicalize().expect("canonical root");
        let mut client = Self::start_at(root);
        client.dir = Some(dir);
        client
    }

    pub fn start_at(root: PathBuf) -> TestClient {
        let (client_io, server_io) = tokio::io::duplex(1 << 22);
        let (server_read, server_write) = tokio::io::split(server_io);
        let server = tokio::spawn(poolcheck_lsp::serve(
            server_read,
            server_write,
            ServerOptions::default(),
        ));
        let (reader, writer) = tokio::io::split(client_io);
        TestClient {
            reader: BufReader::new(reader),
            writer,
            next_id: 0,
            pending: VecDeque::new(),
            server,
            root,
            dir: None,
        }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    pub fn uri(&self, relative: &str) -> String {
        uri(&self.path(relative))
    }

    /// `initialize` + `initialized` with typical capabilities, merged with `extra`.
    pub async fn initialize(&mut self, capabilities: Value, options: Value) -> Value {
        let result = self
            .request(
                "initialize",
                json!({
                    "processId": null,
                    "rootUri": uri(&self.root),
                    "workspaceFolders": [{"uri": uri(&self.root), "name": "demo"}],
                    "capabilities": capabilities,
                    "initializationOptions": options,
                }),
            )
            .await;
        self.notify("initialized", json!({})).await;
        result
    }

    pub async fn send(&mut self, message: &Value) {
        let body = serde_json::to_string(message).expect("serialisable");
        let frame = format!("Content-Length: {}\r\n\r\n{body}", body.len());
        self.writer
            .write_all(frame.as_bytes())
            .await
            .expect("server reads");
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.expect("server reads");
    }

    pub async fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}))
            .await;
    }

    /// Sends a request and returns its whole response (result or error).
    pub async fn request_raw(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        loop {
            let message = self.read().await;
            if message.get("id") == Some(&json!(id)) && message.get("method").is_none() {
                return message;
            }
            self.pending.push_back(message);
        }
    }

    pub async fn request(&mut self, method: &str, params: Value) -> Value {
        let response = self.request_raw(method, params).await;
        assert!(
            response.get("error").is_none(),
            "{method} failed: {response}"
        );
        response["result"].clone()
    }

    /// Reads the next server message, answering server requests as a
    /// cooperative client does.
    async fn read(&mut self) -> Value {
        let message = tokio::time::timeout(Duration::from_secs(30), self.read_frame())
            .await
            .expect("the server answered within 30 s");
        if let (Some(id), Some(method)) = (message.get("id"), message.get("method")) {
            let result = if method == "window/showDocument" {
                json!({"success": true})
            } else {
                Value::Null
            };
            let reply = json!({"jsonrpc": "2.0", "id": id, "result": result});
            self.send(&reply).await;
        }
        message
    }

    async fn read_frame(&mut self) -> Value {
        let mut length = None;
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).await.expect("header");
            assert!(n > 0, "the server closed the connection");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(v) = line.strip_prefix("Content-Length: ") {
                length = Some(v.parse::<usize>().expect("length"));
            }
        }
        let mut body = vec![0; length.expect("Content-Length header")];
        self.reader.read_exact(&mut body).await.expect("body");
        serde_json::from_slice(&body).expect("JSON body")
    }

    /// The next message (pending first) that satisfies `pred`; others stay pending.
    pub async fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.pending.iter().position(&pred) {
            return self.pending.remove(i).expect("index from position");
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}; pending: {:?}",
                self.pending
            );
            let message = self.read().await;
            if pred(&message) {
                return message;
            }
            self.pending.push_back(message);
        }
    }

    /// The next diagnostics published for `relative` that satisfy `pred`.
    pub async fn diagnostics(
        &mut self,
        relative: &str,
        pred: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let uri = self.uri(relative);
        let message = self
            .wait_for(&format!("diagnostics for {relative}"), |m| {
                m["method"] == "textDocument/publishDiagnostics"
                    && m["params"]["uri"] == uri
                    && pred(
                        m["params"]["diagnostics"]
                            .as_array()
                            .map_or(&[], Vec::as_slice),
                    )
            })
            .await;
        message["params"]["diagnostics"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub async fn open(&mut self, relative: &str, language: &str) -> String {
        let text = std::fs::read_to_string(self.path(relative)).expect("fixture file");
        let uri = self.uri(relative);
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": language, "version": 1, "text": text}}),
        )
        .await;
        text
    }

    pub async fn change(&mut self, relative: &str, version: i32, changes: Value) {
        let uri = self.uri(relative);
        self.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": changes}),
        )
        .await;
    }

    /// `shutdown` then `exit`; returns how the server says it ended.
    pub async fn finish(mut self) -> Ending {
        self.request("shutdown", Value::Null).await;
        self.notify("exit", Value::Null).await;
        tokio::time::timeout(Duration::from_secs(10), self.server)
            .await
            .expect("the server stops after exit")
            .expect("the server task did not panic")
    }
}

pub fn codes(diagnostics: &[Value]) -> Vec<String> {
    let mut codes: Vec<String> = diagnostics
        .iter()
        .filter_map(|d| d["code"].as_str().map(str::to_owned))
        .collect();
    codes.sort();
    codes
}

pub fn has_code(diagnostics: &[Value], code: &str) -> bool {
    diagnostics.iter().any(|d| d["code"] == code)
}

pub fn find<'a>(diagnostics: &'a [Value], code: &str) -> &'a Value {
    diagnostics
        .iter()
        .find(|d| d["code"] == code)
        .unwrap_or_else(|| panic!("no {code} in {diagnostics:#?}"))
}

/// The capabilities of a modern client: related information, UTF-16 only,
/// dynamic file watching, showDocument.
pub fn full_capabilities() -> Value {
    json!({
        "general": {"positionEncodings": ["utf-16"]},
        "textDocument": {
            "publishDiagnostics": {"relatedInformation": true},
            "hover": {"contentFormat": ["markdown", "plaintext"]},
            "codeAction": {"codeActionLiteralSupport": {"codeActionKind": {"valueSet": ["quickfix", "source.fixAll"]}}},
        },
        "workspace": {"didChangeWatchedFiles": {"dynamicRegistration": true}, "configuration": true},
        "window": {"showDocument": {"support": true}},
    })
}

/// Applies LSP text edits (UTF-16 positions) to `text`.
pub fn apply_edits(text: &str, edits: &[Value]) -> String {
    let mut edits: Vec<(usize, usize, String)> = edits
        .iter()
        .map(|e| {
            (
                utf16_offset(text, &e["range"]["start"]),
                utf16_offset(text, &e["range"]["end"]),
                e["newText"].as_str().expect("newText").to_owned(),
            )
        })
        .collect();
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = text.to_owned();
    for (start, end, new) in edits {
        out.replace_range(start..end, &new);
    }
    out
}

pub fn utf16_offset(text: &str, position: &Value) -> usize {
    let line = position["line"].as_u64().expect("line") as usize;
    let character = position["character"].as_u64().expect("character") as usize;
    let line_start: usize = text.split_inclusive('\n').take(line).map(str::len).sum();
    let mut units = 0;
    for (i, c) in text[line_start..].char_indices() {
        if units >= character || c == '\n' {
            return line_start + i;
        }
        units += c.len_utf16();
    }
    text.len()
}

/// The UTF-16 position of the first `needle` in `text`.
pub fn position_of(text: &str, needle: &str) -> Value {
    let offset = text.find(needle).expect("needle in text");
    let line = text[..offset].matches('\n').count();
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let character: usize = text[line_start..offset].chars().map(char::len_utf16).sum();
    json!({"line": line, "character": character})
}
