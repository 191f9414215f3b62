//! PgBouncer's `pgbouncer.ini`: a hand-written INI reader that follows
//! PgBouncer's own loader (comment lines only, values taken literally to the end
//! of the line, `%include` directives, connection strings in `[databases]`,
//! `[users]` and `[peers]`), keeping the span of every key and value.
//!
//! - [`extract`] reads one file: a file is a PgBouncer config when it has a
//!   `[pgbouncer]`, `[databases]` or `[users]` section; any other INI file
//!   yields nothing.
//! - [`resolve`] merges a root file with its `%include`s into a
//!   [`PgBouncerConfig`] when the deployment is assembled.
//! - [`PgBouncerView`] interprets a [`PgBouncerConfig`] (from a file or from
//!   compose environment variables) with PgBouncer's types, defaults and
//!   version differences; [`setting`] exposes the key table it uses.

pub mod connstr;
pub mod include;
pub mod keys;
pub mod view;

use poolcheck_core::Code;
use poolcheck_core::facts::pgbouncer::{
    Include, PgBouncerConfig, PgBouncerFile, Section, SectionHeader,
};
use poolcheck_core::{
    ConfigEntry, Diagnostic, Edit, FileFacts, Fix, Severity, SourceFile, Span, Version,
};

pub use include::resolve;
pub use keys::{
    ParamKind, ParamScope, ParamSpec, SettingSpec, TypedValue, ValueKind, ValueProblem,
    check_setting, param_spec, setting, settings,
};
pub use view::{PgBouncerView, PoolMode, PreparedStatements};

/// The code of every problem this front-end reports.
const INVALID_SETTING: Code = Code::PC002;

/// Reads one INI file; fills `facts.pgbouncer` only when the file is a
/// PgBouncer config.
pub fn extract(file: &SourceFile, facts: &mut FileFacts) {
    let (parsed, syntax) = parse(file);
    // Only a `[pgbouncer]` section makes a file PgBouncer's: other INI files
    // have `[users]` or `[databases]` too (grafana.ini). A fragment with only
    // those sections is read and checked when a config `%include`s it.
    if parsed.pgbouncer_section.is_none() {
        return;
    }
    facts.diagnostics.extend(syntax);
    facts.diagnostics.extend(check(file, &parsed, None));
    facts.pgbouncer = Some(parsed);
}

/// The structure of any INI file as PgBouncer reads it, with the syntax errors
/// PgBouncer would stop at. Does not decide whether the file is PgBouncer's.
pub fn parse(file: &SourceFile) -> (PgBouncerFile, Vec<Diagnostic>) {
    let text = file.text();
    let mut parsed = PgBouncerFile::default();
    let mut diagnostics = Vec::new();
    let mut section = Section::Other;
    let mut line_start = 0;
    loop {
        let line_end = memchr::memchr(b'\n', &text.as_bytes()[line_start..])
            .map_or(text.len(), |n| line_start + n);
        let line = &text[line_start..line_end];
        let trimmed_start = line.trim_start();
        let content_start = line_start + (line.len() - trimmed_start.len());
        let content = trimmed_start.trim_end();
        if !content.is_empty() {
            read_line(
                file,
                content,
                content_start,
                &mut section,
                &mut parsed,
                &mut diagnostics,
            );
        }
        if line_end >= text.len() {
            break;
        }
        line_start = line_end + 1;
    }
    (parsed, diagnostics)
}

