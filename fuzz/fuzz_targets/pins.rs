//! Dependency pins: requirements files, poetry.lock, uv.lock, Pipfile.lock
//! (the first byte picks the kind), then the analysis.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poolcheck_core::FileKind;

const KINDS: [(&str, FileKind); 4] = [
    ("requirements.txt", FileKind::Requirements),
    ("poetry.lock", FileKind::PoetryLock),
    ("uv.lock", FileKind::UvLock),
    ("Pipfile.lock", FileKind::PipfileLock),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, text)) = data.split_first() else {
        return;
    };
    let (name, kind) = KINDS[usize::from(selector) % KINDS.len()];
    poolcheck_fuzz::check_kind(name, kind, text);
});
