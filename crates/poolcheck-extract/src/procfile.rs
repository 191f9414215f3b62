//! Procfiles (Heroku, Dokku, honcho, foreman): `web: gunicorn app.wsgi -w 3`.
//! Each line names a process type, which becomes the service's name; the
//! `release:` phase runs once per deploy and is not a service.

use poolcheck_core::facts::deploy::{CommandOrigin, DeployFacts};
use poolcheck_core::{FileFacts, SourceFile};

use crate::commands;
use crate::shell::{self, OffsetMap};

/// Process types that run once and hold no connections between deploys.
const ONE_OFF_TYPES: &[&str] = &["release"];

pub fn extract(file: &SourceFile, facts: &mut FileFacts) {
    let mut deploy = DeployFacts::default();
    let text = file.text();
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let start = line_start;
        line_start += line.len();
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some(colon) = line.find(':') else {
            continue;
        };
        let process_type = line[..colon].trim();
        let valid = !process_type.is_empty()
            && process_type
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid || ONE_OFF_TYPES.contains(&process_type) {
            continue;
        }
        let command_text = line[colon + 1..].trim_end_matches(['\n', '\r']);
        let command_start = start + colon + 1;
        for command in shell::parse_script(command_text, &OffsetMap::Shifted(command_start)) {
            if command.words.is_empty() {
                continue;
            }
            commands::add_managed_command(
                file,
                command,
                CommandOrigin::Procfile {
                    process_type: process_type.to_owned(),
                },
                process_type,
                &mut facts.diagnostics,
                &mut deploy,
            );
        }
    }
    facts.deploy = Some(deploy);
}

#[cfg(test)]
mod tests {
    use super::*;
    use poolcheck_core::facts::process::ServerKind;
    use poolcheck_core::{Environment, FileKind, IntExpr};

    fn run(text: &str) -> FileFacts {
        let file = SourceFile::new("Procfile", text);
        let mut facts = FileFacts::new(file.path().clone(), FileKind::Procfile);
        extract(&file, &mut facts);
        facts
    }

    #[test]
    fn process_types_name_the_services() {
        let text = "release: python manage.py migrate\nweb: gunicorn app.wsgi --workers 3\n# comment\nworker: celery -A app worker -c 2\n";
        let facts = run(text);
        let Some(deploy) = facts.deploy.as_ref() else {
            panic!("no deploy facts")
        };
        let found = commands::invocations(deploy, &Environment::new());
        let summary: Vec<(Option<&str>, ServerKind)> = found
            .iter()
            .map(|i| (i.name_hint.as_deref(), i.kind))
            .collect();
        assert_eq!(
            summary,
            [
                (Some("web"), ServerKind::Gunicorn),
                (Some("worker"), ServerKind::Celery)
            ]
        );
        let workers = found[0].settings.workers.as_ref();
        assert_eq!(
            workers.and_then(|w| w.value.clone()),
            Some(IntExpr::Const(3))
        );
        let span = workers.and_then(|w| w.location.as_ref()).map(|l| l.span);
        assert_eq!(span.map(|s| &text[s.range()]), Some("3"));
        assert_eq!(
            &text[found[0].location.span.range()],
            "gunicorn app.wsgi --workers 3"
        );
    }

    #[test]
    fn chained_commands_keep_the_process_type() {
        let facts = run("web: bin/prep && exec gunicorn -w ${WEB_WORKERS:-2} app\n");
        let deploy = facts.deploy.unwrap_or_default();
        let found = commands::invocations(&deploy, &Environment::new());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name_hint.as_deref(), Some("web"));
    }

    #[test]
    fn literal_errors_are_pc002() {
        let text = "web: gunicorn -w many app\n";
        let facts = run(text);
        assert_eq!(facts.diagnostics.len(), 1);
        assert_eq!(facts.diagnostics[0].code, "PC002");
        assert_eq!(&text[facts.diagnostics[0].primary.span.range()], "many");
    }
}
