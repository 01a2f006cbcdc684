//! The load generator of scripts/bench.sh (being written).
fn main() {}
