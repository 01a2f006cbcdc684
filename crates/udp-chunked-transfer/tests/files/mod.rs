//! Files for this crate's integration tests (`mod files;` in each that
//! needs them): a scratch folder per test, and contents that look random.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};

/// An empty folder of its own for the test `name`, under `group` in cargo's
/// scratch directory for integration tests.
pub fn scratch(group: &str, name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(group)
        .join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// `len` bytes that look random (xorshift64), the same for the same `seed`,
/// written to `path`.
pub fn make_file(path: &Path, len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let data: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    fs::write(path, &data).unwrap();
    data
}
