//! What-if overrides (`--set KEY=VALUE`): dotted configuration keys read by
//! the configuration front-end itself, so that `--set` accepts exactly the
//! keys and types `poolcheck.toml` does.
//!
//! The pairs become a small TOML document, one dotted key a line, held as a
//! source file of its own (`<--set>`), so that a value from `--set` quotes
//! its provenance like any other (`6 replicas (<--set>:1)`).

use poolcheck_core::facts::config::ProjectConfig;
use poolcheck_core::{FileKind, SourceFile};

/// The path the overrides' document is shown under.
pub const OVERRIDES_PATH: &str = "<--set>";

/// Reads `KEY=VALUE` pairs into a configuration to lay over the project's.
/// A value that is not TOML (`8`, `true`, `"x"`, `[1, 2]`) is taken as a
/// string; `env.*` values are always strings. The error names the pair and
/// says what is wrong with it.
pub fn read(pairs: &[String]) -> Result<Option<(SourceFile, ProjectConfig)>, String> {
    if pairs.is_empty() {
        return Ok(None);
    }
    let mut text = String::new();
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(format!(
                "--set {pair}: expected KEY=VALUE, e.g. `services.web.replicas=6`"
            ));
        };
        let key = key.trim();
        let value = value.trim();
        let is_key_part = |part: &str| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if !key.split('.').all(is_key_part) {
            return Err(format!(
                "--set {pair}: `{key}` is not a configuration key (dotted names such as `services.web.replicas`, `env.WEB_CONCURRENCY`, `database.max_connections`)"
            ));
        }
        let is_env = key.starts_with("env.") || key.contains(".env.");
        let literal = if !is_env && value.parse::<toml_edit::Value>().is_ok() {
            value.to_owned()
        } else {
            toml_edit::Value::from(value).to_string()
        };
        text.push_str(&format!("{key} = {}\n", literal.trim()));
    }
    let file = SourceFile::new(OVERRIDES_PATH, text);
    let (config, diagnostics) = crate::project::read_config(&file, FileKind::PoolcheckToml);
    if let Some(problem) = diagnostics.first() {
        let line = file.line_col(problem.primary.span.start as usize).line as usize;
        let pair = pairs.get(line.saturating_sub(1)).map_or("", String::as_str);
        return Err(format!("--set {pair}: {}", problem.message));
    }
    Ok(config.map(|config| (file, config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pairs: &[&str]) -> Result<ProjectConfig, String> {
        let pairs: Vec<String> = pairs.iter().map(|p| (*p).to_owned()).collect();
        read(&pairs).map(|c| c.expect("a configuration").1)
    }

    #[test]
    fn dotted_keys_reach_their_settings() {
        let config = set(&[
            "services.web.replicas=6",
            "env.WEB_CONCURRENCY=8",
            "database.max_connections=300",
            "services.worker.cpu_count=16",
        ])
        .expect("valid overrides");
        let web = config
            .services
            .iter()
            .find(|s| s.name == "web")
            .expect("web");
        assert_eq!(web.replicas.as_ref().and_then(|r| r.value), Some(6));
        let worker = config
            .services
            .iter()
            .find(|s| s.name == "worker")
            .expect("worker");
        assert_eq!(worker.cpu_count.as_ref().and_then(|c| c.value), Some(16));
        assert_eq!(
            config
                .env
                .iter()
                .find(|(k, _)| k == "WEB_CONCURRENCY")
                .and_then(|(_, v)| v.value.clone()),
            Some("8".to_owned())
        );
        assert_eq!(
            config
                .database
                .and_then(|d| d.max_connections)
                .and_then(|m| m.value),
            Some(300)
        );
    }

    #[test]
    fn unknown_keys_and_wrong_types_name_the_pair() {
        let unknown = set(&["nonsense=1"]).expect_err("unknown key");
        assert!(unknown.starts_with("--set nonsense=1: "), "{unknown}");
        let wrong = set(&["services.web.replicas=6", "database.max_connections=many"])
            .expect_err("wrong type");
        assert!(
            wrong.starts_with("--set database.max_connections=many: "),
            "{wrong}"
        );
        let shapeless = set(&["replicas"]).expect_err("no value");
        assert!(shapeless.contains("expected KEY=VALUE"), "{shapeless}");
    }
}
