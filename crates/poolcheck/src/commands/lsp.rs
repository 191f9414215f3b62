//! `poolcheck lsp`: the language server on stdin/stdout.

use poolcheck_lsp::ServerOptions;

/// Serves until `exit`: status 0 after `shutdown`, 1 without it (LSP's rule).
pub fn run() -> Result<u8, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the language server's runtime: {e}"))?;
    let ending = runtime.block_on(poolcheck_lsp::serve(
        tokio::io::stdin(),
        tokio::io::stdout(),
        ServerOptions::default(),
    ));
    // A workspace load still running in the background must not hold up the exit.
    runtime.shutdown_background();
    Ok(ending.exit_status())
}
