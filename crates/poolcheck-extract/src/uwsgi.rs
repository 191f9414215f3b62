//! uwsgi INI files: the `[uwsgi]` section's processes, threads and app.
//! Only files with a `[uwsgi]` section are read; other INI sections belong
//! to other tools (PgBouncer reads the same kind of file).
//!
//! Values may name the environment (`$(UWSGI_PROCESSES)`), other options of
//! the file (`%(workers)`) or the CPU count (`%k`). uwsgi also takes every
//! option from a `UWSGI_<OPTION>` variable, which overrides the file.

use poolcheck_core::Code;
use poolcheck_core::facts::deploy::{CommandOrigin, CommandSite, DeployFacts, UwsgiConfig};
use poolcheck_core::facts::process::{ServerInvocation, ServerKind, ServerSettings};
use poolcheck_core::{
    ConfigEntry, Diagnostic, Environment, FileFacts, IntExpr, Origin, Severity, SourceFile,
    Sourced, Span,
};

pub fn extract(file: &SourceFile, facts: &mut FileFacts) {
    let Some(config) = parse(file) else {
        return;
    };
    let (_, problems) = settings_and_problems(&config, &Environment::new());
    for (span, message) in problems {
        facts.diagnostics.push(Diagnostic::new(
            Code::PC002,
            Severity::Error,
            file.location(span),
            message,
        ));
    }
    let deploy = facts.deploy.get_or_insert_with(DeployFacts::default);
    attached_daemons(file, &config, deploy);
    deploy.uwsgi = Some(config);
}

/// `attach-daemon = celery -A proj worker` (and `smart-attach-daemon =
/// /tmp/pid celery …`, `attach-daemon2 = cmd=…`): uwsgi's master runs the
/// command beside its workers, so it is a process group of its own.
fn attached_daemons(file: &SourceFile, config: &UwsgiConfig, deploy: &mut DeployFacts) {
    for entry in &config.entries {
        let (skip_words, text_start) = match entry.key.as_str() {
            "attach-daemon" | "attach-control-daemon" | "attach-daemon-as-root" => (0, 0),
            "smart-attach-daemon" | "smart-attach-daemon-as-root" => (1, 0),
            "attach-daemon2" => {
                // Key-value form: the command is the `cmd=` value, up to the
                // next `,key=` (commands rarely hold a comma).
                let Some(at) = entry.value.find("cmd=") else {
                    continue;
                };
                (0, at + 4)
            }
            _ => continue,
        };
        let mut text = &entry.value[text_start..];
        if entry.key == "attach-daemon2"
            && let Some(comma) = text.find(',')
        {
            text = &text[..comma];
        }
        let start = entry.value_location.span.start as usize + text_start;
        for command in crate::shell::parse_script(text, &crate::shell::OffsetMap::Shifted(start)) {
            if command.words.len() <= skip_words {
                continue;
            }
            deploy.commands.push(CommandSite {
                location: file.location(command.span),
                origin: CommandOrigin::Script { function: None },
                name_hint: None,
                words: command.words[skip_words..].to_vec(),
                assignments: command
                    .assignments
                    .iter()
                    .map(|a| a.located(file.path()))
                    .collect(),
            });
        }
    }
}

