//! A structure-aware generator of small projects. Byte mutation of one file
//! rarely builds what breaks an analysis of many: deep nesting, include
//! graphs, many pools across modules that import each other, services that
//! point at those modules. `arbitrary` picks the shape; this module writes it
//! as files.

use std::fmt::Write as _;
use std::path::Path;

use arbitrary::Arbitrary;
use poolcheck_rules::analysis::{self, Options};
use poolcheck_rules::workspace::{LoadOptions, Workspace};

/// Caps that keep one execution fast; nesting is allowed well past what the
/// front-ends accept, so their depth limits are exercised.
const MAX_FILES: usize = 6;
const MAX_POOLS: usize = 64;
const MAX_NESTING: usize = 3000;

#[derive(Arbitrary, Debug)]
pub struct Project {
    pub modules: Vec<Module>,
    pub pgbouncer: Vec<IncludeFile>,
    pub pgconf: Vec<IncludeFile>,
    pub compose: Vec<Service>,
    pub procfile: Vec<Service>,
    pub dockerfile: Option<Service>,
    pub script: Option<Script>,
    pub config: Option<Config>,
    pub dotenv: Vec<(Name, Number)>,
    /// Free text under a chosen file name: byte mutation inside a project.
    pub raw: Vec<RawFile>,
}

