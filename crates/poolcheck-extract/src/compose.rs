//! docker-compose files: services, their commands, environment, replicas,
//! and the PostgreSQL and PgBouncer servers that compose runs.
//!
//! YAML is read with saphyr's `MarkedYaml`, whose markers count characters;
//! every decoded scalar is aligned back to the file's bytes so that a value
//! inside a folded `command: >` block still points at its exact text.
//! Compose's `${VAR:-default}` interpolation is kept unexpanded (as shell
//! words) and evaluated by the helpers below with the project environment.

use poolcheck_core::Code;
use std::collections::BTreeMap;

use poolcheck_core::facts::deploy::{
    CommandOrigin, CommandSite, ComposeBuild, ComposeEnvEntry, ComposeEnvFile, ComposeImage,
    DeployFacts, LinkKind, LinkedFile, Platform, Scaling, ShellWord, Surge, SurgeRule, Workload,
};
use poolcheck_core::facts::pgbouncer::{PgBouncerConfig, PoolDefinition};
use poolcheck_core::facts::postgres::PostgresServer;
use poolcheck_core::facts::process::ServerInvocation;
use poolcheck_core::{
    ConfigEntry, Diagnostic, EnvVar, Environment, FileFacts, Location, Severity, SourceFile,
    Sourced, Span, Version,
};
use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

use crate::commands;
use crate::shell::{self, Arg, OffsetMap, ParsedCommand, Scope};
use crate::yaml::{Positions, entries, get, relaxed_yaml, scalar_text};

