//! What the front-ends extract from files. Each front-end owns one submodule;
//! the rules crate assembles them into the deployment model.

pub mod config;
pub mod deploy;
pub mod deps;
pub mod pgbouncer;
pub mod pool;
pub mod postgres;
pub mod process;
pub mod providers;
pub mod python;
pub mod terraform;

use crate::diagnostic::Diagnostic;
use crate::source::{FilePath, Location};

pub use config::ProjectConfig;
pub use deploy::DeployFacts;
pub use deps::DependencyPin;
pub use pgbouncer::PgBouncerFile;
pub use postgres::PostgresConfFile;
pub use python::PythonModule;

/// The kinds of file poolcheck reads, decided by name during discovery and
/// confirmed by content during extraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FileKind {
    Python,
    /// Any INI file; it is a PgBouncer config when it has a `[pgbouncer]`
    /// section, and a fragment when another config `%include`s it.
    Ini,
    PostgresConf,
    PoolcheckToml,
    PyProject,
    Requirements,
    PoetryLock,
    UvLock,
    PipfileLock,
    Procfile,
    Dockerfile,
    Compose,
    /// A YAML file holding Kubernetes objects (`apiVersion:` and `kind:`),
    /// kustomizations included.
    Kubernetes,
    Shell,
    DotEnv,
    /// A Helm chart's `Chart.yaml`.
    HelmChart,
    /// A values file in a chart's directory (`values.yaml`, `values-*.yaml`).
    HelmValues,
    /// A file under a chart's `templates/`: Go-template text that is YAML
    /// only once rendered, so no YAML reader takes it as it is.
    HelmTemplate,
    /// A Terraform `.tf` file; read for managed PostgreSQL resources.
    Terraform,
}

impl FileKind {
    /// Files whose deploy facts declare workloads (compose services,
    /// Kubernetes objects, a Helm template once rendered): the model reads
    /// them alike, whatever the platform.
    pub fn declares_workloads(self) -> bool {
        matches!(
            self,
            FileKind::Compose | FileKind::Kubernetes | FileKind::HelmTemplate
        )
    }

    /// Kubernetes objects, written as manifests or rendered from a chart.
    pub fn declares_kubernetes_objects(self) -> bool {
        matches!(self, FileKind::Kubernetes | FileKind::HelmTemplate)
    }

    /// Line-comment prefixes recognised in this kind of file, for suppressions.
    pub fn comment_prefixes(self) -> &'static [&'static str] {
        match self {
            FileKind::Ini => &[";", "#"],
            FileKind::PipfileLock => &[],
            FileKind::Terraform => &["#", "//"],
            _ => &["#"],
        }
    }
}

/// One `key = value` line of an INI-like file, with the spans of both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    pub key: String,
    pub value: String,
    pub key_location: Location,
    pub value_location: Location,
}

/// Everything extracted from one file. Only the fields of its kind are filled.
#[derive(Debug, Clone, PartialEq)]
pub struct FileFacts {
    pub path: FilePath,
    pub kind: FileKind,
    /// Problems found while reading this file (PC002, PC003).
    pub diagnostics: Vec<Diagnostic>,
    pub pgbouncer: Option<PgBouncerFile>,
    pub postgres: Option<PostgresConfFile>,
    pub config: Option<ProjectConfig>,
    pub python: Option<PythonModule>,
    /// A Python module read only for its imports (see [`python::UnparsedModule`]).
    pub python_unparsed: Option<std::sync::Arc<python::UnparsedModule>>,
    pub deploy: Option<DeployFacts>,
    pub dependencies: Vec<DependencyPin>,
    pub terraform: Option<terraform::TerraformFile>,
}

impl FileFacts {
    pub fn new(path: FilePath, kind: FileKind) -> Self {
        Self {
            path,
            kind,
            diagnostics: Vec::new(),
            pgbouncer: None,
            postgres: None,
            config: None,
            python: None,
            python_unparsed: None,
            deploy: None,
            dependencies: Vec::new(),
            terraform: None,
        }
    }
}
