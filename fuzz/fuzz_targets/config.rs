//! The configuration front-end: `poolcheck.toml`, and the same keys under
//! `[tool.poolcheck]` in `pyproject.toml` (the first byte picks which), then
//! the analysis with the configuration in effect.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poolcheck_core::FileKind;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, text)) = data.split_first() else {
        return;
    };
    if selector % 2 == 0 {
        poolcheck_fuzz::check_kind("poolcheck.toml", FileKind::PoolcheckToml, text);
    } else {
        poolcheck_fuzz::check_kind("pyproject.toml", FileKind::PyProject, text);
    }
});
