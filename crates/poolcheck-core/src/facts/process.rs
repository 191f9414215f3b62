//! Server processes: what a gunicorn/uvicorn/… command line, config file or
//! `uvicorn.run(...)` call says about processes and concurrency.

use crate::source::Location;
use crate::value::{IntExpr, Sourced};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServerKind {
    Gunicorn,
    Uvicorn,
    Daphne,
    Hypercorn,
    Granian,
    Uwsgi,
    Celery,
    /// `celery beat`: one scheduler process, not a pool of workers.
    CeleryBeat,
    /// `manage.py runserver`, `flask run`: development servers, never services.
    DevServer,
    /// `dramatiq module…`: `--processes` worker processes of `--threads` threads.
    Dramatiq,
    /// `rq worker` (a parent and one work-horse per job) or `rq worker-pool -n N`.
    Rq,
    /// `huey_consumer module.huey` / `manage.py run_huey`: `-w` workers of kind `-k`.
    Huey,
    /// A long-running Django management command (`manage.py process_tasks`):
    /// one process running the settings module.
    DjangoCommand,
}

impl ServerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ServerKind::Gunicorn => "gunicorn",
            ServerKind::Uvicorn => "uvicorn",
            ServerKind::Daphne => "daphne",
            ServerKind::Hypercorn => "hypercorn",
            ServerKind::Granian => "granian",
            ServerKind::Uwsgi => "uwsgi",
            ServerKind::Celery => "celery",
            ServerKind::CeleryBeat => "celery beat",
            ServerKind::DevServer => "development server",
            ServerKind::Dramatiq => "dramatiq",
            ServerKind::Rq => "rq",
            ServerKind::Huey => "huey",
            ServerKind::DjangoCommand => "Django management command",
        }
    }

    /// An HTTP server (named `web` by default) rather than a task worker.
    pub fn is_http(self) -> bool {
        !matches!(
            self,
            ServerKind::Celery
                | ServerKind::CeleryBeat
                | ServerKind::Dramatiq
                | ServerKind::Rq
                | ServerKind::Huey
                | ServerKind::DjangoCommand
        )
    }
}

/// Settings of one server from one source. Every field is optional so that
/// sources can be layered by precedence (gunicorn: defaults < env < config
/// file < `GUNICORN_CMD_ARGS` < command line) with [`ServerSettings::overlay`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServerSettings {
    /// Processes per replica (gunicorn/uvicorn/hypercorn/granian workers,
    /// uwsgi processes; celery prefork uses `concurrency` instead).
    pub workers: Option<Sourced<IntExpr>>,
    pub threads: Option<Sourced<IntExpr>>,
    /// gunicorn `worker_class`/`-k`, hypercorn `-k`, granian `--interface`,
    /// celery `--pool`.
    pub worker_class: Option<Sourced<String>>,
    pub worker_connections: Option<Sourced<IntExpr>>,
    /// celery `--concurrency` (or the maximum of `--autoscale`).
    pub concurrency: Option<Sourced<IntExpr>>,
    /// uvicorn `--limit-concurrency`.
    pub limit_concurrency: Option<Sourced<IntExpr>>,
    pub preload: Option<Sourced<bool>>,
    /// gunicorn `timeout` in seconds.
    pub timeout: Option<Sourced<i64>>,
    pub bind: Option<Sourced<String>>,
    pub max_requests: Option<Sourced<i64>>,
    /// The application target (`shop.wsgi:application`, `app.main:app`).
    pub app: Option<Sourced<String>>,
    /// `-c/--config` (gunicorn), `--ini` (uwsgi): a file whose settings apply.
    pub config_file: Option<Sourced<String>>,
    /// uwsgi `lazy-apps`.
    pub lazy_apps: Option<Sourced<bool>>,
    /// granian `--blocking-threads`.
    pub blocking_threads: Option<Sourced<IntExpr>>,
    /// granian `--backpressure`, which sets the WSGI blocking threads'
    /// default (half of it).
    pub backpressure: Option<Sourced<IntExpr>>,
    /// granian `--backlog` (default 1024), whose share per worker is the
    /// default backpressure.
    pub backlog: Option<Sourced<IntExpr>>,
    /// uwsgi `enable-threads` (threads > 1 enables them too).
    pub enable_threads: Option<Sourced<bool>>,
}

