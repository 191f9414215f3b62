//! Command lines as servers: which program a command starts (seeing through
//! `exec`, `poetry run`, `ddtrace-run`, `python -m`, `gosu user`, …) and what
//! its flags say about processes and concurrency.
//!
//! Commands are interpreted after expansion with an environment, so values
//! keep their provenance (`--workers ${N:-2}` → 2, default of `$N`). Literal
//! values the tool would reject are reported as problems; front-ends turn
//! them into PC002 diagnostics.

use poolcheck_core::Code;
use poolcheck_core::facts::deploy::{
    CommandOrigin, CommandSite, DeployFacts, LinkKind, LinkedFile,
};
use poolcheck_core::facts::process::{ServerInvocation, ServerKind, ServerSettings};
use poolcheck_core::{
    Diagnostic, Environment, FilePath, IntExpr, Location, Origin, Severity, SourceFile, Sourced,
    Span,
};

use crate::shell::{self, Arg, OffsetMap, ParsedCommand, PieceKind, Scope};

/// A literal value the server would reject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub span: Span,
    pub message: String,
    pub help: Option<String>,
}

/// What one command starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Interpreted {
    pub kind: ServerKind,
    pub settings: ServerSettings,
    pub development: bool,
    pub problems: Vec<Problem>,
}

/// Every server the file's commands start, expanded with `env`.
///
/// For compose commands pass the project environment (compose interpolates
/// `${VAR}` in `command:` from the shell and the project's `.env`); for
/// Dockerfile, Procfile and script commands pass the service's environment.
pub fn invocations(facts: &DeployFacts, env: &Environment) -> Vec<ServerInvocation> {
    let last_script_command = facts
        .commands
        .iter()
        .rposition(|site| matches!(site.origin, CommandOrigin::Script { .. }));
    facts
        .commands
        .iter()
        .enumerate()
        .filter_map(|(index, site)| {
            let found = invocation(site, env)?;
            // A script runs `manage.py trace_paths` before it execs its
            // server: only its last command can be a long-running one.
            let setup_step = found.kind == ServerKind::DjangoCommand
                && matches!(site.origin, CommandOrigin::Script { .. })
                && Some(index) != last_script_command;
            (!setup_step).then_some(found)
        })
        .collect()
}

/// The server one command site starts, if any.
pub fn invocation(site: &CommandSite, env: &Environment) -> Option<ServerInvocation> {
    let interpreted = interpret_site(site, env)?;
    Some(ServerInvocation {
        kind: interpreted.kind,
        location: site.location.clone(),
        name_hint: site.name_hint.clone(),
        settings: interpreted.settings,
        development: interpreted.development,
    })
}

/// Expands a command site with `env` (and its own assignments) and interprets it.
pub fn interpret_site(site: &CommandSite, env: &Environment) -> Option<Interpreted> {
    let args = shell::expand_words(&site.words, Scope::new(env, &site.assignments));
    interpret(&args, &site.location.file, env)
}

/// When a command site starts supervisord, the configuration it reads:
/// `Some(Some(path))` for `-c path`/`--configuration path` as written,
/// `Some(None)` for supervisord's own search (`supervisord.conf` in the
/// working directory, then `/etc/supervisor/supervisord.conf`…). `None`
/// when the command does not start supervisord.
pub fn supervisord_config(site: &CommandSite, env: &Environment) -> Option<Option<String>> {
    let args = shell::expand_words(&site.words, Scope::new(env, &site.assignments));
    let args = strip_prefixes(&args);
    if basename(&args.first()?.text()) != "supervisord" {
        return None;
    }
    let texts: Vec<String> = args[1..].iter().map(Arg::text).collect();
    for (i, text) in texts.iter().enumerate() {
        if let Some(value) = text
            .strip_prefix("--configuration=")
            .or_else(|| text.strip_prefix("-c").filter(|v| !v.is_empty()))
        {
            return Some(Some(value.to_owned()));
        }
        if text == "-c" || text == "--configuration" {
            return Some(texts.get(i + 1).cloned());
        }
    }
    Some(None)
}

/// A command a process manager's file runs (a Procfile line, a supervisord
/// `command=`), checked like any other and added to the file's commands;
/// returns its index there.
pub(crate) fn add_managed_command(
    file: &SourceFile,
    command: ParsedCommand,
    origin: CommandOrigin,
    name: &str,
    diagnostics: &mut Vec<Diagnostic>,
    deploy: &mut DeployFacts,
) -> usize {
    let site = CommandSite {
        location: file.location(command.span),
        origin,
        name_hint: Some(name.to_owned()),
        words: command.words,
        assignments: command
            .assignments
            .iter()
            .map(|a| a.located(file.path()))
            .collect(),
    };
    check_site(&site, Some(name), diagnostics, &mut deploy.links);
    deploy.commands.push(site);
    deploy.commands.len() - 1
}

/// PC002 diagnostics for literal values in a command site, and the files it
/// names (`-c gunicorn.conf.py`, `--ini uwsgi.ini`, a leading `*.sh`).
pub(crate) fn check_site(
    site: &CommandSite,
    service: Option<&str>,
    diagnostics: &mut Vec<Diagnostic>,
    links: &mut Vec<LinkedFile>,
) {
    let empty = Environment::new();
    let args = shell::expand_words(&site.words, Scope::new(&empty, &site.assignments));
    let file = &site.location.file;
    if let Some(script) = args.first().filter(|a| a.is_literal()).map(Arg::text)
        && has_extension(&script, "sh")
    {
        links.push(LinkedFile {
            kind: LinkKind::Script,
            path: script,
            location: Location::new(file.clone(), args[0].span),
            service: service.map(str::to_owned),
        });
    }
    let Some(interpreted) = interpret(&args, file, &empty) else {
        return;
    };
    for problem in interpreted.problems {
        let mut diagnostic = Diagnostic::new(
            Code::PC002,
            Severity::Error,
            Location::new(file.clone(), problem.span),
            problem.message,
        );
        diagnostic.help = problem.help;
        diagnostics.push(diagnostic);
    }
    if let Some(config) = &interpreted.settings.config_file
        && let (Some(path), Origin::Literal, Some(location)) =
            (&config.value, &config.origin, &config.location)
    {
        links.push(LinkedFile {
            kind: if interpreted.kind == ServerKind::Uwsgi {
                LinkKind::UwsgiIni
            } else {
                LinkKind::ServerConfig
            },
            path: path.clone(),
            location: location.clone(),
            service: service.map(str::to_owned),
        });
    }
}

/// `GUNICORN_CMD_ARGS` parsed as gunicorn arguments. Its settings rank
/// above the config file and below the command line (pitfalls §2.5); every
/// value's origin is the variable.
pub fn gunicorn_cmd_args(env: &Environment) -> Option<ServerSettings> {
    let var = env.get("GUNICORN_CMD_ARGS")?;
    let commands = shell::parse_script(&var.value, &OffsetMap::Shifted(0));
    let empty = Environment::new();
    let args: Vec<Arg> = commands
        .iter()
        .flat_map(|c| {
            let mut words = Vec::new();
            for a in &c.assignments {
                words.push(a.value.clone());
            }
            words.extend(c.words.iter().cloned());
            shell::expand_words(&words, Scope::new(&empty, &[]))
        })
        .collect();
    let mut out = Interpreted {
        kind: ServerKind::Gunicorn,
        settings: ServerSettings::default(),
        development: false,
        problems: Vec::new(),
    };
    let scratch = FilePath::from("GUNICORN_CMD_ARGS");
    gunicorn(&args, &scratch, &mut out);
    let origin = Origin::EnvValue {
        var: "GUNICORN_CMD_ARGS".to_owned(),
        source: var.source.clone(),
    };
    relocate_settings(&mut out.settings, &origin, var.location.as_ref());
    Some(out.settings)
}

fn relocate<T>(field: &mut Option<Sourced<T>>, origin: &Origin, location: Option<&Location>) {
    if let Some(value) = field {
        if value.is_known() {
            value.origin = origin.clone();
        }
        value.location = location.cloned();
    }
}

fn relocate_settings(s: &mut ServerSettings, origin: &Origin, location: Option<&Location>) {
    relocate(&mut s.workers, origin, location);
    relocate(&mut s.threads, origin, location);
    relocate(&mut s.worker_class, origin, location);
    relocate(&mut s.worker_connections, origin, location);
    relocate(&mut s.concurrency, origin, location);
    relocate(&mut s.limit_concurrency, origin, location);
    relocate(&mut s.preload, origin, location);
    relocate(&mut s.timeout, origin, location);
    relocate(&mut s.bind, origin, location);
    relocate(&mut s.max_requests, origin, location);
    relocate(&mut s.app, origin, location);
    relocate(&mut s.config_file, origin, location);
    relocate(&mut s.lazy_apps, origin, location);
    relocate(&mut s.blocking_threads, origin, location);
    relocate(&mut s.backpressure, origin, location);
    relocate(&mut s.backlog, origin, location);
    relocate(&mut s.enable_threads, origin, location);
}

fn has_extension(path: &str, extension: &str) -> bool {
    std::path::Path::new(path)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case(extension))
}

fn basename(text: &str) -> &str {
    text.rsplit('/').next().unwrap_or(text)
}

fn is_python(program: &str) -> bool {
    let name = basename(program);
    name == "python"
        || name == "pypy3"
        || name.strip_prefix("python3").is_some_and(|rest| {
            rest.is_empty()
                || rest.starts_with('.') && rest[1..].chars().all(|c| c.is_ascii_digit())
        })
}

/// Recognises the server a command's expanded words start.
pub fn interpret(args: &[Arg], file: &FilePath, env: &Environment) -> Option<Interpreted> {
    interpret_at_depth(args, file, env, 0)
}

fn interpret_at_depth(
    args: &[Arg],
    file: &FilePath,
    env: &Environment,
    depth: usize,
) -> Option<Interpreted> {
    let args = strip_prefixes(args);
    let program = args.first()?.text();
    let name = basename(&program);
    let rest = &args[1..];
    if matches!(name, "sh" | "bash" | "dash" | "ash" | "zsh") {
        return shell_c(rest, file, env, depth);
    }
    if is_python(&program) {
        return python(rest, file, env);
    }
    if has_extension(name, "sh") && rest.len() > 1 && depth < 4 {
        // An entrypoint script that ends in `exec "$@"` runs its arguments.
        return interpret_at_depth(rest, file, env, depth + 1);
    }
    if matches!(name, "manage.py" | "django-admin" | "django-admin.py") {
        return django_manage(&program, rest, file);
    }
    if name == "flask" {
        return rest
            .first()
            .is_some_and(|a| a.text() == "run")
            .then(dev_server);
    }
    program_by_name(name, rest, file, env)
}

