//! The `poolcheck` binary. Also the binary of the repository root's package,
//! so that pre-commit's `language: rust` can install it.

fn main() -> std::process::ExitCode {
    poolcheck::run()
}