macro_rules! overlay_fields {
    ($self:ident, $other:ident, $($field:ident),*) => {
        $( if $other.$field.is_some() { $self.$field = $other.$field.clone(); } )*
    };
}

impl ServerSettings {
    /// The threads a granian WSGI worker runs requests on: `--blocking-threads`,
    /// else half the backpressure, which defaults to the backlog (1024, at least
    /// 128) shared by the workers: 512 with one worker, 256 each with two
    /// (granian `server/common.py`). Unknown when a factor is.
    pub fn granian_wsgi_blocking_threads(&self) -> Sourced<IntExpr> {
        let settings = self;
        if let Some(threads) = &settings.blocking_threads {
            return threads.clone();
        }
        let fold = |expr: IntExpr| match expr.constant() {
            Some(value) => IntExpr::Const(value),
            None => expr,
        };
        let half = |p: IntExpr| {
            IntExpr::Max(
                Box::new(IntExpr::Const(1)),
                Box::new(IntExpr::FloorDiv(Box::new(p), Box::new(IntExpr::Const(2)))),
            )
        };
        if let Some(backpressure) = &settings.backpressure {
            let Some(p) = &backpressure.value else {
                return backpressure.clone();
            };
            return Sourced::computed(
                fold(half(p.clone())),
                "granian WSGI: backpressure ÷ 2",
                backpressure.location.clone(),
            );
        }
        let workers = settings
            .workers
            .clone()
            .unwrap_or_else(|| Sourced::tool_default(IntExpr::Const(1), "granian"));
        let backlog = settings
            .backlog
            .clone()
            .unwrap_or_else(|| Sourced::tool_default(IntExpr::Const(1024), "granian"));
        let (Some(w), Some(b)) = (&workers.value, &backlog.value) else {
            let missing = if workers.is_known() { backlog } else { workers };
            return Sourced::unknown(
                format!(
                    "granian's WSGI blocking threads default to backlog ÷ workers ÷ 2, and {}",
                    missing.unknown_reason().unwrap_or("a factor is unknown")
                ),
                missing.location,
            );
        };
        let backpressure = IntExpr::Max(
            Box::new(IntExpr::Const(1)),
            Box::new(IntExpr::FloorDiv(
                Box::new(IntExpr::Max(
                    Box::new(IntExpr::Const(128)),
                    Box::new(b.clone()),
                )),
                Box::new(IntExpr::Max(
                    Box::new(IntExpr::Const(1)),
                    Box::new(w.clone()),
                )),
            )),
        );
        let location = backlog
            .location
            .clone()
            .or_else(|| workers.location.clone());
        Sourced::computed(
            fold(half(backpressure)),
            "granian WSGI default: backlog (1024) ÷ workers ÷ 2",
            location,
        )
    }

    /// Takes every field `higher` sets.
    pub fn overlay(&mut self, higher: &ServerSettings) {
        overlay_fields!(
            self,
            higher,
            workers,
            threads,
            worker_class,
            worker_connections,
            concurrency,
            limit_concurrency,
            preload,
            timeout,
            bind,
            max_requests,
            app,
            config_file,
            lazy_apps,
            blocking_threads,
            backpressure,
            backlog,
            enable_threads
        );
    }
}

/// A server started somewhere: a command line, a gunicorn config file that
/// stands alone, or `uvicorn.run(...)`.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerInvocation {
    pub kind: ServerKind,
    /// Where it is started (the command, the config file, the call).
    pub location: Location,
    /// Compose service key or Procfile process type, when the invocation has one.
    pub name_hint: Option<String>,
    pub settings: ServerSettings,
    /// True for `manage.py runserver` and similar development servers, which
    /// are not services.
    pub development: bool,
}