fn program_by_name(
    name: &str,
    rest: &[Arg],
    file: &FilePath,
    env: &Environment,
) -> Option<Interpreted> {
    let kind = match name {
        "gunicorn" => ServerKind::Gunicorn,
        "uvicorn" => ServerKind::Uvicorn,
        "daphne" => ServerKind::Daphne,
        "hypercorn" => ServerKind::Hypercorn,
        "granian" => ServerKind::Granian,
        "uwsgi" => ServerKind::Uwsgi,
        "celery" => ServerKind::Celery,
        "fastapi" => return fastapi(rest, file, env),
        "dramatiq" | "dramatiq-gevent" => ServerKind::Dramatiq,
        "rq" => ServerKind::Rq,
        "huey_consumer" | "huey_consumer.py" => ServerKind::Huey,
        _ => return None,
    };
    let mut out = Interpreted {
        kind,
        settings: ServerSettings::default(),
        development: false,
        problems: Vec::new(),
    };
    match kind {
        ServerKind::Gunicorn => gunicorn(rest, file, &mut out),
        ServerKind::Uvicorn => uvicorn(rest, file, env, &mut out),
        ServerKind::Daphne => daphne(rest, file, &mut out),
        ServerKind::Hypercorn => hypercorn(rest, file, &mut out),
        ServerKind::Granian => granian(rest, file, env, &mut out),
        ServerKind::Uwsgi => uwsgi(rest, file, &mut out),
        ServerKind::Celery => return celery(rest, file, out),
        ServerKind::Dramatiq => dramatiq(rest, file, name == "dramatiq-gevent", &mut out),
        ServerKind::Rq => return rq(rest, file, out),
        ServerKind::Huey => huey(rest, file, &mut out),
        ServerKind::CeleryBeat | ServerKind::DevServer | ServerKind::DjangoCommand => {}
    }
    Some(out)
}

fn dev_server() -> Interpreted {
    Interpreted {
        kind: ServerKind::DevServer,
        settings: ServerSettings {
            workers: Some(Sourced::tool_default(
                IntExpr::Const(1),
                "development server",
            )),
            ..ServerSettings::default()
        },
        development: true,
        problems: Vec::new(),
    }
}

/// `manage.py <command>`: the development server, the task workers that
/// Django integrations start (django-rq, huey, django-dramatiq), another
/// long-running command (a process that runs the settings module), or a
/// one-off (`migrate`, `collectstatic`, `wait_for_db`) that is no service.
fn django_manage(manage: &str, rest: &[Arg], file: &FilePath) -> Option<Interpreted> {
    let position = rest.iter().position(|a| !a.text().starts_with('-'))?;
    let subcommand_arg = &rest[position];
    let subcommand = subcommand_arg.text();
    let after = &rest[position + 1..];
    let entry = || {
        Some(Sourced::computed(
            manage.to_owned(),
            "the Django project's manage.py",
            None,
        ))
    };
    let mut out = Interpreted {
        kind: ServerKind::DjangoCommand,
        settings: ServerSettings::default(),
        development: false,
        problems: Vec::new(),
    };
    match subcommand.as_str() {
        "runserver" | "runserver_plus" => return Some(dev_server()),
        "rqworker" => return Some(rq_worker(after, file, out, false)),
        "rqworker-pool" => return Some(rq_worker(after, file, out, true)),
        "run_huey" => {
            out.kind = ServerKind::Huey;
            huey(after, file, &mut out);
            out.settings.app = entry();
            return Some(out);
        }
        "rundramatiq" => {
            out.kind = ServerKind::Dramatiq;
            dramatiq(after, file, false, &mut out);
            out.settings.app = entry();
            return Some(out);
        }
        _ => {}
    }
    if !subcommand_arg.is_literal() || is_one_off_management_command(&subcommand) {
        return None;
    }
    out.settings.workers = Some(Sourced::tool_default(
        IntExpr::Const(1),
        format!("Django management command `{subcommand}`"),
    ));
    out.settings.app = entry();
    Some(out)
}

/// Management commands that run once and exit (Django's own and the usual
/// setup commands of projects): they hold connections only while they run.
fn is_one_off_management_command(name: &str) -> bool {
    const ONE_OFF: &[&str] = &[
        "migrate",
        "makemigrations",
        "collectstatic",
        "compilemessages",
        "makemessages",
        "createsuperuser",
        "changepassword",
        "check",
        "shell",
        "shell_plus",
        "dbshell",
        "test",
        "testserver",
        "loaddata",
        "dumpdata",
        "flush",
        "showmigrations",
        "sqlmigrate",
        "squashmigrations",
        "optimizemigration",
        "createcachetable",
        "clearsessions",
        "diffsettings",
        "inspectdb",
        "sendtestemail",
        "startapp",
        "startproject",
        "help",
        "version",
        "compress",
        "remove_stale_contenttypes",
    ];
    const ONE_OFF_PREFIXES: &[&str] = &[
        "wait",
        "create",
        "make",
        "migrate",
        "compile",
        "collect",
        "check",
        "load",
        "dump",
        "init",
        "setup",
        "seed",
        "sync",
        "clear",
        "clean",
        "ensure",
        "bootstrap",
        "populate",
        "import",
        "export",
        "upgrade",
        "install",
        "generate",
        "reset",
        "flush",
        "sql",
        "show",
        "test",
        "send",
        "start",
        "squash",
        "remove",
        "delete",
        "update",
        "rebuild",
        "fix",
        "backup",
        "restore",
        "register",
        "set",
        "add",
        "copy",
        "print",
        "validate",
    ];
    ONE_OFF.contains(&name)
        || ONE_OFF_PREFIXES
            .iter()
            .any(|prefix| name.starts_with(prefix))
}

fn python(rest: &[Arg], file: &FilePath, env: &Environment) -> Option<Interpreted> {
    let mut i = 0;
    while let Some(arg) = rest.get(i) {
        let text = arg.text();
        if text == "-m" {
            let module = rest.get(i + 1)?.text();
            let after = &rest[(i + 2).min(rest.len())..];
            return match module.as_str() {
                "django" => django_manage("django", after, file),
                "flask" => after
                    .first()
                    .is_some_and(|a| a.text() == "run")
                    .then(dev_server),
                "uvicorn"
                | "gunicorn"
                | "celery"
                | "hypercorn"
                | "granian"
                | "daphne"
                | "fastapi"
                | "dramatiq"
                | "rq"
                | "huey.bin.huey_consumer" => program_by_name(
                    module.rsplit('.').next().unwrap_or(&module),
                    after,
                    file,
                    env,
                ),
                _ => None,
            };
        }
        if let Some(module) = text.strip_prefix("-m").filter(|m| !m.is_empty()) {
            return program_by_name(module, &rest[i + 1..], file, env);
        }
        if text.starts_with('-') {
            i += 1;
            continue;
        }
        return if basename(&text) == "manage.py" {
            django_manage(&text, &rest[i + 1..], file)
        } else if basename(&text) == "huey_consumer.py" {
            program_by_name("huey_consumer", &rest[i + 1..], file, env)
        } else {
            None
        };
    }
    None
}

fn shell_c(rest: &[Arg], file: &FilePath, env: &Environment, depth: usize) -> Option<Interpreted> {
    if depth >= 4 {
        return None;
    }
    let position = rest.iter().position(|a| {
        let t = a.text();
        t.starts_with('-') && !t.starts_with("--") && t.contains('c')
    })?;
    let script = rest.get(position + 1)?;
    let (text, map) = arg_source(script);
    let commands = shell::parse_script(&text, &map);
    let mut locals = Vec::new();
    for command in &commands {
        for assignment in &command.assignments {
            if command.persistent {
                locals.push(assignment.located(file));
            }
        }
        if command.words.is_empty() {
            continue;
        }
        let mut scope_locals = locals.clone();
        scope_locals.extend(command.assignments.iter().map(|a| a.located(file)));
        let args = shell::expand_words(&command.words, Scope::new(env, &scope_locals));
        if let Some(found) = interpret_at_depth(&args, file, env, depth + 1) {
            return Some(found);
        }
    }
    None
}

/// The text of an expanded argument and where each of its bytes is in the file.
fn arg_source(arg: &Arg) -> (String, OffsetMap) {
    let mut text = String::new();
    let mut table = Vec::new();
    for piece in &arg.pieces {
        let (start, exact) = match &piece.kind {
            PieceKind::Literal { span, exact } => (span.start, *exact),
            PieceKind::Env { .. } | PieceKind::Unknown { .. } => (arg.span.start, false),
        };
        for i in 0..piece.text.len() {
            table.push(if exact { start + i as u32 } else { start });
        }
        text.push_str(&piece.text);
    }
    let end = table.last().map_or(arg.span.end, |&o| o + 1);
    table.push(end);
    (text, OffsetMap::Table(table))
}

/// Drops wrappers that run their arguments: `exec`, `poetry run`,
/// `ddtrace-run`, `gosu user`, `/entrypoint.sh` and friends.
fn strip_prefixes(mut args: &[Arg]) -> &[Arg] {
    for _ in 0..16 {
        let Some(first) = args.first() else {
            return args;
        };
        let text = first.text();
        let name = basename(&text);
        let second = args.get(1).map(Arg::text);
        let skip = match (name, second.as_deref()) {
            ("exec" | "nohup" | "command" | "time" | "ddtrace-run" | "stdbuf", _) => {
                1 + leading_flags(&args[1..], &[])
            }
            ("env", _) => {
                1 + args[1..]
                    .iter()
                    .take_while(|a| {
                        let t = a.text();
                        t.starts_with('-') || t.contains('=')
                    })
                    .count()
            }
            ("poetry" | "pipenv" | "pdm" | "hatch" | "rye", Some("run"))
            | ("newrelic-admin", Some("run-program" | "run-python"))
            | ("su-exec" | "gosu" | "chroot" | "setuidgid" | "s6-setuidgid", Some(_)) => 2,
            ("uv", Some("run")) => {
                2 + leading_flags(
                    &args[2..],
                    &[
                        "--with",
                        "--python",
                        "-p",
                        "--env-file",
                        "--project",
                        "--directory",
                        "--package",
                        "--extra",
                        "--group",
                        "--with-requirements",
                        "--index",
                    ],
                )
            }
            ("opentelemetry-instrument", _) => 1 + leading_flags(&args[1..], &["*"]),
            ("dumb-init" | "tini" | "tini-static", _) => {
                let flags = leading_flags(&args[1..], &["-s", "-p", "-e", "--rewrite"]);
                let dashdash = usize::from(args.get(1 + flags).is_some_and(|a| a.text() == "--"));
                1 + flags + dashdash
            }
            _ => 0,
        };
        if skip == 0 || skip > args.len() {
            return args;
        }
        args = &args[skip..];
    }
    args
}

