//! The uWSGI ini front-end, then the analysis.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poolcheck_core::FileKind;

fuzz_target!(|data: &[u8]| {
    poolcheck_fuzz::check_file(
        "uwsgi.ini",
        FileKind::Ini,
        data,
        poolcheck_extract::uwsgi::extract,
    );
});