fn read_line(
    file: &SourceFile,
    content: &str,
    start: usize,
    section: &mut Section,
    parsed: &mut PgBouncerFile,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let span = |from: usize, to: usize| Span::new(start + from, start + to);
    let whole = span(0, content.len());
    if let Some(rest) = content.strip_prefix("%include") {
        if rest.starts_with([' ', '\t']) {
            let path = rest.trim();
            parsed.includes.push(Include {
                path: path.to_owned(),
                location: file.location(whole),
                position: parsed.entries.len(),
            });
            return;
        }
        if rest.is_empty() {
            diagnostics.push(error(file, whole, "`%include` needs a file name"));
            return;
        }
    }
    if content.starts_with(['#', ';']) {
        return;
    }
    if let Some(inner) = content.strip_prefix('[') {
        let Some(close) = inner.find(']') else {
            diagnostics.push(error(
                file,
                whole,
                format!("unterminated section header `{content}`: expected `]`"),
            ));
            return;
        };
        let name = &inner[..close];
        let header_end = close + 2;
        let after = content[header_end..].trim_start();
        if !after.is_empty() && !after.starts_with(['#', ';']) {
            let after_start = content.len() - after.len();
            diagnostics.push(error(
                file,
                span(after_start, content.len()),
                format!("unexpected text `{after}` after section header `[{name}]`"),
            ));
        }
        *section = Section::from_name(name);
        let header_span = span(0, header_end);
        if *section == Section::PgBouncer && parsed.pgbouncer_section.is_none() {
            parsed.pgbouncer_section = Some(header_span);
        }
        parsed.headers.push(SectionHeader {
            section: *section,
            name: name.to_owned(),
            location: file.location(header_span),
            position: parsed.entries.len(),
        });
        return;
    }
    let bytes = content.as_bytes();
    let (key, key_span, after_key) = if matches!(bytes[0], b'\'' | b'"') {
        let quote = bytes[0] as char;
        match content[1..].find(quote) {
            Some(close) if close > 0 => (&content[1..=close], span(1, close + 1), close + 2),
            Some(_) => {
                diagnostics.push(error(
                    file,
                    whole,
                    format!("empty quoted name in `{content}`"),
                ));
                return;
            }
            None => {
                diagnostics.push(error(
                    file,
                    whole,
                    format!("unterminated quote in the name of `{content}`"),
                ));
                return;
            }
        }
    } else {
        let end = bytes
            .iter()
            .position(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'*')))
            .unwrap_or(bytes.len());
        (&content[..end], span(0, end), end)
    };
    let rest = &content[after_key..];
    let rest_trimmed = rest.trim_start_matches([' ', '\t']);
    let Some(value_part) = rest_trimmed.strip_prefix('=') else {
        let message = if key.is_empty() {
            format!("expected `key = value`, found `{content}`")
        } else {
            format!("expected `=` after `{key}` in `{content}`")
        };
        diagnostics.push(error(file, whole, message));
        return;
    };
    let value = value_part.trim_start_matches([' ', '\t']);
    let value_start = content.len() - value.len();
    let entry = ConfigEntry {
        key: key.to_owned(),
        value: value.to_owned(),
        key_location: file.location(key_span),
        value_location: file.location(span(value_start, content.len())),
    };
    parsed.entries.push((*section, entry));
}

/// The problems PgBouncer would report in the entries and headers of one file:
/// unknown sections and keys, invalid values, bad connection strings. Entries
/// before the file's first header are checked as part of `leading_section`
/// (the section open at the `%include` that reads the file), or not at all.
pub fn check(
    file: &SourceFile,
    parsed: &PgBouncerFile,
    leading_section: Option<Section>,
) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    for header in &parsed.headers {
        check_header(file, header, &mut diagnostics);
    }
    let leading = parsed.leading_entries();
    for (index, (section, entry)) in parsed.entries.iter().enumerate() {
        let section = if index < leading {
            match leading_section {
                Some(s) => s,
                None => continue,
            }
        } else {
            *section
        };
        check_entry(file, section, entry, &mut diagnostics);
    }
    diagnostics
}

fn check_header(file: &SourceFile, header: &SectionHeader, diagnostics: &mut Vec<Diagnostic>) {
    let written = format!("[{}]", header.name);
    if header.section == Section::Other {
        let mut d = error(
            file,
            header.location.span,
            format!("unknown PgBouncer section `{written}`"),
        )
        .with_help("PgBouncer knows `[databases]`, `[users]`, `[peers]` and `[pgbouncer]`; it refuses to start with any other section");
        let known = ["databases", "users", "peers", "pgbouncer"];
        if let Some(s) = keys::suggest(&header.name, known) {
            d = d
                .with_help(format!("did you mean `[{s}]`?"))
                .with_fix(replace(
                    file,
                    header.location.span,
                    format!("[{s}]"),
                    format!("write `[{s}]`"),
                ));
        }
        diagnostics.push(d);
    } else if header.name != header.section.as_str() {
        let expected = format!("[{}]", header.section.as_str());
        diagnostics.push(
            error(
                file,
                header.location.span,
                format!(
                    "PgBouncer section names are case-sensitive: `{written}` is not `{expected}`"
                ),
            )
            .with_fix(replace(
                file,
                header.location.span,
                expected.clone(),
                format!("write `{expected}`"),
            )),
        );
    }
}