/// A copy of `text`, with every byte offset unchanged, where the line breaks
/// inside quoted scalars are spaces. saphyr refuses a continuation line of a
/// quoted scalar indented no deeper than its key (`X: "[a,` / `b]"` with `b]"`
/// at the key's column); Docker's and PyYAML's readers fold it into one line.
/// The scalar keeps its words, with the continuation line's indentation as
/// extra spaces. `None` when no quoted scalar spans lines.
fn joined_quoted_lines(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = bytes.to_vec();
    let mut changed = false;
    let mut i = 0;
    // The last byte that was not a space or tab, outside quotes and comments.
    let mut previous = b'\n';
    while i < bytes.len() {
        let byte = bytes[i];
        match byte {
            b'#' if matches!(previous, b' ' | b'\t' | b'\n') || i == 0 => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' | b'\'' if matches!(previous, b':' | b'-' | b'[' | b'{' | b',' | b'?' | b'\n') => {
                let quote = byte;
                i += 1;
                while i < bytes.len() {
                    match bytes[i] {
                        b'\\' if quote == b'"' => i += 1,
                        b'\'' if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') => i += 1,
                        b if b == quote => break,
                        b'\n' => {
                            out[i] = b' ';
                            if i > 0 && bytes[i - 1] == b'\r' {
                                out[i - 1] = b' ';
                            }
                            changed = true;
                        }
                        _ => {}
                    }
                    i += 1;
                }
                previous = quote;
                i += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' => {}
            _ => previous = byte,
        }
        if byte == b'\n' {
            previous = b'\n';
        }
        i += 1;
    }
    // Only ASCII bytes were replaced, so the copy is still UTF-8.
    changed.then(|| String::from_utf8(out).ok()).flatten()
}

pub fn extract(file: &SourceFile, facts: &mut FileFacts) {
    let mut deploy = DeployFacts::default();
    let positions = Positions::new(file.text());
    let blanked = relaxed_yaml(file.text());
    let joined = joined_quoted_lines(file.text()).map(|joined| {
        let relaxed = relaxed_yaml(&joined);
        relaxed.unwrap_or(joined)
    });
    let docs = match MarkedYaml::load_from_str(file.text()).or_else(|error| {
        [blanked.as_deref(), joined.as_deref()]
            .into_iter()
            .flatten()
            .find_map(|text| MarkedYaml::load_from_str(text).ok())
            .ok_or(error)
    }) {
        Ok(docs) => docs,
        Err(error) => {
            let offset = positions.byte(error.marker().index());
            let end = file.text()[offset..]
                .chars()
                .next()
                .map_or(offset, |c| offset + c.len_utf8());
            // saphyr is stricter than Docker Compose's YAML reader (indentation
            // inside quoted scalars, flow collections): a failure here may be
            // poolcheck's, so it is reported as what poolcheck could not read.
            facts.diagnostics.push(
                Diagnostic::new(
                    Code::PC004,
                    Severity::Info,
                    file.location(Span::new(offset, end)),
                    format!(
                        "cannot read this compose file ({}), so its services, commands and environment are left out of the budget",
                        error.info()
                    ),
                )
                .with_help("if `docker compose config` accepts the file, please report it to poolcheck"),
            );
            facts.deploy = Some(deploy);
            return;
        }
    };
    let Some(root) = docs.first() else {
        facts.deploy = Some(deploy);
        return;
    };
    let Some(services) = get(root, "services") else {
        facts.deploy = Some(deploy);
        return;
    };
    for (name, key, body) in entries(services) {
        let service = read_service(file, &positions, &name, key, body, &mut deploy);
        for index in &service.commands {
            if let Some(site) = deploy.commands.get(*index) {
                commands::check_site(
                    site,
                    Some(&service.name),
                    &mut facts.diagnostics,
                    &mut deploy.links,
                );
            }
        }
        for env_file in &service.env_files {
            deploy.links.push(LinkedFile {
                kind: LinkKind::EnvFile,
                path: env_file.path.clone(),
                location: env_file.location.clone(),
                service: Some(service.name.clone()),
            });
        }
        if let Some(build) = &service.build {
            let dockerfile = build.dockerfile.as_deref().unwrap_or("Dockerfile");
            let path = if build.context.is_empty() || build.context == "." {
                dockerfile.to_owned()
            } else {
                format!("{}/{dockerfile}", build.context.trim_end_matches('/'))
            };
            deploy.links.push(LinkedFile {
                kind: LinkKind::Dockerfile,
                path,
                location: build.location.clone(),
                service: Some(service.name.clone()),
            });
        }
        deploy.workloads.push(service);
    }
    facts.deploy = Some(deploy);
}

fn read_service(
    file: &SourceFile,
    positions: &Positions<'_>,
    name: &str,
    key: &MarkedYaml<'_>,
    body: &MarkedYaml<'_>,
    deploy: &mut DeployFacts,
) -> Workload {
    let mut service = Workload {
        name: name.to_owned(),
        name_location: file.location(positions.span(key)),
        image: None,
        build: None,
        commands: Vec::new(),
        environment: Vec::new(),
        env_files: Vec::new(),
        scaling: Scaling::default(),
        platform: Platform::Compose,
        aliases: Vec::new(),
    };
    let fields = entries(body);
    let field = |k: &str| fields.iter().find(|(n, _, _)| n == k).map(|(_, _, v)| *v);
    if let Some(image) = field("image")
        && let Some(text) = scalar_text(image, positions)
    {
        let (name, tag) = split_image(&text);
        service.image = Some(ComposeImage {
            name,
            tag,
            location: file.location(positions.span(image)),
        });
    }
    if let Some(build) = field("build") {
        service.build = read_build(file, positions, build);
    }
    let entrypoint = field("entrypoint").map(|n| command_words(positions, n));
    let command = field("command").map(|n| command_words(positions, n));
    let command_span = |n: Option<&MarkedYaml<'_>>| n.map(|n| positions.trimmed_span(n));
    let origin = |entrypoint: bool| CommandOrigin::Compose {
        service: name.to_owned(),
        entrypoint,
    };
    let mut push_site =
        |deploy: &mut DeployFacts, span: Span, words: Vec<ShellWord>, assignments, ep| {
            deploy.commands.push(CommandSite {
                location: file.location(span),
                origin: origin(ep),
                name_hint: Some(name.to_owned()),
                words,
                assignments,
            });
            service.commands.push(deploy.commands.len() - 1);
        };
    match (entrypoint, command) {
        (Some(ep), cmd) => {
            let mut words: Vec<ShellWord> = first_words(&ep);
            let mut span = command_span(field("entrypoint")).unwrap_or_default();
            if let Some(cmd) = cmd {
                words.extend(first_words(&cmd));
                if let Some(s) = command_span(field("command")) {
                    span = span.cover(s);
                }
            }
            if !words.is_empty() {
                push_site(deploy, span, words, Vec::new(), true);
            }
        }
        (None, Some(cmd)) => {
            for parsed in cmd.into_iter().filter(|c| !c.words.is_empty()) {
                let assignments = parsed
                    .assignments
                    .iter()
                    .map(|a| a.located(file.path()))
                    .collect();
                push_site(deploy, parsed.span, parsed.words, assignments, false);
            }
        }
        (None, None) => {}
    }
    if let Some(environment) = field("environment") {
        service.environment = read_environment(file, positions, environment);
    }
    if let Some(env_file) = field("env_file") {
        service.env_files = read_env_files(file, positions, env_file);
    }
    let replicas = field("deploy")
        .and_then(|d| get(d, "replicas"))
        .or_else(|| field("scale"));
    if let Some(replicas) = replicas
        && let Some(text) = scalar_text(replicas, positions)
    {
        service.scaling.replicas = Some(shell::parse_interpolated(
            &text,
            &positions.value_map(replicas, &text),
        ));
    }
    // `order: start-first` starts the new containers before stopping the
    // old ones: `parallelism` (default 1) replicas overlap during an update.
    if let Some(update) = field("deploy").and_then(|d| get(d, "update_config"))
        && let Some(order) = get(update, "order")
        && scalar_text(order, positions).as_deref() == Some("start-first")
    {
        let parallelism = get(update, "parallelism")
            .and_then(|p| scalar_text(p, positions))
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or(1);
        service.scaling.surge = Some(Surge {
            rule: SurgeRule::Count(parallelism),
            location: Some(file.location(positions.trimmed_span(order))),
        });
    }
    if let Some(networks) = field("networks") {
        for (_, _, network) in entries(networks) {
            if let Some(YamlData::Sequence(aliases)) = get(network, "aliases").map(|a| &a.data) {
                service
                    .aliases
                    .extend(aliases.iter().filter_map(|a| scalar_text(a, positions)));
            }
        }
    }
    service
}

fn first_words(commands: &[ParsedCommand]) -> Vec<ShellWord> {
    commands
        .iter()
        .find(|c| !c.words.is_empty())
        .map(|c| c.words.clone())
        .unwrap_or_default()
}

/// A string command is split like a shell line; a list is taken item by item
/// (each still interpolated by compose).
fn command_words(positions: &Positions<'_>, node: &MarkedYaml<'_>) -> Vec<ParsedCommand> {
    match &node.data {
        YamlData::Sequence(items) => {
            let words: Vec<ShellWord> = items
                .iter()
                .filter_map(|item| {
                    let text = scalar_text(item, positions)?;
                    Some(shell::parse_interpolated(
                        &text,
                        &positions.value_map(item, &text),
                    ))
                })
                .collect();
            let span = positions.trimmed_span(node);
            vec![ParsedCommand {
                assignments: Vec::new(),
                words,
                span,
                function: None,
                persistent: false,
            }]
        }
        _ => match scalar_text(node, positions) {
            Some(text) => shell::parse_compose_command(&text, &positions.value_map(node, &text)),
            None => Vec::new(),
        },
    }
}

/// `postgres:15-alpine` → (`postgres`, `15-alpine`); registry ports and
/// digests are not tags.
pub(crate) fn split_image(image: &str) -> (String, Option<String>) {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last_slash = without_digest.rfind('/').map_or(0, |i| i + 1);
    match without_digest[last_slash..].rfind(':') {
        Some(colon) => {
            let at = last_slash + colon;
            (
                without_digest[..at].to_owned(),
                Some(without_digest[at + 1..].to_owned()),
            )
        }
        None => (without_digest.to_owned(), None),
    }
}

fn read_build(
    file: &SourceFile,
    positions: &Positions<'_>,
    node: &MarkedYaml<'_>,
) -> Option<ComposeBuild> {
    if let Some(context) = scalar_text(node, positions) {
        return Some(ComposeBuild {
            context,
            dockerfile: None,
            location: file.location(positions.span(node)),
        });
    }
    let context = get(node, "context").and_then(|c| scalar_text(c, positions));
    let dockerfile = get(node, "dockerfile").and_then(|d| scalar_text(d, positions));
    let location_node = get(node, "dockerfile").or_else(|| get(node, "context"))?;
    Some(ComposeBuild {
        context: context.unwrap_or_else(|| ".".to_owned()),
        dockerfile,
        location: file.location(positions.span(location_node)),
    })
}

fn read_environment(
    file: &SourceFile,
    positions: &Positions<'_>,
    node: &MarkedYaml<'_>,
) -> Vec<ComposeEnvEntry> {
    let mut out = Vec::new();
    match &node.data {
        YamlData::Sequence(items) => {
            for item in items {
                let Some(text) = scalar_text(item, positions) else {
                    continue;
                };
                let map = positions.value_map(item, &text);
                let (name, value) = match text.split_once('=') {
                    Some((name, value)) => (name.to_owned(), Some(value)),
                    None => (text.clone(), None),
                };
                let item_span = positions.span(item);
                let name_span = map_span(&map, 0, name.len()).unwrap_or(item_span);
                let (value_word, value_span) = match value {
                    Some(value) => {
                        let start = name.len() + 1;
                        let sub = sub_map(&map, start, text.len());
                        let word = shell::parse_interpolated(value, &sub);
                        let span = word.span;
                        (Some(word), span)
                    }
                    None => (None, item_span),
                };
                out.push(ComposeEnvEntry {
                    name,
                    value: value_word,
                    name_location: file.location(name_span),
                    value_location: file.location(value_span),
                });
            }
        }
        YamlData::Mapping(_) => {
            for (name, key, value) in entries(node) {
                let text = scalar_text(value, positions);
                let value_span = positions.trimmed_span(value);
                let word = text
                    .as_ref()
                    .map(|text| shell::parse_interpolated(text, &positions.value_map(value, text)));
                // Inside the quotes when the value is quoted.
                let value_span = match (&word, &text) {
                    (Some(word), Some(text)) if !text.is_empty() => word.span,
                    (Some(_), _) => value_span,
                    (None, _) => positions.span(key),
                };
                out.push(ComposeEnvEntry {
                    name,
                    value: word,
                    name_location: file.location(positions.span(key)),
                    value_location: file.location(value_span),
                });
            }
        }
        _ => {}
    }
    out
}

fn map_span(map: &OffsetMap, start: usize, end: usize) -> Option<Span> {
    match map {
        OffsetMap::Shifted(base) => Some(Span::new(base + start, base + end)),
        OffsetMap::Table(table) => {
            let s = *table.get(start)? as usize;
            let e = if end > start {
                *table.get(end - 1)? as usize + 1
            } else {
                s
            };
            Some(Span::new(s, e.max(s)))
        }
    }
}

fn sub_map(map: &OffsetMap, start: usize, end: usize) -> OffsetMap {
    match map {
        OffsetMap::Shifted(base) => OffsetMap::Shifted(base + start),
        OffsetMap::Table(table) => {
            OffsetMap::Table(table[start.min(table.len())..(end + 1).min(table.len())].to_vec())
        }
    }
}

fn read_env_files(
    file: &SourceFile,
    positions: &Positions<'_>,
    node: &MarkedYaml<'_>,
) -> Vec<ComposeEnvFile> {
    let one = |item: &MarkedYaml<'_>| -> Option<ComposeEnvFile> {
        if let Some(path) = scalar_text(item, positions) {
            return Some(ComposeEnvFile {
                path,
                location: file.location(positions.span(item)),
                required: true,
                config_map: None,
            });
        }
        let path_node = get(item, "path")?;
        let required = !matches!(
            get(item, "required").map(|r| &r.data),
            Some(YamlData::Value(Scalar::Boolean(false)))
        );
        Some(ComposeEnvFile {
            path: scalar_text(path_node, positions)?,
            location: file.location(positions.span(path_node)),
            required,
            config_map: None,
        })
    };
    match &node.data {
        YamlData::Sequence(items) => items.iter().filter_map(one).collect(),
        _ => one(node).into_iter().collect(),
    }
}

