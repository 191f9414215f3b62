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

use tokio::io::{AsyncRead, AsyncWrite};
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
    I: AsyncRead + Unpin,
    O: AsyncWrite,
{
    let shutdown = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&shutdown);
    let (service, socket) = LspService::new(move |client| Backend::new(client, options, flag));
    Server::new(input, output, socket)
        .concurrency_level(1)
        .serve(service)
        .await;
    if shutdown.load(Ordering::SeqCst) {
        Ending::Clean
    } else {
        Ending::Abrupt
    }
}
