//! One file per rule: its metadata, its documentation and its check.

pub mod budget_text;

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
    &pc105_pool_smaller_than_concurrency::RULE,
    &pc106_unbounded_pool::RULE,
    &pc107_cpu_dependent_budget::RULE,
    &pc108_active_connections_above_db_cores::RULE,
];