// ---------------------------------------------------------------------------
// Assembly helpers for the rules crate

/// One variable of a service's environment and where it is declared.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceVar {
    pub value: Sourced<String>,
    /// Where the name is written (the `environment:` key or the env file's line).
    pub name_location: Option<Location>,
    pub source: String,
}

/// The variables a service's processes see: its `env_file:` files (loaded by
/// `load_env_file`, in order), then `environment:` over them, each value
/// interpolated with `project_env` (the shell and the project's `.env`).
pub fn service_vars(
    service: &Workload,
    project_env: &Environment,
    load_env_file: &mut dyn FnMut(&ComposeEnvFile) -> Option<Environment>,
) -> BTreeMap<String, ServiceVar> {
    let mut vars = BTreeMap::new();
    for env_file in &service.env_files {
        let Some(loaded) = load_env_file(env_file) else {
            continue;
        };
        for (name, var) in loaded.iter() {
            vars.insert(
                name.clone(),
                ServiceVar {
                    value: Sourced::with_origin(
                        var.value.clone(),
                        poolcheck_core::Origin::EnvValue {
                            var: name.clone(),
                            source: var.source.clone(),
                        },
                        var.location.clone(),
                    ),
                    name_location: var.location.clone(),
                    source: var.source.clone(),
                },
            );
        }
    }
    let source = format!(
        "{} ({})",
        service.name_location.file.file_name(),
        service.name
    );
    let empty_scope = Scope::new(project_env, &[]);
    for entry in &service.environment {
        let value = match &entry.value {
            Some(word) => {
                let expanded = shell::expand_joined(word, empty_scope);
                let mut sourced = expanded.sourced(&entry.value_location.file);
                if sourced.is_known() && word.is_literal() {
                    sourced.location = Some(entry.value_location.clone());
                }
                sourced
            }
            // `- NAME` passes the project environment's value through.
            None => project_env.sourced(&entry.name),
        };
        vars.insert(
            entry.name.clone(),
            ServiceVar {
                value,
                name_location: Some(entry.name_location.clone()),
                source: source.clone(),
            },
        );
    }
    vars
}

/// The [`Environment`] a service's processes see (see [`service_vars`]);
/// variables whose value is unknown are left out.
pub fn service_environment(
    service: &Workload,
    project_env: &Environment,
    load_env_file: &mut dyn FnMut(&ComposeEnvFile) -> Option<Environment>,
) -> Environment {
    vars_environment(&service_vars(service, project_env, load_env_file))
}

fn vars_environment(vars: &BTreeMap<String, ServiceVar>) -> Environment {
    let mut env = Environment::new();
    for (name, var) in vars {
        if let Some(value) = &var.value.value {
            env.set(
                name.clone(),
                EnvVar {
                    value: value.clone(),
                    source: var.source.clone(),
                    location: var.value.location.clone(),
                },
            );
        }
    }
    env
}

/// `deploy.replicas` or `scale`, interpolated with the project environment.
pub fn replicas(service: &Workload, project_env: &Environment) -> Option<Sourced<i64>> {
    let word = service.scaling.replicas.as_ref()?;
    let file = &service.name_location.file;
    let mut sourced = shell::expand_to_sourced(word, Scope::new(project_env, &[]), file);
    if let Some(origin) = &service.scaling.replicas_origin {
        sourced.location = Some(origin.clone());
    }
    let text = sourced.value.clone().unwrap_or_default();
    Some(
        sourced.and_then(&format!("replicas `{text}` is not a whole number"), |s| {
            s.trim().parse::<i64>().ok().filter(|v| *v >= 0)
        }),
    )
}

/// The servers the compose services start, each with its service key. The
/// command is expanded with the service's environment over the project's.
pub fn compose_invocations(
    facts: &DeployFacts,
    project_env: &Environment,
    load_env_file: &mut dyn FnMut(&ComposeEnvFile) -> Option<Environment>,
) -> Vec<(String, ServerInvocation)> {
    let mut out = Vec::new();
    for service in &facts.workloads {
        if service.commands.is_empty() {
            continue;
        }
        let mut env = project_env.clone();
        env.overlay(&service_environment(service, project_env, load_env_file));
        for index in &service.commands {
            if let Some(invocation) = facts
                .commands
                .get(*index)
                .and_then(|site| commands::invocation(site, &env))
            {
                out.push((service.name.clone(), invocation));
            }
        }
    }
    out
}

fn image_base(image: &ComposeImage) -> &str {
    image.name.rsplit('/').next().unwrap_or(&image.name)
}

/// Whether a service runs PostgreSQL itself (not an exporter or admin UI).
pub fn is_postgres_image(image: &ComposeImage) -> bool {
    let base = image_base(image);
    matches!(
        base,
        "postgres"
            | "postgresql"
            | "postgis"
            | "timescaledb"
            | "timescaledb-ha"
            | "pgvector"
            | "postgresql-repmgr"
            | "postgres-ha"
    ) || base.ends_with("-postgres") && !base.contains("exporter")
}

pub fn is_pgbouncer_image(image: &ComposeImage) -> bool {
    image_base(image).contains("pgbouncer") && !image_base(image).contains("exporter")
}

