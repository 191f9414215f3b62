//! Dockerfiles: the command the final stage runs (`CMD`/`ENTRYPOINT`, exec
//! JSON or shell form) and the environment it declares (`ENV`, `ARG`).
//!
//! Only the last stage runs; it inherits `ENV`, `CMD` and `ENTRYPOINT` from
//! an earlier stage it is built `FROM`. Setting `ENTRYPOINT` in a stage drops
//! a `CMD` inherited from its parent, as Docker does.

use poolcheck_core::facts::deploy::{
    CommandOrigin, CommandSite, DeployFacts, DockerInstruction, EnvEntry, EnvLayer, ImageCopy,
    ImageFiles, ShellWord,
};
use poolcheck_core::{EnvVar, Environment, FileFacts, SourceFile, Span};

use crate::commands;
use crate::shell::{self, OffsetMap, ParsedCommand, Scope};

/// One instruction after line continuations are joined.
struct Logical {
    text: String,
    /// File offset of each byte of `text`, plus the end.
    table: Vec<u32>,
}

impl Logical {
    fn map_from(&self, start: usize) -> OffsetMap {
        OffsetMap::Table(self.table[start.min(self.table.len().saturating_sub(1))..].to_vec())
    }

    fn span(&self, start: usize, end: usize) -> Span {
        let file_start = self.table.get(start).copied().unwrap_or(0) as usize;
        let file_end = if end > start {
            self.table
                .get(end - 1)
                .map_or(file_start, |&o| o as usize + 1)
        } else {
            file_start
        };
        Span::new(file_start, file_end.max(file_start))
    }
}

/// Joins continuation lines (`\` at the end), dropping comment lines inside
/// them, and skips here-document bodies.
fn logical_lines(text: &str) -> Vec<Logical> {
    let mut out = Vec::new();
    let mut current: Option<Logical> = None;
    let mut heredoc: Option<String> = None;
    let mut offset = 0;
    for raw in text.split_inclusive('\n') {
        let start = offset;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        if let Some(delimiter) = &heredoc {
            if line.trim_start_matches('\t') == delimiter {
                heredoc = None;
            }
            continue;
        }
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_none()) {
            continue;
        }
        let logical = current.get_or_insert_with(|| Logical {
            text: String::new(),
            table: Vec::new(),
        });
        let content = line.trim_end();
        let (content, continues) = match content.strip_suffix('\\') {
            Some(body) => (body, true),
            None => (line, false),
        };
        for (i, _) in content.bytes().enumerate() {
            logical.table.push((start + i) as u32);
        }
        logical.text.push_str(content);
        if !continues {
            logical.table.push((start + content.len()) as u32);
            heredoc = heredoc_delimiter(&logical.text);
            if let Some(done) = current.take() {
                out.push(done);
            }
        }
    }
    if let Some(mut last) = current {
        last.table.push(text.len() as u32);
        out.push(last);
    }
    out
}