/// How many leading arguments are options (and, for the given options or
/// any long option when `valued` holds `*`, their values).
fn leading_flags(args: &[Arg], valued: &[&str]) -> usize {
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        let text = arg.text();
        if text == "--" || !text.starts_with('-') || text.len() < 2 {
            break;
        }
        i += 1;
        let any_long = valued.contains(&"*") && text.starts_with("--");
        if !text.contains('=') && (valued.contains(&text.as_str()) || any_long) {
            i += 1;
        }
    }
    i.min(args.len())
}

// ---------------------------------------------------------------------------
// Option parsing shared by the servers

#[derive(Clone, Copy, PartialEq, Eq)]
enum Takes {
    Value,
    Flag,
}

struct OptSpec {
    names: &'static [&'static str],
    key: &'static str,
    takes: Takes,
}

const fn opt(names: &'static [&'static str], key: &'static str, takes: Takes) -> OptSpec {
    OptSpec { names, key, takes }
}

/// One option occurrence: its key, the option word and its value.
struct Occurrence {
    key: &'static str,
    flag: Arg,
    value: Option<Arg>,
}

struct Parsed {
    options: Vec<Occurrence>,
    positionals: Vec<Arg>,
}

impl Parsed {
    /// The last occurrence of `key` (later options win).
    fn last(&self, key: &str) -> Option<&Occurrence> {
        self.options.iter().rev().find(|o| o.key == key)
    }
}

/// Parses options by `specs`. Unknown options are flags unless
/// `unknown_takes_value` says they take the next word.
fn parse_options(args: &[Arg], specs: &[OptSpec], unknown_takes_value: bool) -> Parsed {
    let mut options = Vec::new();
    let mut positionals = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let text = arg.text();
        i += 1;
        if !arg.is_known() && text.starts_with('-') {
            // `"--${MODE}" "${ENDPOINT}"`: an option whose name comes from the
            // environment. Its known prefix may read `--`, which must not end
            // the options; skip it and the value that follows it.
            if args
                .get(i)
                .is_some_and(|next| !next.text().starts_with('-'))
            {
                i += 1;
            }
            continue;
        }
        if text == "--" {
            positionals.extend(args[i..].iter().cloned());
            break;
        }
        if !text.starts_with('-') || text.len() < 2 || !arg.is_known() {
            positionals.push(arg.clone());
            continue;
        }
        let (name, inline) = if text.starts_with("--") {
            match arg.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (text.clone(), None),
            }
        } else {
            let name: String = text.chars().take(2).collect();
            let rest = arg.suffix(name.len());
            let rest = if rest.text().is_empty() {
                None
            } else {
                Some(rest)
            };
            // `-w=4` is accepted by argparse-style parsers as `4`.
            let rest = rest.map(|r| {
                if r.text().starts_with('=') {
                    r.suffix(1)
                } else {
                    r
                }
            });
            (name, rest)
        };
        let spec = specs.iter().find(|s| s.names.contains(&name.as_str()));
        let takes = spec.map_or(
            if unknown_takes_value
                && inline.is_none()
                && args.get(i).is_some_and(|n| !n.text().starts_with('-'))
            {
                Takes::Value
            } else {
                Takes::Flag
            },
            |s| s.takes,
        );
        let value = match (takes, inline) {
            (Takes::Value, Some(v)) => Some(v),
            (Takes::Value, None) => {
                let v = args.get(i).cloned();
                i += 1;
                v
            }
            (Takes::Flag, _) => None,
        };
        if let Some(spec) = spec {
            options.push(Occurrence {
                key: spec.key,
                flag: arg.clone(),
                value,
            });
        }
    }
    Parsed {
        options,
        positionals,
    }
}

fn flag_location(file: &FilePath, arg: &Arg) -> Location {
    Location::new(file.clone(), arg.span)
}

/// The value of an option as a string with provenance; unknown when the
/// option has no value.
fn string_value(occ: &Occurrence, file: &FilePath) -> Sourced<String> {
    match &occ.value {
        Some(v) => v.sourced(file),
        None => Sourced::unknown(
            format!("`{}` has no value", occ.flag.text()),
            Some(flag_location(file, &occ.flag)),
        ),
    }
}

/// Parses a count option (`--workers 4`). A literal that is not a
/// non-negative integer is a problem.
fn count_value(
    occ: &Occurrence,
    file: &FilePath,
    tool: &str,
    problems: &mut Vec<Problem>,
) -> Sourced<IntExpr> {
    let sourced = string_value(occ, file);
    let text = sourced.value.clone();
    let parsed = sourced.and_then("", |s| s.trim().parse::<i64>().ok().filter(|v| *v >= 0));
    if parsed.is_known() {
        return parsed.map(IntExpr::Const);
    }
    let Some(text) = text else {
        return parsed.map(IntExpr::Const);
    };
    let flag = occ.flag.text();
    let flag = flag.split('=').next().unwrap_or(&flag).to_owned();
    let reason = format!("{tool} `{flag}` expects a whole number, got `{text}`");
    if let Some(value) = occ.value.as_ref().filter(|v| v.is_literal()) {
        problems.push(Problem {
            span: literal_span(value),
            message: format!("invalid value `{text}` for {tool} `{flag}`: expected a whole number"),
            help: None,
        });
    }
    Sourced::unknown(reason, parsed.location)
}

fn seconds_value(
    occ: &Occurrence,
    file: &FilePath,
    tool: &str,
    problems: &mut Vec<Problem>,
) -> Sourced<i64> {
    let count = count_value(occ, file, tool, problems);
    Sourced {
        value: count.value.as_ref().and_then(IntExpr::constant),
        origin: count.origin,
        location: count.location,
    }
}

fn literal_span(arg: &Arg) -> Span {
    arg.pieces
        .iter()
        .filter_map(|p| match p.kind {
            PieceKind::Literal { span, .. } if !p.text.is_empty() => Some(span),
            _ => None,
        })
        .reduce(Span::cover)
        .unwrap_or(arg.span)
}

fn flag_true(occ: &Occurrence, file: &FilePath) -> Sourced<bool> {
    Sourced::literal(true, flag_location(file, &occ.flag))
}

/// A choice option (`-k gevent`): a literal outside `choices` (and not a
/// dotted import path when `dotted_ok`) is a problem.
fn choice_value(
    occ: &Occurrence,
    file: &FilePath,
    what: &str,
    choices: &[&str],
    dotted_ok: bool,
    problems: &mut Vec<Problem>,
) -> Sourced<String> {
    let sourced = string_value(occ, file);
    if let (Some(text), Some(value)) = (&sourced.value, &occ.value) {
        let valid = choices.contains(&text.as_str()) || dotted_ok && text.contains('.');
        if !valid && value.is_literal() {
            let suggestion = choices
                .iter()
                .map(|c| (strsim::jaro_winkler(c, text), *c))
                .filter(|(score, _)| *score > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, c)| format!("did you mean `{c}`?"));
            problems.push(Problem {
                span: literal_span(value),
                message: format!("unknown {what} `{text}`"),
                help: suggestion
                    .or_else(|| Some(format!("expected one of {}", quoted_list(choices)))),
            });
        }
    }
    sourced
}

fn quoted_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn first_positional(parsed: &Parsed, file: &FilePath) -> Option<Sourced<String>> {
    parsed.positionals.first().map(|a| a.sourced(file))
}

/// A setting taken from an environment variable the tool reads itself.
fn env_setting(env: &Environment, name: &str) -> Option<Sourced<String>> {
    env.get(name).map(|_| env.sourced(name))
}

fn env_count(env: &Environment, name: &str) -> Option<Sourced<IntExpr>> {
    let sourced = env_setting(env, name)?;
    Some(
        sourced
            .and_then(&format!("${name} is not a whole number"), |s| {
                s.trim().parse::<i64>().ok().filter(|v| *v >= 0)
            })
            .map(IntExpr::Const),
    )
}

// ---------------------------------------------------------------------------
// The servers

const GUNICORN_OPTIONS: &[OptSpec] = &[
    opt(&["-w", "--workers"], "workers", Takes::Value),
    opt(&["--threads"], "threads", Takes::Value),
    opt(&["-k", "--worker-class"], "worker_class", Takes::Value),
    opt(
        &["--worker-connections"],
        "worker_connections",
        Takes::Value,
    ),
    opt(&["--preload"], "preload", Takes::Flag),
    opt(&["-t", "--timeout"], "timeout", Takes::Value),
    opt(&["-c", "--config"], "config", Takes::Value),
    opt(&["-b", "--bind"], "bind", Takes::Value),
    opt(&["--max-requests"], "max_requests", Takes::Value),
    opt(
        &[
            "--max-requests-jitter",
            "--graceful-timeout",
            "--keep-alive",
            "-n",
            "--name",
            "--access-logfile",
            "--error-logfile",
            "--log-file",
            "--log-level",
            "--access-logformat",
            "-e",
            "--env",
            "-p",
            "--pid",
            "-u",
            "--user",
            "-g",
            "--group",
            "--chdir",
            "--pythonpath",
            "--paste",
            "--paster",
            "--worker-tmp-dir",
            "--forwarded-allow-ips",
            "--limit-request-line",
            "--limit-request-fields",
            "--limit-request-field_size",
            "--backlog",
            "--certfile",
            "--keyfile",
            "--ca-certs",
            "--ssl-version",
            "--cert-reqs",
            "--ciphers",
            "--statsd-host",
            "--statsd-prefix",
            "--dogstatsd-tags",
            "-m",
            "--umask",
            "--log-config",
            "--log-config-json",
            "--log-syslog-to",
            "--log-syslog-prefix",
            "--log-syslog-facility",
            "--proxy-allow-from",
            "--reload-engine",
            "--reload-extra-file",
            "--logger-class",
            "--header-map",
            "--server-header",
        ],
        "other",
        Takes::Value,
    ),
];

