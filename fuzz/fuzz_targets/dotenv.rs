//! The dotenv front-end, then the analysis.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poolcheck_core::FileKind;

fuzz_target!(|data: &[u8]| {
    poolcheck_fuzz::check_file(
        ".env",
        FileKind::DotEnv,
        data,
        poolcheck_extract::dotenv::extract,
    );
});
