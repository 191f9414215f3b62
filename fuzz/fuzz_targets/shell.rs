//! The shell front-end (lexer, words, expansion) on a script, then the analysis.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poolcheck_core::FileKind;

fuzz_target!(|data: &[u8]| {
    poolcheck_fuzz::check_file(
        "entrypoint.sh",
        FileKind::Shell,
        data,
        poolcheck_extract::shell::extract,
    );
});