const GUNICORN_WORKER_CLASSES: &[&str] = &[
    "sync",
    "gthread",
    "gevent",
    "eventlet",
    "tornado",
    "gevent_wsgi",
    "gevent_pywsgi",
];

fn gunicorn(args: &[Arg], file: &FilePath, out: &mut Interpreted) {
    let parsed = parse_options(args, GUNICORN_OPTIONS, false);
    let problems = &mut out.problems;
    let s = &mut out.settings;
    for occ in &parsed.options {
        match occ.key {
            "workers" => s.workers = Some(count_value(occ, file, "gunicorn", problems)),
            "threads" => s.threads = Some(count_value(occ, file, "gunicorn", problems)),
            "worker_connections" => {
                s.worker_connections = Some(count_value(occ, file, "gunicorn", problems));
            }
            "worker_class" => {
                s.worker_class = Some(choice_value(
                    occ,
                    file,
                    "gunicorn worker class",
                    GUNICORN_WORKER_CLASSES,
                    true,
                    problems,
                ));
            }
            "preload" => s.preload = Some(flag_true(occ, file)),
            "timeout" => s.timeout = Some(seconds_value(occ, file, "gunicorn", problems)),
            "max_requests" => {
                s.max_requests = Some(seconds_value(occ, file, "gunicorn", problems));
            }
            "config" => s.config_file = Some(string_value(occ, file)),
            "bind" => s.bind = Some(string_value(occ, file)),
            _ => {}
        }
    }
    s.app = first_positional(&parsed, file);
}

const UVICORN_OPTIONS: &[OptSpec] = &[
    opt(&["--workers"], "workers", Takes::Value),
    opt(&["--limit-concurrency"], "limit_concurrency", Takes::Value),
    opt(&["--limit-max-requests"], "max_requests", Takes::Value),
    opt(&["--host"], "host", Takes::Value),
    opt(&["--port"], "port", Takes::Value),
    opt(&["--uds"], "bind", Takes::Value),
    opt(&["--reload"], "reload", Takes::Flag),
    opt(&["--env-file"], "env_file", Takes::Value),
    opt(
        &[
            "--fd",
            "--loop",
            "--http",
            "--ws",
            "--ws-max-size",
            "--ws-max-queue",
            "--ws-ping-interval",
            "--ws-ping-timeout",
            "--ws-per-message-deflate",
            "--lifespan",
            "--interface",
            "--log-config",
            "--log-level",
            "--root-path",
            "--backlog",
            "--timeout-keep-alive",
            "--timeout-graceful-shutdown",
            "--timeout-worker-healthcheck",
            "--ssl-keyfile",
            "--ssl-certfile",
            "--ssl-keyfile-password",
            "--ssl-version",
            "--ssl-cert-reqs",
            "--ssl-ca-certs",
            "--ssl-ciphers",
            "--header",
            "--forwarded-allow-ips",
            "--app-dir",
            "--reload-dir",
            "--reload-include",
            "--reload-exclude",
            "--reload-delay",
            "--h11-max-incomplete-event-size",
        ],
        "other",
        Takes::Value,
    ),
];

fn uvicorn(args: &[Arg], file: &FilePath, env: &Environment, out: &mut Interpreted) {
    let parsed = parse_options(args, UVICORN_OPTIONS, false);
    let problems = &mut out.problems;
    let s = &mut out.settings;
    let mut host = None;
    let mut port = None;
    for occ in &parsed.options {
        match occ.key {
            "workers" => s.workers = Some(count_value(occ, file, "uvicorn", problems)),
            "limit_concurrency" => {
                s.limit_concurrency = Some(count_value(occ, file, "uvicorn", problems));
            }
            "max_requests" => s.max_requests = Some(seconds_value(occ, file, "uvicorn", problems)),
            "host" => host = Some(string_value(occ, file)),
            "port" => port = Some(string_value(occ, file)),
            "bind" => s.bind = Some(string_value(occ, file)),
            _ => {}
        }
    }
    if s.bind.is_none() && (host.is_some() || port.is_some()) {
        s.bind = Some(join_host_port(host, port, "127.0.0.1", "8000", "uvicorn"));
    }
    if s.workers.is_none() {
        // uvicorn: "$WEB_CONCURRENCY environment variable if available, or 1".
        s.workers = Some(
            env_count(env, "WEB_CONCURRENCY")
                .unwrap_or_else(|| Sourced::tool_default(IntExpr::Const(1), "uvicorn")),
        );
    }
    s.app = first_positional(&parsed, file);
}

fn join_host_port(
    host: Option<Sourced<String>>,
    port: Option<Sourced<String>>,
    default_host: &str,
    default_port: &str,
    tool: &str,
) -> Sourced<String> {
    let host = host.unwrap_or_else(|| Sourced::tool_default(default_host.to_owned(), tool));
    let port = port.unwrap_or_else(|| Sourced::tool_default(default_port.to_owned(), tool));
    match (&host.value, &port.value) {
        (Some(h), Some(p)) => {
            let location = port.location.clone().or_else(|| host.location.clone());
            Sourced::computed(format!("{h}:{p}"), "host:port", location)
        }
        _ => {
            if host.is_known() {
                port
            } else {
                host
            }
        }
    }
}

const DAPHNE_OPTIONS: &[OptSpec] = &[
    opt(&["-b", "--bind"], "host", Takes::Value),
    opt(&["-p", "--port"], "port", Takes::Value),
    opt(
        &[
            "-u",
            "--unix-socket",
            "--fd",
            "-e",
            "--endpoint",
            "--websocket_timeout",
            "--websocket_connect_timeout",
            "--application-close-timeout",
            "--access-log",
            "--log-fmt",
            "--ping-interval",
            "--ping-timeout",
            "--root-path",
            "--proxy-headers-host",
            "--proxy-headers-port",
            "-v",
            "--verbosity",
            "--server-name",
        ],
        "other",
        Takes::Value,
    ),
];

fn daphne(args: &[Arg], file: &FilePath, out: &mut Interpreted) {
    let parsed = parse_options(args, DAPHNE_OPTIONS, false);
    let s = &mut out.settings;
    let host = parsed.last("host").map(|o| string_value(o, file));
    let port = parsed.last("port").map(|o| string_value(o, file));
    if host.is_some() || port.is_some() {
        s.bind = Some(join_host_port(host, port, "127.0.0.1", "8000", "daphne"));
    }
    // Daphne serves from one process.
    s.workers = Some(Sourced::tool_default(IntExpr::Const(1), "daphne"));
    s.app = first_positional(&parsed, file);
}

const HYPERCORN_OPTIONS: &[OptSpec] = &[
    opt(&["-w", "--workers"], "workers", Takes::Value),
    opt(&["-k", "--worker-class"], "worker_class", Takes::Value),
    opt(&["-b", "--bind"], "bind", Takes::Value),
    opt(&["-c", "--config"], "config", Takes::Value),
    opt(
        &[
            "--access-logfile",
            "--access-logformat",
            "--backlog",
            "--ca-certs",
            "--certfile",
            "--cert-reqs",
            "--ciphers",
            "--debug",
            "--error-logfile",
            "--graceful-timeout",
            "--read-timeout",
            "--max-requests",
            "--max-requests-jitter",
            "-g",
            "--group",
            "--keep-alive",
            "--keyfile",
            "--keyfile-password",
            "--insecure-bind",
            "--log-config",
            "--log-level",
            "-p",
            "--pid",
            "--quic-bind",
            "--root-path",
            "--server-name",
            "--statsd-host",
            "--statsd-prefix",
            "-m",
            "--umask",
            "-u",
            "--user",
        ],
        "other",
        Takes::Value,
    ),
];

fn hypercorn(args: &[Arg], file: &FilePath, out: &mut Interpreted) {
    let parsed = parse_options(args, HYPERCORN_OPTIONS, false);
    let problems = &mut out.problems;
    let s = &mut out.settings;
    for occ in &parsed.options {
        match occ.key {
            "workers" => s.workers = Some(count_value(occ, file, "hypercorn", problems)),
            "worker_class" => {
                s.worker_class = Some(choice_value(
                    occ,
                    file,
                    "hypercorn worker class",
                    &["asyncio", "uvloop", "trio"],
                    false,
                    problems,
                ));
            }
            "bind" => s.bind = Some(string_value(occ, file)),
            "config" => s.config_file = Some(string_value(occ, file)),
            _ => {}
        }
    }
    if s.config_file.is_none() {
        s.workers
            .get_or_insert_with(|| Sourced::tool_default(IntExpr::Const(1), "hypercorn"));
        s.worker_class
            .get_or_insert_with(|| Sourced::tool_default("asyncio".to_owned(), "hypercorn"));
    }
    s.app = first_positional(&parsed, file);
}

const GRANIAN_OPTIONS: &[OptSpec] = &[
    opt(&["--workers"], "workers", Takes::Value),
    opt(&["--interface"], "interface", Takes::Value),
    opt(&["--blocking-threads"], "blocking_threads", Takes::Value),
    opt(&["--backpressure"], "backpressure", Takes::Value),
    opt(&["--backlog"], "backlog", Takes::Value),
    opt(&["--host"], "host", Takes::Value),
    opt(&["--port"], "port", Takes::Value),
    opt(
        &[
            "--uds",
            "--uds-permissions",
            "--http",
            "--runtime-threads",
            "--runtime-blocking-threads",
            "--runtime-mode",
            "--loop",
            "--task-impl",
            "--blocking-threads-idle-timeout",
            "--http1-buffer-size",
            "--http1-header-read-timeout",
            "--http2-adaptive-window",
            "--http2-initial-connection-window-size",
            "--http2-initial-stream-window-size",
            "--http2-keep-alive-interval",
            "--http2-keep-alive-timeout",
            "--http2-max-concurrent-streams",
            "--http2-max-frame-size",
            "--http2-max-headers-size",
            "--http2-max-send-buffer-size",
            "--log-level",
            "--log-config",
            "--access-log-fmt",
            "--ssl-certificate",
            "--ssl-keyfile",
            "--ssl-keyfile-password",
            "--url-path-prefix",
            "--respawn-interval",
            "--workers-lifetime",
            "--workers-kill-timeout",
            "--workers-max-rss",
            "--factory",
            "--working-dir",
            "--env-files",
            "--pid-file",
            "--static-path-route",
            "--static-path-mount",
            "--static-path-expires",
            "--reload-paths",
            "--reload-ignore-dirs",
            "--reload-ignore-patterns",
            "--reload-ignore-paths",
            "--reload-tick",
            "--reload-filter",
            "--process-name",
        ],
        "other",
        Takes::Value,
    ),
];

