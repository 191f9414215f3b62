//! supervisord configuration: each `[program:x]` runs `numprocs` copies of
//! its `command` with its `environment`, and is a service named after the
//! program. `[include] files` globs name more such files; discovery reads
//! every file with a `[program:` section, so included files are found on
//! their own.
//!
//! supervisord expands `%(ENV_NAME)s` in `command` from its own environment;
//! it is read as `${NAME}` so that the environment model resolves it.

use poolcheck_core::Code;
use poolcheck_core::facts::deploy::{
    CommandOrigin, DeployFacts, EnvEntry, EnvLayer, NumprocsVariable, SupervisordProgram,
};
use poolcheck_core::{Diagnostic, FileFacts, Severity, SourceFile, Span};

use crate::commands;
use crate::shell::{self, OffsetMap};

/// One `key = value` of a section, with continuation lines joined.
struct Entry {
    key: String,
    value: String,
    /// The file offset of each byte of `value`, and one past its end.
    offsets: Vec<usize>,
}

struct Section {
    name: String,
    header: Span,
    entries: Vec<Entry>,
}

fn sections(text: &str) -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    let mut offset = 0;
    for raw in text.split_inclusive('\n') {
        let start = offset;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        let body = line.trim();
        if body.is_empty() || body.starts_with(';') || body.starts_with('#') {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        if let Some(header) = body.strip_prefix('[') {
            let name = header.split(']').next().unwrap_or("").trim().to_owned();
            sections.push(Section {
                name,
                header: Span::new(start + indent, start + indent + body.len()),
                entries: Vec::new(),
            });
            continue;
        }
        let Some(section) = sections.last_mut() else {
            continue;
        };
        if indent > 0
            && let Some(last) = section.entries.last_mut()
        {
            // A continuation line: the value goes on, separated by a space.
            let end = *last.offsets.last().unwrap_or(&(start + indent));
            last.offsets.pop();
            last.value.push(' ');
            last.offsets.push(end);
            push_text(&mut last.value, &mut last.offsets, body, start + indent);
            last.offsets.push(start + indent + body.len());
            continue;
        }
        let Some(eq) = body.find(['=', ':']) else {
            continue;
        };
        let key = body[..eq].trim().to_ascii_lowercase();
        let after = &body[eq + 1..];
        let value = strip_inline_comment(after.trim());
        let value_start = start + indent + eq + 1 + (after.len() - after.trim_start().len());
        let mut entry = Entry {
            key,
            value: String::new(),
            offsets: Vec::new(),
        };
        push_text(&mut entry.value, &mut entry.offsets, value, value_start);
        entry.offsets.push(value_start + value.len());
        section.entries.push(entry);
    }
    sections
}

/// ` ; comment` after a value (supervisord needs the space before `;`).
fn strip_inline_comment(value: &str) -> &str {
    value
        .find(" ;")
        .or_else(|| value.find("\t;"))
        .map_or(value, |at| value[..at].trim_end())
}

fn push_text(value: &mut String, offsets: &mut Vec<usize>, text: &str, start: usize) {
    value.push_str(text);
    offsets.extend((0..text.len()).map(|i| start + i));
}

/// `%(ENV_NAME)s` → `${NAME}`, each new byte placed at the expression.
fn env_references_as_shell(entry: &Entry) -> (String, Vec<usize>) {
    let mut text = String::new();
    let mut offsets = Vec::new();
    let mut rest = entry.value.as_str();
    let mut at = 0;
    while let Some(found) = rest.find("%(ENV_") {
        let after = &rest[found + 6..];
        let Some(close) = after.find(")s") else {
            break;
        };
        let name = &after[..close];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            break;
        }
        text.push_str(&rest[..found]);
        offsets.extend_from_slice(&entry.offsets[at..at + found]);
        let replacement = format!("${{{name}}}");
        let origin = entry.offsets[at + found];
        offsets.extend(std::iter::repeat_n(origin, replacement.len()));
        text.push_str(&replacement);
        let consumed = found + 6 + close + 2;
        rest = &rest[consumed..];
        at += consumed;
    }
    text.push_str(rest);
    offsets.extend_from_slice(&entry.offsets[at..]);
    (text, offsets)
}

