//! The one vocabulary between the front-ends and assembly. Every front-end
//! (compose, Kubernetes and Helm-rendered manifests, Procfile, supervisord,
//! Dockerfile, shell scripts, uwsgi and gunicorn configs, postgresql.conf,
//! pgbouncer.ini, Terraform, Python code that starts a server) *lowers* its
//! syntax into [`Declarations`] (see [`crate::lower`]); assembly
//! (`topology::assemble`, `topology::services`) reads only these, never a
//! file kind or a parser. Adding a deployment platform means a parser and a
//! lowering.

use std::path::{Path, PathBuf};

use poolcheck_core::facts::deploy::ImageCopy;
use poolcheck_core::facts::process::ServerInvocation;
use poolcheck_core::facts::terraform::TfPooler;
use poolcheck_core::{Diagnostic, Environment, FilePath, Sourced, normalize_lexically};

use crate::topology::{DatabaseServer, PgBouncer, Scaling};
use crate::workspace::root_relative;

/// What the repository's deployment files and code declare, front-end by
/// front-end, before assembly links them.
#[derive(Debug, Clone, Default)]
pub struct Declarations {
    /// What every process sees unless its group says otherwise: `.env`
    /// files and Dockerfile `ENV`, under `[tool.poolcheck.env]`.
    pub environment: Environment,
    /// PostgreSQL servers, in the order assembly numbers them.
    pub servers: Vec<ServerDeclaration>,
    /// PgBouncers the repository runs, file-configured ones first.
    pub poolers: Vec<PgBouncer>,
    /// Host names of a file-configured PgBouncer: workloads that run a
    /// PgBouncer image configured by a file rather than by variables.
    pub file_pooler_hosts: Vec<String>,
    /// Poolers a provider runs that Terraform declares (DigitalOcean
    /// connection pools): their mode and size refine the pooler a client's
    /// host reveals.
    pub provider_poolers: Vec<TfPooler>,
    /// Groups of identical processes, in file order (assembly orders them
    /// by [`DeclaredBy`]).
    pub process_groups: Vec<ProcessGroup>,
    /// Problems found while lowering (PC002 include errors).
    pub diagnostics: Vec<Diagnostic>,
    /// Compose files that describe test runs (`docker-compose.test.yml`):
    /// read, but none of their services is counted.
    pub test_compose_files: Vec<FilePath>,
}

/// A PostgreSQL server and who declares it.
#[derive(Debug, Clone)]
pub struct ServerDeclaration {
    pub server: DatabaseServer,
    pub source: ServerSource,
}

/// Where a server is declared; also the order assembly lists servers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ServerSource {
    /// A `postgresql.conf` (with its includes).
    ConfigFile,
    /// A workload running a PostgreSQL image (`postgres -c …`). Several
    /// compose files often describe one deployment, so a second identical
    /// declaration is the same server.
    Workload,
    /// A managed server Terraform declares.
    Terraform,
}

/// Which kind of file started a process group. Also the precedence when the
/// same server is started from several files: a workload over a Procfile
/// over a Dockerfile over scripts, and standalone server configurations
/// last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeclaredBy {
    /// A compose service, Kubernetes workload or Helm-rendered workload.
    Workload,
    Procfile,
    Supervisord,
    Dockerfile,
    /// A shell script, or a daemon a server config attaches.
    Script,
    /// A uwsgi ini that no command names.
    UwsgiConfig,
    /// Python code that starts a server (`uvicorn.run(app)`).
    Code,
    /// A gunicorn config file, when no command anywhere starts gunicorn.
    GunicornConfig,
}

impl DeclaredBy {
    /// Server configurations that no deployment file starts: alternative
    /// ways to run one app.
    pub fn is_standalone_config(self) -> bool {
        matches!(self, DeclaredBy::UwsgiConfig | DeclaredBy::GunicornConfig)
    }
}

/// A group of identical processes: its command, where it was declared, its
/// environment and scaling.
#[derive(Debug, Clone)]
pub struct ProcessGroup {
    /// The command as interpreted: the server kind, its settings from the
    /// command line (and the config file a command names), the app target
    /// (its entry point) and where the command is written.
    pub invocation: ServerInvocation,
    pub declared_by: DeclaredBy,
    /// The platform file that declares the group (the compose file for a
    /// command its service runs from a Dockerfile or a script).
    pub declared_in: FilePath,
    pub env: Environment,
    /// Replica bounds and surge of the workload that runs the group.
    pub scaling: Option<Scaling>,
    /// Copies a process manager starts (supervisord `numprocs`), counted as
    /// replicas.
    pub copies: Option<Sourced<i64>>,
    /// The repository file the server reads as its configuration (a
    /// gunicorn `-c` file or `./gunicorn.conf.py`; a uwsgi ini, whose
    /// settings are already merged into the invocation), when found.
    pub config_file: Option<FilePath>,
    /// The files of the container image the group runs in, when a
    /// Dockerfile of the repository builds it.
    pub image: Option<ContainerFiles>,
}

