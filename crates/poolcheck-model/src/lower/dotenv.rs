//! `.env` at any level: variables every process sees (other `*.env` files
//! count only where a workload names them in `env_file:`).

use poolcheck_core::{Environment, FileFacts};

pub(super) fn lower_environment(facts: &FileFacts, env: &mut Environment) {
    if !facts.path.file_name().eq_ignore_ascii_case(".env") {
        return;
    }
    if let Some(deploy) = &facts.deploy {
        super::add_layers(env, deploy);
    }
}
