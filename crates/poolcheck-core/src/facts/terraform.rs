//! Managed PostgreSQL resources a Terraform file declares: what the
//! deployment model needs to know the provider, the size, a declared
//! `max_connections` and the provider's poolers.

use crate::facts::providers::Provider;
use crate::source::Location;
use crate::value::Sourced;

/// Everything one `.tf` file declares about managed PostgreSQL.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TerraformFile {
    pub servers: Vec<TfServer>,
    /// `aws_db_parameter_group`, `azurerm_postgresql_flexible_server_configuration`.
    pub settings: Vec<TfSetting>,
    /// `digitalocean_database_connection_pool`, `aws_db_proxy`.
    pub poolers: Vec<TfPooler>,
    /// `variable "x" { default = "…" }` with a literal default: a module's
    /// other files refer to them.
    pub variables: Vec<(String, Sourced<String>)>,
}

/// A database server resource: an RDS instance, an Aurora cluster
/// instance, an Azure flexible server, a Cloud SQL instance, a
/// DigitalOcean cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct TfServer {
    /// `aws_db_instance.main`.
    pub address: String,
    pub provider: Provider,
    /// The instance class, SKU, tier or size slug.
    pub size: Sourced<String>,
    /// The variable `size` is written as (`var.db_class`), when its default
    /// is not in the same file: another file of the module may hold it.
    pub size_variable: Option<String>,
    /// `max_connections` written on the resource itself (Cloud SQL's
    /// `database_flags`).
    pub max_connections: Option<Sourced<String>>,
    /// The parameter group (RDS) or cluster (Aurora instance) it refers to,
    /// as a resource address (`aws_db_parameter_group.pg`) or a literal name.
    pub refers_to: Vec<String>,
    /// The whole resource block.
    pub location: Location,
}

/// A `max_connections` set outside the server resource.
#[derive(Debug, Clone, PartialEq)]
pub struct TfSetting {
    /// `aws_db_parameter_group.pg`.
    pub address: String,
    /// The `name` attribute, when literal: instances may refer to it by name.
    pub name: Option<String>,
    /// The server it configures when the resource names one
    /// (`server_id = azurerm_postgresql_flexible_server.main.id`).
    pub server: Option<String>,
    /// The value as written (`"500"`, `"{DBInstanceClassMemory/9531392}"`),
    /// or unknown with the reason.
    pub max_connections: Sourced<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Copy)]
pub enum TfPoolerKind {
    DigitalOceanPool,
    RdsProxy,
}

/// A pooler the provider runs, declared in Terraform.
#[derive(Debug, Clone, PartialEq)]
pub struct TfPooler {
    pub address: String,
    pub kind: TfPoolerKind,
    /// The pool's name (a DigitalOcean pool is reached as this database).
    pub name: Option<String>,
    pub mode: Option<Sourced<String>>,
    pub size: Option<Sourced<i64>>,
    pub location: Location,
}