fn image_version(image: &ComposeImage) -> Option<Sourced<Version>> {
    let tag = image.tag.as_deref()?;
    // `latest-pg16`, `pg15`: the PostgreSQL version follows `pg`.
    let candidate = match tag.find("pg") {
        Some(at) if Version::parse_lenient(tag).is_none() => &tag[at + 2..],
        _ => tag,
    };
    let version = Version::parse_lenient(candidate)?;
    Some(Sourced::literal(version, image.location.clone()))
}

/// PostgreSQL servers run by compose services: `command: postgres -c k=v`
/// settings (string or list form, interpolated), image tag → version.
pub fn postgres_servers(
    facts: &DeployFacts,
    project_env: &Environment,
    load_env_file: &mut dyn FnMut(&ComposeEnvFile) -> Option<Environment>,
) -> Vec<PostgresServer> {
    let mut out = Vec::new();
    for service in &facts.workloads {
        let Some(image) = service.image.as_ref().filter(|i| is_postgres_image(i)) else {
            continue;
        };
        let vars = service_vars(service, project_env, load_env_file);
        let mut env = project_env.clone();
        env.overlay(&vars_environment(&vars));
        let mut settings = BTreeMap::new();
        // The bitnami image configures the server from the environment.
        if let Some(var) = vars.get("POSTGRESQL_MAX_CONNECTIONS")
            && let (Some(value), Some(value_location)) = (&var.value.value, &var.value.location)
        {
            settings.insert(
                "max_connections".to_owned(),
                ConfigEntry {
                    key: "max_connections".to_owned(),
                    value: value.clone(),
                    key_location: var
                        .name_location
                        .clone()
                        .unwrap_or_else(|| value_location.clone()),
                    value_location: value_location.clone(),
                },
            );
        }
        for index in &service.commands {
            let Some(site) = facts.commands.get(*index) else {
                continue;
            };
            let args = shell::expand_words(&site.words, Scope::new(&env, &site.assignments));
            for entry in postgres_command_settings(&args, &site.location) {
                settings.insert(entry.key.clone(), entry);
            }
        }
        let mut host_aliases = vec![service.name.clone()];
        host_aliases.extend(service.aliases.iter().cloned());
        out.push(PostgresServer {
            name: service.name.clone(),
            location: service.name_location.clone(),
            settings,
            version: image_version(image),
            host_aliases,
        });
    }
    out
}

/// `postgres -c max_connections=200 --shared_buffers=1GB -N 300`.
fn postgres_command_settings(args: &[Arg], site: &Location) -> Vec<ConfigEntry> {
    let file = &site.file;
    let mut out = Vec::new();
    let mut push = |key_arg: &Arg, key: String, value_arg: &Arg| {
        let value = value_arg.sourced(file);
        let Some(text) = value.value else { return };
        let key_location =
            Location::new(file.clone(), literal_span(key_arg).unwrap_or(key_arg.span));
        out.push(ConfigEntry {
            key: key.to_ascii_lowercase().replace('-', "_"),
            value: text,
            key_location,
            value_location: value
                .location
                .unwrap_or_else(|| Location::new(file.clone(), value_arg.span)),
        });
    };
    let mut i = 0;
    while i < args.len() {
        let text = args[i].text();
        let setting = if text == "-c" {
            i += 1;
            args.get(i).cloned()
        } else if (text.starts_with("--") && text.contains('='))
            || (text.starts_with("-c") && text.len() > 2)
        {
            Some(args[i].suffix(2))
        } else if text == "-N" {
            i += 1;
            if let Some(value) = args.get(i) {
                push(&args[i - 1], "max_connections".to_owned(), value);
            }
            None
        } else {
            None
        };
        if let Some(setting) = setting
            && let Some((key, value)) = setting.split_once('=')
        {
            let key_arg = setting.prefix_until('=');
            push(&key_arg, key.trim().to_owned(), &value);
        }
        i += 1;
    }
    out
}

fn literal_span(arg: &Arg) -> Option<Span> {
    arg.pieces
        .iter()
        .filter_map(|p| match p.kind {
            shell::PieceKind::Literal { span, .. } if !p.text.is_empty() => Some(span),
            _ => None,
        })
        .reduce(Span::cover)
}

/// PgBouncer settings the edoburu image writes from `NAME` variables
/// (`POOL_MODE` → `pool_mode`).
const EDOBURU_SETTINGS: &[&str] = &[
    "listen_addr",
    "listen_port",
    "auth_file",
    "auth_hba_file",
    "auth_type",
    "auth_user",
    "auth_query",
    "pool_mode",
    "max_client_conn",
    "default_pool_size",
    "min_pool_size",
    "reserve_pool_size",
    "reserve_pool_timeout",
    "max_db_connections",
    "max_user_connections",
    "max_prepared_statements",
    "server_round_robin",
    "ignore_startup_parameters",
    "track_extra_parameters",
    "disable_pqexec",
    "application_name_add_host",
    "log_connections",
    "log_disconnections",
    "log_pooler_errors",
    "log_stats",
    "stats_period",
    "verbose",
    "admin_users",
    "stats_users",
    "server_reset_query",
    "server_reset_query_always",
    "server_check_delay",
    "server_check_query",
    "server_lifetime",
    "server_idle_timeout",
    "server_connect_timeout",
    "server_login_retry",
    "client_login_timeout",
    "autodb_idle_timeout",
    "dns_max_ttl",
    "dns_nxdomain_ttl",
    "client_tls_sslmode",
    "client_tls_key_file",
    "client_tls_cert_file",
    "client_tls_ca_file",
    "client_tls_protocols",
    "client_tls_ciphers",
    "server_tls_sslmode",
    "server_tls_ca_file",
    "server_tls_key_file",
    "server_tls_cert_file",
    "server_tls_protocols",
    "server_tls_ciphers",
    "query_timeout",
    "query_wait_timeout",
    "cancel_wait_timeout",
    "client_idle_timeout",
    "idle_transaction_timeout",
    "transaction_timeout",
    "pkt_buf",
    "max_packet_size",
    "listen_backlog",
    "sbuf_loopcnt",
    "suspend_timeout",
    "tcp_defer_accept",
    "tcp_keepalive",
    "tcp_keepcnt",
    "tcp_keepidle",
    "tcp_keepintvl",
    "tcp_user_timeout",
];

/// The variable that sets a PgBouncer setting in an image family.
type EnvNaming = fn(&str) -> String;

/// Which image family configures PgBouncer from which variables.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PgBouncerImage {
    /// edoburu/pgbouncer and its forks: `POOL_MODE`, `DB_HOST`, listen 5432.
    Edoburu,
    /// bitnami/pgbouncer: `PGBOUNCER_POOL_MODE`, `POSTGRESQL_HOST`, listen 6432.
    Bitnami,
}

/// The images whose entrypoints write `pgbouncer.ini` from environment
/// variables. Other PgBouncer images (a project's own build) are configured by
/// a file, which the repository may hold.
fn env_configured_flavor(image: &ComposeImage) -> Option<PgBouncerImage> {
    if image.name.contains("bitnami") {
        Some(PgBouncerImage::Bitnami)
    } else if image.name.contains("edoburu") {
        Some(PgBouncerImage::Edoburu)
    } else {
        None
    }
}