/// The `[uwsgi]` section, or `None` when the file has none.
pub fn parse(file: &SourceFile) -> Option<UwsgiConfig> {
    let text = file.text();
    let mut header = None;
    let mut in_uwsgi = false;
    let mut entries = Vec::new();
    let mut offset = 0;
    for raw in text.split_inclusive('\n') {
        let start = offset;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        let indent = line.len() - line.trim_start().len();
        let body = line.trim();
        if body.is_empty() || body.starts_with(';') || body.starts_with('#') {
            continue;
        }
        if body.starts_with('[') {
            let name = body
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim();
            in_uwsgi = name.eq_ignore_ascii_case("uwsgi");
            if in_uwsgi && header.is_none() {
                header = Some(Span::new(start + indent, start + indent + body.len()));
            }
            continue;
        }
        if !in_uwsgi {
            continue;
        }
        let key_start = start + indent;
        let (key, value, value_span) = match body.find('=') {
            Some(eq) => {
                let key = body[..eq].trim_end();
                let after = &body[eq + 1..];
                let value = after.trim();
                let value_start = key_start + eq + 1 + (after.len() - after.trim_start().len());
                (
                    key,
                    value.to_owned(),
                    Span::new(value_start, value_start + value.len()),
                )
            }
            // A bare option is a boolean flag that is on.
            None => (
                body,
                "true".to_owned(),
                Span::new(key_start, key_start + body.len()),
            ),
        };
        entries.push(ConfigEntry {
            key: key.to_ascii_lowercase().replace('_', "-"),
            value,
            key_location: file.location(Span::new(key_start, key_start + key.len())),
            value_location: file.location(value_span),
        });
    }
    header.map(|span| UwsgiConfig {
        location: file.location(span),
        entries,
    })
}

/// The server settings a `[uwsgi]` section gives, with `env` for
/// `$(VAR)` references and `UWSGI_*` overrides.
pub fn uwsgi_settings(config: &UwsgiConfig, env: &Environment) -> ServerSettings {
    settings_and_problems(config, env).0
}

/// A uwsgi started with only this file (`uwsgi --ini uwsgi.ini` where the
/// command is not in the repository).
pub fn uwsgi_invocation(facts: &DeployFacts, env: &Environment) -> Option<ServerInvocation> {
    let config = facts.uwsgi.as_ref()?;
    Some(ServerInvocation {
        kind: ServerKind::Uwsgi,
        location: config.location.clone(),
        name_hint: None,
        settings: uwsgi_settings(config, env),
        development: false,
    })
}

const MAX_DEPTH: usize = 8;

/// An option's value after `$(VAR)`, `%(option)` and `%k` substitution.
fn resolve(
    config: &UwsgiConfig,
    entry: &ConfigEntry,
    env: &Environment,
    depth: usize,
) -> Sourced<String> {
    let raw = entry.value.trim();
    if raw == "%k" {
        return Sourced::computed(
            "%k".to_owned(),
            "%k (CPU cores)",
            Some(entry.value_location.clone()),
        );
    }
    if let Some(name) = raw.strip_prefix("$(").and_then(|r| r.strip_suffix(')')) {
        let mut value = env.sourced(name);
        if !value.is_known() {
            value.location = Some(entry.value_location.clone());
        }
        return value;
    }
    if let Some(option) = raw.strip_prefix("%(").and_then(|r| r.strip_suffix(')')) {
        let target = config
            .entries
            .iter()
            .rev()
            .find(|e| e.key == option.to_ascii_lowercase().replace('_', "-"));
        return match target {
            Some(target) if depth < MAX_DEPTH => resolve(config, target, env, depth + 1),
            _ => Sourced::unknown(
                format!("uwsgi placeholder `%({option})` names no option of the file"),
                Some(entry.value_location.clone()),
            ),
        };
    }
    if raw.contains("$(") || raw.contains("%(") || raw.contains("@(") {
        return Sourced::unknown(
            format!("`{raw}` uses uwsgi substitutions poolcheck does not evaluate"),
            Some(entry.value_location.clone()),
        );
    }
    Sourced::literal(raw.to_owned(), entry.value_location.clone())
}

fn count(
    value: Sourced<String>,
    key: &str,
    problems: &mut Vec<(Span, String)>,
) -> Sourced<IntExpr> {
    if matches!(&value.origin, Origin::Computed { expr } if expr.starts_with("%k")) {
        return Sourced {
            value: Some(IntExpr::Cpus),
            origin: value.origin,
            location: value.location,
        };
    }
    let text = value.value.clone();
    let literal = value.origin == Origin::Literal;
    let span = value.location.as_ref().map(|l| l.span);
    let parsed = value.and_then(
        &format!(
            "uwsgi `{key}` expects a whole number, got `{}`",
            text.clone().unwrap_or_default()
        ),
        |s| s.trim().parse::<i64>().ok().filter(|v| *v >= 0),
    );
    if !parsed.is_known()
        && literal
        && let (Some(span), Some(text)) = (span, text)
    {
        problems.push((
            span,
            format!("invalid value `{text}` for uwsgi `{key}`: expected a whole number"),
        ));
    }
    parsed.map(IntExpr::Const)
}

