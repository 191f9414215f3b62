//! (front-end in progress)