fn check_entry(
    file: &SourceFile,
    section: Section,
    entry: &ConfigEntry,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let key_span = entry.key_location.span;
    let value_span = entry.value_location.span;
    match section {
        Section::PgBouncer => match setting(&entry.key) {
            None => {
                let problem = keys::unknown_setting(&entry.key);
                diagnostics.push(problem_diagnostic(file, key_span, problem, "rename to"));
            }
            Some(spec) => {
                if let Err(problem) = keys::parse_value(spec, &entry.value) {
                    diagnostics.push(problem_diagnostic(file, value_span, problem, "set to"));
                }
            }
        },
        Section::Databases => {
            if entry.key == "pgbouncer" {
                diagnostics.push(error(
                    file,
                    key_span,
                    "the database name `pgbouncer` is reserved for PgBouncer's admin console",
                ));
            }
            check_connstr(file, ParamScope::Database, entry, diagnostics);
        }
        Section::Users => check_connstr(file, ParamScope::User, entry, diagnostics),
        Section::Peers => {
            let id = keys::parse_c_long(&entry.key);
            if !id.is_some_and(|id| (1..=16383).contains(&id)) {
                diagnostics.push(error(
                    file,
                    key_span,
                    format!(
                        "invalid peer id `{}`: expected a number from 1 to 16383",
                        entry.key
                    ),
                ));
            }
            let (params, _) = connstr::parse(&entry.value, value_span.start as usize);
            if !params.iter().any(|p| p.key == "host") && !entry.value.is_empty() {
                diagnostics.push(error(
                    file,
                    value_span,
                    format!("peer `{}` has no `host`", entry.key),
                ));
            }
            check_connstr(file, ParamScope::Peer, entry, diagnostics);
        }
        Section::Other => {}
    }
}

fn check_connstr(
    file: &SourceFile,
    scope: ParamScope,
    entry: &ConfigEntry,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let (params, syntax) = connstr::parse(&entry.value, entry.value_location.span.start as usize);
    for param in &params {
        check_param(file, scope, &entry.key, param, diagnostics);
    }
    if let Some(syntax) = syntax {
        diagnostics.push(error(file, syntax.span(), syntax.message()));
    }
}

fn check_param(
    file: &SourceFile,
    scope: ParamScope,
    owner: &str,
    param: &connstr::Param,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let section = scope.section_name();
    let Some(spec) = param_spec(scope, &param.key) else {
        let mut d = error(
            file,
            param.key_span,
            format!(
                "unknown parameter `{}` in the {section} entry `{owner}`",
                param.key
            ),
        );
        let elsewhere = [ParamScope::Database, ParamScope::User]
            .into_iter()
            .find(|&other| other != scope && param_spec(other, &param.key).is_some());
        if let Some(other) = elsewhere {
            d = d.with_help(format!(
                "`{}` is a parameter of {} entries",
                param.key,
                other.section_name()
            ));
        } else if setting(&param.key).is_some() {
            d = d.with_help(format!(
                "`{}` is a `[pgbouncer]` setting, not a connection-string parameter",
                param.key
            ));
        } else if let Some(s) =
            keys::suggest(&param.key, keys::params(scope).iter().map(|p| p.name))
        {
            d = d
                .with_help(format!("did you mean `{s}`?"))
                .with_fix(replace(
                    file,
                    param.key_span,
                    s.to_owned(),
                    format!("rename to `{s}`"),
                ));
        }
        diagnostics.push(d);
        return;
    };
    let value = param.value.as_str();
    let name = spec.name;
    let problem = match spec.kind {
        ParamKind::Int if keys::parse_c_long(value).is_none() => Some(format!(
            "invalid value `{value}` for `{name}`: expected an integer (PgBouncer reads it as {})",
            keys::c_atoi(value)
        )),
        ParamKind::Seconds if keys::parse_c_long(value).is_none() => Some(format!(
            "invalid value `{value}` for `{name}`: expected whole seconds (PgBouncer reads it as {})",
            keys::c_atoi(value)
        )),
        ParamKind::Port if keys::c_atoi(value) == 0 || keys::parse_c_long(value).is_none() => {
            Some(format!("invalid port `{value}`: expected a port number"))
        }
        ParamKind::Enum(allowed) if !allowed.iter().any(|a| a.eq_ignore_ascii_case(value)) => {
            let mut d = error(
                file,
                param.value_span,
                format!(
                    "invalid value `{value}` for `{name}`: expected one of {}",
                    allowed.join(", ")
                ),
            );
            if let Some(s) = keys::suggest(value, allowed.iter().copied()) {
                d = d
                    .with_help(format!("did you mean `{s}`?"))
                    .with_fix(replace(
                        file,
                        param.value_span,
                        s.to_owned(),
                        format!("set to `{s}`"),
                    ));
            }
            diagnostics.push(d);
            None
        }
        _ => None,
    };
    if let Some(message) = problem {
        diagnostics.push(error(file, param.value_span, message));
    }
}