/// Compose services that run a PgBouncer configured by a file rather than by
/// environment variables: their keys are host names of that PgBouncer.
pub fn file_configured_pgbouncer_services(facts: &DeployFacts) -> Vec<String> {
    facts
        .workloads
        .iter()
        .filter(|s| {
            s.image
                .as_ref()
                .is_some_and(|i| is_pgbouncer_image(i) && env_configured_flavor(i).is_none())
        })
        .map(|s| s.name.clone())
        .collect()
}

/// PgBouncers run by compose services, configured by environment variables
/// as their images do.
pub fn pgbouncers(
    facts: &DeployFacts,
    project_env: &Environment,
    load_env_file: &mut dyn FnMut(&ComposeEnvFile) -> Option<Environment>,
) -> Vec<PgBouncerConfig> {
    let mut out = Vec::new();
    for service in &facts.workloads {
        let Some(image) = service.image.as_ref().filter(|i| is_pgbouncer_image(i)) else {
            continue;
        };
        let Some(family) = env_configured_flavor(image) else {
            continue;
        };
        let vars = service_vars(service, project_env, load_env_file);
        out.push(pgbouncer_from_env(
            service,
            image,
            family,
            &vars,
            project_env,
        ));
    }
    out
}

fn pgbouncer_from_env(
    service: &Workload,
    image: &ComposeImage,
    family: PgBouncerImage,
    vars: &BTreeMap<String, ServiceVar>,
    project_env: &Environment,
) -> PgBouncerConfig {
    let entry_for = |key: &str, var: &ServiceVar| -> Option<ConfigEntry> {
        let value = var.value.value.clone()?;
        let value_location = var
            .value
            .location
            .clone()
            .unwrap_or_else(|| service.name_location.clone());
        Some(ConfigEntry {
            key: key.to_owned(),
            value,
            key_location: var
                .name_location
                .clone()
                .unwrap_or_else(|| value_location.clone()),
            value_location,
        })
    };
    let image_default = |key: &str, value: &str| ConfigEntry {
        key: key.to_owned(),
        value: value.to_owned(),
        key_location: image.location.clone(),
        value_location: image.location.clone(),
    };
    let mut settings = BTreeMap::new();
    let (defaults, env_name): (&[(&str, &str)], EnvNaming) = match family {
        PgBouncerImage::Edoburu => (
            &[
                ("listen_addr", "0.0.0.0"),
                ("listen_port", "5432"),
                ("auth_type", "md5"),
                ("ignore_startup_parameters", "extra_float_digits"),
                ("admin_users", "postgres"),
            ],
            |key| key.to_ascii_uppercase(),
        ),
        PgBouncerImage::Bitnami => (
            &[
                ("listen_addr", "0.0.0.0"),
                ("listen_port", "6432"),
                ("auth_type", "scram-sha-256"),
                ("ignore_startup_parameters", "extra_float_digits"),
                ("stats_period", "60"),
            ],
            |key| match key {
                "listen_port" => "PGBOUNCER_PORT".to_owned(),
                "listen_addr" => "PGBOUNCER_LISTEN_ADDRESS".to_owned(),
                _ => format!("PGBOUNCER_{}", key.to_ascii_uppercase()),
            },
        ),
    };
    for (key, value) in defaults {
        settings.insert((*key).to_owned(), image_default(key, value));
    }
    for key in EDOBURU_SETTINGS {
        if let Some(entry) = vars.get(&env_name(key)).and_then(|v| entry_for(key, v))
            && !entry.value.is_empty()
        {
            settings.insert((*key).to_owned(), entry);
        }
    }
    let databases = match family {
        PgBouncerImage::Edoburu => edoburu_databases(service, vars, &entry_for),
        PgBouncerImage::Bitnami => bitnami_databases(service, vars, &entry_for),
    };
    let mut host_aliases = vec![service.name.clone()];
    host_aliases.extend(service.aliases.iter().cloned());
    PgBouncerConfig {
        name: service.name.clone(),
        location: service.name_location.clone(),
        settings,
        databases,
        users: Vec::new(),
        version: image_version(image),
        instances: replicas(service, project_env),
        host_aliases,
        provider: None,
    }
}

type EntryFor<'a> = dyn Fn(&str, &ServiceVar) -> Option<ConfigEntry> + 'a;

fn param(
    params: &mut BTreeMap<String, ConfigEntry>,
    key: &str,
    from: Option<ConfigEntry>,
    default: Option<(&str, &Location)>,
) {
    let entry = from.or_else(|| {
        default.map(|(value, location)| ConfigEntry {
            key: key.to_owned(),
            value: value.to_owned(),
            key_location: location.clone(),
            value_location: location.clone(),
        })
    });
    if let Some(mut entry) = entry {
        key.clone_into(&mut entry.key);
        params.insert(key.to_owned(), entry);
    }
}

/// `${DB_NAME:-*} = host=$DB_HOST port=${DB_PORT:-5432} user=${DB_USER:-postgres}`,
/// or the same parts from `DATABASE_URL`.
fn edoburu_databases(
    service: &Workload,
    vars: &BTreeMap<String, ServiceVar>,
    entry_for: &EntryFor<'_>,
) -> Vec<PoolDefinition> {
    let get = |name: &str| vars.get(name).and_then(|v| entry_for(name, v));
    let mut host = get("DB_HOST");
    let mut port = get("DB_PORT");
    let mut user = get("DB_USER");
    let mut dbname = get("DB_NAME");
    if let Some(url) = get("DATABASE_URL") {
        let parts = parse_database_url(&url.value);
        let with = |value: Option<String>| {
            value.map(|v| ConfigEntry {
                value: v,
                ..url.clone()
            })
        };
        host = with(parts.host).or(host);
        port = with(parts.port).or(port);
        user = with(parts.user).or(user);
        dbname = with(parts.dbname).or(dbname);
    }
    let Some(host) = host else {
        // The image refuses to start without DB_HOST; nothing to route to.
        return Vec::new();
    };
    let fallback = &service.name_location;
    let mut params = BTreeMap::new();
    let name_location = dbname
        .as_ref()
        .map_or_else(|| host.key_location.clone(), |d| d.value_location.clone());
    let name = dbname
        .as_ref()
        .map_or_else(|| "*".to_owned(), |d| d.value.clone());
    param(&mut params, "host", Some(host), None);
    param(&mut params, "port", port, Some(("5432", fallback)));
    param(&mut params, "user", user, Some(("postgres", fallback)));
    vec![PoolDefinition {
        name,
        name_location,
        params,
    }]
}