fn granian(args: &[Arg], file: &FilePath, env: &Environment, out: &mut Interpreted) {
    let parsed = parse_options(args, GRANIAN_OPTIONS, false);
    let problems = &mut out.problems;
    let s = &mut out.settings;
    let interfaces = ["asgi", "asginl", "rsgi", "wsgi"];
    let mut host = None;
    let mut port = None;
    for occ in &parsed.options {
        match occ.key {
            "workers" => s.workers = Some(count_value(occ, file, "granian", problems)),
            "blocking_threads" => {
                s.blocking_threads = Some(count_value(occ, file, "granian", problems));
            }
            "backpressure" => s.backpressure = Some(count_value(occ, file, "granian", problems)),
            "backlog" => s.backlog = Some(count_value(occ, file, "granian", problems)),
            "interface" => {
                s.worker_class = Some(choice_value(
                    occ,
                    file,
                    "granian interface",
                    &interfaces,
                    false,
                    problems,
                ));
            }
            "host" => host = Some(string_value(occ, file)),
            "port" => port = Some(string_value(occ, file)),
            _ => {}
        }
    }
    // Granian reads every option from `GRANIAN_<OPTION>` when the flag is absent.
    if s.workers.is_none() {
        s.workers = Some(
            env_count(env, "GRANIAN_WORKERS")
                .unwrap_or_else(|| Sourced::tool_default(IntExpr::Const(1), "granian")),
        );
    }
    if s.blocking_threads.is_none() {
        s.blocking_threads = env_count(env, "GRANIAN_BLOCKING_THREADS");
    }
    if s.backpressure.is_none() {
        s.backpressure = env_count(env, "GRANIAN_BACKPRESSURE");
    }
    if s.backlog.is_none() {
        s.backlog = env_count(env, "GRANIAN_BACKLOG");
    }
    if s.worker_class.is_none() {
        s.worker_class = Some(
            env_setting(env, "GRANIAN_INTERFACE")
                .unwrap_or_else(|| Sourced::tool_default("rsgi".to_owned(), "granian")),
        );
    }
    if host.is_some() || port.is_some() {
        s.bind = Some(join_host_port(host, port, "127.0.0.1", "8000", "granian"));
    }
    s.app = first_positional(&parsed, file);
}

const UWSGI_OPTIONS: &[OptSpec] = &[
    opt(&["-p", "--processes", "--workers"], "workers", Takes::Value),
    opt(&["--threads"], "threads", Takes::Value),
    opt(&["--lazy-apps"], "lazy_apps", Takes::Flag),
    opt(&["--enable-threads", "-T"], "enable_threads", Takes::Flag),
    opt(
        &["--module", "-w", "--wsgi", "--wsgi-file", "--file"],
        "app",
        Takes::Value,
    ),
    opt(&["--ini"], "ini", Takes::Value),
    opt(
        &["--http", "--http-socket", "-s", "--socket"],
        "bind",
        Takes::Value,
    ),
    opt(
        &[
            "--master",
            "-M",
            "--die-on-term",
            "--vacuum",
            "--thunder-lock",
            "--single-interpreter",
            "--need-app",
            "--strict",
            "--no-orphans",
            "--py-autoreload",
            "--disable-logging",
            "--log-4xx",
            "--log-5xx",
            "--memory-report",
            "--honour-stdin",
        ],
        "flag",
        Takes::Flag,
    ),
];

fn uwsgi(args: &[Arg], file: &FilePath, out: &mut Interpreted) {
    let parsed = parse_options(args, UWSGI_OPTIONS, true);
    let problems = &mut out.problems;
    let s = &mut out.settings;
    for occ in &parsed.options {
        match occ.key {
            "workers" => s.workers = Some(count_value(occ, file, "uwsgi", problems)),
            "threads" => s.threads = Some(count_value(occ, file, "uwsgi", problems)),
            "lazy_apps" => s.lazy_apps = Some(flag_true(occ, file)),
            "enable_threads" => s.enable_threads = Some(flag_true(occ, file)),
            "app" => s.app = Some(string_value(occ, file)),
            "ini" => s.config_file = Some(string_value(occ, file)),
            "bind" => s.bind = Some(string_value(occ, file)),
            _ => {}
        }
    }
    if s.config_file.is_none() {
        s.config_file = parsed
            .positionals
            .iter()
            .find(|a| has_extension(&a.text(), "ini"))
            .map(|a| a.sourced(file));
    }
}

const FASTAPI_OPTIONS: &[OptSpec] = &[
    opt(&["--workers"], "workers", Takes::Value),
    opt(&["--app"], "app", Takes::Value),
    opt(&["-e", "--entrypoint"], "entrypoint", Takes::Value),
    opt(&["--host"], "host", Takes::Value),
    opt(&["--port"], "port", Takes::Value),
    opt(
        &["--root-path", "--forwarded-allow-ips"],
        "other",
        Takes::Value,
    ),
];

/// `fastapi run [PATH] --workers N` runs uvicorn (its `--workers`, else
/// `$WEB_CONCURRENCY`, else 1); `fastapi dev` is the reloading development
/// server. The path (or `--entrypoint module:app`) is the entry point.
fn fastapi(rest: &[Arg], file: &FilePath, env: &Environment) -> Option<Interpreted> {
    let subcommand = rest.first()?.text();
    if subcommand == "dev" {
        return Some(dev_server());
    }
    if subcommand != "run" {
        return None;
    }
    let parsed = parse_options(&rest[1..], FASTAPI_OPTIONS, false);
    let mut out = Interpreted {
        kind: ServerKind::Uvicorn,
        settings: ServerSettings::default(),
        development: false,
        problems: Vec::new(),
    };
    let s = &mut out.settings;
    let mut host = None;
    let mut port = None;
    for occ in &parsed.options {
        match occ.key {
            "workers" => s.workers = Some(count_value(occ, file, "fastapi", &mut out.problems)),
            "host" => host = Some(string_value(occ, file)),
            "port" => port = Some(string_value(occ, file)),
            _ => {}
        }
    }
    // `fastapi run` listens on all interfaces, port 8000.
    if host.is_some() || port.is_some() {
        s.bind = Some(join_host_port(host, port, "0.0.0.0", "8000", "fastapi"));
    }
    if s.workers.is_none() {
        s.workers = Some(
            env_count(env, "WEB_CONCURRENCY")
                .unwrap_or_else(|| Sourced::tool_default(IntExpr::Const(1), "fastapi run")),
        );
    }
    let attribute = parsed
        .last("app")
        .and_then(|o| o.value.as_ref())
        .map(Arg::text);
    s.app = match parsed.last("entrypoint") {
        Some(entrypoint) => Some(string_value(entrypoint, file)),
        None => first_positional(&parsed, file).map(|path| match &attribute {
            Some(attribute) => path.map(|p| format!("{p}:{attribute}")),
            None => path,
        }),
    };
    Some(out)
}

const DRAMATIQ_OPTIONS: &[OptSpec] = &[
    opt(&["-p", "--processes"], "workers", Takes::Value),
    opt(&["-t", "--threads"], "threads", Takes::Value),
    opt(
        &[
            "-P",
            "--path",
            "--pid-file",
            "--log-file",
            "--watch",
            "-f",
            "--fork-function",
            "--worker-shutdown-timeout",
            "-Q",
            "--queues",
        ],
        "other",
        Takes::Value,
    ),
];

/// `dramatiq broker_module [module…] --processes N --threads T`: N worker
/// processes (default: the CPU count) of T threads (default 8); with
/// `dramatiq-gevent` the threads are greenlets. The broker module is the
/// entry point.
fn dramatiq(args: &[Arg], file: &FilePath, gevent: bool, out: &mut Interpreted) {
    let parsed = parse_options(args, DRAMATIQ_OPTIONS, false);
    let problems = &mut out.problems;
    let s = &mut out.settings;
    for occ in &parsed.options {
        match occ.key {
            "workers" => s.workers = Some(count_value(occ, file, "dramatiq", problems)),
            "threads" => s.threads = Some(count_value(occ, file, "dramatiq", problems)),
            _ => {}
        }
    }
    s.workers
        .get_or_insert_with(|| Sourced::tool_default(IntExpr::Cpus, "dramatiq (one per CPU)"));
    s.threads
        .get_or_insert_with(|| Sourced::tool_default(IntExpr::Const(8), "dramatiq"));
    if gevent {
        s.worker_class = Some(Sourced::tool_default(
            "gevent".to_owned(),
            "dramatiq-gevent",
        ));
    }
    if s.app.is_none() {
        s.app = first_positional(&parsed, file);
    }
}

const RQ_WORKER_OPTIONS: &[OptSpec] = &[
    opt(&["-n", "--num-workers"], "workers", Takes::Value),
    opt(&["-w", "--worker-class"], "worker_class", Takes::Value),
    opt(&["-c", "--config"], "config", Takes::Value),
    opt(
        &[
            "-u",
            "--url",
            "-j",
            "--job-class",
            "--queue-class",
            "--connection-class",
            "--name",
            "--results-ttl",
            "--worker-ttl",
            "--maintenance-interval",
            "--job-monitoring-interval",
            "-P",
            "--path",
            "-l",
            "--logging_level",
            "--logging-level",
            "--log-format",
            "--date-format",
            "--exception-handler",
            "--pid",
            "--max-jobs",
            "--max-idle-time",
            "-S",
            "--serializer",
            "--dequeue-strategy",
            "--sentry-dsn",
            "--sentry-ca-certs",
            "--sentry-debug",
            "-q",
            "--queue",
        ],
        "other",
        Takes::Value,
    ),
];

