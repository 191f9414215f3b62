//! The compose front-end (YAML, command words, interpolation), then the analysis.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poolcheck_core::FileKind;

fuzz_target!(|data: &[u8]| {
    poolcheck_fuzz::check_file(
        "docker-compose.yml",
        FileKind::Compose,
        data,
        poolcheck_extract::compose::extract,
    );
});
