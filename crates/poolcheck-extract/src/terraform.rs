//! Terraform (`*.tf`): the managed PostgreSQL resources that decide a
//! server's `max_connections` — RDS and Aurora instances with their
//! parameter groups, RDS Proxy, Azure flexible servers and their
//! configurations, Cloud SQL instances with `database_flags`, DigitalOcean
//! clusters and connection pools.
//!
//! Values are literals, or `var.x` with the variable's literal `default` in
//! the same file; anything else is unknown with the reason. Every value keeps
//! the span of its expression (hcl-edit keeps byte ranges).

use poolcheck_core::Code;
use std::collections::HashMap;
use std::ops::Range;

use hcl_edit::expr::{Expression, TraversalOperator};
use hcl_edit::structure::{Attribute, Block, Body};
use hcl_edit::{Ident, Span as _};
use poolcheck_core::facts::providers::Provider;
use poolcheck_core::facts::terraform::{
    TerraformFile, TfPooler, TfPoolerKind, TfServer, TfSetting,
};
use poolcheck_core::{
    Diagnostic, FileFacts, Location, Origin, Severity, SourceFile, Sourced, Span,
};

/// Resource types this reader understands; the discovery prefilter admits a
/// `.tf` file only when it names one.
pub const RESOURCE_TYPES: &[&str] = &[
    "aws_db_instance",
    "aws_rds_cluster",
    "aws_rds_cluster_instance",
    "aws_db_parameter_group",
    "aws_rds_cluster_parameter_group",
    "aws_db_proxy",
    "azurerm_postgresql_flexible_server",
    "azurerm_postgresql_flexible_server_configuration",
    "google_sql_database_instance",
    "digitalocean_database_cluster",
    "digitalocean_database_connection_pool",
];

pub fn extract(file: &SourceFile, facts: &mut FileFacts) {
    let (parsed, diagnostics) = parse(file);
    facts.diagnostics.extend(diagnostics);
    if !(parsed.servers.is_empty()
        && parsed.settings.is_empty()
        && parsed.poolers.is_empty()
        && parsed.variables.is_empty())
    {
        facts.terraform = Some(parsed);
    }
}

/// Reads one `.tf` file. A file that does not parse yields nothing and one
/// PC002 at the error's position.
pub fn parse(file: &SourceFile) -> (TerraformFile, Vec<Diagnostic>) {
    let body = match hcl_edit::parser::parse_body(file.text()) {
        Ok(body) => body,
        Err(error) => {
            let offset = error.location().offset().min(file.text().len());
            let location = file.location(Span::empty(offset));
            let message = format!(
                "Terraform file does not parse ({}): its database resources are not read",
                error.message()
            );
            return (
                TerraformFile::default(),
                vec![Diagnostic::new(
                    Code::PC002,
                    Severity::Warning,
                    location,
                    message,
                )],
            );
        }
    };
    let reader = Reader {
        file,
        variables: variable_defaults(&body),
    };
    let mut out = TerraformFile::default();
    for (name, default) in &reader.variables {
        if let Some(text) = literal(default) {
            let at = reader.location(default.span());
            out.variables
                .push((name.clone(), Sourced::literal(text, at)));
        }
    }
    out.variables.sort_by(|a, b| a.0.cmp(&b.0));
    for block in body.get_blocks("resource") {
        let [kind, name] = block.labels.as_slice() else {
            continue;
        };
        reader.resource(kind.as_str(), name.as_str(), block, &mut out);
    }
    (out, Vec::new())
}

struct Reader<'a> {
    file: &'a SourceFile,
    /// `variable "x" { default = … }` of this file, by name.
    variables: HashMap<String, &'a Expression>,
}

fn variable_defaults(body: &Body) -> HashMap<String, &Expression> {
    body.get_blocks("variable")
        .filter_map(|block| {
            let name = block.labels.first()?.as_str().to_owned();
            let default = block.body.get_attribute("default")?;
            Some((name, &default.value))
        })
        .collect()
}

