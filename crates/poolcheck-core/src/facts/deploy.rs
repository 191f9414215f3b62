//! Deployment files: command lines (Procfile, Dockerfile, compose, shell
//! scripts), compose services, `.env` files and uwsgi configs.
//! Filled in by the deployment front-ends.
//!
//! Commands are kept *unexpanded* (`--workers ${WORKERS:-4}` stays a word with
//! a variable part) because the same command runs with a different environment
//! in each service; the rules crate expands them once it knows the environment.

use std::fmt;

use crate::facts::ConfigEntry;
use crate::source::{Location, Span};

/// What one deployment file declares.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeployFacts {
    /// Every command that may start a process, in file order.
    pub commands: Vec<CommandSite>,
    /// Environment declared by this file (`.env`, Dockerfile `ENV`/`ARG`).
    pub env_layers: Vec<EnvLayer>,
    /// Workloads the file declares (compose services, Kubernetes
    /// Deployments, StatefulSets…), in file order.
    pub workloads: Vec<Workload>,
    /// Autoscalers (Kubernetes HPA, KEDA ScaledObject) and the workload
    /// each scales, matched by name across files by the rules crate.
    pub autoscalers: Vec<Autoscaler>,
    /// Named sets of variables a workload may import (Kubernetes
    /// ConfigMaps), looked up across files.
    pub config_maps: Vec<EnvLayer>,
    /// A `kustomization.yaml`: what it includes and the replicas it sets.
    pub kustomization: Option<Kustomization>,
    /// Replica counts of workload objects without a pod template: the
    /// strategic-merge patches a kustomization applies.
    pub patch_replicas: Vec<ReplicaOverride>,
    /// Other files this one names, for the rules crate to resolve.
    pub links: Vec<LinkedFile>,
    /// The `[uwsgi]` section of a uwsgi INI file.
    pub uwsgi: Option<UwsgiConfig>,
    /// supervisord `[program:x]` sections, in file order.
    pub supervisord_programs: Vec<SupervisordProgram>,
    /// What a Dockerfile's final stage copies into its image and where its
    /// command runs, to map paths inside the container back to the
    /// repository.
    pub image_files: Option<ImageFiles>,
}

/// The files of a built image that come from the build context: `COPY` and
/// `ADD` of the final stage and the stages it is built `FROM`, in order,
/// and the `WORKDIR` the command runs in.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImageFiles {
    pub copies: Vec<ImageCopy>,
    /// The last `WORKDIR`, absolute; `None` when none is set (`/`).
    pub workdir: Option<String>,
}

/// `COPY src… dest` / `ADD src… dest` from the build context, `dest` made
/// absolute against the `WORKDIR` in effect. Copies from another stage or
/// image (`--from`), URLs, here-documents and paths with variables are left
/// out: they name no file of the repository poolcheck can be sure of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageCopy {
    /// Source paths relative to the build context, as written.
    pub sources: Vec<String>,
    pub dest: String,
    /// `dest` is a directory the sources go into (it ends with `/`, is the
    /// working directory `.`, or several sources are copied).
    pub into_directory: bool,
    pub location: Location,
}

/// One supervisord `[program:x]`: `numprocs` copies of its command, each with
/// the program's `environment`.
#[derive(Debug, Clone, PartialEq)]
pub struct SupervisordProgram {
    pub name: String,
    /// The section header.
    pub location: Location,
    /// Indices into [`DeployFacts::commands`] of its `command`.
    pub commands: Vec<usize>,
    /// `numprocs` (default 1): literal, or unknown when not a whole number.
    pub numprocs: Option<(i64, Location)>,
    /// `numprocs=%(ENV_NAME)s`: the variable supervisord expands from its
    /// own environment when it starts, with the value as written.
    pub numprocs_variable: Option<NumprocsVariable>,
    /// `environment=KEY="value",…`.
    pub environment: EnvLayer,
    /// `directory`: where the command runs.
    pub directory: Option<String>,
}

/// A supervisord `numprocs` written as `%(ENV_NAME)s`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumprocsVariable {
    /// `NAME`, without the `ENV_` prefix.
    pub name: String,
    /// The value as written (`%(ENV_NAME)s`).
    pub written: String,
    pub location: Location,
}

