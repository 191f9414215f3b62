//! The Procfile front-end, then the analysis.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poolcheck_core::FileKind;

fuzz_target!(|data: &[u8]| {
    poolcheck_fuzz::check_file(
        "Procfile",
        FileKind::Procfile,
        data,
        poolcheck_extract::procfile::extract,
    );
});