fn boolean(value: Sourced<String>) -> Sourced<bool> {
    value.and_then("not a uwsgi boolean", |s| {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "true" | "1" | "yes" | "on" => Some(true),
            "false" | "0" | "no" | "off" => Some(false),
            _ => None,
        }
    })
}

fn settings_and_problems(
    config: &UwsgiConfig,
    env: &Environment,
) -> (ServerSettings, Vec<(Span, String)>) {
    let mut settings = ServerSettings::default();
    let mut problems = Vec::new();
    for entry in &config.entries {
        let value = resolve(config, entry, env, 0);
        apply(&mut settings, &entry.key, value, &mut problems);
    }
    // `UWSGI_PROCESSES=8` is `--processes 8`, and beats the file.
    let mut ignored = Vec::new();
    for (name, _) in env.iter() {
        if let Some(option) = name.strip_prefix("UWSGI_") {
            let key = option.to_ascii_lowercase().replace('_', "-");
            apply(&mut settings, &key, env.sourced(name), &mut ignored);
        }
    }
    (settings, problems)
}

fn apply(
    settings: &mut ServerSettings,
    key: &str,
    value: Sourced<String>,
    problems: &mut Vec<(Span, String)>,
) {
    match key {
        "processes" | "workers" | "p" => settings.workers = Some(count(value, key, problems)),
        "threads" => settings.threads = Some(count(value, key, problems)),
        "enable-threads" => settings.enable_threads = Some(boolean(value)),
        "lazy-apps" => settings.lazy_apps = Some(boolean(value)),
        "module" | "wsgi" | "wsgi-file" | "file" => settings.app = Some(value),
        "http" | "http-socket" | "socket" => settings.bind = Some(value),
        "max-requests" => {
            let parsed = count(value, key, problems);
            settings.max_requests = Some(Sourced {
                value: parsed.value.as_ref().and_then(IntExpr::constant),
                origin: parsed.origin,
                location: parsed.location,
            });
        }
        "harakiri" => {
            let parsed = count(value, key, problems);
            settings.timeout = Some(Sourced {
                value: parsed.value.as_ref().and_then(IntExpr::constant),
                origin: parsed.origin,
                location: parsed.location,
            });
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poolcheck_core::{EnvVar, FileKind};

    const HEALTHCHECKS: &str = "[uwsgi]\nmaster\ndie-on-term\nhttp-socket = :8000\nharakiri = 10\npost-buffering = 4096\nprocesses = 4\nenable-threads\nthreads = 1\nchdir = /opt/healthchecks\nmodule = hc.wsgi:application\nthunder-lock\nattach-daemon = ./manage.py sendalerts\n";

    fn run(text: &str) -> FileFacts {
        let file = SourceFile::new("docker/uwsgi.ini", text);
        let mut facts = FileFacts::new(file.path().clone(), FileKind::Ini);
        extract(&file, &mut facts);
        facts
    }

    fn int(v: Option<&Sourced<IntExpr>>) -> Option<i64> {
        v.and_then(|s| s.value.as_ref()).and_then(IntExpr::constant)
    }

    #[test]
    fn healthchecks_shape() {
        let facts = run(HEALTHCHECKS);
        assert!(facts.diagnostics.is_empty());
        let deploy = facts.deploy.unwrap_or_default();
        let Some(config) = deploy.uwsgi.as_ref() else {
            panic!("no [uwsgi] read")
        };
        assert_eq!(&HEALTHCHECKS[config.location.span.range()], "[uwsgi]");
        let s = uwsgi_settings(config, &Environment::new());
        assert_eq!(int(s.workers.as_ref()), Some(4));
        let span = s
            .workers
            .as_ref()
            .and_then(|w| w.location.as_ref())
            .map(|l| l.span);
        assert_eq!(span.map(|s| &HEALTHCHECKS[s.range()]), Some("4"));
        assert_eq!(int(s.threads.as_ref()), Some(1));
        assert_eq!(s.enable_threads.as_ref().and_then(|e| e.value), Some(true));
        assert_eq!(
            s.app.as_ref().and_then(|a| a.value.as_deref()),
            Some("hc.wsgi:application")
        );
        assert_eq!(s.timeout.as_ref().and_then(|t| t.value), Some(10));
        assert!(s.lazy_apps.is_none());

        // UWSGI_PROCESSES overrides the file.
        let mut env = Environment::new();
        env.set(
            "UWSGI_PROCESSES",
            EnvVar {
                value: "8".to_owned(),
                source: "docker/.env".to_owned(),
                location: None,
            },
        );
        let s = uwsgi_settings(config, &env);
        assert_eq!(int(s.workers.as_ref()), Some(8));
        assert!(matches!(
            s.workers.as_ref().map(|w| &w.origin),
            Some(Origin::EnvValue { var, .. }) if var == "UWSGI_PROCESSES"
        ));
        let invocation = uwsgi_invocation(&deploy, &Environment::new());
        assert_eq!(invocation.map(|i| i.kind), Some(ServerKind::Uwsgi));
    }

    #[test]
    fn references_to_env_options_and_cpus() {
        let text = "[uwsgi]\nbase_workers = 3\nprocesses = %(base-workers)\nthreads = $(UWSGI_THREADS_COUNT)\n\n[other]\nprocesses = 99\n";
        let facts = run(text);
        let deploy = facts.deploy.unwrap_or_default();
        let Some(config) = deploy.uwsgi.as_ref() else {
            panic!()
        };
        let s = uwsgi_settings(config, &Environment::new());
        assert_eq!(int(s.workers.as_ref()), Some(3));
        let threads = s.threads.as_ref();
        assert!(
            threads
                .and_then(|t| t.unknown_reason())
                .is_some_and(|r| r.contains("$UWSGI_THREADS_COUNT"))
        );

        let facts = run("[uwsgi]\nprocesses = %k\n");
        let Some(config) = facts.deploy.and_then(|d| d.uwsgi) else {
            panic!()
        };
        let s = uwsgi_settings(&config, &Environment::new());
        assert_eq!(s.workers.and_then(|w| w.value), Some(IntExpr::Cpus));
    }

    #[test]
    fn files_without_a_uwsgi_section_are_ignored() {
        let facts = run("[pgbouncer]\npool_mode = transaction\n");
        assert!(facts.deploy.is_none());
    }

    #[test]
    fn literal_nonsense_is_pc002() {
        let text = "[uwsgi]\nprocesses = four\n";
        let facts = run(text);
        assert_eq!(facts.diagnostics.len(), 1);
        assert_eq!(&text[facts.diagnostics[0].primary.span.range()], "four");
        assert_eq!(
            facts.diagnostics[0].message,
            "invalid value `four` for uwsgi `processes`: expected a whole number"
        );
    }

    #[test]
    fn attached_daemons_are_commands() {
        let text = "[uwsgi]\nmodule = shop.wsgi\nattach-daemon = celery -A shop worker -c 3\nsmart-attach-daemon = /tmp/beat.pid celery -A shop beat --pidfile /tmp/beat.pid\nattach-daemon2 = cmd=rq worker default,freq=5\n";
        let file = SourceFile::new("uwsgi.ini", text);
        let mut facts = FileFacts::new(file.path().clone(), FileKind::Ini);
        extract(&file, &mut facts);
        let deploy = facts.deploy.expect("deploy facts");
        let found = crate::commands::invocations(&deploy, &Environment::new());
        let kinds: Vec<ServerKind> = found.iter().map(|f| f.kind).collect();
        assert_eq!(
            kinds,
            [ServerKind::Celery, ServerKind::CeleryBeat, ServerKind::Rq]
        );
        let concurrency = found[0].settings.concurrency.as_ref().expect("concurrency");
        let at = concurrency.location.as_ref().expect("location").span;
        assert_eq!(&text[at.start as usize..at.end as usize], "3");
    }
}
