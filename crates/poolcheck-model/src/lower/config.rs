//! The configuration's own declarations that every process sees: `[env]`
//! (`[services.<name>] env` applies in assembly, once names are known).

use poolcheck_core::Environment;
use poolcheck_core::facts::config::ProjectConfig;

pub(super) fn lower_environment(config: &ProjectConfig, env: &mut Environment) {
    super::layer_declared(env, &config.env, "poolcheck config [env]");
}