/// Settings and parameters the config's known PgBouncer version does not have
/// yet (`transaction_timeout` on 1.23, per-database `reserve_pool_size` before
/// 1.24): PgBouncer refuses to start with them. Nothing when the version is
/// unknown. Run after [`resolve`] once the version is known (config, image tag).
pub fn check_version(config: &PgBouncerConfig) -> Vec<Diagnostic> {
    let Some(version_value) = config.version.as_ref() else {
        return Vec::new();
    };
    let Some(version) = version_value.value else {
        return Vec::new();
    };
    let mut diagnostics = Vec::new();
    let mut report = |entry: &ConfigEntry, what: String, since: Version, help: Option<String>| {
        let mut d = Diagnostic::new(
            INVALID_SETTING,
            Severity::Error,
            entry.key_location.clone(),
            format!(
                "{what} needs PgBouncer {}.{} or later: PgBouncer {version} refuses to start with it",
                since.major, since.minor
            ),
        );
        if let Some(location) = &version_value.location {
            d = d.with_related(location.clone(), format!("PgBouncer {version}"));
        }
        if let Some(help) = help {
            d = d.with_help(help);
        }
        diagnostics.push(d);
    };
    for entry in config.settings.values() {
        if let Some(since) = setting(&entry.key).and_then(|s| s.since)
            && version < since
        {
            report(entry, format!("`{}`", entry.key), since, None);
        }
    }
    let scopes = [
        (ParamScope::Database, &config.databases),
        (ParamScope::User, &config.users),
    ];
    for (scope, definitions) in scopes {
        for definition in definitions {
            for entry in definition.params.values() {
                let Some(since) = param_spec(scope, &entry.key).and_then(|p| p.since) else {
                    continue;
                };
                if version >= since {
                    continue;
                }
                let help = (scope == ParamScope::Database && entry.key == "reserve_pool_size")
                    .then(|| "before 1.24 the parameter is called `reserve_pool`".to_owned());
                let what = format!("the {} parameter `{}`", scope.section_name(), entry.key);
                report(entry, what, since, help);
            }
        }
    }
    diagnostics.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()).then_with(|| a.cmp(b)));
    diagnostics
}

fn problem_diagnostic(
    file: &SourceFile,
    span: Span,
    problem: ValueProblem,
    verb: &str,
) -> Diagnostic {
    let mut d = error(file, span, problem.message);
    if let Some(help) = problem.help {
        d = d.with_help(help);
    }
    if let Some(replacement) = problem.replacement {
        let title = format!("{verb} `{replacement}`");
        d = d.with_fix(replace(file, span, replacement, title));
    }
    d
}

/// A typo repair. Safe: PgBouncer refuses the setting as written, so the
/// repaired file changes nothing that works today.
fn replace(file: &SourceFile, span: Span, new_text: String, title: String) -> Fix {
    Fix::safe(
        title,
        vec![Edit {
            location: file.location(span),
            new_text,
        }],
    )
}

