//! Fake datagrams in udp-chunked-transfer's reliable protocol, for the
//! hostile-datagrams check of [`crate::chunked`].

use common::rng::SplitMix64;

fn be32(v: u32) -> [u8; 4] {
    v.to_be_bytes()
}

/// A HELLO: `[1][version][id][size u64][chunk u32][count u32][window u32]`.
fn hello(version: u8, id: u32, size: u64, chunk: u32, count: u32, window: u32) -> Vec<u8> {
    let mut out = vec![1, version];
    out.extend_from_slice(&be32(id));
    out.extend_from_slice(&size.to_be_bytes());
    out.extend_from_slice(&be32(chunk));
    out.extend_from_slice(&be32(count));
    out.extend_from_slice(&be32(window));
    out
}

/// Datagrams in the reliable protocol's format that no receiver should
/// accept: HELLOs that do not add up, are too big or of another version,
/// and DATA, ACK, FIN, DONE, ERROR of transfers that do not exist.
pub fn fake_packet(rng: &mut SplitMix64) -> Vec<u8> {
    let id = rng.next_u64() as u32;
    match rng.range(0, 9) {
        0 => {
            let version = *rng.pick(&[0u8, 2, 255]).unwrap_or(&0);
            hello(version, id, 1000, 100, 10, 8)
        }
        1 => hello(1, id, 1000, 100, 11, 8), // 11 chunks do not make 1000 bytes
        2 => hello(1, id, 2 << 30, 65_498, 32_788, 64), // 2 GiB: over --max-size
        3 => hello(1, id, 1000, 0, 0, 8),    // chunk size 0
        4 => hello(1, id, 1000, 100, 10, 0), // window 0
        5 => {
            let mut out = vec![3];
            out.extend_from_slice(&be32(id));
            out.extend_from_slice(&be32(rng.next_u64() as u32));
            let len = rng.range(0, 2000);
            out.extend(rng.bytes(len));
            out
        }
        6 => {
            let mut out = vec![4];
            out.extend_from_slice(&be32(id));
            out.extend_from_slice(&be32(u32::MAX));
            let len = rng.range(0, 3000); // longer than any real bitmap
            out.extend(rng.bytes(len));
            out
        }
        7 => {
            let mut out = vec![*rng.pick(&[5u8, 6, 7, 8, 0, 255]).unwrap_or(&5)];
            out.extend_from_slice(&be32(id));
            let len = rng.range(0, 300);
            out.extend(rng.bytes(len));
            out
        }
        8 => be32(u32::MAX).to_vec(), // a basic-protocol count header
        _ => {
            let mut out = hello(1, id, 1000, 100, 10, 8);
            out.truncate(rng.range(1, 25));
            out
        }
    }
}
