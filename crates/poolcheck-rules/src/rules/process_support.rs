//! What the process-model and connection-lifetime rules (PC4xx, PC5xx)
//! share: pinned library versions, the PgBouncer pool mode a client reaches,
//! the gunicorn worker class in effect and the source text behind a location.

use poolcheck_core::facts::DependencyPin;
use poolcheck_core::facts::pool::ClientPool;
use poolcheck_core::facts::process::ServerKind;
use poolcheck_core::{Location, Sourced, Version};
use poolcheck_model::facts::normalize_package_name as normalize_name;
use poolcheck_model::facts::{PgBouncerView, PoolMode};

use crate::context::Context;
use crate::topology::{LinkedPool, PgBouncer, Service, TargetRef};

/// The pin of `package` (any spelling): a resolved version wins over a
/// range, so a lock file decides when a requirements file only bounds it.
pub fn pin<'a>(ctx: &'a Context<'_>, package: &str) -> Option<&'a DependencyPin> {
    let wanted = normalize_name(package);
    let mut pins = ctx
        .facts
        .iter()
        .flat_map(|f| &f.dependencies)
        .filter(|p| normalize_name(&p.package) == wanted);
    let first = pins.next()?;
    if first.version.is_some() {
        return Some(first);
    }
    Some(pins.find(|p| p.version.is_some()).unwrap_or(first))
}

/// The version of `package` when the repository resolves one exactly.
pub fn pinned_version<'a>(
    ctx: &'a Context<'_>,
    package: &str,
) -> Option<(Version, &'a DependencyPin)> {
    let pin = pin(ctx, package)?;
    Some((pin.version?, pin))
}

/// `` `sqlalchemy==2.0.15` at requirements.txt:3 ``.
pub fn describe_pin(ctx: &Context<'_>, pin: &DependencyPin) -> String {
    format!(
        "`{}{}` at {}",
        pin.package,
        pin.spec,
        ctx.sources.describe(&pin.location)
    )
}

/// The PgBouncer a pool reaches in transaction or statement pooling.
pub struct TransactionPooler<'a> {
    pub bouncer: &'a PgBouncer,
    /// The `[databases]` entry reached.
    pub database: &'a str,
    pub mode: Sourced<PoolMode>,
}

/// Whether `linked` reaches a PgBouncer whose effective pool mode for its
/// database and user is `transaction` or `statement`.
pub fn transaction_pooler<'a>(
    ctx: &'a Context<'_>,
    linked: &'a LinkedPool,
) -> Option<TransactionPooler<'a>> {
    let TargetRef::PgBouncer { index, database } = &linked.target else {
        return None;
    };
    let bouncer = ctx.deployment.pgbouncers.get(*index)?;
    let user = linked
        .pool
        .target
        .value
        .as_ref()
        .and_then(|t| t.user.as_deref());
    let mode = PgBouncerView::new(&bouncer.config).effective_pool_mode(database, user);
    mode.value
        .is_some_and(PoolMode::is_transaction_pooling)
        .then_some(TransactionPooler {
            bouncer,
            database,
            mode,
        })
}

/// `pool_mode = transaction, deploy/pgbouncer.ini:9`.
pub fn describe_pool_mode(ctx: &Context<'_>, pooler: &TransactionPooler<'_>) -> String {
    let mode = pooler.mode.value.map_or("unknown", PoolMode::as_str);
    let provenance_text = provenance(ctx, &pooler.mode);
    if provenance_text.is_empty() {
        format!("pool_mode = {mode}")
    } else {
        format!("pool_mode = {mode}, {provenance_text}")
    }
}

/// The gunicorn worker class a service runs, lower-cased, with gunicorn's
/// dotted paths of its own workers reduced to their short names; `sync` when
/// nothing sets it. `None` for other servers or an unknown class.
pub fn gunicorn_worker_class(service: &Service) -> Option<String> {
    if service.server != Some(ServerKind::Gunicorn) {
        return None;
    }
    let Some(class) = &service.settings.worker_class else {
        return Some("sync".to_owned());
    };
    let written = class.value.as_deref()?.trim().to_ascii_lowercase();
    let short = match written.as_str() {
        "gunicorn.workers.sync.syncworker" => "sync",
        "gunicorn.workers.gthread.threadworker" => "gthread",
        "gunicorn.workers.geventlet.eventletworker" => "eventlet",
        "gunicorn.workers.ggevent.geventworker" => "gevent",
        other => other,
    };
    Some(short.to_owned())
}