/// `NAME` when `value` is exactly one `%(ENV_NAME)s`.
fn env_variable(value: &str) -> Option<&str> {
    let name = value.strip_prefix("%(ENV_")?.strip_suffix(")s")?;
    (!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .then_some(name)
}

/// `KEY="value",KEY2=value2`: commas inside quotes belong to the value.
fn environment(entry: &Entry, file: &SourceFile) -> Vec<EnvEntry> {
    let mut out = Vec::new();
    let bytes = entry.value.as_bytes();
    let mut start = 0;
    let mut quote = None;
    let mut pieces = Vec::new();
    for (i, &b) in bytes.iter().enumerate() {
        match (quote, b) {
            (None, b'"' | b'\'') => quote = Some(b),
            (Some(q), _) if q == b => quote = None,
            (None, b',') => {
                pieces.push((start, i));
                start = i + 1;
            }
            _ => {}
        }
    }
    pieces.push((start, bytes.len()));
    for (from, to) in pieces {
        let piece = &entry.value[from..to];
        let Some(eq) = piece.find('=') else {
            continue;
        };
        let name = piece[..eq].trim();
        if name.is_empty() {
            continue;
        }
        let lead = piece.len() - piece.trim_start().len();
        let raw = piece[eq + 1..].trim();
        let raw_start =
            from + eq + 1 + (piece[eq + 1..].len() - piece[eq + 1..].trim_start().len());
        let quoted = raw.len() >= 2
            && (raw.starts_with('"') && raw.ends_with('"')
                || raw.starts_with('\'') && raw.ends_with('\''));
        let (value, value_from) = if quoted {
            (&raw[1..raw.len() - 1], raw_start + 1)
        } else {
            (raw, raw_start)
        };
        let span = |a: usize, b: usize| Span::new(entry.offsets[a], entry.offsets[b]);
        out.push(EnvEntry {
            name: name.to_owned(),
            value: value.to_owned(),
            name_location: file.location(span(from + lead, from + lead + name.len())),
            value_location: file.location(span(value_from, value_from + value.len())),
        });
    }
    out
}

pub fn extract(file: &SourceFile, facts: &mut FileFacts) {
    let programs: Vec<Section> = sections(file.text())
        .into_iter()
        .filter(|s| s.name.starts_with("program:"))
        .collect();
    if programs.is_empty() {
        return;
    }
    let deploy = facts.deploy.get_or_insert_with(DeployFacts::default);
    for section in programs {
        let name = section.name["program:".len()..].trim().to_owned();
        let get = |key: &str| section.entries.iter().rev().find(|e| e.key == key);
        let mut program = SupervisordProgram {
            name: name.clone(),
            location: file.location(section.header),
            commands: Vec::new(),
            numprocs: None,
            numprocs_variable: None,
            environment: EnvLayer {
                source: format!("supervisord [program:{name}] environment"),
                entries: Vec::new(),
            },
            directory: get("directory").map(|e| e.value.clone()),
        };
        if let Some(entry) = get("numprocs") {
            let span = Span::new(entry.offsets[0], *entry.offsets.last().unwrap_or(&0));
            let value = entry.value.trim();
            match value.parse::<i64>() {
                Ok(count) if count >= 1 => program.numprocs = Some((count, file.location(span))),
                // supervisord expands `%(ENV_X)s` here from its own environment
                // when it starts: the lowering reads X from the environment
                // of whatever starts supervisord.
                _ if env_variable(value).is_some() => {
                    program.numprocs_variable = Some(NumprocsVariable {
                        name: env_variable(value).unwrap_or_default().to_owned(),
                        written: value.to_owned(),
                        location: file.location(span),
                    });
                }
                _ if value.contains("%(") => facts.diagnostics.push(Diagnostic::new(
                    Code::PC004,
                    Severity::Info,
                    file.location(span),
                    format!(
                        "supervisord expands `numprocs = {value}` from its environment when it starts, which poolcheck does not read, so `[program:{name}]` is counted as 1 process"
                    ),
                )),
                _ => facts.diagnostics.push(Diagnostic::new(
                    Code::PC002,
                    Severity::Error,
                    file.location(span),
                    format!(
                        "invalid value `{}` for supervisord `numprocs`: expected a whole number of at least 1",
                        entry.value
                    ),
                )),
            }
        }
        if let Some(entry) = get("environment") {
            program.environment.entries = environment(entry, file);
        }
        if let Some(entry) = get("command") {
            let (text, offsets) = env_references_as_shell(entry);
            for command in shell::parse_script(
                &text,
                &OffsetMap::Table(
                    offsets
                        .iter()
                        .map(|&o| u32::try_from(o).unwrap_or(u32::MAX))
                        .collect(),
                ),
            ) {
                if command.words.is_empty() {
                    continue;
                }
                let index = commands::add_managed_command(
                    file,
                    command,
                    CommandOrigin::Supervisord {
                        program: name.clone(),
                    },
                    &name,
                    &mut facts.diagnostics,
                    deploy,
                );
                program.commands.push(index);
            }
        }
        deploy.supervisord_programs.push(program);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poolcheck_core::facts::process::ServerKind;
    use poolcheck_core::{Environment, FileKind, IntExpr};

    fn run(text: &str) -> FileFacts {
        let file = SourceFile::new("deploy/supervisord.conf", text);
        let mut facts = FileFacts::new(file.path().clone(), FileKind::Ini);
        extract(&file, &mut facts);
        facts
    }

    #[test]
    fn programs_with_commands_numprocs_and_environment() {
        let text = "[supervisord]\nnodaemon=true\n\n[program:web]\ncommand=gunicorn shop.wsgi -w %(ENV_WEB_WORKERS)s ; the site\nnumprocs=1\n\n[program:worker]\ncommand=celery -A shop worker\n    --concurrency 4\nprocess_name=%(program_name)s_%(process_num)02d\nnumprocs = 3\nenvironment=DJANGO_SETTINGS_MODULE=\"shop.settings.prod\",QUEUE='a,b'\ndirectory=/srv/shop\n";
        let facts = run(text);
        assert!(facts.diagnostics.is_empty(), "{:?}", facts.diagnostics);
        let deploy = facts.deploy.expect("deploy facts");
        let programs = &deploy.supervisord_programs;
        assert_eq!(programs.len(), 2);
        assert_eq!(programs[1].name, "worker");
        assert_eq!(programs[1].numprocs.as_ref().map(|n| n.0), Some(3));
        assert_eq!(programs[1].directory.as_deref(), Some("/srv/shop"));
        let env: Vec<(&str, &str)> = programs[1]
            .environment
            .entries
            .iter()
            .map(|e| (e.name.as_str(), e.value.as_str()))
            .collect();
        assert_eq!(
            env,
            [
                ("DJANGO_SETTINGS_MODULE", "shop.settings.prod"),
                ("QUEUE", "a,b")
            ]
        );
        let value = &programs[1].environment.entries[0].value_location.span;
        assert_eq!(
            &text[value.start as usize..value.end as usize],
            "shop.settings.prod"
        );

        let mut vars = Environment::new();
        vars.set(
            "WEB_WORKERS",
            poolcheck_core::EnvVar {
                value: "6".to_owned(),
                source: "test".to_owned(),
                location: None,
            },
        );
        let found = commands::invocations(&deploy, &vars);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].kind, ServerKind::Gunicorn);
        assert_eq!(found[0].name_hint.as_deref(), Some("web"));
        assert_eq!(
            found[0]
                .settings
                .workers
                .as_ref()
                .and_then(|w| w.value.clone()),
            Some(IntExpr::Const(6))
        );
        let concurrency = found[1].settings.concurrency.as_ref().expect("concurrency");
        assert_eq!(concurrency.value, Some(IntExpr::Const(4)));
        let at = concurrency.location.as_ref().expect("location").span;
        assert_eq!(&text[at.start as usize..at.end as usize], "4");
    }

    #[test]
    fn a_numprocs_from_the_environment_is_not_an_error() {
        let text = "[program:worker]\ncommand=rq worker\nnumprocs=%(ENV_WORKERS_COUNT)s\n";
        let facts = run(text);
        assert!(facts.diagnostics.is_empty(), "{:?}", facts.diagnostics);
        let program = &facts.deploy.as_ref().unwrap().supervisord_programs[0];
        let variable = program
            .numprocs_variable
            .as_ref()
            .expect("numprocs variable");
        assert_eq!(variable.name, "WORKERS_COUNT");
        assert_eq!(variable.written, "%(ENV_WORKERS_COUNT)s");
        let at = variable.location.span;
        assert_eq!(
            &text[at.start as usize..at.end as usize],
            "%(ENV_WORKERS_COUNT)s"
        );
        assert!(program.numprocs.is_none());
    }

    #[test]
    fn a_bad_numprocs_is_reported() {
        let facts = run("[program:worker]\ncommand=rq worker\nnumprocs=many\n");
        assert_eq!(facts.diagnostics.len(), 1);
        assert_eq!(facts.diagnostics[0].code, "PC002");
    }

    #[test]
    fn files_without_programs_are_left_alone() {
        assert!(run("[uwsgi]\nprocesses = 4\n").deploy.is_none());
    }
}