impl Reader<'_> {
    fn location(&self, range: Option<Range<usize>>) -> Location {
        let range = range.unwrap_or(0..0);
        self.file.location(Span::new(range.start, range.end))
    }

    fn resource(&self, kind: &str, name: &str, block: &Block, out: &mut TerraformFile) {
        let address = format!("{kind}.{name}");
        let body = &block.body;
        let location = self.location(block.span());
        let server = |provider, size: Sourced<String>| TfServer {
            address: address.clone(),
            provider,
            size_variable: size
                .location
                .as_ref()
                .filter(|_| size.value.is_none())
                .and_then(|at| self.file.text().get(at.span.range()))
                .and_then(|written| written.trim().strip_prefix("var."))
                .filter(|name| {
                    name.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                })
                .map(str::to_owned),
            size,
            max_connections: None,
            refers_to: Vec::new(),
            location: location.clone(),
        };
        match kind {
            "aws_db_instance" | "aws_rds_cluster_instance" => {
                let engine = self.string(body, "engine");
                if engine
                    .value
                    .as_deref()
                    .is_some_and(|e| !e.contains("postgres"))
                {
                    return;
                }
                let provider = if kind == "aws_rds_cluster_instance" {
                    Provider::Aurora
                } else {
                    Provider::Rds
                };
                let mut server = server(provider, self.string(body, "instance_class"));
                server.refers_to = [
                    "parameter_group_name",
                    "db_parameter_group_name",
                    "cluster_identifier",
                ]
                .iter()
                .filter_map(|key| body.get_attribute(key))
                .filter_map(|a| reference_or_literal(&a.value))
                .collect();
                out.servers.push(server);
            }
            "aws_db_parameter_group" | "aws_rds_cluster_parameter_group" => {
                for parameter in body.get_blocks("parameter") {
                    let is_max = self
                        .string(&parameter.body, "name")
                        .value
                        .is_some_and(|n| n == "max_connections");
                    if is_max {
                        out.settings.push(TfSetting {
                            address: address.clone(),
                            name: self.string(body, "name").value,
                            server: None,
                            max_connections: self.string(&parameter.body, "value"),
                        });
                    }
                }
            }
            "aws_db_proxy" => {
                let engine = self.string(body, "engine_family");
                if engine
                    .value
                    .as_deref()
                    .is_some_and(|e| !e.eq_ignore_ascii_case("POSTGRESQL"))
                {
                    return;
                }
                out.poolers.push(TfPooler {
                    address,
                    kind: TfPoolerKind::RdsProxy,
                    name: self.string(body, "name").value,
                    mode: None,
                    size: None,
                    location,
                });
            }
            "azurerm_postgresql_flexible_server" => {
                out.servers
                    .push(server(Provider::Azure, self.string(body, "sku_name")));
            }
            "azurerm_postgresql_flexible_server_configuration" => {
                let is_max = self
                    .string(body, "name")
                    .value
                    .is_some_and(|n| n == "max_connections");
                if is_max {
                    out.settings.push(TfSetting {
                        address,
                        name: None,
                        server: body
                            .get_attribute("server_id")
                            .and_then(|a| reference_or_literal(&a.value)),
                        max_connections: self.string(body, "value"),
                    });
                }
            }
            "google_sql_database_instance" => {
                let version = self.string(body, "database_version");
                if version
                    .value
                    .as_deref()
                    .is_some_and(|v| !v.to_ascii_uppercase().starts_with("POSTGRES"))
                {
                    return;
                }
                let Some(settings) = body.get_blocks("settings").next() else {
                    return;
                };
                let mut server = server(Provider::CloudSql, self.string(&settings.body, "tier"));
                server.max_connections = settings
                    .body
                    .get_blocks("database_flags")
                    .find(|flag| {
                        self.string(&flag.body, "name")
                            .value
                            .is_some_and(|n| n == "max_connections")
                    })
                    .map(|flag| self.string(&flag.body, "value"));
                out.servers.push(server);
            }
            "digitalocean_database_cluster" => {
                let engine = self.string(body, "engine");
                if engine.value.as_deref().is_some_and(|e| e != "pg") {
                    return;
                }
                out.servers
                    .push(server(Provider::DigitalOcean, self.string(body, "size")));
            }
            "digitalocean_database_connection_pool" => {
                out.poolers.push(TfPooler {
                    address,
                    kind: TfPoolerKind::DigitalOceanPool,
                    name: self.string(body, "name").value,
                    mode: body.get_attribute("mode").map(|a| self.value(a)),
                    size: body.get_attribute("size").map(|a| {
                        let text = self.value(a);
                        let reason = format!("`size` is not an integer: {text:?}");
                        text.and_then(&reason, |t| t.parse().ok())
                    }),
                    location,
                });
            }
            _ => {}
        }
    }

    /// An attribute's value as text, or unknown with the reason (absent too).
    fn string(&self, body: &Body, key: &str) -> Sourced<String> {
        match body.get_attribute(key) {
            Some(attribute) => self.value(attribute),
            None => Sourced::unknown(format!("`{key}` is not set"), None),
        }
    }

    fn value(&self, attribute: &Attribute) -> Sourced<String> {
        let location = self.location(attribute.value.span());
        let key = attribute.key.as_str();
        match literal(&attribute.value) {
            Some(text) => Sourced::literal(text, location),
            None => self.indirect(key, &attribute.value, location),
        }
    }

    /// `var.x` with a literal default; otherwise unknown with what it is.
    fn indirect(&self, key: &str, expr: &Expression, location: Location) -> Sourced<String> {
        if let Some(variable) = variable_name(expr) {
            return match self.variables.get(variable).map(|e| literal(e)) {
                Some(Some(text)) => {
                    let at = self
                        .variables
                        .get(variable)
                        .map(|e| self.location(e.span()));
                    Sourced::with_origin(
                        text,
                        Origin::Computed {
                            expr: format!("default of var.{variable}"),
                        },
                        at.or(Some(location)),
                    )
                }
                Some(None) => Sourced::unknown(
                    format!("`{key}` is var.{variable}, whose default is not a literal"),
                    Some(location),
                ),
                None => Sourced::unknown(
                    format!(
                        "`{key}` is var.{variable}, which has no default in this file: its value comes from tfvars or the command line"
                    ),
                    Some(location),
                ),
            };
        }
        let written = self
            .file
            .text()
            .get(location.span.range())
            .unwrap_or("")
            .trim()
            .to_owned();
        Sourced::unknown(
            format!("`{key} = {written}` is not a literal or a variable with a default"),
            Some(location),
        )
    }
}

