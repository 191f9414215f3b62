//! What a rule's check reads.

use std::collections::HashSet;
use std::sync::OnceLock;

use poolcheck_core::FileFacts;
use poolcheck_core::facts::ProjectConfig;

use crate::sources::Sources;
use crate::topology::budget::{self, Budget, Cpus};
use crate::topology::{Deployment, TargetRef};

pub struct Context<'a> {
    pub deployment: &'a Deployment,
    /// The budget with declared CPU counts.
    pub budget: &'a Budget,
    pub facts: &'a [FileFacts],
    pub sources: &'a Sources,
    pub config: &'a ProjectConfig,
    /// (service, pool) indices of every pool once per definition and
    /// target, computed on first use: eleven rules walk them.
    pub distinct_pools: OnceLock<Vec<(usize, usize)>>,
    /// The same for pools that reach a PgBouncer, once per definition,
    /// name and target.
    pub bouncer_pools: OnceLock<Vec<(usize, usize)>>,
}

impl<'a> Context<'a> {
    pub fn new(
        deployment: &'a Deployment,
        budget: &'a Budget,
        facts: &'a [FileFacts],
        sources: &'a Sources,
        config: &'a ProjectConfig,
    ) -> Self {
        Context {
            deployment,
            budget,
            facts,
            sources,
            config,
            distinct_pools: OnceLock::new(),
            bouncer_pools: OnceLock::new(),
        }
    }

    /// Indices of the first (service, pool) of each pool definition and
    /// target: every service may run the same engine.
    pub fn distinct_pool_indices(&self) -> &[(usize, usize)] {
        self.distinct_pools.get_or_init(|| {
            let mut seen = HashSet::new();
            let mut out = Vec::new();
            for (s, service) in self.deployment.services.iter().enumerate() {
                for (p, linked) in service.pools.iter().enumerate() {
                    if seen.insert((&linked.pool.location, &linked.target)) {
                        out.push((s, p));
                    }
                }
            }
            out
        })
    }

    /// Indices of the first (service, pool) of each pool that reaches a
    /// PgBouncer, by definition, pool name and target.
    pub fn bouncer_pool_indices(&self) -> &[(usize, usize)] {
        self.bouncer_pools.get_or_init(|| {
            let mut seen = HashSet::new();
            let mut out = Vec::new();
            for (s, service) in self.deployment.services.iter().enumerate() {
                for (p, linked) in service.pools.iter().enumerate() {
                    if !matches!(linked.target, TargetRef::PgBouncer { .. }) {
                        continue;
                    }
                    let key = (
                        &linked.pool.location,
                        linked.pool.name.as_str(),
                        &linked.target,
                    );
                    if seen.insert(key) {
                        out.push((s, p));
                    }
                }
            }
            out
        })
    }
}

impl Context<'_> {
    /// The budget as it would be if every host had `cpus` CPUs (PC107).
    pub fn budget_with_cpus(&self, cpus: u32) -> Budget {
        budget::compute(self.deployment, Cpus::Assume(cpus), self.sources)
    }

    /// PC102's free-slot fraction.
    pub fn headroom(&self) -> f64 {
        self.config
            .headroom
            .as_ref()
            .and_then(|h| h.value)
            .unwrap_or(0.1)
    }
}
