//! Times discovery and extraction over a tree, with and without the content
//! prefilter: `cargo run --release -p poolcheck-workspace --example discovery_bench -- PATH [RUNS]`.
//! A benchmark to run by hand, not a test.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use poolcheck_core::SourceFile;
use poolcheck_workspace::discover::{DiscoverOptions, discover};
use rayon::prelude::*;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(root) = args.next().map(PathBuf::from) else {
        eprintln!("usage: discovery_bench PATH [RUNS]");
        std::process::exit(2);
    };
    let runs: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(5);
    for prefilter in [true, false] {
        let options = DiscoverOptions {
            prefilter,
            ..DiscoverOptions::default()
        };
        let mut walk = Vec::new();
        let mut total = Vec::new();
        let mut counts = (0, 0, 0);
        for _ in 0..runs {
            let start = Instant::now();
            let found = discover(std::slice::from_ref(&root), &options);
            walk.push(start.elapsed());
            let files = found.files.len();
            let facts: usize = found
                .files
                .into_par_iter()
                .map(|f| {
                    let file = SourceFile::new(f.path, f.text);
                    poolcheck_extract::extract(&file, f.kind).diagnostics.len()
                })
                .sum();
            total.push(start.elapsed());
            counts = (found.visited, files, facts);
        }
        println!(
            "prefilter {:<5} visited {} files, extracted {} ({} diagnostics): discover {:?}, discover + extract {:?} (median of {runs})",
            prefilter,
            counts.0,
            counts.1,
            counts.2,
            median(walk),
            median(total),
        );
    }
}
