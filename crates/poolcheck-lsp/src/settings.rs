//! Editor settings (`initializationOptions`, `workspace/didChangeConfiguration`):
//! the command line's `--select`, `--ignore`, per-rule severities and
//! `--fail-on`, layered over the project's configuration, and how long a
//! burst of edits must pause before it is analysed.

use std::time::Duration;

use poolcheck_core::Severity;
use poolcheck_rules::registry;
use poolcheck_rules::selection::Overrides;
use serde_json::Value;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    pub select: Option<Vec<String>>,
    pub ignore: Vec<String>,
    pub severity: Vec<(String, Severity)>,
    /// The severity at which the CLI would fail. In the editor, findings below
    /// it are shown as hints so that what would fail CI stands out.
    pub fail_on: Option<Severity>,
    /// `debounce-ms`: how long a burst of edits must pause before its last
    /// state is analysed; `None` is [`DEFAULT_DEBOUNCE`].
    pub debounce: Option<Duration>,
}

/// The pause a burst of edits waits for when the editor sets none.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(30);

/// A longer pause would read as the server not answering at all.
const MAX_DEBOUNCE_MS: u64 = 5_000;

impl Settings {
    /// Reads settings from the object a client sends, either bare
    /// (`{"select": [...]}`) or under a `poolcheck` key (VS Code's
    /// `settings` shape). Returns the problems found, one sentence each;
    /// invalid entries are left out, the rest applies.
    pub fn from_json(value: &Value) -> (Settings, Vec<String>) {
        Self::from_json_over(value, &Settings::default())
    }

    /// [`Settings::from_json`] for a change of settings: a key whose value
    /// is unusable (a wrong type, or a list that names no rule at all) keeps
    /// its `previous` value rather than turning every rule off, and so does
    /// a payload that is not an object. The problems say what was kept.
    pub fn from_json_over(value: &Value, previous: &Settings) -> (Settings, Vec<String>) {
        let value = value.get("poolcheck").unwrap_or(value);
        let mut settings = Settings::default();
        let mut problems = Vec::new();
        let Some(object) = value.as_object() else {
            // Lua clients encode an empty table as `[]`.
            let empty = value.is_null() || value.as_array().is_some_and(Vec::is_empty);
            if !empty {
                problems.push(
                    "poolcheck settings must be an object; the previous settings stay".to_owned(),
                );
                return (previous.clone(), problems);
            }
            return (settings, problems);
        };
        if let Some(select) = object.get("select").filter(|v| !v.is_null()) {
            settings.select = if let Some(codes) = selectors(select, "select", &mut problems) {
                Some(codes)
            } else {
                problems.push("select: the previous selection stays".to_owned());
                previous.select.clone()
            };
        }
        if let Some(ignore) = object.get("ignore") {
            settings.ignore = selectors(ignore, "ignore", &mut problems)
                .unwrap_or_else(|| previous.ignore.clone());
        }
        match object.get("severity") {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (code, level) in map {
                    let level_name = level.as_str().unwrap_or_default();
                    match Severity::parse(level_name) {
                        Some(s) if registry::selector_is_known(code) => {
                            settings.severity.push((code.to_ascii_uppercase(), s));
                        }
                        Some(_) => problems.push(format!("severity: `{code}` matches no rule")),
                        None => problems.push(format!(
                            "severity of `{code}`: expected \"error\", \"warning\" or \"info\", got {level}"
                        )),
                    }
                }
            }
            Some(other) => problems.push(format!(
                "severity: expected a table such as {{\"PC105\": \"error\"}}, got {other}"
            )),
        }
        let fail_on = object.get("fail-on").or_else(|| object.get("failOn"));
        if let Some(level) = fail_on.filter(|v| !v.is_null()) {
            match level.as_str().and_then(Severity::parse) {
                Some(s) => settings.fail_on = Some(s),
                None => problems.push(format!(
                    "fail-on: expected \"error\", \"warning\" or \"info\", got {level}"
                )),
            }
        }
        let debounce = object
            .get("debounce-ms")
            .or_else(|| object.get("debounceMs"));
        if let Some(ms) = debounce.filter(|v| !v.is_null()) {
            if let Some(ms) = ms.as_u64().filter(|ms| *ms <= MAX_DEBOUNCE_MS) {
                settings.debounce = Some(Duration::from_millis(ms));
            } else {
                settings.debounce = previous.debounce;
                problems.push(format!(
                    "debounce-ms: expected a whole number of milliseconds from 0 to {MAX_DEBOUNCE_MS}, got {ms}; the previous pause stays"
                ));
            }
        }
        (settings, problems)
    }

    /// How long a burst of edits must pause before it is analysed.
    pub fn debounce(&self) -> Duration {
        self.debounce.unwrap_or(DEFAULT_DEBOUNCE)
    }

    pub fn overrides(&self) -> Overrides {
        Overrides {
            select: self.select.clone(),
            ignore: self.ignore.clone(),
            severity: self.severity.clone(),
        }
    }
}