impl ProcessGroup {
    /// The app target the command starts (`module:app`, `-A proj`), as
    /// written: the group's entry point.
    pub fn entry(&self) -> Option<&str> {
        self.invocation.settings.app.as_ref()?.value.as_deref()
    }
}

/// How paths inside a container image map to repository files: the
/// Dockerfile's `COPY`/`ADD` instructions (in order) relative to the build
/// context, and the `WORKDIR` its command runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerFiles {
    /// The build context, root-relative like every file path.
    pub context: PathBuf,
    pub copies: Vec<ImageCopy>,
    /// The final working directory (`/` when none is set).
    pub workdir: String,
}

impl ContainerFiles {
    /// The repository path a path inside the image names: the last `COPY`
    /// or `ADD` that put something there wins, as in the image. `exists`
    /// says whether a candidate is a file of the repository (a source may
    /// be a file or a directory). `None` when no instruction copies it.
    pub fn repository_path(
        &self,
        written: &str,
        exists: &dyn Fn(&Path) -> bool,
    ) -> Option<FilePath> {
        let absolute = container_absolute(&self.workdir, written);
        for copy in self.copies.iter().rev() {
            for source in &copy.sources {
                let source_in_repo = normalize_lexically(&self.context.join(source));
                let name = Path::new(source).file_name();
                // A file copied to `dest` or into `dest/`.
                let as_file = if copy.into_directory {
                    name.map(|n| Path::new(&copy.dest).join(n))
                } else {
                    Some(PathBuf::from(&copy.dest))
                };
                if as_file.is_some_and(|f| f == absolute) && exists(&source_in_repo) {
                    return Some(root_relative(&source_in_repo));
                }
                // A directory's contents copied into `dest`.
                if let Ok(rest) = absolute.strip_prefix(&copy.dest) {
                    let candidate = normalize_lexically(&source_in_repo.join(rest));
                    if !rest.as_os_str().is_empty() && exists(&candidate) {
                        return Some(root_relative(&candidate));
                    }
                }
            }
        }
        None
    }
}

/// `written` as an absolute, normalized path inside the container.
pub fn container_absolute(workdir: &str, written: &str) -> PathBuf {
    let joined = if written.starts_with('/') {
        PathBuf::from(written)
    } else {
        Path::new(if workdir.is_empty() { "/" } else { workdir }).join(written)
    };
    normalize_lexically(&joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(copies: &[(&[&str], &str, bool)], workdir: &str) -> ContainerFiles {
        ContainerFiles {
            context: PathBuf::from("svc"),
            copies: copies
                .iter()
                .map(|(sources, dest, into)| ImageCopy {
                    sources: sources.iter().map(|s| (*s).to_owned()).collect(),
                    dest: (*dest).to_owned(),
                    into_directory: *into,
                    location: poolcheck_core::Location::new(
                        FilePath::new("svc/Dockerfile"),
                        poolcheck_core::Span::empty(0),
                    ),
                })
                .collect(),
            workdir: workdir.to_owned(),
        }
    }

    fn repo(paths: &'static [&'static str]) -> impl Fn(&Path) -> bool {
        move |p: &Path| paths.iter().any(|q| Path::new(q) == p)
    }

    #[test]
    fn a_copied_directory_maps_its_contents() {
        let image = files(&[(&["."], "/opt/app", true)], "/opt/app");
        let exists = repo(&["svc/docker/uwsgi.ini"]);
        let found = image.repository_path("/opt/app/docker/uwsgi.ini", &exists);
        assert_eq!(
            found.map(|p| p.display_string()).as_deref(),
            Some("svc/docker/uwsgi.ini")
        );
        let relative = image.repository_path("docker/uwsgi.ini", &exists);
        assert_eq!(
            relative.map(|p| p.display_string()).as_deref(),
            Some("svc/docker/uwsgi.ini")
        );
        assert!(image.repository_path("/etc/uwsgi.ini", &exists).is_none());
    }

    #[test]
    fn a_file_copied_under_another_name_maps_to_its_source() {
        let image = files(
            &[
                (&["."], "/srv", true),
                (
                    &["deploy/uwsgi-production.ini"],
                    "/etc/uwsgi/uwsgi.ini",
                    false,
                ),
            ],
            "/srv",
        );
        let exists = repo(&["svc/deploy/uwsgi-production.ini", "svc/deploy/uwsgi.ini"]);
        let found = image.repository_path("/etc/uwsgi/uwsgi.ini", &exists);
        assert_eq!(
            found.map(|p| p.display_string()).as_deref(),
            Some("svc/deploy/uwsgi-production.ini")
        );
    }

    #[test]
    fn a_later_copy_wins() {
        let image = files(
            &[
                (&["base"], "/app/conf", true),
                (&["prod"], "/app/conf", true),
            ],
            "/",
        );
        let exists = repo(&["svc/base/uwsgi.ini", "svc/prod/uwsgi.ini"]);
        let found = image.repository_path("/app/conf/uwsgi.ini", &exists);
        assert_eq!(
            found.map(|p| p.display_string()).as_deref(),
            Some("svc/prod/uwsgi.ini")
        );
    }
}
