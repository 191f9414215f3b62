//! Files to facts: discovery (walk, classify, prefilter) and one module per
//! front-end. Extraction is pure per file; cross-file references are recorded
//! and resolved by the rules crate when it assembles the deployment.