#[derive(Arbitrary, Debug)]
pub struct Module {
    pub pools: Vec<Pool>,
    pub imports: Vec<u8>,
    pub nesting: Nesting,
    pub depth: u16,
    pub django: Option<Number>,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Nesting {
    If,
    Parens,
    List,
    Call,
    Def,
    Class,
    Try,
    Target,
    FString,
}

#[derive(Arbitrary, Debug)]
pub struct Pool {
    pub library: Library,
    pub size: Number,
    pub overflow: Option<Number>,
    pub url: Option<Name>,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Library {
    Engine,
    AsyncEngine,
    Asyncpg,
    PsycopgPool,
    Psycopg2,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Name {
    WebConcurrency,
    PoolSize,
    MaxOverflow,
    DatabaseUrl,
    Workers,
    Replicas,
}

impl Name {
    fn as_str(self) -> &'static str {
        match self {
            Name::WebConcurrency => "WEB_CONCURRENCY",
            Name::PoolSize => "POOL_SIZE",
            Name::MaxOverflow => "MAX_OVERFLOW",
            Name::DatabaseUrl => "DATABASE_URL",
            Name::Workers => "WORKERS",
            Name::Replicas => "REPLICAS",
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Number {
    Literal(u16),
    Negative(u8),
    Huge,
    Env(Name, u16),
    EnvRequired(Name),
    Product(u8, u8),
    Cpu(u8),
}

impl Number {
    fn python(self) -> String {
        match self {
            Number::Literal(n) => n.to_string(),
            Number::Negative(n) => format!("-{n}"),
            Number::Huge => "99999999999999999999999".to_owned(),
            Number::Env(name, default) => {
                format!("int(os.environ.get(\"{}\", \"{default}\"))", name.as_str())
            }
            Number::EnvRequired(name) => format!("int(os.environ[\"{}\"])", name.as_str()),
            Number::Product(a, b) => format!("{a} * {b} + 1"),
            Number::Cpu(n) => format!("multiprocessing.cpu_count() * {n}"),
        }
    }

    fn shell(self) -> String {
        match self {
            Number::Literal(n) => n.to_string(),
            Number::Negative(n) => format!("-{n}"),
            Number::Huge => "99999999999999999999999".to_owned(),
            Number::Env(name, default) => format!("${{{}:-{default}}}", name.as_str()),
            Number::EnvRequired(name) => format!("${}", name.as_str()),
            Number::Product(a, b) => format!("$(({a} * {b}))"),
            Number::Cpu(n) => format!("$(nproc){n}"),
        }
    }

    fn plain(self) -> String {
        match self {
            Number::Literal(n) => n.to_string(),
            Number::Negative(n) => format!("-{n}"),
            Number::Huge => "99999999999999999999999".to_owned(),
            Number::Env(_, default) => default.to_string(),
            Number::EnvRequired(_) => String::new(),
            Number::Product(a, b) => (u32::from(a) * u32::from(b)).to_string(),
            Number::Cpu(n) => n.to_string(),
        }
    }
}

#[derive(Arbitrary, Debug)]
pub struct IncludeFile {
    pub settings: Vec<(Setting, Number)>,
    pub includes: Vec<u8>,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Setting {
    MaxConnections,
    MaxClientConn,
    DefaultPoolSize,
    MaxDbConnections,
    PoolMode,
    Reserved,
}

#[derive(Arbitrary, Debug)]
pub struct Service {
    pub server: Server,
    pub workers: Number,
    pub threads: Option<u8>,
    pub replicas: Option<Number>,
    pub module: u8,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Server {
    Gunicorn,
    Uvicorn,
    Celery,
    Granian,
    Uwsgi,
    Script,
}

#[derive(Arbitrary, Debug)]
pub struct Script {
    pub service: Service,
    pub nesting: u16,
    pub quotes: bool,
}

#[derive(Arbitrary, Debug)]
pub struct Config {
    pub max_connections: Option<Number>,
    pub select: Vec<u8>,
    pub replicas: Option<Number>,
    pub env: Vec<(Name, Number)>,
}

#[derive(Arbitrary, Debug)]
pub struct RawFile {
    pub name: u8,
    pub text: String,
}

const RAW_NAMES: &[&str] = &[
    "app/raw.py",
    "docker-compose.override.yml",
    "Dockerfile.raw",
    "Procfile.raw",
    "raw/pgbouncer.ini",
    "raw/postgresql.conf",
    "raw/uwsgi.ini",
    ".env.raw",
    "requirements.txt",
    "raw-entrypoint.sh",
    "poolcheck.toml",
    "pyproject.toml",
];

fn module_name(index: usize) -> String {
    format!("mod{index}")
}

fn pool_line(pool: &Pool) -> String {
    let url = pool.url.map_or_else(
        || "\"postgresql://db/app\"".to_owned(),
        |name| {
            format!(
                "os.environ.get(\"{}\", \"postgresql://db/app\")",
                name.as_str()
            )
        },
    );
    let size = pool.size.python();
    let overflow = pool
        .overflow
        .map(|o| format!(", max_overflow={}", o.python()))
        .unwrap_or_default();
    match pool.library {
        Library::Engine => format!("create_engine({url}, pool_size={size}{overflow})"),
        Library::AsyncEngine => {
            format!("create_async_engine({url}, pool_size={size}{overflow})")
        }
        Library::Asyncpg => format!("asyncpg.create_pool({url}, max_size={size})"),
        Library::PsycopgPool => format!("psycopg_pool.ConnectionPool({url}, max_size={size})"),
        Library::Psycopg2 => {
            format!("psycopg2.pool.ThreadedConnectionPool(1, {size}, {url})")
        }
    }
}

/// Wraps `inner` (an expression) or the pool statements in `depth` levels of
/// `nesting`.
fn nested_module(module: &Module, lines: &[String]) -> String {
    let depth = usize::from(module.depth) % MAX_NESTING;
    let mut out = String::new();
    let first = lines.first().cloned().unwrap_or_else(|| "None".to_owned());
    match module.nesting {
        Nesting::Parens | Nesting::List | Nesting::Call | Nesting::FString => {
            let (open, close) = match module.nesting {
                Nesting::Parens => ("(", ")"),
                Nesting::List => ("[", "]"),
                Nesting::Call => ("f(", ")"),
                _ => ("f\"{", "}\""),
            };
            let _ = writeln!(
                out,
                "engine0 = {}{first}{}",
                open.repeat(depth),
                close.repeat(depth)
            );
            for (i, line) in lines.iter().enumerate().skip(1) {
                let _ = writeln!(out, "engine{i} = {line}");
            }
        }
        Nesting::Target => {
            let _ = writeln!(
                out,
                "{}a{} = {first}",
                "(".repeat(depth),
                ",)".repeat(depth)
            );
            for (i, line) in lines.iter().enumerate().skip(1) {
                let _ = writeln!(out, "engine{i} = {line}");
            }
        }
        Nesting::If | Nesting::Def | Nesting::Class | Nesting::Try => {
            for level in 0..depth {
                let indent = " ".repeat(level);
                let _ = match module.nesting {
                    Nesting::If => writeln!(out, "{indent}if DEBUG:"),
                    Nesting::Def => writeln!(out, "{indent}def f{level}():"),
                    Nesting::Class => writeln!(out, "{indent}class C{level}:"),
                    _ => writeln!(out, "{indent}try:"),
                };
            }
            let indent = " ".repeat(depth);
            for (i, line) in lines.iter().enumerate() {
                let _ = writeln!(out, "{indent}engine{i} = {line}");
            }
            if lines.is_empty() {
                let _ = writeln!(out, "{indent}pass");
            }
            if matches!(module.nesting, Nesting::Try) {
                for level in (0..depth).rev() {
                    let indent = " ".repeat(level);
                    let _ = writeln!(out, "{indent}except Exception:\n{indent} pass");
                }
            }
        }
    }
    out
}

fn python_module(module: &Module, count: usize) -> String {
    let mut out = String::from(
        "import os\nimport multiprocessing\nimport asyncpg\nimport psycopg_pool\nimport psycopg2.pool\n\
         from sqlalchemy import create_engine\nfrom sqlalchemy.ext.asyncio import create_async_engine\n\
         DEBUG = os.environ.get(\"DEBUG\") == \"1\"\n",
    );
    for import in module.imports.iter().take(MAX_FILES) {
        let _ = writeln!(
            out,
            "from .{} import *",
            module_name(usize::from(*import) % count)
        );
    }
    if let Some(age) = module.django {
        let _ = writeln!(
            out,
            "DATABASES = {{\"default\": {{\"ENGINE\": \"django.db.backends.postgresql\", \"CONN_MAX_AGE\": {}}}}}",
            age.python()
        );
    }
    let lines: Vec<String> = module.pools.iter().take(MAX_POOLS).map(pool_line).collect();
    out.push_str(&nested_module(module, &lines));
    out
}

fn setting_line(setting: Setting, value: Number, pgbouncer: bool) -> String {
    let value = value.plain();
    match (setting, pgbouncer) {
        (Setting::MaxConnections, _) => format!("max_connections = {value}"),
        (Setting::MaxClientConn, true) => format!("max_client_conn = {value}"),
        (Setting::DefaultPoolSize, true) => format!("default_pool_size = {value}"),
        (Setting::MaxDbConnections, true) => format!("max_db_connections = {value}"),
        (Setting::PoolMode, true) => "pool_mode = transaction".to_owned(),
        (Setting::Reserved, false) => format!("superuser_reserved_connections = {value}"),
        (_, true) => format!("reserve_pool_size = {value}"),
        (_, false) => format!("reserved_connections = {value}"),
    }
}

fn include_files(files: &[IncludeFile], pgbouncer: bool) -> Vec<(String, String)> {
    let files = &files[..files.len().min(MAX_FILES)];
    let name = |i: usize| {
        if pgbouncer {
            if i == 0 {
                "pgbouncer.ini".to_owned()
            } else {
                format!("pgbouncer-{i}.ini")
            }
        } else if i == 0 {
            "postgresql.conf".to_owned()
        } else {
            format!("conf.d/part{i}.conf")
        }
    };
    files
        .iter()
        .enumerate()
        .map(|(i, file)| {
            let mut text = String::new();
            if pgbouncer && i == 0 {
                text.push_str(
                    "[databases]\napp = host=db dbname=app\n[pgbouncer]\nlisten_port = 6432\n",
                );
            }
            for (setting, value) in file.settings.iter().take(8) {
                let _ = writeln!(text, "{}", setting_line(*setting, *value, pgbouncer));
            }
            // Up to two includes per file: a graph with cycles and sharing,
            // but no exponential fan-out that would only measure the
            // include resolver's known cost.
            for target in file.includes.iter().take(2) {
                let target = name(usize::from(*target) % files.len());
                let target = if pgbouncer {
                    target
                } else {
                    target.trim_start_matches("conf.d/").to_owned()
                };
                if pgbouncer {
                    let _ = writeln!(text, "%include {target}");
                } else if i == 0 {
                    let _ = writeln!(text, "include 'conf.d/{target}'");
                } else {
                    let _ = writeln!(text, "include_if_exists '{target}'");
                }
            }
            (name(i), text)
        })
        .collect()
}

fn command(service: &Service, modules: usize) -> String {
    let module = module_name(usize::from(service.module) % modules.max(1));
    let workers = service.workers.shell();
    let threads = service
        .threads
        .map(|t| format!(" --threads {t}"))
        .unwrap_or_default();
    match service.server {
        Server::Gunicorn => format!("gunicorn -w {workers}{threads} app.{module}:app"),
        Server::Uvicorn => format!("uvicorn app.{module}:app --workers {workers}"),
        Server::Celery => format!("celery -A app.{module} worker --concurrency {workers}"),
        Server::Granian => format!("granian --interface wsgi --workers {workers} app.{module}:app"),
        Server::Uwsgi => format!("uwsgi --processes {workers}{threads} --module app.{module}:app"),
        Server::Script => "./entrypoint.sh web".to_owned(),
    }
}

fn script(script: &Script, modules: usize) -> String {
    let depth = usize::from(script.nesting) % MAX_NESTING;
    let inner = command(&script.service, modules);
    let (open, close) = if script.quotes {
        ("\"${A:-", "}\"")
    } else {
        ("${A:-", "}")
    };
    format!(
        "#!/bin/sh\nset -e\ncase \"$1\" in\n  web)\n    exec {} --bind 0.0.0.0:8000 {}x{}\n    ;;\nesac\n",
        inner,
        open.repeat(depth),
        close.repeat(depth)
    )
}

/// The files of `project`, by path relative to the project root.
pub fn files(project: &Project) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let modules = &project.modules[..project.modules.len().min(MAX_FILES)];
    if !modules.is_empty() {
        files.push(("app/__init__.py".to_owned(), String::new()));
    }
    for (i, module) in modules.iter().enumerate() {
        files.push((
            format!("app/{}.py", module_name(i)),
            python_module(module, modules.len()),
        ));
    }
    files.extend(include_files(&project.pgbouncer, true));
    files.extend(include_files(&project.pgconf, false));
    if !project.compose.is_empty() {
        let mut text = String::from("services:\n");
        for (i, service) in project.compose.iter().take(MAX_FILES).enumerate() {
            let _ = writeln!(
                text,
                "  svc{i}:\n    build: .\n    command: {}",
                command(service, modules.len())
            );
            if let Some(replicas) = service.replicas {
                let _ = writeln!(text, "    deploy:\n      replicas: {}", replicas.shell());
            }
            let _ = writeln!(
                text,
                "    environment:\n      DATABASE_URL: postgresql://db:5432/app"
            );
        }
        text.push_str(
            "  db:\n    image: postgres:16\n    command: postgres -c max_connections=50\n",
        );
        files.push(("docker-compose.yml".to_owned(), text));
    }
    if !project.procfile.is_empty() {
        let mut text = String::new();
        for (i, service) in project.procfile.iter().take(MAX_FILES).enumerate() {
            let _ = writeln!(text, "proc{i}: {}", command(service, modules.len()));
        }
        files.push(("Procfile".to_owned(), text));
    }
    if let Some(service) = &project.dockerfile {
        let text = format!(
            "FROM python:3.12\nWORKDIR /srv\nCOPY . /srv\nENV WEB_CONCURRENCY={}\nCMD {}\n",
            service.workers.plain(),
            command(service, modules.len())
        );
        files.push(("Dockerfile".to_owned(), text));
    }
    if let Some(s) = &project.script {
        files.push(("entrypoint.sh".to_owned(), script(s, modules.len())));
    }
    if let Some(config) = &project.config {
        let mut text = String::from("[tool.poolcheck]\n");
        if !config.select.is_empty() {
            let codes: Vec<String> = config
                .select
                .iter()
                .take(6)
                .map(|c| format!("\"PC{}\"", 100 + u16::from(*c) % 500))
                .collect();
            let _ = writeln!(text, "select = [{}]", codes.join(", "));
        }
        if let Some(max) = config.max_connections {
            let _ = writeln!(
                text,
                "[tool.poolcheck.database]\nmax_connections = {}",
                max.plain()
            );
        }
        if !config.env.is_empty() {
            text.push_str("[tool.poolcheck.env]\n");
            for (name, value) in config.env.iter().take(6) {
                let _ = writeln!(text, "{} = \"{}\"", name.as_str(), value.plain());
            }
        }
        if let Some(replicas) = config.replicas {
            let _ = writeln!(
                text,
                "[tool.poolcheck.services.web]\nreplicas = {}",
                replicas.plain()
            );
        }
        files.push(("pyproject.toml".to_owned(), text));
    }
    if !project.dotenv.is_empty() {
        let mut text = String::new();
        for (name, value) in project.dotenv.iter().take(8) {
            let _ = writeln!(text, "{}={}", name.as_str(), value.plain());
        }
        files.push((".env".to_owned(), text));
    }
    for raw in project.raw.iter().take(2) {
        let name = RAW_NAMES[usize::from(raw.name) % RAW_NAMES.len()];
        files.push((name.to_owned(), raw.text.clone()));
    }
    files
}

fn write(root: &Path, files: &[(String, String)]) -> std::io::Result<()> {
    for (path, text) in files {
        let path = root.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, text)?;
    }
    // The project root: a `.git` directory, as in a clone.
    std::fs::create_dir_all(root.join(".git"))
}

/// Writes the project to a temporary directory and checks it as
/// `poolcheck check DIR` does.
pub fn check(project: &Project) {
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    if write(dir.path(), &files(project)).is_err() {
        return;
    }
    let Ok(workspace) = Workspace::load(&[dir.path().to_path_buf()], &LoadOptions::default())
    else {
        return;
    };
    let result = analysis::analyze(&workspace, &Options::default());
    std::hint::black_box(result);
}