pub(crate) fn error(file: &SourceFile, span: Span, message: impl Into<String>) -> Diagnostic {
    Diagnostic::new(
        INVALID_SETTING,
        Severity::Error,
        file.location(span),
        message,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use poolcheck_core::FileKind;
    use std::path::Path;

    fn extract_text(text: &str) -> (SourceFile, FileFacts) {
        let file = SourceFile::new("pgbouncer.ini", text);
        let mut facts = FileFacts::new(file.path().clone(), FileKind::Ini);
        extract(&file, &mut facts);
        (file, facts)
    }

    fn messages(facts: &FileFacts) -> Vec<&str> {
        facts
            .diagnostics
            .iter()
            .map(|d| d.message.as_str())
            .collect()
    }

    /// The one diagnostic, with the text its span covers.
    fn only_diagnostic<'a>(
        file: &'a SourceFile,
        facts: &'a FileFacts,
    ) -> (&'a Diagnostic, &'a str) {
        assert_eq!(facts.diagnostics.len(), 1, "{:#?}", facts.diagnostics);
        let d = &facts.diagnostics[0];
        assert_eq!(d.code, "PC002");
        assert_eq!(d.severity, Severity::Error);
        (d, file.slice(d.primary.span))
    }

    const MEDIACLOUD_SHAPE: &str = "\
; PgBouncer for the backend
[databases]
* = host=postgresql-server port=5432 user=mediacloud

[pgbouncer]
listen_addr = *
listen_port = 6432
# session pooling: the apps keep session state
pool_mode = session
server_reset_query = DISCARD ALL
max_client_conn = 5000
default_pool_size = 450
max_db_connections = 500
idle_transaction_timeout = 600
ignore_startup_parameters = extra_float_digits
server_login_retry = 1
";

    #[test]
    fn real_shape_reads_without_diagnostics_and_exact_spans() {
        let (file, facts) = extract_text(MEDIACLOUD_SHAPE);
        assert_eq!(messages(&facts), Vec::<&str>::new());
        let parsed = facts.pgbouncer.as_ref().unwrap();
        assert_eq!(file.slice(parsed.pgbouncer_section.unwrap()), "[pgbouncer]");
        assert_eq!(parsed.entries.len(), 11);
        for (_, entry) in &parsed.entries {
            assert_eq!(file.slice(entry.key_location.span), entry.key);
            assert_eq!(file.slice(entry.value_location.span), entry.value);
        }
        let (section, star) = &parsed.entries[0];
        assert_eq!(*section, Section::Databases);
        assert_eq!(star.key, "*");
        assert_eq!(
            star.value,
            "host=postgresql-server port=5432 user=mediacloud"
        );
        let pool = parsed
            .entries
            .iter()
            .find(|(_, e)| e.key == "default_pool_size")
            .unwrap();
        assert_eq!(pool.0, Section::PgBouncer);
        assert_eq!(pool.1.value, "450");
        assert_eq!(file.slice(pool.1.value_location.span), "450");
    }

    #[test]
    fn other_ini_files_yield_nothing() {
        let uwsgi = "[uwsgi]\nmodule = app.wsgi:application\nprocesses = 4\nthis is not ini\n";
        let (_, facts) = extract_text(uwsgi);
        assert!(facts.pgbouncer.is_none());
        assert!(facts.diagnostics.is_empty());
        let setup_cfg = "[metadata]\nname = shop\n[options]\ninstall_requires =\n    django\n";
        let (_, facts) = extract_text(setup_cfg);
        assert!(facts.pgbouncer.is_none());
        assert!(facts.diagnostics.is_empty());
    }

    #[test]
    fn comments_only_at_line_start_and_values_are_literal() {
        let text = "[pgbouncer]\n  ; indented comment\n# hash comment\npool_mode = transaction ; not a comment\n";
        let (file, facts) = extract_text(text);
        let (d, covered) = only_diagnostic(&file, &facts);
        assert_eq!(covered, "transaction ; not a comment");
        assert_eq!(
            d.message,
            "invalid value `transaction ; not a comment` for `pool_mode`: expected one of session, transaction, statement"
        );
    }

    #[test]
    fn unknown_key_suggests_the_real_one() {
        let (file, facts) = extract_text("[pgbouncer]\nmax_client_connections = 500\n");
        let (d, covered) = only_diagnostic(&file, &facts);
        assert_eq!(covered, "max_client_connections");
        assert_eq!(
            d.message,
            "unknown PgBouncer setting `max_client_connections`"
        );
        assert_eq!(d.help.as_deref(), Some("did you mean `max_client_conn`?"));
        let fix = d.fix.as_ref().unwrap();
        assert_eq!(fix.edits[0].new_text, "max_client_conn");
        assert_eq!(
            file.slice(fix.edits[0].location.span),
            "max_client_connections"
        );
    }

    #[test]
    fn bad_pool_mode_lists_the_allowed_values() {
        let (file, facts) = extract_text("[pgbouncer]\npool_mode = transactions\n");
        let (d, covered) = only_diagnostic(&file, &facts);
        assert_eq!(covered, "transactions");
        assert_eq!(
            d.message,
            "invalid value `transactions` for `pool_mode`: expected one of session, transaction, statement"
        );
        assert_eq!(d.help.as_deref(), Some("did you mean `transaction`?"));
        assert_eq!(d.fix.as_ref().unwrap().edits[0].new_text, "transaction");
    }

    #[test]
    fn non_number_pool_size() {
        let (file, facts) = extract_text("[pgbouncer]\ndefault_pool_size = lots\n");
        let (d, covered) = only_diagnostic(&file, &facts);
        assert_eq!(covered, "lots");
        assert_eq!(
            d.message,
            "invalid value `lots` for `default_pool_size`: expected an integer"
        );
    }

    #[test]
    fn non_boolean_switch() {
        let (file, facts) = extract_text("[pgbouncer]\nserver_reset_query_always = true\n");
        let (d, covered) = only_diagnostic(&file, &facts);
        assert_eq!(covered, "true");
        assert_eq!(
            d.message,
            "invalid value `true` for `server_reset_query_always`: expected 0 or 1"
        );
        assert_eq!(
            d.help.as_deref(),
            Some("PgBouncer reads switches as integers: write `server_reset_query_always = 1`")
        );
    }

    #[test]
    fn time_with_a_unit() {
        let (file, facts) = extract_text("[pgbouncer]\nclient_idle_timeout = 10min\n");
        let (d, covered) = only_diagnostic(&file, &facts);
        assert_eq!(covered, "10min");
        assert_eq!(
            d.message,
            "invalid value `10min` for `client_idle_timeout`: expected a number of seconds"
        );
        assert_eq!(d.fix.as_ref().unwrap().edits[0].new_text, "600");
    }

    #[test]
    fn quoted_pgbouncer_value_is_taken_literally() {
        let (file, facts) = extract_text("[pgbouncer]\npool_mode = \"transaction\"\n");
        let (d, covered) = only_diagnostic(&file, &facts);
        assert_eq!(covered, "\"transaction\"");
        assert!(d.message.starts_with("PgBouncer keeps the quotes"));
        let entry = &facts.pgbouncer.as_ref().unwrap().entries[0].1;
        assert_eq!(entry.value, "\"transaction\"");
    }

    #[test]
    fn line_without_equals() {
        let (file, facts) = extract_text("[pgbouncer]\nmax_client_conn 500\n");
        let (d, covered) = only_diagnostic(&file, &facts);
        assert_eq!(covered, "max_client_conn 500");
        assert_eq!(
            d.message,
            "expected `=` after `max_client_conn` in `max_client_conn 500`"
        );
        assert!(facts.pgbouncer.as_ref().unwrap().entries.is_empty());
    }

    #[test]
    fn an_ini_without_a_pgbouncer_section_is_not_pgbouncer() {
        // grafana.ini has [users]; a [databases]-only fragment is read when included.
        let (_, facts) =
            extract_text("[users]\ndefault_theme = light\n[databases]\napp = host=db\n");
        assert!(facts.pgbouncer.is_none());
        assert!(facts.diagnostics.is_empty());
    }

    #[test]
    fn quoted_connection_string_values_and_wildcard() {
        let text = "[databases]\napp = host=db port=5432 dbname=app user=app password='a b' pool_size=20 pool_mode=transaction\n* = host=fallback\n[pgbouncer]\nlisten_port = 6432\n";
        let (file, facts) = extract_text(text);
        assert_eq!(messages(&facts), Vec::<&str>::new());
        let parsed = facts.pgbouncer.as_ref().unwrap();
        let app = connstr::pool_definition(&file, &parsed.entries[0].1);
        assert_eq!(app.name, "app");
        assert_eq!(file.slice(app.name_location.span), "app");
        let password = &app.params["password"];
        assert_eq!(password.value, "a b");
        assert_eq!(file.slice(password.value_location.span), "a b");
        assert_eq!(file.slice(password.key_location.span), "password");
        assert_eq!(app.params["pool_size"].value, "20");
        assert_eq!(
            file.slice(app.params["pool_size"].value_location.span),
            "20"
        );
        let star = connstr::pool_definition(&file, &parsed.entries[1].1);
        assert_eq!(star.name, "*");
        assert_eq!(star.params["host"].value, "fallback");
    }

    #[test]
    fn quoted_database_names() {
        let text = "[databases]\n\"my db\" = host=db\n[pgbouncer]\nlisten_port = 6432\n";
        let (file, facts) = extract_text(text);
        assert!(facts.diagnostics.is_empty(), "{:#?}", facts.diagnostics);
        let entry = &facts.pgbouncer.as_ref().unwrap().entries[0].1;
        assert_eq!(entry.key, "my db");
        assert_eq!(file.slice(entry.key_location.span), "my db");
    }

    #[test]
    fn connection_string_problems() {
        let text = "[databases]\napp = host=db pool_sizes=20\n[pgbouncer]\nlisten_port = 6432\n";
        let (file, facts) = extract_text(text);
        let (d, covered) = only_diagnostic(&file, &facts);
        assert_eq!(covered, "pool_sizes");
        assert_eq!(
            d.message,
            "unknown parameter `pool_sizes` in the [databases] entry `app`"
        );
        assert_eq!(d.help.as_deref(), Some("did you mean `pool_size`?"));

        let text = "[databases]\napp = host=db password='a b\n[pgbouncer]\n";
        let (file, facts) = extract_text(text);
        let (d, covered) = only_diagnostic(&file, &facts);
        assert_eq!(covered, "'a b");
        assert_eq!(d.message, "unterminated quote in the value of `password`");

        let text = "[databases]\napp = host=db min_pool_size= pool_size=5\n[pgbouncer]\n";
        let (file, facts) = extract_text(text);
        let (d, covered) = only_diagnostic(&file, &facts);
        assert_eq!(covered, "min_pool_size=");
        assert_eq!(
            d.message,
            "syntax error in connection string: `min_pool_size=` has no value"
        );

        let text =
            "[databases]\napp = host=db pool_size=lots pool_mode=transactions\n[pgbouncer]\n";
        let (file, facts) = extract_text(text);
        let got: Vec<_> = facts
            .diagnostics
            .iter()
            .map(|d| (file.slice(d.primary.span), d.message.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "lots",
                    "invalid value `lots` for `pool_size`: expected an integer (PgBouncer reads it as 0)"
                ),
                (
                    "transactions",
                    "invalid value `transactions` for `pool_mode`: expected one of session, transaction, statement"
                ),
            ]
        );
    }

    #[test]
    fn users_and_legacy_reserve_pool() {
        let text = "[databases]\napp = host=db reserve_pool=5\n[users]\nworker = pool_mode=session max_user_connections=10 max_db_connections=3\n[pgbouncer]\nlisten_port = 6432\n";
        let (file, facts) = extract_text(text);
        let (d, covered) = only_diagnostic(&file, &facts);
        assert_eq!(covered, "max_db_connections");
        assert_eq!(
            d.message,
            "unknown parameter `max_db_connections` in the [users] entry `worker`"
        );
        assert_eq!(
            d.help.as_deref(),
            Some("`max_db_connections` is a parameter of [databases] entries")
        );
    }

    #[test]
    fn section_names_are_case_sensitive_and_known() {
        let (file, facts) = extract_text("[PgBouncer]\npool_mode = session\n[pgbouncers]\n");
        let got: Vec<_> = facts
            .diagnostics
            .iter()
            .map(|d| (file.slice(d.primary.span), d.message.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "[PgBouncer]",
                    "PgBouncer section names are case-sensitive: `[PgBouncer]` is not `[pgbouncer]`"
                ),
                ("[pgbouncers]", "unknown PgBouncer section `[pgbouncers]`"),
            ]
        );
        // Still read as the section the user meant.
        assert_eq!(facts.pgbouncer.unwrap().entries[0].0, Section::PgBouncer);
    }

    #[test]
    fn includes_are_recorded_in_place() {
        let text = "[pgbouncer]\npool_mode = session\n%include extra/pgbouncer-local.ini  \nmax_client_conn = 10\n%include\n";
        let (file, facts) = extract_text(text);
        let (d, covered) = only_diagnostic(&file, &facts);
        assert_eq!(covered, "%include");
        assert_eq!(d.message, "`%include` needs a file name");
        let parsed = facts.pgbouncer.unwrap();
        assert_eq!(parsed.includes.len(), 1);
        let include = &parsed.includes[0];
        assert_eq!(include.path, "extra/pgbouncer-local.ini");
        assert_eq!(include.position, 1);
        assert_eq!(
            file.slice(include.location.span),
            "%include extra/pgbouncer-local.ini"
        );
    }

    #[test]
    fn crlf_and_junk_never_panic() {
        let (file, facts) = extract_text("[pgbouncer]\r\nlisten_port = 6432\r\n");
        assert!(facts.diagnostics.is_empty());
        let entry = &facts.pgbouncer.as_ref().unwrap().entries[0].1;
        assert_eq!(file.slice(entry.value_location.span), "6432");
        for junk in [
            "[",
            "[pgbouncer]\n=\n'\n\"x\n[]]\n\u{0}\u{1}é=ü\n",
            "[databases]\nä = host='\n",
            "[users]\n'' = x\n",
        ] {
            let _ = extract_text(junk);
        }
    }

    #[test]
    fn peers_need_numeric_ids_and_a_host() {
        let text = "[pgbouncer]\npeer_id = 1\n[peers]\n1 = host=/tmp/pgbouncer-1\n2 = host=10.0.0.2 port=6433 pool_size=4\nabc = host=x\n3 = port=5\n";
        let (file, facts) = extract_text(text);
        let got: Vec<_> = facts
            .diagnostics
            .iter()
            .map(|d| (file.slice(d.primary.span), d.message.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "abc",
                    "invalid peer id `abc`: expected a number from 1 to 16383"
                ),
                ("port=5", "peer `3` has no `host`"),
            ]
        );
    }

    #[test]
    fn version_too_old_for_the_settings_used() {
        let text = "[databases]\napp = host=db reserve_pool_size=3\n[users]\nweb = pool_size=5\n[pgbouncer]\ntransaction_timeout = 30\nmax_client_conn = 100\n";
        let file = SourceFile::new("pgbouncer.ini", text);
        let (parsed, _) = parse(&file);
        let mut no_includes = |_: &Path| Err(poolcheck_core::decode::ReadProblem::Missing);
        let (mut config, _) = resolve(&file, &parsed, &mut no_includes, Path::new("."));
        assert_eq!(check_version(&config), Vec::new());
        let version_at = SourceFile::new("docker-compose.yml", "image: pgbouncer:1.22.1");
        config.version = Some(poolcheck_core::Sourced::literal(
            Version::new(1, 22, 1),
            version_at.location(Span::new(7, 23)),
        ));
        let diagnostics = check_version(&config);
        let got: Vec<_> = diagnostics
            .iter()
            .map(|d| {
                (
                    file.slice(d.primary.span),
                    d.message.as_str(),
                    d.help.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "reserve_pool_size",
                    "the [databases] parameter `reserve_pool_size` needs PgBouncer 1.24 or later: PgBouncer 1.22.1 refuses to start with it",
                    Some("before 1.24 the parameter is called `reserve_pool`")
                ),
                (
                    "pool_size",
                    "the [users] parameter `pool_size` needs PgBouncer 1.23 or later: PgBouncer 1.22.1 refuses to start with it",
                    None
                ),
                (
                    "transaction_timeout",
                    "`transaction_timeout` needs PgBouncer 1.25 or later: PgBouncer 1.22.1 refuses to start with it",
                    None
                ),
            ]
        );
        assert_eq!(diagnostics[0].related[0].message, "PgBouncer 1.22.1");
    }

    #[test]
    fn every_table_default_is_a_valid_value() {
        for spec in settings() {
            if let Some(default) = spec.default {
                let valid = keys::parse_value(spec, default).is_ok();
                assert!(valid || spec.name == "server_check_query", "{}", spec.name);
            }
        }
    }
}
