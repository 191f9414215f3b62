//! The Python front-end (tree-sitter, IR, evaluator at analysis time), then the analysis.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poolcheck_core::FileKind;

fuzz_target!(|data: &[u8]| {
    poolcheck_fuzz::check_file(
        "app.py",
        FileKind::Python,
        data,
        poolcheck_extract::python::extract,
    );
});
