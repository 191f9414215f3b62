//! The Terraform reader (HCL, managed PostgreSQL resources, variables), then the analysis.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poolcheck_core::FileKind;

fuzz_target!(|data: &[u8]| {
    poolcheck_fuzz::check_file(
        "main.tf",
        FileKind::Terraform,
        data,
        poolcheck_extract::terraform::extract,
    );
});
