//! The supervisord reader (`[program:x]` sections, numprocs, environment), then the analysis.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poolcheck_core::FileKind;

fuzz_target!(|data: &[u8]| {
    poolcheck_fuzz::check_file(
        "supervisord.conf",
        FileKind::Ini,
        data,
        poolcheck_extract::supervisord::extract,
    );
});
