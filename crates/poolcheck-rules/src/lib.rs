//! Facts to findings: assembly of the deployment model, the budget arithmetic
//! and one file per rule.
