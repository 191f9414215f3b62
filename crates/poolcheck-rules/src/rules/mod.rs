//! One file per rule: its metadata, its documentation and its check.

pub mod budget_text;
pub mod process_support;

mod pc001_unused_suppression;
mod pc002_invalid_setting;
mod pc003_invalid_poolcheck_config;
mod pc004_unresolved_value;
mod pc101_db_connections_exceeded;
mod pc102_db_headroom_low;
mod pc103_pgbouncer_client_limit_exceeded;
mod pc104_pgbouncer_pool_exceeds_db;
mod pc401_preload_shares_connections;
mod pc402_removed_worker_class;
mod pc403_deprecated_uvicorn_worker;
mod pc404_worker_timeout_before_pool_timeout;
mod pc405_threads_switch_to_gthread;
mod pc501_stale_pooled_connections;
mod pc502_pre_ping_asyncpg_old_sqlalchemy;
mod pc503_no_connect_timeout;

use crate::registry::Rule;

pub static ALL: &[&Rule] = &[
    &pc001_unused_suppression::RULE,
    &pc002_invalid_setting::RULE,
    &pc003_invalid_poolcheck_config::RULE,
    &pc004_unresolved_value::RULE,
    &pc101_db_connections_exceeded::RULE,
    &pc102_db_headroom_low::RULE,
    &pc103_pgbouncer_client_limit_exceeded::RULE,
    &pc104_pgbouncer_pool_exceeds_db::RULE,
    &pc401_preload_shares_connections::RULE,
    &pc402_removed_worker_class::RULE,
    &pc403_deprecated_uvicorn_worker::RULE,
    &pc404_worker_timeout_before_pool_timeout::RULE,
    &pc405_threads_switch_to_gthread::RULE,
    &pc501_stale_pooled_connections::RULE,
    &pc502_pre_ping_asyncpg_old_sqlalchemy::RULE,
    &pc503_no_connect_timeout::RULE,
];