/// `$PGBOUNCER_DATABASE = host=$POSTGRESQL_HOST port=$POSTGRESQL_PORT dbname=$POSTGRESQL_DATABASE`.
fn bitnami_databases(
    service: &Workload,
    vars: &BTreeMap<String, ServiceVar>,
    entry_for: &EntryFor<'_>,
) -> Vec<PoolDefinition> {
    let get = |name: &str| vars.get(name).and_then(|v| entry_for(name, v));
    let fallback = &service.name_location;
    let database = get("PGBOUNCER_DATABASE");
    let name = database
        .as_ref()
        .map_or_else(|| "postgres".to_owned(), |d| d.value.clone());
    let name_location = database
        .as_ref()
        .map_or_else(|| fallback.clone(), |d| d.value_location.clone());
    let mut params = BTreeMap::new();
    param(
        &mut params,
        "host",
        get("POSTGRESQL_HOST"),
        Some(("postgresql", fallback)),
    );
    param(
        &mut params,
        "port",
        get("POSTGRESQL_PORT"),
        Some(("5432", fallback)),
    );
    let dbname = get("POSTGRESQL_DATABASE").or_else(|| database.clone());
    param(&mut params, "dbname", dbname, Some((&name, fallback)));
    if let Some(user) = get("POSTGRESQL_USERNAME") {
        param(&mut params, "user", Some(user), None);
    }
    vec![PoolDefinition {
        name,
        name_location,
        params,
    }]
}

#[derive(Default)]
struct UrlParts {
    user: Option<String>,
    host: Option<String>,
    port: Option<String>,
    dbname: Option<String>,
}

