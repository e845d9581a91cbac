//! Placeholder: the benchmark is written next.
fn main() {}
