//! The Kubernetes manifest reader (multi-document YAML, workloads, autoscalers, kustomize), then the analysis.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poolcheck_core::FileKind;

fuzz_target!(|data: &[u8]| {
    poolcheck_fuzz::check_file(
        "deploy.yaml",
        FileKind::Kubernetes,
        data,
        poolcheck_extract::kubernetes::extract,
    );
});