/// One simple command (`gunicorn app:app -w 4`) as written, unexpanded.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandSite {
    /// The whole command, from its first word to its last.
    pub location: Location,
    pub origin: CommandOrigin,
    /// Compose service key or Procfile process type.
    pub name_hint: Option<String>,
    /// The words after the assignments, unexpanded.
    pub words: Vec<ShellWord>,
    /// Variables assigned before the command in the same script, and the
    /// command's own `VAR=x cmd` prefixes, in order (later ones win). A later
    /// `$VAR` expands to these words rather than to the environment, so
    /// `W="${W:-3}"` makes `$W` mean "the environment's W, else 3".
    pub assignments: Vec<ShellAssignment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandOrigin {
    Procfile {
        process_type: String,
    },
    Dockerfile {
        /// `CMD`, or `ENTRYPOINT` followed by the `CMD` it receives.
        instruction: DockerInstruction,
        /// The last stage's name or index (`FROM … AS runtime`).
        stage: String,
    },
    Compose {
        service: String,
        /// True when the words come from `entrypoint:` (with `command:`
        /// appended when both are set).
        entrypoint: bool,
    },
    /// A supervisord `[program:x]` command.
    Supervisord {
        program: String,
    },
    /// A container of a Kubernetes workload (`command:` then `args:`).
    Kubernetes {
        workload: String,
        container: String,
    },
    /// A shell script, with the function the command sits in, if any.
    Script {
        function: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DockerInstruction {
    Cmd,
    Entrypoint,
}

/// `NAME=value` before a command or on a line of its own.
#[derive(Debug, Clone, PartialEq)]
pub struct ShellAssignment {
    pub name: String,
    pub value: ShellWord,
    /// The whole `NAME=value` text.
    pub location: Location,
}

/// One shell word, unexpanded: quoting is resolved, expansions are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellWord {
    pub parts: Vec<WordPart>,
    /// The word in the file, quotes included.
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WordPart {
    /// Text taken as is. `exact` is true when `text` is byte for byte the text
    /// at `span` (no quote or escape was removed), so sub-spans can be computed.
    Literal {
        text: String,
        span: Span,
        quoted: bool,
        exact: bool,
    },
    /// `$NAME`, `${NAME}`, `${NAME:-default}`…
    Var {
        name: String,
        op: Option<VarOp>,
        span: Span,
        /// Inside double quotes: the expansion is not split into fields.
        quoted: bool,
    },
    /// Something poolcheck does not evaluate: `$(…)`, backticks, `$1`, `$@`,
    /// `${#NAME}`, `${NAME%…}`.
    Unknown {
        text: String,
        span: Span,
        quoted: bool,
    },
}

/// The operator of a `${NAME<op>word}` expansion and its word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarOp {
    pub kind: VarOpKind,
    /// `:-` rather than `-`: an empty value counts as unset.
    pub colon: bool,
    pub word: Vec<WordPart>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarOpKind {
    /// `${NAME:-word}` / `${NAME-word}` (and `:=`, which behaves the same for us).
    Default,
    /// `${NAME:+word}`
    Alternative,
    /// `${NAME:?message}`
    Required,
}

impl ShellWord {
    /// True when no part needs the environment.
    pub fn is_literal(&self) -> bool {
        self.parts
            .iter()
            .all(|p| matches!(p, WordPart::Literal { .. }))
    }

    /// The literal text when the word is all literal.
    pub fn literal_text(&self) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                WordPart::Literal { text, .. } => out.push_str(text),
                _ => return None,
            }
        }
        Some(out)
    }
}

/// Renders the word back in shell syntax (`--bind=0.0.0.0:${PORT:-8000}`), for
/// messages and `Origin::Computed` expressions.
impl fmt::Display for ShellWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_parts(f, &self.parts)
    }
}

fn write_parts(f: &mut fmt::Formatter<'_>, parts: &[WordPart]) -> fmt::Result {
    for part in parts {
        match part {
            WordPart::Literal { text, .. } | WordPart::Unknown { text, .. } => f.write_str(text)?,
            WordPart::Var { name, op, .. } => match op {
                None => write!(f, "${{{name}}}")?,
                Some(op) => {
                    let symbol = match op.kind {
                        VarOpKind::Default => '-',
                        VarOpKind::Alternative => '+',
                        VarOpKind::Required => '?',
                    };
                    write!(f, "${{{name}{}{symbol}", if op.colon { ":" } else { "" })?;
                    write_parts(f, &op.word)?;
                    f.write_str("}")?;
                }
            },
        }
    }
    Ok(())
}

/// Variables a file declares for the processes it configures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvLayer {
    /// For messages: `.env`, `Dockerfile ENV`, `Dockerfile ARG`.
    pub source: String,
    pub entries: Vec<EnvEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvEntry {
    pub name: String,
    pub value: String,
    pub name_location: Location,
    /// The value's text (inside quotes); empty at the end of `NAME=`.
    pub value_location: Location,
}

/// The platform that runs a [`Workload`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Platform {
    Compose,
    Kubernetes,
}

/// A group of identical containers a platform runs: a compose service or a
/// Kubernetes workload (Deployment, StatefulSet, DaemonSet, Job, CronJob).
/// Platform-neutral so that the rules crate builds services from both alike.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    pub platform: Platform,
    /// The compose service key (also its host name on the compose network)
    /// or the Kubernetes `metadata.name`.
    pub name: String,
    pub name_location: Location,
    pub image: Option<ComposeImage>,
    /// `build:` (string or `context`/`dockerfile`), to link the Dockerfile.
    pub build: Option<ComposeBuild>,
    /// Indices into [`DeployFacts::commands`] of the service's command (one
    /// per simple command of a string `command:`), when it has `command:` or
    /// `entrypoint:`. Empty when the image's or Dockerfile's command runs.
    pub commands: Vec<usize>,
    /// `environment:` entries in file order, values unexpanded (compose
    /// interpolates `${VAR:-default}` from the project environment).
    pub environment: Vec<ComposeEnvEntry>,
    /// `env_file:` paths as written (relative to the compose file).
    pub env_files: Vec<ComposeEnvFile>,
    /// How many replicas run, steadily and during a rollout.
    pub scaling: Scaling,
    /// More host names for this workload: compose `networks.<net>.aliases`,
    /// Kubernetes Services selecting its pods.
    pub aliases: Vec<String>,
}