/// The known selectors of a list (or a comma-separated string); `None` when
/// the value is no list or names no rule at all, which must not be read as
/// "no rules".
fn selectors(value: &Value, key: &str, problems: &mut Vec<String>) -> Option<Vec<String>> {
    let items: Vec<&str> = match value {
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        // `"PC1,PC2"`, as on the command line.
        Value::String(s) => s.split(',').map(str::trim).collect(),
        _ => {
            problems.push(format!("{key}: expected a list of rule codes, got {value}"));
            return None;
        }
    };
    let items: Vec<&str> = items.into_iter().filter(|s| !s.is_empty()).collect();
    let mut out = Vec::new();
    for item in &items {
        if registry::selector_is_known(item) {
            out.push(item.to_ascii_uppercase());
        } else {
            problems.push(format!("{key}: `{item}` matches no rule code"));
        }
    }
    if out.is_empty() && !items.is_empty() {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_bare_and_nested_shapes() {
        let (s, problems) = Settings::from_json(&json!({
            "select": ["PC1", "pc2"],
            "ignore": "PC105",
            "severity": {"PC103": "warning"},
            "fail-on": "error",
            "debounce-ms": 120,
        }));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(s.debounce(), Duration::from_millis(120));
        assert_eq!(s.select, Some(vec!["PC1".to_owned(), "PC2".to_owned()]));
        assert_eq!(s.ignore, vec!["PC105".to_owned()]);
        assert_eq!(s.severity, vec![("PC103".to_owned(), Severity::Warning)]);
        assert_eq!(s.fail_on, Some(Severity::Error));

        let (nested, _) = Settings::from_json(&json!({"poolcheck": {"ignore": ["PC2"]}}));
        assert_eq!(nested.ignore, vec!["PC2".to_owned()]);
        assert_eq!(nested.debounce(), DEFAULT_DEBOUNCE);

        let (empty, problems) = Settings::from_json(&json!({"poolcheck": []}));
        assert_eq!((empty, problems), (Settings::default(), Vec::new()));
    }

    #[test]
    fn a_wrong_type_keeps_the_previous_value_instead_of_selecting_nothing() {
        let (previous, _) = Settings::from_json(&json!({"select": ["PC1"], "ignore": ["PC105"]}));
        let (s, problems) = Settings::from_json_over(
            &json!({"poolcheck": {"select": 5, "ignore": {"x": 1}}}),
            &previous,
        );
        assert_eq!(s.select, Some(vec!["PC1".to_owned()]));
        assert_eq!(s.ignore, vec!["PC105".to_owned()]);
        assert_eq!(problems.len(), 3, "{problems:?}");
        let (s, problems) = Settings::from_json_over(&json!({"select": ["PC9"]}), &previous);
        assert_eq!(s.select, Some(vec!["PC1".to_owned()]), "{problems:?}");
        let (s, _) = Settings::from_json_over(&json!(7), &previous);
        assert_eq!(s, previous);

        let (previous, _) = Settings::from_json(&json!({"debounceMs": 0}));
        assert_eq!(previous.debounce(), Duration::ZERO);
        for bad in [json!(-1), json!(2.5), json!("50"), json!(60_000)] {
            let (s, problems) = Settings::from_json_over(&json!({"debounce-ms": bad}), &previous);
            assert_eq!(s.debounce(), Duration::ZERO, "{bad}");
            assert_eq!(problems.len(), 1, "{bad}: {problems:?}");
        }
    }

    #[test]
    fn bad_entries_are_reported_and_left_out() {
        let (s, problems) = Settings::from_json(&json!({
            "select": ["PC9", "PC101"],
            "severity": {"PC101": "fatal"},
            "fail-on": 3,
        }));
        assert_eq!(s.select, Some(vec!["PC101".to_owned()]));
        assert!(s.severity.is_empty());
        assert_eq!(s.fail_on, None);
        assert_eq!(
            problems,
            vec![
                "select: `PC9` matches no rule code".to_owned(),
                "severity of `PC101`: expected \"error\", \"warning\" or \"info\", got \"fatal\""
                    .to_owned(),
                "fail-on: expected \"error\", \"warning\" or \"info\", got 3".to_owned(),
            ]
        );
    }
}