/// `postgres://user:pass@host:port/dbname?…`
fn parse_database_url(url: &str) -> UrlParts {
    let Some((_, rest)) = url.split_once("://") else {
        return UrlParts::default();
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => (h, Some(p)),
        _ => (hostport, None),
    };
    let dbname = path.split('?').next().filter(|d| !d.is_empty());
    UrlParts {
        user: userinfo
            .map(|u| u.split(':').next().unwrap_or(u).to_owned())
            .filter(|u| !u.is_empty()),
        host: (!host.is_empty()).then(|| host.to_owned()),
        port: port.map(str::to_owned),
        dbname: dbname.map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poolcheck_core::facts::process::ServerKind;
    use poolcheck_core::{FileKind, IntExpr, Origin};

    fn run(text: &str) -> FileFacts {
        let file = SourceFile::new("docker-compose.yml", text);
        let mut facts = FileFacts::new(file.path().clone(), FileKind::Compose);
        extract(&file, &mut facts);
        facts
    }

    fn deploy(text: &str) -> DeployFacts {
        let facts = run(text);
        assert!(facts.diagnostics.is_empty(), "{:?}", facts.diagnostics);
        facts.deploy.unwrap_or_default()
    }

    fn no_files(_: &ComposeEnvFile) -> Option<Environment> {
        None
    }

    fn slice(text: &str, location: &Location) -> String {
        text[location.span.range()].to_owned()
    }

    const APP: &str = r#"services:
  db:
    image: postgres:15-alpine
    command: postgres -c max_connections=50 -c shared_buffers=256MB
  web:
    build: .
    command: gunicorn -w 6 app.wsgi:app
    environment:
      DATABASE_URL: postgres://app:secret@db:5432/app
    deploy:
      replicas: 2
  worker:
    build:
      context: ./backend
      dockerfile: Dockerfile.worker
    command: ["celery", "-A", "app.tasks", "worker", "--concurrency", "4"]
    environment:
      - DATABASE_URL=postgres://app:secret@db:5432/app
      - DJANGO_SETTINGS_MODULE
"#;

    #[test]
    fn comment_lines_inside_a_flow_sequence_are_valid_yaml() {
        let text = r#"services:
  pgbouncer:
    image: edoburu/pgbouncer:v1.25.2-p0
    healthcheck:
      test: [
          "CMD-SHELL",
          # a comment between flow items, which saphyr alone rejects
          "pg_isready -h localhost",
      ]
    environment:
      POOL_MODE: transaction
"#;
        let d = deploy(text);
        assert_eq!(d.workloads.len(), 1);
        let env = &d.workloads[0].environment[0];
        assert_eq!(slice(text, &env.value_location), "transaction");
    }

    #[test]
    fn services_commands_and_environment() {
        let d = deploy(APP);
        let names: Vec<&str> = d.workloads.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["db", "web", "worker"]);
        let db = &d.workloads[0];
        let image = db
            .image
            .as_ref()
            .map(|i| (i.name.as_str(), i.tag.as_deref()));
        assert_eq!(image, Some(("postgres", Some("15-alpine"))));

        let found = compose_invocations(&d, &Environment::new(), &mut no_files);
        let summary: Vec<(&str, ServerKind)> =
            found.iter().map(|(n, i)| (n.as_str(), i.kind)).collect();
        assert_eq!(
            summary,
            [
                ("web", ServerKind::Gunicorn),
                ("worker", ServerKind::Celery)
            ]
        );
        let web = &found[0].1;
        assert_eq!(web.name_hint.as_deref(), Some("web"));
        let workers = web.settings.workers.as_ref();
        assert_eq!(
            workers
                .and_then(|w| w.value.as_ref())
                .and_then(IntExpr::constant),
            Some(6)
        );
        assert_eq!(
            workers
                .and_then(|w| w.location.as_ref())
                .map(|l| slice(APP, l))
                .as_deref(),
            Some("6")
        );
        let concurrency = found[1].1.settings.concurrency.as_ref();
        assert_eq!(
            concurrency
                .and_then(|w| w.value.as_ref())
                .and_then(IntExpr::constant),
            Some(4)
        );
        assert_eq!(
            concurrency
                .and_then(|w| w.location.as_ref())
                .map(|l| slice(APP, l))
                .as_deref(),
            Some("4")
        );

        for service in &d.workloads[1..] {
            let env = service_environment(service, &Environment::new(), &mut no_files);
            let url = env.get("DATABASE_URL");
            assert_eq!(
                url.map(|v| v.value.as_str()),
                Some("postgres://app:secret@db:5432/app")
            );
            assert_eq!(
                url.map(|v| v.source.clone()),
                Some(format!("docker-compose.yml ({})", service.name))
            );
            let location = url.and_then(|v| v.location.as_ref());
            assert_eq!(
                location.map(|l| slice(APP, l)).as_deref(),
                Some("postgres://app:secret@db:5432/app")
            );
        }
        let web = &d.workloads[1];
        assert_eq!(
            replicas(web, &Environment::new()).and_then(|r| r.value),
            Some(2)
        );
        let links: Vec<(LinkKind, &str)> =
            d.links.iter().map(|l| (l.kind, l.path.as_str())).collect();
        assert_eq!(
            links,
            [
                (LinkKind::Dockerfile, "Dockerfile"),
                (LinkKind::Dockerfile, "./backend/Dockerfile.worker")
            ]
        );
    }

    #[test]
    fn postgres_command_settings_point_at_the_yaml_value() {
        let d = deploy(APP);
        let servers = postgres_servers(&d, &Environment::new(), &mut no_files);
        assert_eq!(servers.len(), 1);
        let db = &servers[0];
        assert_eq!(db.name, "db");
        assert_eq!(db.host_aliases, ["db"]);
        assert_eq!(
            db.version.as_ref().and_then(|v| v.value),
            Some(Version::new(15, 0, 0))
        );
        let max = &db.settings["max_connections"];
        assert_eq!(max.value, "50");
        assert_eq!(slice(APP, &max.value_location), "50");
        assert_eq!(slice(APP, &max.key_location), "max_connections");
        assert_eq!(db.settings["shared_buffers"].value, "256MB");
    }

    const DIFY_DB: &str = r#"services:
  db_postgres:
    image: postgres:15-alpine
    command: >
      postgres -c 'max_connections=${POSTGRES_MAX_CONNECTIONS:-100}'
               -c 'shared_buffers=${POSTGRES_SHARED_BUFFERS:-128MB}'
               -c 'statement_timeout=${POSTGRES_STATEMENT_TIMEOUT:-0}'
  alt:
    image: postgis/postgis:16-3.4
    command: ["postgres", "-c", "max_connections=${ALT_MAX:-300}"]
"#;

    #[test]
    fn folded_command_with_interpolated_defaults() {
        let d = deploy(DIFY_DB);
        let servers = postgres_servers(&d, &Environment::new(), &mut no_files);
        assert_eq!(servers.len(), 2);
        let max = &servers[0].settings["max_connections"];
        assert_eq!(max.value, "100");
        assert_eq!(slice(DIFY_DB, &max.value_location), "100");
        assert_eq!(servers[0].settings["statement_timeout"].value, "0");
        let alt = &servers[1].settings["max_connections"];
        assert_eq!(alt.value, "300");
        assert_eq!(slice(DIFY_DB, &alt.value_location), "300");
        assert_eq!(
            servers[1].version.as_ref().and_then(|v| v.value),
            Some(Version::new(16, 0, 0))
        );

        // A value from the project's .env wins over the default and points there.
        let mut env = Environment::new();
        let dotenv = Location::new(poolcheck_core::FilePath::from(".env"), Span::new(25, 28));
        env.set(
            "POSTGRES_MAX_CONNECTIONS",
            EnvVar {
                value: "200".to_owned(),
                source: ".env".to_owned(),
                location: Some(dotenv.clone()),
            },
        );
        let servers = postgres_servers(&d, &env, &mut no_files);
        let max = &servers[0].settings["max_connections"];
        assert_eq!(max.value, "200");
        assert_eq!(max.value_location, dotenv);
    }

    const SENTRY: &str = r#"x-restart-policy: &restart_policy
  restart: unless-stopped
services:
  postgres:
    <<: *restart_policy
    image: "postgres:14.24-bookworm"
    command: ["postgres"]
  pgbouncer:
    <<: *restart_policy
    image: "edoburu/pgbouncer:v1.25.2-p0"
    environment:
      DB_USER: postgres
      DB_HOST: postgres
      DB_NAME: postgres
      AUTH_TYPE: trust
      POOL_MODE: transaction
      ADMIN_USERS: postgres,sentry
      MAX_CLIENT_CONN: 10000
"#;

    #[test]
    fn sentry_self_hosted_pgbouncer() {
        let d = deploy(SENTRY);
        let bouncers = pgbouncers(&d, &Environment::new(), &mut no_files);
        assert_eq!(bouncers.len(), 1);
        let b = &bouncers[0];
        assert_eq!(b.name, "pgbouncer");
        assert_eq!(b.host_aliases, ["pgbouncer"]);
        assert_eq!(
            b.version.as_ref().and_then(|v| v.value),
            Some(Version::new(1, 25, 2))
        );
        assert_eq!(b.settings["pool_mode"].value, "transaction");
        assert_eq!(
            slice(SENTRY, &b.settings["pool_mode"].value_location),
            "transaction"
        );
        assert_eq!(
            slice(SENTRY, &b.settings["pool_mode"].key_location),
            "POOL_MODE"
        );
        assert_eq!(b.settings["max_client_conn"].value, "10000");
        assert_eq!(
            slice(SENTRY, &b.settings["max_client_conn"].value_location),
            "10000"
        );
        assert_eq!(b.settings["auth_type"].value, "trust");
        // The image's own default listen port, located at the image.
        assert_eq!(b.settings["listen_port"].value, "5432");
        assert_eq!(
            slice(SENTRY, &b.settings["listen_port"].value_location),
            "\"edoburu/pgbouncer:v1.25.2-p0\""
        );
        assert_eq!(b.databases.len(), 1);
        let db = &b.databases[0];
        assert_eq!(db.name, "postgres");
        assert_eq!(db.params["host"].value, "postgres");
        assert_eq!(db.params["port"].value, "5432");
        assert!(b.instances.is_none());

        let servers = postgres_servers(&d, &Environment::new(), &mut no_files);
        assert_eq!(servers.len(), 1);
        assert!(servers[0].settings.is_empty());
        assert_eq!(
            servers[0].version.as_ref().and_then(|v| v.value),
            Some(Version::new(14, 24, 0))
        );
    }

    #[test]
    fn bitnami_pgbouncer_and_database_url() {
        let text = r#"services:
  bouncer:
    image: bitnami/pgbouncer:1.22.0
    environment:
      POSTGRESQL_HOST: db
      PGBOUNCER_DATABASE: app
      PGBOUNCER_POOL_MODE: transaction
      PGBOUNCER_DEFAULT_POOL_SIZE: "20"
      PGBOUNCER_PORT: 6433
    deploy:
      replicas: ${BOUNCERS:-2}
  edo:
    image: edoburu/pgbouncer
    environment:
      - DATABASE_URL=postgres://u:p@pg:5433/main
      - DEFAULT_POOL_SIZE=${POOL:-15}
"#;
        let d = deploy(text);
        let bouncers = pgbouncers(&d, &Environment::new(), &mut no_files);
        let b = &bouncers[0];
        assert_eq!(
            b.version.as_ref().and_then(|v| v.value),
            Some(Version::new(1, 22, 0))
        );
        assert_eq!(b.settings["pool_mode"].value, "transaction");
        assert_eq!(b.settings["default_pool_size"].value, "20");
        assert_eq!(
            slice(text, &b.settings["default_pool_size"].value_location),
            "20"
        );
        assert_eq!(b.settings["listen_port"].value, "6433");
        assert_eq!(b.databases[0].name, "app");
        assert_eq!(b.databases[0].params["host"].value, "db");
        assert_eq!(b.databases[0].params["dbname"].value, "app");
        let instances = b.instances.as_ref();
        assert_eq!(instances.and_then(|i| i.value), Some(2));
        assert_eq!(
            instances.map(|i| i.origin.clone()),
            Some(Origin::EnvDefault {
                var: "BOUNCERS".into()
            })
        );

        let e = &bouncers[1];
        assert!(e.version.is_none());
        assert_eq!(e.settings["default_pool_size"].value, "15");
        assert_eq!(
            slice(text, &e.settings["default_pool_size"].value_location),
            "15"
        );
        assert_eq!(
            slice(text, &e.settings["default_pool_size"].key_location),
            "DEFAULT_POOL_SIZE"
        );
        let db = &e.databases[0];
        assert_eq!(db.name, "main");
        assert_eq!(db.params["host"].value, "pg");
        assert_eq!(db.params["port"].value, "5433");
        assert_eq!(db.params["user"].value, "u");
    }

    #[test]
    fn env_files_are_loaded_through_the_callback_and_environment_wins() {
        let text = "services:\n  web:\n    image: app\n    env_file:\n      - .env.web\n      - path: ./optional.env\n        required: false\n    environment:\n      WEB_CONCURRENCY: ${WEB_WORKERS:-3}\n    command: uvicorn app:app\n";
        let d = deploy(text);
        let service = &d.workloads[0];
        let files: Vec<(&str, bool)> = service
            .env_files
            .iter()
            .map(|f| (f.path.as_str(), f.required))
            .collect();
        assert_eq!(files, [(".env.web", true), ("./optional.env", false)]);
        let mut asked = Vec::new();
        let mut loader = |f: &ComposeEnvFile| {
            asked.push(f.path.clone());
            let mut env = Environment::new();
            for (k, v) in [("WEB_CONCURRENCY", "9"), ("SECRET_KEY", "x")] {
                env.set(
                    k,
                    EnvVar {
                        value: v.to_owned(),
                        source: f.path.clone(),
                        location: None,
                    },
                );
            }
            Some(env)
        };
        let env = service_environment(service, &Environment::new(), &mut loader);
        assert_eq!(asked, [".env.web", "./optional.env"]);
        assert_eq!(
            env.get("WEB_CONCURRENCY").map(|v| v.value.as_str()),
            Some("3")
        );
        assert_eq!(env.get("SECRET_KEY").map(|v| v.value.as_str()), Some("x"));
        let found = compose_invocations(&d, &Environment::new(), &mut no_files);
        let workers = found[0].1.settings.workers.as_ref();
        assert_eq!(
            workers
                .and_then(|w| w.value.as_ref())
                .and_then(IntExpr::constant),
            Some(3)
        );
        assert_eq!(
            d.links
                .iter()
                .filter(|l| l.kind == LinkKind::EnvFile)
                .count(),
            2
        );
    }

    #[test]
    fn entrypoint_and_command_combine() {
        let text = "services:\n  api:\n    image: plane\n    entrypoint: [\"/docker-entrypoint-api.sh\"]\n    command: [\"gunicorn\", \"-w\", \"2\", \"-k\", \"uvicorn.workers.UvicornWorker\", \"plane.asgi:application\"]\n";
        let d = deploy(text);
        assert_eq!(d.links[0].kind, LinkKind::Script);
        assert_eq!(d.links[0].path, "/docker-entrypoint-api.sh");
        assert_eq!(d.links[0].service.as_deref(), Some("api"));
        let found = compose_invocations(&d, &Environment::new(), &mut no_files);
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0]
                .1
                .settings
                .worker_class
                .as_ref()
                .and_then(|c| c.value.as_deref()),
            Some("uvicorn.workers.UvicornWorker")
        );
    }

    #[test]
    fn a_quoted_scalar_continued_at_its_keys_column_is_read_as_docker_reads_it() {
        let text = "services:\n  web:\n    image: app\n    environment:\n      ALLOWED: \"[a,\n  b]\"\n    command: \"gunicorn app:app\n  --workers 4\"\n";
        let file = SourceFile::new(
            poolcheck_core::FilePath::from("docker-compose.yml"),
            text.to_owned(),
        );
        let mut facts = FileFacts::new(file.path().clone(), FileKind::Compose);
        extract(&file, &mut facts);
        assert!(facts.diagnostics.is_empty(), "{:?}", facts.diagnostics);
        let deploy = facts.deploy.expect("compose facts");
        assert_eq!(deploy.workloads.len(), 1);
        let found = commands::invocations(&deploy, &Environment::new());
        assert_eq!(found.len(), 1);
        let workers = found[0].settings.workers.as_ref().expect("workers");
        assert_eq!(workers.value, Some(IntExpr::Const(4)));
        let at = workers.location.as_ref().expect("location").span;
        assert_eq!(&text[at.start as usize..at.end as usize], "4");
    }

    #[test]
    fn start_first_updates_surge_by_their_parallelism() {
        let facts = run(
            "services:\n  web:\n    deploy:\n      replicas: 4\n      update_config:\n        parallelism: 2\n        order: start-first\n  worker:\n    deploy:\n      update_config:\n        order: stop-first\n",
        );
        let deploy = facts.deploy.expect("deploy facts");
        let web = &deploy.workloads[0];
        assert_eq!(
            web.scaling.surge.as_ref().map(|s| s.rule),
            Some(SurgeRule::Count(2))
        );
        // Stopping first never overlaps old and new containers.
        assert!(deploy.workloads[1].scaling.surge.is_none());
    }

    #[test]
    fn unreadable_yaml_is_reported_not_fatal() {
        let facts = run("services:\n  web:\n    image: [unclosed\n");
        assert_eq!(facts.diagnostics.len(), 1);
        assert_eq!(facts.diagnostics[0].code, "PC004");
        assert!(
            facts.diagnostics[0]
                .message
                .starts_with("cannot read this compose file")
        );
        let facts = run("services:\n  web:\n    image: a\n    image: b\n");
        assert_eq!(facts.diagnostics.len(), 1);
    }

    #[test]
    fn literal_errors_in_commands_are_pc002() {
        let text = "services:\n  web:\n    command: gunicorn --workers lots app\n";
        let facts = run(text);
        assert_eq!(facts.diagnostics.len(), 1);
        assert_eq!(&text[facts.diagnostics[0].primary.span.range()], "lots");
    }

    #[test]
    fn non_ascii_files_keep_exact_spans() {
        let text = "# café ☕\nservices:\n  web:\n    command: gunicorn -w 5 app  # ünïcode\n";
        let d = deploy(text);
        let found = compose_invocations(&d, &Environment::new(), &mut no_files);
        let workers = found[0].1.settings.workers.as_ref();
        assert_eq!(
            workers
                .and_then(|w| w.location.as_ref())
                .map(|l| slice(text, l))
                .as_deref(),
            Some("5")
        );
    }

    #[test]
    fn junk_does_not_panic() {
        for text in [
            "",
            "services: 3",
            "services:\n  - a\n",
            "- 1",
            "services:\n  x:\n    command: {a: b}\n    environment: 5\n",
            "\u{0}\u{1}",
        ] {
            let _ = run(text);
        }
    }
}

#[cfg(test)]
mod depth_tests {
    use super::*;

    #[test]
    fn deeply_nested_yaml_is_reported_not_a_stack_overflow() {
        for (open, close) in [("[", "]"), ("{a: ", "}"), ("- ", "")] {
            // Block sequences grow by their indentation: fewer levels.
            let depth = if open == "- " { 600 } else { 10_000 };
            let nested = if open == "- " {
                (0..depth)
                    .map(|i| format!("{}- ", " ".repeat(2 * i)))
                    .collect::<Vec<_>>()
                    .join("\n")
                    + "x"
            } else {
                format!("{}x{}", open.repeat(depth), close.repeat(depth))
            };
            let text =
                format!("services:\n  web:\n    command: gunicorn app:app\n    labels: {nested}\n");
            let codes = crate::on_small_stack(move || {
                let file = SourceFile::new("docker-compose.yml", text);
                let mut facts =
                    FileFacts::new(file.path().clone(), poolcheck_core::FileKind::Compose);
                extract(&file, &mut facts);
                facts.diagnostics.iter().map(|d| d.code).collect::<Vec<_>>()
            });
            assert!(!codes.is_empty(), "{open}");
        }
    }
}