/// `RUN <<EOF` / `COPY <<-"EOF" /x`: the delimiter whose line ends the body.
fn heredoc_delimiter(instruction: &str) -> Option<String> {
    let at = instruction.find("<<")?;
    let rest = instruction[at + 2..].trim_start_matches('-');
    let rest = rest.trim_start_matches(['"', '\'']);
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

enum Form {
    Exec(Vec<ShellWord>),
    Shell(Vec<ParsedCommand>),
}

struct Instruction {
    form: Form,
    span: Span,
}

#[derive(Default)]
struct Stage {
    name: Option<String>,
    base: String,
    label: String,
    env: Vec<EnvEntry>,
    args: Vec<EnvEntry>,
    cmd: Option<Instruction>,
    entrypoint: Option<Instruction>,
    /// `COPY`/`ADD` from the build context, in order.
    copies: Vec<ImageCopy>,
    /// The `WORKDIR` in effect, absolute (inherited from a parent stage).
    workdir: Option<String>,
}

pub fn extract(file: &SourceFile, facts: &mut FileFacts) {
    let mut stages: Vec<Stage> = Vec::new();
    for logical in logical_lines(file.text()) {
        let text = logical.text.as_str();
        let keyword_start = text.len() - text.trim_start().len();
        let keyword_end = text[keyword_start..]
            .find(char::is_whitespace)
            .map_or(text.len(), |i| keyword_start + i);
        let keyword = text[keyword_start..keyword_end].to_ascii_uppercase();
        let args_start =
            keyword_end + (text[keyword_end..].len() - text[keyword_end..].trim_start().len());
        let args = &text[args_start..];
        match keyword.as_str() {
            "FROM" => {
                let words: Vec<&str> = args
                    .split_whitespace()
                    .filter(|w| !w.starts_with("--"))
                    .collect();
                let name = match words.as_slice() {
                    [_, as_kw, name, ..] if as_kw.eq_ignore_ascii_case("as") => {
                        Some((*name).to_owned())
                    }
                    _ => None,
                };
                let label = name.clone().unwrap_or_else(|| stages.len().to_string());
                let base = words.first().map(|w| (*w).to_owned()).unwrap_or_default();
                // A stage built from an earlier one starts in its WORKDIR.
                let workdir = stages
                    .iter()
                    .rev()
                    .find(|s| {
                        s.name
                            .as_deref()
                            .is_some_and(|n| n.eq_ignore_ascii_case(&base))
                    })
                    .and_then(|s| s.workdir.clone());
                stages.push(Stage {
                    name,
                    base,
                    label,
                    workdir,
                    ..Stage::default()
                });
            }
            "WORKDIR" => {
                if let Some(stage) = stages.last_mut() {
                    let written = args.trim();
                    stage.workdir = (!written.is_empty() && !written.contains('$'))
                        .then(|| in_container(stage.workdir.as_deref(), written));
                }
            }
            "COPY" | "ADD" => {
                if let Some(current) = stages.len().checked_sub(1) {
                    let location =
                        file.location(logical.span(keyword_start, text.trim_end().len()));
                    let copies = match image_copy(
                        args,
                        keyword == "ADD",
                        stages[current].workdir.as_deref(),
                        location,
                    ) {
                        Some(Copied::FromContext(copy)) => vec![copy],
                        Some(Copied::FromStage { stage, copy }) => {
                            from_stage(&stages[..current], &stage, &copy)
                        }
                        None => Vec::new(),
                    };
                    stages[current].copies.extend(copies);
                }
            }
            "ENV" | "ARG" | "CMD" | "ENTRYPOINT" => {
                if stages.is_empty() {
                    // Global ARGs before the first FROM only parametrise FROM lines.
                    continue;
                }
                let stage_index = stages.len() - 1;
                let map = logical.map_from(args_start);
                match keyword.as_str() {
                    "ENV" | "ARG" => {
                        let visible = visible_env(&stages, stage_index);
                        let entries = parse_env(file, args, &map, &visible, keyword == "ARG");
                        let stage = &mut stages[stage_index];
                        if keyword == "ENV" {
                            stage.env.extend(entries);
                        } else {
                            stage.args.extend(entries);
                        }
                    }
                    _ => {
                        let instruction = Instruction {
                            form: parse_command(args, &map, &logical, args_start),
                            span: logical.span(keyword_start, text.trim_end().len()),
                        };
                        let stage = &mut stages[stage_index];
                        if keyword == "CMD" {
                            stage.cmd = Some(instruction);
                        } else {
                            stage.entrypoint = Some(instruction);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let mut deploy = DeployFacts::default();
    if let Some(last) = stages.len().checked_sub(1) {
        let chain = stage_chain(&stages, last);
        let mut args_layer = Vec::new();
        let mut env_layer = Vec::new();
        for &i in chain.iter().rev() {
            args_layer.extend(stages[i].args.iter().cloned());
            env_layer.extend(stages[i].env.iter().cloned());
        }
        if !args_layer.is_empty() {
            deploy.env_layers.push(EnvLayer {
                source: "Dockerfile ARG".to_owned(),
                entries: args_layer,
            });
        }
        if !env_layer.is_empty() {
            deploy.env_layers.push(EnvLayer {
                source: "Dockerfile ENV".to_owned(),
                entries: env_layer,
            });
        }
        let mut image = ImageFiles {
            copies: Vec::new(),
            workdir: stages[last].workdir.clone(),
        };
        for &i in chain.iter().rev() {
            image.copies.extend(stages[i].copies.iter().cloned());
        }
        if !image.copies.is_empty() || image.workdir.is_some() {
            deploy.image_files = Some(image);
        }
        let (entrypoint, cmd) = effective_commands(&stages, &chain);
        let label = stages[last].label.clone();
        deploy.commands = sites(file, entrypoint, cmd, &label);
        for site in &deploy.commands {
            commands::check_site(site, None, &mut facts.diagnostics, &mut deploy.links);
        }
    }
    facts.deploy = Some(deploy);
}

/// A path inside the image, absolute against the working directory.
fn in_container(workdir: Option<&str>, written: &str) -> String {
    let written = written.trim_matches('"');
    let joined = if written.starts_with('/') {
        written.to_owned()
    } else {
        format!("{}/{written}", workdir.unwrap_or("").trim_end_matches('/'))
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

/// What one `COPY`/`ADD` puts into the image.
enum Copied {
    /// Files of the build context.
    FromContext(ImageCopy),
    /// `--from=<stage>`: paths inside an earlier stage (sources absolute).
    FromStage { stage: String, copy: ImageCopy },
}

/// `COPY [--chown=…] [--from=stage] src… dest` (shell or JSON form);
/// `None` for what names no repository file for sure (another image, URLs,
/// here-documents, variables).
fn image_copy(
    args: &str,
    is_add: bool,
    workdir: Option<&str>,
    location: poolcheck_core::Location,
) -> Option<Copied> {
    let mut words: Vec<String> = Vec::new();
    let mut rest = args.trim();
    let mut from = None;
    while let Some(flag) = rest.strip_prefix("--") {
        let end = flag.find(char::is_whitespace).unwrap_or(flag.len());
        if let Some(stage) = flag[..end].strip_prefix("from=") {
            from = Some(stage.to_owned());
        }
        rest = flag[end..].trim_start();
    }
    if rest.starts_with('[') {
        words.extend(
            json_string_array(rest)?
                .into_iter()
                .map(|(value, ..)| value),
        );
    } else {
        words.extend(rest.split_whitespace().map(str::to_owned));
    }
    if words.len() < 2 || words.iter().any(|w| w.contains('$') || w.starts_with("<<")) {
        return None;
    }
    let dest = words.pop()?;
    if is_add
        && words
            .iter()
            .any(|w| w.contains("://") || w.starts_with("git@"))
    {
        return None;
    }
    let into_directory =
        words.len() > 1 || dest.ends_with('/') || dest == "." || dest.ends_with("/.");
    let mut copy = ImageCopy {
        sources: words,
        dest: in_container(workdir, &dest),
        into_directory,
        location,
    };
    match from {
        None => Some(Copied::FromContext(copy)),
        Some(stage) => {
            // Paths in another stage are read from its root.
            for source in &mut copy.sources {
                *source = in_container(None, source);
            }
            Some(Copied::FromStage { stage, copy })
        }
    }
}

/// `COPY --from=builder /opt/app/ /opt/app/`: the build-context files the
/// named earlier stage holds under the copied paths, at their new place.
/// A stage of another image (`--from=nginx:1.27`) holds none.
fn from_stage(earlier: &[Stage], name: &str, copy: &ImageCopy) -> Vec<ImageCopy> {
    let Some(index) = earlier
        .iter()
        .rposition(|s| {
            s.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .or_else(|| name.parse::<usize>().ok().filter(|i| *i < earlier.len()))
    else {
        return Vec::new();
    };
    let within = |path: &str, dir: &str| -> Option<String> {
        let rest = path.strip_prefix(dir)?;
        match rest.strip_prefix('/') {
            Some(rest) => Some(rest.to_owned()),
            None if rest.is_empty() => Some(String::new()),
            None if dir == "/" => Some(rest.to_owned()),
            None => None,
        }
    };
    let join = |dir: &str, rest: &str| {
        if rest.is_empty() {
            dir.to_owned()
        } else {
            format!("{}/{rest}", dir.trim_end_matches('/'))
        }
    };
    let mut out = Vec::new();
    for &stage in stage_chain(earlier, index).iter().rev() {
        for held in &earlier[stage].copies {
            for source in &copy.sources {
                // Something copied inside the copied directory moves with it.
                if let Some(rest) = within(&held.dest, source) {
                    out.push(ImageCopy {
                        dest: join(&copy.dest, &rest),
                        location: copy.location.clone(),
                        ..held.clone()
                    });
                // A path inside what the stage copied from the context.
                } else if let Some(rest) = within(source, &held.dest) {
                    out.push(ImageCopy {
                        sources: held.sources.iter().map(|s| join(s, &rest)).collect(),
                        dest: copy.dest.clone(),
                        into_directory: copy.into_directory,
                        location: copy.location.clone(),
                    });
                }
            }
        }
    }
    out
}

/// The stage and the earlier stages it is built from, nearest first.
fn stage_chain(stages: &[Stage], index: usize) -> Vec<usize> {
    let mut chain = vec![index];
    let mut current = index;
    while chain.len() <= stages.len() {
        let base = &stages[current].base;
        let parent = stages[..current].iter().rposition(|s| {
            s.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(base))
        });
        match parent {
            Some(p) => {
                chain.push(p);
                current = p;
            }
            None => break,
        }
    }
    chain
}

fn effective_commands<'a>(
    stages: &'a [Stage],
    chain: &[usize],
) -> (Option<&'a Instruction>, Option<&'a Instruction>) {
    let entrypoint_at = chain.iter().position(|&i| stages[i].entrypoint.is_some());
    let cmd_at = chain.iter().position(|&i| stages[i].cmd.is_some());
    let entrypoint = entrypoint_at.and_then(|at| stages[chain[at]].entrypoint.as_ref());
    let cmd = match (cmd_at, entrypoint_at) {
        // An ENTRYPOINT set closer to the final stage than the CMD resets it.
        (Some(c), Some(e)) if e < c => None,
        (Some(c), _) => stages[chain[c]].cmd.as_ref(),
        (None, _) => None,
    };
    (entrypoint, cmd)
}

fn visible_env(stages: &[Stage], index: usize) -> Environment {
    let mut env = Environment::new();
    for &i in stage_chain(stages, index).iter().rev() {
        for entry in stages[i].args.iter().chain(&stages[i].env) {
            env.set(
                entry.name.clone(),
                EnvVar {
                    value: entry.value.clone(),
                    source: "Dockerfile".to_owned(),
                    location: Some(entry.value_location.clone()),
                },
            );
        }
    }
    env
}

/// `ENV A=1 B="two words"`, legacy `ENV A value with spaces`, `ARG A=1`.
fn parse_env(
    file: &SourceFile,
    args: &str,
    map: &OffsetMap,
    visible: &Environment,
    is_arg: bool,
) -> Vec<EnvEntry> {
    let mut entries = Vec::new();
    let commands = shell::parse_script(args, map);
    let Some(command) = commands.first() else {
        return entries;
    };
    if command.assignments.is_empty() && !is_arg {
        // Legacy `ENV NAME value…`: the rest of the line is the value.
        let Some(name_word) = command.words.first() else {
            return entries;
        };
        let Some(name) = name_word.literal_text() else {
            return entries;
        };
        let value_words = &command.words[1..];
        let value: Vec<String> = value_words
            .iter()
            .filter_map(ShellWord::literal_text)
            .collect();
        let span = value_words
            .iter()
            .map(|w| w.span)
            .reduce(Span::cover)
            .unwrap_or(Span::empty(name_word.span.end as usize));
        entries.push(EnvEntry {
            name,
            value: value.join(" "),
            name_location: file.location(name_word.span),
            value_location: file.location(span),
        });
        return entries;
    }
    let mut env = visible.clone();
    for assignment in &command.assignments {
        let expanded = shell::expand_joined(&assignment.value, Scope::new(&env, &[]));
        let value = if expanded.is_known() {
            expanded.text()
        } else {
            assignment.value.to_string()
        };
        let name_span = Span::new(
            assignment.span.start as usize,
            assignment.span.start as usize + assignment.name.len(),
        );
        let entry = EnvEntry {
            name: assignment.name.clone(),
            value,
            name_location: file.location(name_span),
            value_location: file.location(literal_value_span(&assignment.value)),
        };
        env.set(
            entry.name.clone(),
            EnvVar {
                value: entry.value.clone(),
                source: "Dockerfile".to_owned(),
                location: Some(entry.value_location.clone()),
            },
        );
        entries.push(entry);
    }
    entries
}

/// The span of a value without its quotes.
fn literal_value_span(word: &ShellWord) -> Span {
    use poolcheck_core::facts::deploy::WordPart;
    word.parts
        .iter()
        .map(|p| match p {
            WordPart::Literal { span, .. }
            | WordPart::Var { span, .. }
            | WordPart::Unknown { span, .. } => *span,
        })
        .reduce(Span::cover)
        .unwrap_or(word.span)
}

fn parse_command(args: &str, map: &OffsetMap, logical: &Logical, args_start: usize) -> Form {
    if args.trim_start().starts_with('[')
        && let Some(items) = json_string_array(args)
    {
        let words = items
            .into_iter()
            .map(|(value, start, end, exact)| {
                if exact {
                    shell::literal_word(&value, &logical.map_from(args_start + start))
                } else {
                    let span = logical.span(args_start + start, args_start + end);
                    shell::literal_word(
                        &value,
                        &OffsetMap::Table(vec![span.start; value.len() + 1]),
                    )
                }
            })
            .collect();
        return Form::Exec(words);
    }
    Form::Shell(shell::parse_script(args, map))
}

/// A JSON array of strings with the byte range of each string's contents,
/// and whether the decoded text equals the raw text. `None` when the text is
/// not such an array (Docker then runs it in shell form).
fn json_string_array(text: &str) -> Option<Vec<(String, usize, usize, bool)>> {
    let bytes = text.as_bytes();
    let mut i = text.find('[')? + 1;
    let mut items = Vec::new();
    let skip_ws = |i: &mut usize| {
        while bytes.get(*i).is_some_and(u8::is_ascii_whitespace) {
            *i += 1;
        }
    };
    skip_ws(&mut i);
    if bytes.get(i) == Some(&b']') {
        return text[i + 1..].trim().is_empty().then_some(items);
    }
    loop {
        skip_ws(&mut i);
        if bytes.get(i) != Some(&b'"') {
            return None;
        }
        let start = i + 1;
        let mut j = start;
        let mut exact = true;
        while let Some(&b) = bytes.get(j) {
            match b {
                b'\\' => {
                    exact = false;
                    j += 2;
                }
                b'"' => break,
                _ => j += 1,
            }
        }
        if j >= bytes.len() {
            return None;
        }
        let raw = &text[start..j];
        let value = if exact {
            raw.to_owned()
        } else {
            serde_json::from_str::<String>(&text[start - 1..=j]).ok()?
        };
        items.push((value, start, j, exact));
        i = j + 1;
        skip_ws(&mut i);
        match bytes.get(i) {
            Some(b',') => i += 1,
            Some(b']') => {
                return text[i + 1..].trim().is_empty().then_some(items);
            }
            _ => return None,
        }
    }
}

fn sites(
    file: &SourceFile,
    entrypoint: Option<&Instruction>,
    cmd: Option<&Instruction>,
    stage: &str,
) -> Vec<CommandSite> {
    let site = |instruction: DockerInstruction, span: Span, command: &ParsedCommand| CommandSite {
        location: file.location(span),
        origin: CommandOrigin::Dockerfile {
            instruction,
            stage: stage.to_owned(),
        },
        name_hint: None,
        words: command.words.clone(),
        assignments: command
            .assignments
            .iter()
            .map(|a| a.located(file.path()))
            .collect(),
    };
    let exec_site =
        |instruction: DockerInstruction, span: Span, words: Vec<ShellWord>| CommandSite {
            location: file.location(span),
            origin: CommandOrigin::Dockerfile {
                instruction,
                stage: stage.to_owned(),
            },
            name_hint: None,
            words,
            assignments: Vec::new(),
        };
    let shell_sites = |instruction: DockerInstruction, commands: &[ParsedCommand]| {
        commands
            .iter()
            .filter(|c| !c.words.is_empty())
            .map(|c| site(instruction, c.span, c))
            .collect::<Vec<_>>()
    };
    match (entrypoint, cmd) {
        (Some(ep), cmd) => match &ep.form {
            Form::Shell(commands) => shell_sites(DockerInstruction::Entrypoint, commands),
            Form::Exec(words) => {
                let mut all = words.clone();
                let mut span = ep.span;
                if let Some(cmd) = cmd {
                    span = span.cover(cmd.span);
                    match &cmd.form {
                        Form::Exec(more) => all.extend(more.iter().cloned()),
                        Form::Shell(commands) => {
                            if let Some(first) = commands.iter().find(|c| !c.words.is_empty()) {
                                all.extend(first.words.iter().cloned());
                            }
                        }
                    }
                }
                if all.is_empty() {
                    Vec::new()
                } else {
                    vec![exec_site(DockerInstruction::Entrypoint, span, all)]
                }
            }
        },
        (None, Some(cmd)) => match &cmd.form {
            Form::Shell(commands) => shell_sites(DockerInstruction::Cmd, commands),
            Form::Exec(words) if !words.is_empty() => {
                let span = words
                    .iter()
                    .map(|w| w.span)
                    .reduce(Span::cover)
                    .unwrap_or(cmd.span);
                vec![exec_site(DockerInstruction::Cmd, span, words.clone())]
            }
            Form::Exec(_) => Vec::new(),
        },
        (None, None) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poolcheck_core::facts::deploy::LinkKind;
    use poolcheck_core::facts::process::ServerKind;
    use poolcheck_core::{FileKind, IntExpr};

    fn run(text: &str) -> FileFacts {
        let file = SourceFile::new("Dockerfile", text);
        let mut facts = FileFacts::new(file.path().clone(), FileKind::Dockerfile);
        extract(&file, &mut facts);
        facts
    }

    fn workers(facts: &FileFacts, env: &Environment) -> (ServerKind, Option<i64>, Span) {
        let deploy = facts.deploy.clone().unwrap_or_default();
        let found = commands::invocations(&deploy, env);
        assert_eq!(found.len(), 1, "{found:?}");
        let w = found[0].settings.workers.as_ref();
        (
            found[0].kind,
            w.and_then(|w| w.value.as_ref()).and_then(IntExpr::constant),
            w.and_then(|w| w.location.as_ref())
                .map(|l| l.span)
                .unwrap_or_default(),
        )
    }

    #[test]
    fn shell_form_cmd() {
        let text = "FROM python:3.12\nCMD gunicorn shop.wsgi:application --workers 4\n";
        let (kind, count, span) = workers(&run(text), &Environment::new());
        assert_eq!(kind, ServerKind::Gunicorn);
        assert_eq!(count, Some(4));
        assert_eq!(&text[span.range()], "4");
    }

    #[test]
    fn exec_form_cmd() {
        let text = "FROM python:3.12\nCMD [\"gunicorn\", \"shop.wsgi:application\", \"--workers\", \"4\"]\n";
        let (_, count, span) = workers(&run(text), &Environment::new());
        assert_eq!(count, Some(4));
        assert_eq!(&text[span.range()], "4");
    }

    #[test]
    fn last_stage_wins_and_continuations_join() {
        let text = "FROM python:3.12 AS build\nCMD [\"gunicorn\", \"-w\", \"9\", \"x\"]\n\nFROM python:3.12-slim AS runtime\n# comment\nENV WEB_CONCURRENCY=3 \\\n    PYTHONUNBUFFERED=1\nCMD uvicorn app.main:app \\\n    # an inline comment line\n    --host 0.0.0.0 \\\n    --limit-concurrency 20\n";
        let facts = run(text);
        let deploy = facts.deploy.clone().unwrap_or_default();
        let layer = &deploy.env_layers[0];
        assert_eq!(layer.source, "Dockerfile ENV");
        let names: Vec<&str> = layer.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["WEB_CONCURRENCY", "PYTHONUNBUFFERED"]);
        assert_eq!(&text[layer.entries[0].value_location.span.range()], "3");
        let mut env = Environment::new();
        for entry in &layer.entries {
            env.set(
                entry.name.clone(),
                EnvVar {
                    value: entry.value.clone(),
                    source: layer.source.clone(),
                    location: Some(entry.value_location.clone()),
                },
            );
        }
        let found = commands::invocations(&deploy, &env);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, ServerKind::Uvicorn);
        let limit = found[0].settings.limit_concurrency.as_ref();
        assert_eq!(
            limit
                .and_then(|l| l.value.as_ref())
                .and_then(IntExpr::constant),
            Some(20)
        );
        let span = limit
            .and_then(|l| l.location.as_ref())
            .map(|l| l.span)
            .unwrap_or_default();
        assert_eq!(&text[span.range()], "20");
        let w = found[0].settings.workers.as_ref();
        assert_eq!(
            w.and_then(|w| w.value.as_ref()).and_then(IntExpr::constant),
            Some(3)
        );
    }

    #[test]
    fn cmd_is_inherited_from_the_parent_stage() {
        let text = "FROM python AS base\nCMD [\"celery\", \"-A\", \"app\", \"worker\", \"-c\", \"5\"]\nFROM base\nENV X=1\n";
        let deploy = run(text).deploy.unwrap_or_default();
        let found = commands::invocations(&deploy, &Environment::new());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, ServerKind::Celery);
    }

    #[test]
    fn entrypoint_script_is_linked_and_cmd_follows_it() {
        let text = "FROM python\nENTRYPOINT [\"/entrypoint.sh\"]\nCMD [\"gunicorn\", \"-w\", \"2\", \"app:app\"]\n";
        let facts = run(text);
        let deploy = facts.deploy.clone().unwrap_or_default();
        assert_eq!(deploy.links.len(), 1);
        assert_eq!(deploy.links[0].kind, LinkKind::Script);
        assert_eq!(deploy.links[0].path, "/entrypoint.sh");
        assert_eq!(
            &text[deploy.links[0].location.span.range()],
            "/entrypoint.sh"
        );
        let (kind, count, _) = workers(&facts, &Environment::new());
        assert_eq!((kind, count), (ServerKind::Gunicorn, Some(2)));
    }

    #[test]
    fn arg_defaults_and_env_substitution() {
        let text = "FROM python\nARG WORKERS=6\nENV GUNICORN_WORKERS=${WORKERS} MODE=\"web app\"\nENV LEGACY some value\n";
        let deploy = run(text).deploy.unwrap_or_default();
        assert_eq!(deploy.env_layers[0].source, "Dockerfile ARG");
        assert_eq!(deploy.env_layers[0].entries[0].value, "6");
        let env = &deploy.env_layers[1].entries;
        let pairs: Vec<(&str, &str)> = env
            .iter()
            .map(|e| (e.name.as_str(), e.value.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("GUNICORN_WORKERS", "6"),
                ("MODE", "web app"),
                ("LEGACY", "some value")
            ]
        );
        assert_eq!(&text[env[1].value_location.span.range()], "web app");
    }

    #[test]
    fn heredoc_bodies_are_skipped() {
        let text =
            "FROM python\nRUN <<EOF\nCMD gunicorn -w 99 x\nEOF\nCMD [\"uvicorn\", \"m:app\"]\n";
        let deploy = run(text).deploy.unwrap_or_default();
        let found = commands::invocations(&deploy, &Environment::new());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, ServerKind::Uvicorn);
    }

    #[test]
    fn copies_and_workdir_of_the_stages_that_run_are_recorded() {
        let facts = run(concat!(
            "FROM python AS base\n",
            "WORKDIR /srv/app\n",
            "COPY requirements.txt ./\n",
            "FROM node AS assets\n",
            "COPY . /assets\n",
            "FROM base\n",
            "COPY --from=assets /assets/dist ./static/\n",
            "COPY --from=nginx:1.27 /etc/nginx /etc/nginx\n",
            "COPY --chown=app:app . .\n",
            "ADD https://example.com/x.tgz /tmp/\n",
            "COPY [\"conf/uwsgi.ini\", \"/etc/uwsgi/\"]\n",
            "COPY $CONFIG /etc/app.conf\n",
            "WORKDIR deploy\n",
            "CMD [\"uwsgi\", \"--ini\", \"uwsgi.ini\"]\n",
        ));
        let image = facts
            .deploy
            .as_ref()
            .and_then(|d| d.image_files.clone())
            .expect("image files");
        let copies: Vec<(Vec<String>, String, bool)> = image
            .copies
            .iter()
            .map(|c| (c.sources.clone(), c.dest.clone(), c.into_directory))
            .collect();
        let copy = |source: &str, dest: &str| (vec![source.to_owned()], dest.to_owned(), true);
        assert_eq!(
            copies,
            vec![
                copy("requirements.txt", "/srv/app"),
                copy("./dist", "/srv/app/static"),
                copy(".", "/srv/app"),
                copy("conf/uwsgi.ini", "/etc/uwsgi"),
            ]
        );
        assert_eq!(image.workdir.as_deref(), Some("/srv/app/deploy"));
    }

    #[test]
    fn junk_does_not_panic() {
        for text in [
            "CMD",
            "FROM",
            "FROM x\nCMD [\"a\", ",
            "FROM x\nENV",
            "FROM x\nCMD \\",
            "\\\n\\",
        ] {
            let _ = run(text);
        }
    }
}
