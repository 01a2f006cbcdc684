//! The stress and fault suite of scripts/stress.sh (being written).
fn main() {}
