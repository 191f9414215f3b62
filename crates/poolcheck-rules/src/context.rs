//! What a rule's check reads.

use poolcheck_core::FileFacts;
use poolcheck_core::facts::ProjectConfig;

use crate::sources::Sources;
use crate::topology::Deployment;
use crate::topology::budget::{self, Budget, Cpus};

pub struct Context<'a> {
    pub deployment: &'a Deployment,
    /// The budget with declared CPU counts.
    pub budget: &'a Budget,
    pub facts: &'a [FileFacts],
    pub sources: &'a Sources,
    pub config: &'a ProjectConfig,
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