/// `rq worker` and `rq worker-pool`.
fn rq(args: &[Arg], file: &FilePath, out: Interpreted) -> Option<Interpreted> {
    let subcommand = args.iter().position(|a| !a.text().starts_with('-'))?;
    match args[subcommand].text().as_str() {
        "worker" => Some(rq_worker(&args[subcommand + 1..], file, out, false)),
        "worker-pool" => Some(rq_worker(&args[subcommand + 1..], file, out, true)),
        _ => None,
    }
}

/// An rq worker forks a work-horse for each job, so two processes hold
/// connections at once: the worker and its horse, one job at a time. A
/// `SimpleWorker` runs jobs in the worker itself. `worker-pool -n N` runs N
/// such workers (default 1).
fn rq_worker(args: &[Arg], file: &FilePath, mut out: Interpreted, pool: bool) -> Interpreted {
    out.kind = ServerKind::Rq;
    let parsed = parse_options(args, RQ_WORKER_OPTIONS, false);
    let problems = &mut out.problems;
    let s = &mut out.settings;
    let mut workers = None;
    for occ in &parsed.options {
        match occ.key {
            "workers" if pool => workers = Some(count_value(occ, file, "rq", problems)),
            "worker_class" => s.worker_class = Some(string_value(occ, file)),
            "config" => s.config_file = Some(string_value(occ, file)),
            _ => {}
        }
    }
    let simple = s
        .worker_class
        .as_ref()
        .and_then(|c| c.value.as_deref())
        .is_some_and(|c| c.ends_with("SimpleWorker"));
    let per_worker = if simple { 1 } else { 2 };
    let workers = workers.unwrap_or_else(|| {
        Sourced::tool_default(
            IntExpr::Const(1),
            if pool { "rq worker-pool" } else { "rq" },
        )
    });
    let why = if simple {
        "rq SimpleWorker: jobs run in the worker process"
    } else {
        "rq: each worker and the work-horse it forks for the current job"
    };
    s.workers = Some(match &workers.value {
        Some(count) if per_worker > 1 => Sourced::computed(
            IntExpr::Mul(
                Box::new(count.clone()),
                Box::new(IntExpr::Const(per_worker)),
            ),
            why,
            workers.location.clone(),
        ),
        _ => workers,
    });
    s.concurrency = Some(Sourced::tool_default(
        IntExpr::Const(1),
        "rq: one job at a time",
    ));
    out
}

const HUEY_OPTIONS: &[OptSpec] = &[
    opt(&["-w", "--workers"], "workers", Takes::Value),
    opt(&["-k", "--worker-type"], "worker_class", Takes::Value),
    opt(
        &[
            "-d",
            "--delay",
            "-m",
            "--max-delay",
            "-b",
            "--backoff",
            "-c",
            "--health-check-interval",
            "-s",
            "--scheduler-interval",
            "-l",
            "--logfile",
        ],
        "other",
        Takes::Value,
    ),
];

/// `huey_consumer module.huey -w N -k thread|process|greenlet`: N workers
/// (default 1) of the given kind (default thread). Process workers are
/// processes; thread and greenlet workers share one process.
fn huey(args: &[Arg], file: &FilePath, out: &mut Interpreted) {
    let parsed = parse_options(args, HUEY_OPTIONS, false);
    let problems = &mut out.problems;
    let s = &mut out.settings;
    for occ in &parsed.options {
        match occ.key {
            "workers" => s.concurrency = Some(count_value(occ, file, "huey", problems)),
            "worker_class" => {
                s.worker_class = Some(choice_value(
                    occ,
                    file,
                    "huey worker type",
                    &["thread", "process", "greenlet"],
                    false,
                    problems,
                ));
            }
            _ => {}
        }
    }
    s.concurrency
        .get_or_insert_with(|| Sourced::tool_default(IntExpr::Const(1), "huey workers"));
    s.worker_class
        .get_or_insert_with(|| Sourced::tool_default("thread".to_owned(), "huey"));
    // `main.huey` names the Huey instance `huey` in module `main`.
    s.app = first_positional(&parsed, file).map(|target| {
        target.map(|t| match t.rsplit_once('.') {
            Some((module, attribute)) if !t.contains(':') => format!("{module}:{attribute}"),
            _ => t,
        })
    });
}

const CELERY_GLOBAL_OPTIONS: &[OptSpec] = &[
    opt(&["-A", "--app"], "app", Takes::Value),
    opt(
        &[
            "-b",
            "--broker",
            "--result-backend",
            "--loader",
            "--config",
            "--workdir",
        ],
        "other",
        Takes::Value,
    ),
];

const CELERY_WORKER_OPTIONS: &[OptSpec] = &[
    opt(&["-A", "--app"], "app", Takes::Value),
    opt(&["-c", "--concurrency"], "concurrency", Takes::Value),
    opt(&["-P", "--pool"], "pool", Takes::Value),
    opt(&["--autoscale"], "autoscale", Takes::Value),
    opt(&["--max-tasks-per-child"], "max_requests", Takes::Value),
    opt(
        &[
            "-b",
            "--broker",
            "--result-backend",
            "--loader",
            "--config",
            "--workdir",
            "-Q",
            "--queues",
            "-X",
            "--exclude-queues",
            "-I",
            "--include",
            "-l",
            "--loglevel",
            "-n",
            "--hostname",
            "-f",
            "--logfile",
            "--pidfile",
            "--uid",
            "--gid",
            "--umask",
            "--executable",
            "--statedb",
            "-s",
            "--schedule",
            "--scheduler",
            "-S",
            "-O",
            "--max-memory-per-child",
            "--prefetch-multiplier",
            "--time-limit",
            "--soft-time-limit",
            "--purge",
        ],
        "other",
        Takes::Value,
    ),
];

const CELERY_POOLS: &[&str] = &[
    "prefork",
    "processes",
    "threads",
    "gevent",
    "eventlet",
    "solo",
    "custom",
];