/// The replica count and rollout behaviour a workload declares.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scaling {
    /// compose `deploy.replicas`/`scale`, Kubernetes `spec.replicas` (or
    /// a Job's `parallelism`), unexpanded.
    pub replicas: Option<ShellWord>,
    /// Extra replicas started beside the old ones during an update.
    /// `None` when the platform does not surge.
    pub surge: Option<Surge>,
    /// Why the replica count is not in any file (a DaemonSet runs one pod
    /// per node), with where that is said.
    pub unknown_replicas: Option<(String, Location)>,
    /// The Kubernetes kind, for messages (`Deployment`); empty for compose.
    pub kind: String,
    /// Where the replica count was really written when that is another file
    /// than the workload's (a Helm chart's values file).
    pub replicas_origin: Option<Location>,
}

/// How many extra replicas a rolling update starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Surge {
    pub rule: SurgeRule,
    /// The `maxSurge:` value or the `strategy:`; `None` for the platform default.
    pub location: Option<Location>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SurgeRule {
    Count(i64),
    /// A percentage of the replicas, rounded up (Kubernetes `maxSurge: 25%`).
    Percent(i64),
}

impl SurgeRule {
    /// The extra replicas for `replicas` replicas.
    pub fn extra(self, replicas: i64) -> i64 {
        match self {
            SurgeRule::Count(n) => n.max(0),
            SurgeRule::Percent(p) => (replicas.max(0) * p.max(0) + 99) / 100,
        }
    }
}

/// A kustomize overlay or base.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Kustomization {
    /// `resources:` (and the older `bases:`) as written, relative to the
    /// kustomization's directory: manifest files or directories holding a
    /// kustomization.
    pub resources: Vec<String>,
    /// Patch files (`patches: - path:`, `patchesStrategicMerge:`), which
    /// describe changes, not workloads of their own.
    pub patch_files: Vec<String>,
    /// Replica counts set by `replicas:` and by patches, in file order.
    pub replicas: Vec<ReplicaOverride>,
}

/// A replica count a kustomization sets for a workload by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaOverride {
    pub name: String,
    pub count: i64,
    pub location: Location,
}

/// An autoscaler that sets a workload's replica count between bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Autoscaler {
    /// `HorizontalPodAutoscaler` or `ScaledObject`.
    pub kind: String,
    pub name: String,
    /// The kind and name of the workload it scales.
    pub target_kind: String,
    pub target: String,
    pub min: Option<i64>,
    pub max: i64,
    /// The `maxReplicas:`/`maxReplicaCount:` value, or the object when the
    /// maximum is the default.
    pub max_location: Location,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeImage {
    /// Repository without registry tag or digest (`postgres`, `edoburu/pgbouncer`,
    /// `docker.io/bitnami/pgbouncer`).
    pub name: String,
    pub tag: Option<String>,
    pub location: Location,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeBuild {
    pub context: String,
    pub dockerfile: Option<String>,
    pub location: Location,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ComposeEnvEntry {
    pub name: String,
    /// `None` for `- NAME` / `NAME:` with no value: passed through from the
    /// project environment.
    pub value: Option<ShellWord>,
    pub name_location: Location,
    pub value_location: Location,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeEnvFile {
    pub path: String,
    pub location: Location,
    /// `required: false` in the long syntax.
    pub required: bool,
    /// Set when `path` names a Kubernetes ConfigMap rather than a file:
    /// `None` imports every key (`envFrom`), `Some((key, variable))` one key
    /// as a variable (`valueFrom.configMapKeyRef`).
    pub config_map: Option<Option<(String, String)>>,
}

/// A file named by another one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedFile {
    pub kind: LinkKind,
    /// As written, relative to the naming file or the process's working dir.
    pub path: String,
    pub location: Location,
    /// The compose service or Procfile process type the link belongs to.
    pub service: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkKind {
    /// gunicorn `-c/--config`, hypercorn `-c`.
    ServerConfig,
    /// uwsgi `--ini FILE` or a positional `.ini`.
    UwsgiIni,
    /// compose `env_file:`, uvicorn `--env-file`.
    EnvFile,
    /// A `*.sh` script a container runs (`ENTRYPOINT ["/entrypoint.sh"]`).
    Script,
    /// compose `build:` → its Dockerfile.
    Dockerfile,
}

/// The `[uwsgi]` section of an INI file, entries as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UwsgiConfig {
    /// The `[uwsgi]` header.
    pub location: Location,
    /// Entries in file order, keys lower-cased with `_` spelled `-`. A bare
    /// option (`enable-threads`, `master`) has the value `true`.
    pub entries: Vec<ConfigEntry>,
}
