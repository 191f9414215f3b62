//! The environment model: what poolcheck assumes each process's environment
//! variables hold, and where each assumption was read.

use std::collections::BTreeMap;

use crate::source::Location;
use crate::value::{Origin, Sourced};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    pub value: String,
    /// Where the value was declared, for messages: `.env`, `docker-compose.yml (web)`,
    /// `Dockerfile ENV`, `poolcheck.toml [env]`.
    pub source: String,
    pub location: Option<Location>,
}

/// Variables visible to one service. Later layers override earlier ones
/// (compose `environment` over `env_file` over Dockerfile `ENV`, and
/// `[tool.poolcheck.env]` over everything, because the user declared it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment {
    vars: BTreeMap<String, EnvVar>,
}

impl Environment {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set(&mut self, name: impl Into<String>, var: EnvVar) {
        self.vars.insert(name.into(), var);
    }

    /// Sets `name` only when no layer set it yet.
    pub fn set_default(&mut self, name: impl Into<String>, var: EnvVar) {
        self.vars.entry(name.into()).or_insert(var);
    }

    pub fn get(&self, name: &str) -> Option<&EnvVar> {
        self.vars.get(name)
    }

    /// The variable as a sourced string, unknown when absent.
    pub fn sourced(&self, name: &str) -> Sourced<String> {
        match self.vars.get(name) {
            Some(var) => Sourced::with_origin(
                var.value.clone(),
                Origin::EnvValue {
                    var: name.to_owned(),
                    source: var.source.clone(),
                },
                var.location.clone(),
            ),
            None => Sourced::unknown(
                format!("${name} has no value: declare it in [tool.poolcheck.env]"),
                None,
            ),
        }
    }

    /// Layers `other` on top of `self`: its variables win.
    pub fn overlay(&mut self, other: &Environment) {
        for (k, v) in &other.vars {
            self.vars.insert(k.clone(), v.clone());
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &EnvVar)> {
        self.vars.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }
}