/// The text a location covers, when the file was read.
pub fn text_at<'a>(ctx: &'a Context<'_>, location: &Location) -> Option<&'a str> {
    let file = ctx.sources.get(&location.file)?;
    file.text().get(location.span.range())
}

/// Every (service, pool) pair once per pool definition and target: every
/// service runs the whole repository's code unless narrowed, so the same
/// engine appears under each of them.
pub fn distinct_pools<'a>(ctx: &'a Context<'_>) -> Vec<(&'a Service, &'a LinkedPool)> {
    let services = &ctx.deployment.services;
    ctx.distinct_pool_indices()
        .iter()
        .map(|&(s, p)| (&services[s], &services[s].pools[p]))
        .collect()
}

/// `engine `engine` (app/db.py:8)` / `Django alias `default` (settings.py:20)`.
pub fn describe_pool(ctx: &Context<'_>, pool: &ClientPool) -> String {
    format!(
        "{} ({})",
        name_pool(pool),
        ctx.sources.describe(&pool.location)
    )
}

/// `engine `engine``: for a message placed at the pool itself, where its
/// location would only repeat the line the finding points at.
pub fn name_pool(pool: &ClientPool) -> String {
    use poolcheck_core::facts::pool::PoolKind;
    let noun = match pool.kind {
        PoolKind::SqlAlchemy => "engine",
        PoolKind::DjangoAlias | PoolKind::DjangoPool => "Django database",
        PoolKind::AsyncpgPool => "asyncpg pool",
        PoolKind::PsycopgPool => "psycopg_pool",
        PoolKind::Psycopg2Pool if pool.single_connection => "psycopg2 connection",
        PoolKind::Psycopg2Pool => "psycopg2 pool",
    };
    format!("{noun} `{}`", pool.name)
}

/// Where a value comes from, for a parenthesis after it: `gunicorn.conf.py:5`,
/// `default of $SERVER_WORKER_CLASS, entrypoint.sh:10`, `gunicorn default`.
pub fn provenance<T>(ctx: &Context<'_>, value: &Sourced<T>) -> String {
    ctx.sources.provenance(value)
}

/// Seconds as people write them: `30`, `2.5`.
pub fn seconds(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
pub mod testing {
    //! Runs the whole analysis over a small project written to a temporary
    //! directory, as the CLI would.

    use std::path::PathBuf;

    use poolcheck_core::{Diagnostic, FilePath, Fix};

    use crate::analysis::{Options, analyze};
    use crate::workspace::{LoadOptions, Workspace};

    pub struct Project {
        dir: tempfile::TempDir,
    }

    impl Project {
        pub fn new(files: &[(&str, &str)]) -> Project {
            let dir = tempfile::tempdir().expect("temporary directory");
            for (path, text) in files {
                let path = dir.path().join(path);
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).expect("create directories");
                }
                std::fs::write(path, text).expect("write fixture file");
            }
            Project { dir }
        }

        /// The findings of rule `code`.
        pub fn findings(&self, code: &str) -> Vec<Diagnostic> {
            let root: PathBuf = self.dir.path().to_path_buf();
            let workspace =
                Workspace::load(&[root], &LoadOptions::default()).expect("workspace loads");
            analyze(&workspace, &Options::default())
                .diagnostics
                .into_iter()
                .filter(|d| d.code == code)
                .collect()
        }

        /// Where a file the analysis names (relative to the project root,
        /// the temporary directory) is on disk.
        pub fn on_disk(&self, file: &FilePath) -> PathBuf {
            self.dir.path().join(file.as_path())
        }

        /// Applies a fix's edits to the files on disk, last edit first.
        pub fn apply(&self, fix: &Fix) {
            let mut edits = fix.edits.clone();
            edits.sort_by_key(|e| std::cmp::Reverse(e.location.span.start));
            for edit in edits {
                let path = self.on_disk(&edit.location.file);
                let mut text = std::fs::read_to_string(&path).expect("edited file is readable");
                text.replace_range(edit.location.span.range(), &edit.new_text);
                std::fs::write(path, text).expect("edited file is writable");
            }
        }

        /// The text a finding's primary location covers.
        pub fn primary_text(&self, diagnostic: &Diagnostic) -> String {
            let text = std::fs::read_to_string(self.on_disk(&diagnostic.primary.file))
                .expect("primary file is readable");
            text[diagnostic.primary.span.range()].to_owned()
        }
    }
}
