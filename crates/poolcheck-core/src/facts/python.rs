//! The Python front-end's per-module representation: bindings, imports and
//! calls as unevaluated expressions, evaluated later with each service's
//! environment. Filled in by the Python front-end.

/// One Python module as extracted.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PythonModule {}
