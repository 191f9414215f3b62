//! The poolcheck language server: the CLI's analysis over the whole workspace,
//! kept current as the editor's documents change, published as diagnostics in
//! every file a finding involves, with hover that writes out the budget
//! arithmetic and code actions for fixes and suppressions.
//!
//! The server never analyses anything itself: it keeps a
//! [`poolcheck_rules::Workspace`], replaces the files the editor changes
//! (`Workspace::update`) and re-runs [`poolcheck_rules::analyze`].

pub mod actions;
pub mod convert;
pub mod hover;
pub mod server;
pub mod settings;
pub mod state;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tower_lsp_server::{LspService, Server};

pub use server::{Backend, ServerOptions};

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// `shutdown` then `exit`: exit status 0.
    Clean,
    /// `exit` without `shutdown`, or the input closed: exit status 1.
    Abrupt,
}

impl Ending {
    pub fn exit_status(self) -> u8 {
        match self {
            Ending::Clean => 0,
            Ending::Abrupt => 1,
        }
    }
}

/// Serves the protocol over `input`/`output` until `exit` or end of input.
/// Messages are handled one at a time, so document changes apply in order.
pub async fn serve<I, O>(input: I, output: O, options: ServerOptions) -> Ending
where
    I: AsyncRead + Unpin + Send + 'static,
    O: AsyncWrite,
{
    let shutdown = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&shutdown);
    let (service, socket) = LspService::new(move |client| Backend::new(client, options, flag));
    let (checked, forward) = tokio::io::duplex(1 << 16);
    tokio::spawn(pass_well_formed(input, forward));
    Server::new(checked, output, socket)
        .concurrency_level(1)
        .serve(service)
        .await;
    if shutdown.load(Ordering::SeqCst) {
        Ending::Clean
    } else {
        Ending::Abrupt
    }
}

/// The largest message accepted; a bigger one is read past and dropped.
const MAX_MESSAGE: usize = 256 << 20;

/// Forwards only well-formed JSON-RPC messages: tower-lsp-server ends the
/// session at the first body it cannot decode, and a client's one bad message
/// must not take the server down with it.
async fn pass_well_formed<I, W>(input: I, mut forward: W)
where
    I: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut reader = BufReader::new(input);
    loop {
        let mut length = None;
        loop {
            let mut line = Vec::new();
            match reader.read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let line = String::from_utf8_lossy(&line);
            let line = line.trim();
            if line.is_empty() {
                if length.is_some() {
                    break;
                }
                continue;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.trim().eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse::<usize>().ok();
                }
            }
        }
        let length = length.unwrap_or(0);
        if length > MAX_MESSAGE {
            let skipped = tokio::io::copy(
                &mut (&mut reader).take(length as u64),
                &mut tokio::io::sink(),
            )
            .await;
            if skipped.is_err() {
                return;
            }
            eprintln!("poolcheck lsp: dropped a message of {length} bytes");
            continue;
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        if !is_json_rpc(&body) {
            eprintln!(
                "poolcheck lsp: dropped a malformed message: {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            );
            continue;
        }
        let header = format!("Content-Length: {length}\r\n\r\n");
        if forward.write_all(header.as_bytes()).await.is_err()
            || forward.write_all(&body).await.is_err()
        {
            return;
        }
    }
}

fn is_json_rpc(body: &[u8]) -> bool {
    let Ok(Value::Object(message)) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    let request = message.get("method").is_some_and(Value::is_string);
    let response = message.contains_key("id")
        && (message.contains_key("result") || message.contains_key("error"));
    message.get("jsonrpc").and_then(Value::as_str) == Some("2.0") && (request || response)
}
