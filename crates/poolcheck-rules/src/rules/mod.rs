//! One file per rule: its metadata, its documentation and its check.

pub mod budget_text;
pub mod django_support;
pub mod pgbouncer_text;
pub mod process_support;

mod pc001_unused_suppression;
mod pc002_invalid_setting;
mod pc003_invalid_poolcheck_config;
mod pc004_unresolved_value;
mod pc101_db_connections_exceeded;
mod pc102_db_headroom_low;
mod pc103_pgbouncer_client_limit_exceeded;
mod pc104_pgbouncer_pool_exceeds_db;
mod pc105_pool_smaller_than_concurrency;
mod pc106_unbounded_pool;
mod pc107_cpu_dependent_budget;
mod pc108_active_connections_above_db_cores;
mod pc109_rollout_surge_exceeded;
mod pc201_asyncpg_prepared_statements;
mod pc202_psycopg_prepared_statements;
mod pc203_django_server_side_cursors;
mod pc204_unsupported_startup_parameter;
mod pc205_ignored_startup_parameter;
mod pc206_statement_pooling_transactions;
mod pc207_session_pooling_pinned;
mod pc208_app_pool_behind_transaction_pooler;
mod pc209_session_state_through_transaction_pooler;
mod pc301_django_persistent_connections_asgi;
mod pc302_django_pool_with_persistent_connections;
mod pc303_django_pool_invalid;
mod pc304_django_persistent_without_health_checks;
mod pc401_preload_shares_connections;
mod pc402_removed_worker_class;
mod pc403_deprecated_uvicorn_worker;
mod pc404_worker_timeout_before_pool_timeout;
mod pc405_threads_switch_to_gthread;
mod pc501_stale_pooled_connections;
mod pc502_pre_ping_asyncpg_old_sqlalchemy;
mod pc503_no_connect_timeout;

use poolcheck_core::{Code, Diagnostic};

use crate::context::Context;
use crate::registry::Rule;

/// Findings the front-ends made while reading files, and assembly while
/// resolving references between them, for the rules whose check is to
/// surface them (PC002, PC003, PC004).
fn reported_while_reading(ctx: &Context<'_>, code: Code, out: &mut Vec<Diagnostic>) {
    let from_files = ctx.facts.iter().flat_map(|f| f.diagnostics.iter());
    out.extend(
        from_files
            .chain(ctx.deployment.diagnostics.iter())
            .filter(|d| d.code == code.as_str())
            .cloned(),
    );
}

pub static ALL: &[&Rule] = &[
    &pc001_unused_suppression::RULE,
    &pc002_invalid_setting::RULE,
    &pc003_invalid_poolcheck_config::RULE,
    &pc004_unresolved_value::RULE,
    &pc101_db_connections_exceeded::RULE,
    &pc102_db_headroom_low::RULE,
    &pc103_pgbouncer_client_limit_exceeded::RULE,
    &pc104_pgbouncer_pool_exceeds_db::RULE,
    &pc105_pool_smaller_than_concurrency::RULE,
    &pc106_unbounded_pool::RULE,
    &pc107_cpu_dependent_budget::RULE,
    &pc108_active_connections_above_db_cores::RULE,
    &pc109_rollout_surge_exceeded::RULE,
    &pc201_asyncpg_prepared_statements::RULE,
    &pc202_psycopg_prepared_statements::RULE,
    &pc203_django_server_side_cursors::RULE,
    &pc204_unsupported_startup_parameter::RULE,
    &pc205_ignored_startup_parameter::RULE,
    &pc206_statement_pooling_transactions::RULE,
    &pc207_session_pooling_pinned::RULE,
    &pc208_app_pool_behind_transaction_pooler::RULE,
    &pc209_session_state_through_transaction_pooler::RULE,
    &pc301_django_persistent_connections_asgi::RULE,
    &pc302_django_pool_with_persistent_connections::RULE,
    &pc303_django_pool_invalid::RULE,
    &pc304_django_persistent_without_health_checks::RULE,
    &pc401_preload_shares_connections::RULE,
    &pc402_removed_worker_class::RULE,
    &pc403_deprecated_uvicorn_worker::RULE,
    &pc404_worker_timeout_before_pool_timeout::RULE,
    &pc405_threads_switch_to_gthread::RULE,
    &pc501_stale_pooled_connections::RULE,
    &pc502_pre_ping_asyncpg_old_sqlalchemy::RULE,
    &pc503_no_connect_timeout::RULE,
];