fn celery(args: &[Arg], file: &FilePath, mut out: Interpreted) -> Option<Interpreted> {
    // The subcommand is the first word that is neither an option nor a
    // global option's value.
    let global = parse_options(args, CELERY_GLOBAL_OPTIONS, false);
    let subcommand_arg = global.positionals.first()?;
    let subcommand = subcommand_arg.text();
    let after = args
        .iter()
        .position(|a| a.span == subcommand_arg.span && a.text() == subcommand)
        .map_or(&args[args.len()..], |i| &args[i + 1..]);
    let app = global.last("app").map(|o| string_value(o, file));
    match subcommand.as_str() {
        "beat" => {
            let parsed = parse_options(after, CELERY_WORKER_OPTIONS, false);
            out.kind = ServerKind::CeleryBeat;
            out.settings.workers = Some(Sourced::tool_default(IntExpr::Const(1), "Celery beat"));
            out.settings.concurrency =
                Some(Sourced::tool_default(IntExpr::Const(1), "Celery beat"));
            out.settings.app = parsed.last("app").map(|o| string_value(o, file)).or(app);
            Some(out)
        }
        "worker" => {
            let parsed = parse_options(after, CELERY_WORKER_OPTIONS, false);
            let problems = &mut out.problems;
            let s = &mut out.settings;
            for occ in &parsed.options {
                match occ.key {
                    "concurrency" => {
                        let count = count_value(occ, file, "celery", problems);
                        s.concurrency = Some(
                            if count.value.as_ref().and_then(IntExpr::constant) == Some(0) {
                                // Celery: "0 or unset means the number of CPUs".
                                Sourced::computed(
                                    IntExpr::Cpus,
                                    "celery --concurrency 0 (one per CPU)",
                                    count.location,
                                )
                            } else {
                                count
                            },
                        );
                    }
                    "autoscale" => {
                        // `--autoscale=MAX,MIN`: the pool grows up to MAX.
                        let maximum = Occurrence {
                            key: occ.key,
                            flag: occ.flag.clone(),
                            value: occ.value.as_ref().map(|v| v.prefix_until(',')),
                        };
                        s.concurrency = Some(count_value(&maximum, file, "celery", problems));
                    }
                    "pool" => {
                        s.worker_class = Some(choice_value(
                            occ,
                            file,
                            "celery pool",
                            CELERY_POOLS,
                            true,
                            problems,
                        ));
                    }
                    "max_requests" => {
                        s.max_requests = Some(seconds_value(occ, file, "celery", problems));
                    }
                    _ => {}
                }
            }
            s.app = parsed.last("app").map(|o| string_value(o, file)).or(app);
            s.concurrency
                .get_or_insert_with(|| Sourced::tool_default(IntExpr::Cpus, "Celery"));
            s.worker_class
                .get_or_insert_with(|| Sourced::tool_default("prefork".to_owned(), "Celery"));
            Some(out)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poolcheck_core::EnvVar;

    fn run(text: &str, env: &Environment) -> Option<Interpreted> {
        let file = FilePath::from("cmd.sh");
        let commands = shell::parse_script(text, &OffsetMap::Shifted(0));
        let command = commands.iter().find(|c| !c.words.is_empty())?;
        let args = shell::expand_words(&command.words, Scope::new(env, &[]));
        interpret(&args, &file, env)
    }

    fn must(text: &str) -> Interpreted {
        match run(text, &Environment::new()) {
            Some(found) => found,
            None => panic!("no server recognised in {text:?}"),
        }
    }

    fn env(pairs: &[(&str, &str)]) -> Environment {
        let mut env = Environment::new();
        for (k, v) in pairs {
            env.set(
                *k,
                EnvVar {
                    value: (*v).to_owned(),
                    source: "docker-compose.yml (web)".to_owned(),
                    location: None,
                },
            );
        }
        env
    }

    fn int(v: Option<&Sourced<IntExpr>>) -> Option<i64> {
        v.and_then(|s| s.value.as_ref()).and_then(IntExpr::constant)
    }

    fn text(v: Option<&Sourced<String>>) -> Option<&str> {
        v.and_then(|s| s.value.as_deref())
    }

    /// The source text a setting's location points at.
    fn at<'a, T>(source: &'a str, v: Option<&Sourced<T>>) -> &'a str {
        let span = v
            .and_then(|s| s.location.as_ref())
            .map(|l| l.span)
            .unwrap_or_default();
        &source[span.range()]
    }

    #[test]
    fn dify_gunicorn_line_with_env_defaults() {
        let line = "exec gunicorn --workers ${SERVER_WORKER_AMOUNT:-1} --worker-class ${SERVER_WORKER_CLASS:-gevent} --worker-connections ${SERVER_WORKER_CONNECTIONS:-10} --timeout ${GUNICORN_TIMEOUT:-200} app:app";
        let found = must(line);
        let s = &found.settings;
        assert_eq!(found.kind, ServerKind::Gunicorn);
        assert_eq!(int(s.workers.as_ref()), Some(1));
        assert_eq!(
            s.workers.as_ref().map(|w| w.origin.clone()),
            Some(Origin::EnvDefault {
                var: "SERVER_WORKER_AMOUNT".into()
            })
        );
        assert_eq!(at(line, s.workers.as_ref()), "1");
        assert_eq!(text(s.worker_class.as_ref()), Some("gevent"));
        assert_eq!(at(line, s.worker_class.as_ref()), "gevent");
        assert_eq!(int(s.worker_connections.as_ref()), Some(10));
        assert_eq!(s.timeout.as_ref().and_then(|t| t.value), Some(200));
        assert_eq!(text(s.app.as_ref()), Some("app:app"));
        assert!(found.problems.is_empty());
        assert!(!found.development);
    }

    #[test]
    fn dify_line_with_environment_values() {
        let line = "gunicorn --workers ${SERVER_WORKER_AMOUNT:-1} --worker-class ${SERVER_WORKER_CLASS:-gevent} app:app";
        let e = env(&[
            ("SERVER_WORKER_AMOUNT", "4"),
            ("SERVER_WORKER_CLASS", "sync"),
        ]);
        let Some(found) = run(line, &e) else {
            panic!("not recognised")
        };
        assert_eq!(int(found.settings.workers.as_ref()), Some(4));
        assert_eq!(
            found.settings.workers.map(|w| w.origin),
            Some(Origin::EnvValue {
                var: "SERVER_WORKER_AMOUNT".into(),
                source: "docker-compose.yml (web)".into()
            })
        );
        assert_eq!(text(found.settings.worker_class.as_ref()), Some("sync"));
    }

    #[test]
    fn gunicorn_flag_forms() {
        let line = "gunicorn -w4 --threads=8 -k gthread --preload -c conf/gunicorn.py -b 0.0.0.0:8000 --max-requests 1000 shop.wsgi:application";
        let s = must(line).settings;
        assert_eq!(int(s.workers.as_ref()), Some(4));
        assert_eq!(at(line, s.workers.as_ref()), "4");
        assert_eq!(int(s.threads.as_ref()), Some(8));
        assert_eq!(at(line, s.threads.as_ref()), "8");
        assert_eq!(text(s.worker_class.as_ref()), Some("gthread"));
        assert_eq!(s.preload.as_ref().and_then(|p| p.value), Some(true));
        assert_eq!(at(line, s.preload.as_ref()), "--preload");
        assert_eq!(text(s.config_file.as_ref()), Some("conf/gunicorn.py"));
        assert_eq!(text(s.bind.as_ref()), Some("0.0.0.0:8000"));
        assert_eq!(s.max_requests.as_ref().and_then(|m| m.value), Some(1000));
        assert_eq!(text(s.app.as_ref()), Some("shop.wsgi:application"));
    }

    #[test]
    fn gunicorn_uvicorn_worker_classes() {
        for class in [
            "uvicorn.workers.UvicornWorker",
            "uvicorn_worker.UvicornWorker",
        ] {
            let found = must(&format!("gunicorn -k {class} plane.asgi:application"));
            assert_eq!(text(found.settings.worker_class.as_ref()), Some(class));
            assert!(found.problems.is_empty());
        }
    }

    #[test]
    fn unparsable_literal_is_a_problem_and_unknown() {
        let line = "gunicorn --workers lots app";
        let found = must(line);
        let workers = found.settings.workers.as_ref();
        assert_eq!(workers.and_then(|w| w.value.clone()), None);
        assert!(
            workers
                .and_then(|w| w.unknown_reason())
                .is_some_and(|r| r.contains("`lots`")),
            "{workers:?}"
        );
        assert_eq!(found.problems.len(), 1);
        assert_eq!(&line[found.problems[0].span.range()], "lots");
        assert_eq!(
            found.problems[0].message,
            "invalid value `lots` for gunicorn `--workers`: expected a whole number"
        );
    }

    #[test]
    fn unknown_worker_class_suggests_the_closest() {
        let found = must("gunicorn -k gevnet app");
        assert_eq!(
            found.problems[0].message,
            "unknown gunicorn worker class `gevnet`"
        );
        assert_eq!(
            found.problems[0].help.as_deref(),
            Some("did you mean `gevent`?")
        );
    }

    #[test]
    fn wrappers_are_seen_through() {
        for line in [
            "exec poetry run gunicorn -w 2 app",
            "uv run --no-sync gunicorn -w 2 app",
            "pipenv run gunicorn -w 2 app",
            "python -m gunicorn -w 2 app",
            "python3.12 -u -m gunicorn -w 2 app",
            "ddtrace-run gunicorn -w 2 app",
            "newrelic-admin run-program gunicorn -w 2 app",
            "opentelemetry-instrument --traces_exporter otlp gunicorn -w 2 app",
            "su-exec app gunicorn -w 2 app",
            "gosu www-data /usr/local/bin/gunicorn -w 2 app",
            "dumb-init -- gunicorn -w 2 app",
            "/entrypoint.sh gunicorn -w 2 app",
            "sh -c 'exec gunicorn -w 2 app'",
            "env FOO=1 gunicorn -w 2 app",
        ] {
            let found = must(line);
            assert_eq!(found.kind, ServerKind::Gunicorn, "{line}");
            assert_eq!(int(found.settings.workers.as_ref()), Some(2), "{line}");
        }
    }

    #[test]
    fn sh_c_spans_point_into_the_file() {
        let line = "sh -c 'gunicorn -w 3 app'";
        let found = must(line);
        assert_eq!(at(line, found.settings.workers.as_ref()), "3");
    }

    #[test]
    fn uvicorn_defaults_to_web_concurrency() {
        let found = must("uvicorn saleor.asgi:application --host=0.0.0.0 --port=8000 --workers=2");
        assert_eq!(int(found.settings.workers.as_ref()), Some(2));
        assert_eq!(text(found.settings.bind.as_ref()), Some("0.0.0.0:8000"));
        assert_eq!(
            text(found.settings.app.as_ref()),
            Some("saleor.asgi:application")
        );

        let Some(found) = run(
            "uvicorn app.main:app --limit-concurrency 50",
            &env(&[("WEB_CONCURRENCY", "3")]),
        ) else {
            panic!()
        };
        assert_eq!(int(found.settings.workers.as_ref()), Some(3));
        assert!(matches!(
            found.settings.workers.as_ref().map(|w| &w.origin),
            Some(Origin::EnvValue { var, .. }) if var == "WEB_CONCURRENCY"
        ));
        assert_eq!(int(found.settings.limit_concurrency.as_ref()), Some(50));

        let found = must("uvicorn polar.app:app --host 0.0.0.0 --port 10000");
        assert_eq!(int(found.settings.workers.as_ref()), Some(1));
        assert!(
            found
                .settings
                .workers
                .as_ref()
                .is_some_and(Sourced::is_default)
        );
    }

    #[test]
    fn daphne_hypercorn_granian() {
        let d = must("daphne -b 0.0.0.0 -p 8001 myproject.asgi:application");
        assert_eq!(d.kind, ServerKind::Daphne);
        assert_eq!(int(d.settings.workers.as_ref()), Some(1));
        assert_eq!(
            text(d.settings.app.as_ref()),
            Some("myproject.asgi:application")
        );

        let h = must("hypercorn -w 3 -k uvloop -b 0.0.0.0:8000 app:app");
        assert_eq!(int(h.settings.workers.as_ref()), Some(3));
        assert_eq!(text(h.settings.worker_class.as_ref()), Some("uvloop"));

        let line =
            "exec granian --interface asginl --ws --loop uvloop \"paperless.asgi:application\"";
        let Some(g) = run(line, &env(&[("GRANIAN_WORKERS", "2")])) else {
            panic!()
        };
        assert_eq!(g.kind, ServerKind::Granian);
        assert_eq!(text(g.settings.worker_class.as_ref()), Some("asginl"));
        assert_eq!(int(g.settings.workers.as_ref()), Some(2));
        assert_eq!(
            text(g.settings.app.as_ref()),
            Some("paperless.asgi:application")
        );

        let g = must("granian --interface wsgi --workers 4 --blocking-threads 8 app:app");
        assert_eq!(int(g.settings.workers.as_ref()), Some(4));
        assert_eq!(int(g.settings.blocking_threads.as_ref()), Some(8));
    }

    #[test]
    fn uwsgi_flags_and_ini_link() {
        let u = must(
            "uwsgi --processes 4 --threads 2 --lazy-apps --enable-threads --module hc.wsgi:application --http :8000",
        );
        assert_eq!(u.kind, ServerKind::Uwsgi);
        assert_eq!(int(u.settings.workers.as_ref()), Some(4));
        assert_eq!(int(u.settings.threads.as_ref()), Some(2));
        assert_eq!(
            u.settings.lazy_apps.as_ref().and_then(|v| v.value),
            Some(true)
        );
        assert_eq!(text(u.settings.app.as_ref()), Some("hc.wsgi:application"));
        let u = must("uwsgi /opt/healthchecks/docker/uwsgi.ini");
        assert_eq!(
            text(u.settings.config_file.as_ref()),
            Some("/opt/healthchecks/docker/uwsgi.ini")
        );
        let u = must("uwsgi --ini uwsgi.ini -p 8");
        assert_eq!(text(u.settings.config_file.as_ref()), Some("uwsgi.ini"));
        assert_eq!(int(u.settings.workers.as_ref()), Some(8));
    }

    #[test]
    fn celery_worker_options() {
        let c = must("celery -A app.tasks worker --concurrency 4 -P gevent -l info");
        assert_eq!(c.kind, ServerKind::Celery);
        assert_eq!(int(c.settings.concurrency.as_ref()), Some(4));
        assert_eq!(text(c.settings.worker_class.as_ref()), Some("gevent"));
        assert_eq!(text(c.settings.app.as_ref()), Some("app.tasks"));

        let line = "celery -A proj worker --autoscale=10,3";
        let c = must(line);
        assert_eq!(int(c.settings.concurrency.as_ref()), Some(10));
        assert_eq!(at(line, c.settings.concurrency.as_ref()), "10");

        let c = must("celery --app=proj worker -Q default");
        let concurrency = c.settings.concurrency.as_ref();
        assert_eq!(
            concurrency.and_then(|s| s.value.clone()),
            Some(IntExpr::Cpus)
        );
        assert_eq!(
            concurrency.map(|s| s.origin.clone()),
            Some(Origin::ToolDefault {
                tool: "Celery".into()
            })
        );
        assert_eq!(text(c.settings.worker_class.as_ref()), Some("prefork"));

        let c = must("celery worker -A proj -c3");
        assert_eq!(int(c.settings.concurrency.as_ref()), Some(3));
    }

    #[test]
    fn dify_celery_line() {
        let line = "exec celery -A app.celery worker -P ${CELERY_WORKER_POOL:-${CELERY_WORKER_CLASS:-gevent}} -c ${CELERY_WORKER_AMOUNT:-1} --max-tasks-per-child ${MAX_TASKS_PER_CHILD:-50} --loglevel INFO -Q dataset";
        let c = must(line);
        assert_eq!(text(c.settings.worker_class.as_ref()), Some("gevent"));
        assert_eq!(
            c.settings.worker_class.as_ref().map(|w| w.origin.clone()),
            Some(Origin::EnvDefault {
                var: "CELERY_WORKER_CLASS".into()
            })
        );
        assert_eq!(int(c.settings.concurrency.as_ref()), Some(1));
    }

    #[test]
    fn celery_beat_is_one_process() {
        let c = must("celery -A app beat -l info");
        assert_eq!(c.kind, ServerKind::CeleryBeat);
        assert_eq!(int(c.settings.workers.as_ref()), Some(1));
        assert!(run("celery -A app flower", &Environment::new()).is_none());
    }

    #[test]
    fn runserver_is_development() {
        for line in [
            "python manage.py runserver 0.0.0.0:8000",
            "./manage.py runserver",
            "python -m django runserver",
            "flask run --host 0.0.0.0",
        ] {
            let found = must(line);
            assert!(found.development, "{line}");
            assert_eq!(found.kind, ServerKind::DevServer);
        }
        assert!(run("python manage.py migrate", &Environment::new()).is_none());
    }

    #[test]
    fn unrelated_commands_are_not_servers() {
        for line in [
            "echo gunicorn",
            "pip install gunicorn",
            "python app.py",
            "nginx -g 'daemon off;'",
        ] {
            assert!(run(line, &Environment::new()).is_none(), "{line}");
        }
    }

    #[test]
    fn gunicorn_cmd_args_from_the_environment() {
        let mut e = Environment::new();
        let location = Location::new(FilePath::from(".env"), Span::new(18, 30));
        e.set(
            "GUNICORN_CMD_ARGS",
            EnvVar {
                value: "--workers=3 -k gevent --worker-connections 50".to_owned(),
                source: ".env".to_owned(),
                location: Some(location.clone()),
            },
        );
        let Some(s) = gunicorn_cmd_args(&e) else {
            panic!("GUNICORN_CMD_ARGS not read")
        };
        assert_eq!(int(s.workers.as_ref()), Some(3));
        assert_eq!(text(s.worker_class.as_ref()), Some("gevent"));
        assert_eq!(int(s.worker_connections.as_ref()), Some(50));
        let workers = s.workers.as_ref();
        assert_eq!(
            workers.map(|w| w.origin.clone()),
            Some(Origin::EnvValue {
                var: "GUNICORN_CMD_ARGS".into(),
                source: ".env".into()
            })
        );
        assert_eq!(workers.and_then(|w| w.location.clone()), Some(location));
        assert!(gunicorn_cmd_args(&Environment::new()).is_none());
    }

    fn expr(v: Option<&Sourced<IntExpr>>) -> Option<IntExpr> {
        v.and_then(|s| s.value.clone())
    }

    #[test]
    fn dramatiq_defaults_are_one_process_per_cpu_of_eight_threads() {
        let found = must("exec dramatiq app.broker app.tasks -Q default");
        assert_eq!(found.kind, ServerKind::Dramatiq);
        assert_eq!(expr(found.settings.workers.as_ref()), Some(IntExpr::Cpus));
        assert_eq!(int(found.settings.threads.as_ref()), Some(8));
        assert_eq!(text(found.settings.app.as_ref()), Some("app.broker"));
        let found = must("python -m dramatiq app.tasks -p 3 -t 2");
        assert_eq!(int(found.settings.workers.as_ref()), Some(3));
        assert_eq!(int(found.settings.threads.as_ref()), Some(2));
    }

    #[test]
    fn rq_workers_hold_a_work_horse_unless_simple() {
        let found = must("rq worker -u redis://r:6379 high default");
        assert_eq!(found.kind, ServerKind::Rq);
        assert_eq!(int(found.settings.workers.as_ref()), Some(2));
        let found = must("rq worker --worker-class rq.worker.SimpleWorker default");
        assert_eq!(int(found.settings.workers.as_ref()), Some(1));
        let found = must("rq worker-pool -n 3 default");
        assert_eq!(int(found.settings.workers.as_ref()), Some(6));
        let found = must("python manage.py rqworker default");
        assert_eq!(
            (found.kind, int(found.settings.workers.as_ref())),
            (ServerKind::Rq, Some(2))
        );
    }

    #[test]
    fn huey_worker_count_and_type() {
        let found = must("huey_consumer.py main.huey -w 4 -k process");
        assert_eq!(found.kind, ServerKind::Huey);
        assert_eq!(int(found.settings.concurrency.as_ref()), Some(4));
        assert_eq!(text(found.settings.worker_class.as_ref()), Some("process"));
        assert_eq!(text(found.settings.app.as_ref()), Some("main:huey"));
        let found = must("python manage.py run_huey");
        assert_eq!(int(found.settings.concurrency.as_ref()), Some(1));
        assert_eq!(text(found.settings.worker_class.as_ref()), Some("thread"));
        let found = must("huey_consumer main.huey -k fork");
        assert_eq!(found.problems.len(), 1, "{:?}", found.problems);
    }

    #[test]
    fn fastapi_run_is_uvicorn_and_dev_is_a_development_server() {
        let found = must("fastapi run src/app/main.py --workers 4 --port 80");
        assert_eq!(found.kind, ServerKind::Uvicorn);
        assert_eq!(int(found.settings.workers.as_ref()), Some(4));
        assert_eq!(text(found.settings.app.as_ref()), Some("src/app/main.py"));
        let found = must("fastapi run main.py --app api");
        assert_eq!(text(found.settings.app.as_ref()), Some("main.py:api"));
        assert_eq!(int(found.settings.workers.as_ref()), Some(1));
        let found = run("fastapi run", &env(&[("WEB_CONCURRENCY", "3")])).expect("fastapi run");
        assert_eq!(int(found.settings.workers.as_ref()), Some(3));
        assert!(must("fastapi dev app/main.py").development);
    }

    #[test]
    fn management_commands_are_services_unless_one_off() {
        for one_off in [
            "python manage.py migrate --noinput",
            "python manage.py collectstatic --noinput",
            "python manage.py wait_for_db",
            "./manage.py createcachetable",
            "python manage.py $COMMAND",
        ] {
            assert!(run(one_off, &Environment::new()).is_none(), "{one_off}");
        }
        let found = must("python manage.py process_tasks --sleep 5");
        assert_eq!(found.kind, ServerKind::DjangoCommand);
        assert_eq!(int(found.settings.workers.as_ref()), Some(1));
        assert_eq!(text(found.settings.app.as_ref()), Some("manage.py"));
        assert!(must("django-admin runserver").development);
    }

    #[test]
    fn celery_concurrency_zero_is_one_per_cpu() {
        let found = must("celery -A proj worker -c 0");
        assert_eq!(
            expr(found.settings.concurrency.as_ref()),
            Some(IntExpr::Cpus)
        );
        let found = must("celery -A proj worker --concurrency=2");
        assert_eq!(int(found.settings.concurrency.as_ref()), Some(2));
    }

    #[test]
    fn granian_wsgi_threads_default_to_half_the_backlog_share() {
        let threads = |cmd: &str| {
            let found = must(cmd);
            found
                .settings
                .granian_wsgi_blocking_threads()
                .value
                .and_then(|v| v.constant())
        };
        assert_eq!(threads("granian --interface wsgi app:app"), Some(512));
        assert_eq!(
            threads("granian --interface wsgi --workers 2 app:app"),
            Some(256)
        );
        assert_eq!(
            threads("granian --interface wsgi --backpressure 20 app:app"),
            Some(10)
        );
        assert_eq!(
            threads("granian --interface wsgi --backlog 64 app:app"),
            Some(64)
        );
        assert_eq!(
            threads("granian --interface wsgi --workers 4 --blocking-threads 3 app:app"),
            Some(3)
        );
    }

    #[test]
    fn a_dynamic_option_name_skips_one_option_and_its_value() {
        for line in [
            r#"uwsgi "--${UWSGI_MODE}" "${UWSGI_ENDPOINT}" --processes 4 --threads 2 --module shop.wsgi"#,
            r"exec uwsgi --${UWSGI_MODE} ${UWSGI_ENDPOINT} --processes 4 --threads 2 --module shop.wsgi",
            r#"gunicorn "--${MODE}" "${ENDPOINT}" --workers 4 --threads 2 shop.wsgi"#,
        ] {
            let found = must(line);
            assert_eq!(int(found.settings.workers.as_ref()), Some(4), "{line}");
            assert_eq!(int(found.settings.threads.as_ref()), Some(2), "{line}");
        }
        let found = must(r#"gunicorn "--${MODE}" "${ENDPOINT}" --workers 4 shop.wsgi"#);
        assert_eq!(text(found.settings.app.as_ref()), Some("shop.wsgi"));
    }

    #[test]
    fn a_management_command_before_the_last_command_of_a_script_is_a_setup_step() {
        let file = SourceFile::new(
            "docker-entrypoint.sh",
            "#!/bin/sh\n./manage.py trace_paths --no-input\nexec ./manage.py process_tasks\n",
        );
        let mut facts =
            poolcheck_core::FileFacts::new(file.path().clone(), poolcheck_core::FileKind::Shell);
        shell::extract(&file, &mut facts);
        let deploy = facts.deploy.expect("deploy facts");
        let found = invocations(&deploy, &Environment::new());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].location.span.start, 45);
    }
}
