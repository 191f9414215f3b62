//! Which rules run and at what severity: `select`/`ignore` by code or prefix,
//! per-rule severity overrides, from the configuration and the command line.
//!
//! PC003 (invalid configuration) always runs: the configuration is validated
//! whatever `select` and `ignore` say, so that a mistake in them (or anywhere
//! else in the file) is never silenced by the mistake itself.

use poolcheck_core::facts::ProjectConfig;
use poolcheck_core::{Code, Selector, Severity};

use crate::registry::{self, selector_matches};

/// Rules no selection turns off.
pub const ALWAYS_ENABLED: &[Code] = &[Code::PC003];

#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Selectors that enable rules; `ALL` when nothing was selected.
    pub select: Vec<String>,
    pub ignore: Vec<String>,
    pub severity: Vec<(String, Severity)>,
}

/// What the command line (or the editor) adds to the configuration.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Replaces the configuration's `select` when given.
    pub select: Option<Vec<String>>,
    /// Added to the configuration's `ignore`.
    pub ignore: Vec<String>,
    /// Added after (so over) the configuration's `severity`.
    pub severity: Vec<(String, Severity)>,
}

impl Selection {
    pub fn new(config: &ProjectConfig, overrides: &Overrides) -> Self {
        let values = |list: &[poolcheck_core::Sourced<String>]| -> Vec<String> {
            list.iter().filter_map(|s| s.value.clone()).collect()
        };
        // The front-end leaves out entries that name no rule (and reports
        // them): a `select` with none left is treated as absent, never as
        // "select nothing".
        let select = match (&overrides.select, &config.select) {
            (Some(cli), _) => cli.clone(),
            (None, Some(cfg)) if cfg.iter().any(|s| s.value.is_some()) => values(cfg),
            (None, _) => vec!["ALL".to_owned()],
        };
        let mut ignore = values(&config.ignore);
        ignore.extend(overrides.ignore.iter().cloned());
        let mut severity: Vec<(String, Severity)> = config
            .severity
            .iter()
            .filter_map(|(code, sev)| Some((code.value.clone()?, *sev)))
            .collect();
        severity.extend(overrides.severity.iter().cloned());
        Self {
            select,
            ignore,
            severity,
        }
    }

    /// Enabled when the most specific matching selector is a `select`; on a
    /// tie `ignore` wins.
    pub fn is_enabled(&self, code: &str) -> bool {
        if ALWAYS_ENABLED.iter().any(|c| *c == code) {
            return true;
        }
        let best = |list: &[String]| {
            list.iter()
                .filter(|s| selector_matches(s, code))
                .filter_map(|s| Selector::parse(s).ok())
                .map(Selector::specificity)
                .max()
        };
        match (best(&self.select), best(&self.ignore)) {
            (Some(s), Some(i)) => s > i,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// The severity after overrides; the most specific selector wins, later
    /// entries win ties.
    pub fn severity_of(&self, code: &str, default: Severity) -> Severity {
        let mut best: Option<(usize, Severity)> = None;
        for (selector, severity) in &self.severity {
            if let Ok(parsed) = Selector::parse(selector)
                && selector_matches(selector, code)
            {
                let len = parsed.specificity();
                if best.is_none_or(|(l, _)| len >= l) {
                    best = Some((len, *severity));
                }
            }
        }
        best.map_or(default, |(_, s)| s)
    }

    pub fn enabled_codes(&self) -> Vec<&'static str> {
        registry::all()
            .iter()
            .map(|r| r.meta.code.as_str())
            .filter(|c| self.is_enabled(c))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selection(select: &[&str], ignore: &[&str]) -> Selection {
        Selection {
            select: select.iter().map(|s| (*s).to_owned()).collect(),
            ignore: ignore.iter().map(|s| (*s).to_owned()).collect(),
            severity: Vec::new(),
        }
    }

    #[test]
    fn the_most_specific_selector_wins() {
        let s = selection(&["ALL"], &["PC1"]);
        assert!(!s.is_enabled("PC101"));
        assert!(s.is_enabled("PC201"));
        let s = selection(&["PC101"], &["PC1"]);
        assert!(s.is_enabled("PC101"));
        assert!(!s.is_enabled("PC102"));
        let s = selection(&["PC2"], &[]);
        assert!(!s.is_enabled("PC101"));
    }

    #[test]
    fn severity_overrides_by_prefix_and_code() {
        let s = Selection {
            severity: vec![
                ("PC1".to_owned(), Severity::Warning),
                ("PC105".to_owned(), Severity::Error),
            ],
            ..selection(&["ALL"], &[])
        };
        assert_eq!(s.severity_of("PC101", Severity::Error), Severity::Warning);
        assert_eq!(s.severity_of("PC105", Severity::Warning), Severity::Error);
        assert_eq!(s.severity_of("PC201", Severity::Error), Severity::Error);
    }

    #[test]
    fn the_configuration_is_validated_whatever_the_selection() {
        let s = selection(&["PC101"], &["PC0", "PC003"]);
        assert!(s.is_enabled("PC003"));
        assert!(!s.is_enabled("PC002"));
        assert!(selection(&["PC2"], &["ALL"]).is_enabled("PC003"));
    }

    #[test]
    fn a_select_without_a_valid_entry_selects_everything() {
        use poolcheck_core::Sourced;
        // What the front-end leaves of `select = ["PC9"]` or `select = "PC1"`.
        let config = ProjectConfig {
            select: Some(Vec::new()),
            ..ProjectConfig::default()
        };
        let s = Selection::new(&config, &Overrides::default());
        assert!(s.is_enabled("PC101") && s.is_enabled("PC503"));
        let config = ProjectConfig {
            select: Some(vec![Sourced::tool_default("PC2".to_owned(), "test")]),
            ..ProjectConfig::default()
        };
        let s = Selection::new(&config, &Overrides::default());
        assert!(s.is_enabled("PC201") && !s.is_enabled("PC101"));
    }
}