/// A string, number or boolean literal as text.
fn literal(expr: &Expression) -> Option<String> {
    match expr {
        Expression::String(s) => Some(s.value().clone()),
        Expression::Number(n) => Some(n.value().to_string()),
        Expression::Bool(b) => Some(b.value().to_string()),
        _ => None,
    }
}

/// `var.name` → `name`.
fn variable_name(expr: &Expression) -> Option<&str> {
    let Expression::Traversal(traversal) = expr else {
        return None;
    };
    let root = traversal.expr.as_variable()?;
    if root.as_str() != "var" {
        return None;
    }
    match traversal.operators.first().map(hcl_edit::Decorated::value) {
        Some(TraversalOperator::GetAttr(ident)) => Some(ident.as_str()),
        _ => None,
    }
}

/// A reference to another resource (`aws_db_parameter_group.pg.name` →
/// `aws_db_parameter_group.pg`) or a literal name.
fn reference_or_literal(expr: &Expression) -> Option<String> {
    if let Some(text) = literal(expr) {
        return Some(text);
    }
    let Expression::Traversal(traversal) = expr else {
        return None;
    };
    let root: &Ident = traversal.expr.as_variable()?;
    let Some(TraversalOperator::GetAttr(name)) =
        traversal.operators.first().map(hcl_edit::Decorated::value)
    else {
        return None;
    };
    Some(format!("{}.{}", root.as_str(), name.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (TerraformFile, Vec<Diagnostic>, SourceFile) {
        let file = SourceFile::new("infra/main.tf", text);
        let (parsed, diagnostics) = parse(&file);
        (parsed, diagnostics, file)
    }

    #[test]
    fn rds_instance_with_a_variable_size_and_a_parameter_group() {
        let text = r#"
variable "db_class" {
  default = "db.r6g.large"
}

resource "aws_db_parameter_group" "pg" {
  name   = "app-pg16"
  family = "postgres16"
  parameter {
    name         = "max_connections"
    value        = "{DBInstanceClassMemory/9531392}"
    apply_method = "pending-reboot"
  }
}

resource "aws_db_instance" "main" {
  engine               = "postgres"
  instance_class       = var.db_class
  parameter_group_name = aws_db_parameter_group.pg.name
}
"#;
        let (parsed, diagnostics, file) = read(text);
        assert!(diagnostics.is_empty());
        let server = &parsed.servers[0];
        assert_eq!(server.address, "aws_db_instance.main");
        assert_eq!(server.size.value.as_deref(), Some("db.r6g.large"));
        // The size points at the variable's default, line 3.
        let at = server.size.location.as_ref().expect("located");
        assert_eq!(file.line_col(at.span.start as usize).line, 3);
        assert_eq!(server.refers_to, vec!["aws_db_parameter_group.pg"]);
        let setting = &parsed.settings[0];
        assert_eq!(setting.name.as_deref(), Some("app-pg16"));
        assert_eq!(
            setting.max_connections.value.as_deref(),
            Some("{DBInstanceClassMemory/9531392}")
        );
        let at = setting.max_connections.location.as_ref().expect("located");
        let start = file.line_col(at.span.start as usize);
        assert_eq!((start.line, start.column), (11, 20));
    }

    #[test]
    fn unknown_values_say_why() {
        let text = r#"
variable "sku" {}
resource "azurerm_postgresql_flexible_server" "a" {
  sku_name = var.sku
}
resource "azurerm_postgresql_flexible_server" "b" {
  sku_name = local.sizes["prod"]
}
"#;
        let (parsed, _, _) = read(text);
        let reasons: Vec<&str> = parsed
            .servers
            .iter()
            .map(|s| s.size.unknown_reason().unwrap_or(""))
            .collect();
        assert!(reasons[0].contains("no default"), "{reasons:?}");
        assert!(reasons[1].contains("local.sizes"), "{reasons:?}");
    }

    #[test]
    fn cloud_sql_flags_digitalocean_pools_and_non_postgres_engines() {
        let text = r#"
resource "google_sql_database_instance" "pg" {
  database_version = "POSTGRES_15"
  settings {
    tier = "db-custom-2-7680"
    database_flags {
      name  = "max_connections"
      value = "300"
    }
  }
}
resource "google_sql_database_instance" "mysql" {
  database_version = "MYSQL_8_0"
  settings { tier = "db-f1-micro" }
}
resource "digitalocean_database_connection_pool" "pool" {
  cluster_id = digitalocean_database_cluster.pg.id
  name       = "app-pool"
  mode       = "transaction"
  size       = 20
  db_name    = "app"
  user       = "app"
}
"#;
        let (parsed, _, _) = read(text);
        assert_eq!(parsed.servers.len(), 1);
        assert_eq!(
            parsed.servers[0]
                .max_connections
                .as_ref()
                .and_then(|m| m.value.as_deref()),
            Some("300")
        );
        let pool = &parsed.poolers[0];
        assert_eq!(pool.name.as_deref(), Some("app-pool"));
        assert_eq!(pool.size.as_ref().and_then(|s| s.value), Some(20));
    }

    #[test]
    fn a_broken_file_is_one_diagnostic() {
        let (parsed, diagnostics, _) =
            read("resource \"aws_db_instance\" \"x\" {\n  instance_class = \n");
        assert_eq!(parsed, TerraformFile::default());
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(diagnostics[0].code, "PC002");
    }
}
