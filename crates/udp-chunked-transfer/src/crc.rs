//! CRC-32, the end-to-end checksum of a transfer.
//!
//! Why CRC-32 (the IEEE polynomial, as in zlib, gzip, PNG and Ethernet)?
//!
//! - It catches what a transfer can get wrong: every error burst of up to 32
//!   bits, every odd number of flipped bits, and all but one in 4 billion of
//!   the rest, such as a chunk written at the wrong offset.
//! - Anybody can check our number: Python's `zlib.crc32(data)` gives the
//!   same value.
//! - It is fast enough not to slow the transfer down much, with "slicing
//!   by 16" below: sixteen table lookups per 16 bytes, all independent of
//!   each other, instead of eight shift-and-xor steps per byte.
//!
//! Chunks arrive out of order, but a CRC must be fed bytes in order. So the
//! receiver takes the CRC of each chunk on its own as it arrives, and
//! [`InOrder`] chains those in index order with [`combine`] (zlib's
//! `crc32_combine`): no chunk is ever read twice.
//!
//! It is not a defence against someone who wants to change the file on
//! purpose (they can fix up the CRC too); that needs a cryptographic hash or,
//! better, an authenticated channel.

/// The reflected IEEE polynomial.
const POLY: u32 = 0xEDB8_8320;

/// How many bytes one step of [`Crc32::update`] takes.
const SLICES: usize = 16;

/// `TABLES[0]` is the classic byte-at-a-time table; `TABLES[k][b]` is the
/// CRC of byte `b` followed by `k` zero bytes.
static TABLES: [[u32; 256]; SLICES] = make_tables();

const fn make_tables() -> [[u32; 256]; SLICES] {
    let mut tables = [[0u32; 256]; SLICES];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
            bit += 1;
        }
        tables[0][i] = crc;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut k = 1;
        while k < SLICES {
            let prev = tables[k - 1][i];
            tables[k][i] = (prev >> 8) ^ tables[0][(prev & 0xff) as usize];
            k += 1;
        }
        i += 1;
    }
    tables
}

/// A running CRC-32: feed it bytes in order with [`Crc32::update`].
#[derive(Debug, Clone, Copy)]
pub struct Crc32 {
    state: u32,
}

impl Default for Crc32 {
    fn default() -> Self {
        Crc32::new()
    }
}

impl Crc32 {
    pub fn new() -> Crc32 {
        Crc32 { state: !0 }
    }

    /// Add `data` to the checksum.
    pub fn update(&mut self, data: &[u8]) {
        let t = &TABLES;
        let mut crc = self.state;
        let mut blocks = data.chunks_exact(SLICES);
        for block in &mut blocks {
            let mut b = [0u8; SLICES];
            b.copy_from_slice(block);
            // The running CRC is folded into the first four bytes; then each
            // byte looks up the table for its distance from the block's end.
            let head = crc ^ u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            b[..4].copy_from_slice(&head.to_le_bytes());
            crc = 0;
            for (i, byte) in b.iter().enumerate() {
                crc ^= t[SLICES - 1 - i][usize::from(*byte)];
            }
        }
        for &byte in blocks.remainder() {
            crc = (crc >> 8) ^ t[0][((crc ^ u32::from(byte)) & 0xff) as usize];
        }
        self.state = crc;
    }

    /// The checksum of everything fed so far.
    pub fn value(&self) -> u32 {
        !self.state
    }
}

/// The CRC-32 of `data` in one go.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = Crc32::new();
    crc.update(data);
    crc.value()
}

/// `a * b` modulo the CRC polynomial, in the bit-reversed representation
/// CRC-32 uses (zlib's `multmodp`).
fn multmodp(a: u32, mut b: u32) -> u32 {
    let mut product = 0;
    let mut m = 1u32 << 31;
    while m != 0 {
        if a & m != 0 {
            product ^= b;
        }
        m >>= 1;
        b = if b & 1 == 1 { (b >> 1) ^ POLY } else { b >> 1 };
    }
    product
}

/// `x^(8 * n)` modulo the polynomial: what appending `n` bytes does to a
/// CRC.
fn shift_for(n: u64) -> u32 {
    let mut result = 1u32 << 31; // x^0
    let mut power = 1u32 << 23; // x^8: one byte
    let mut n = n;
    while n != 0 {
        if n & 1 == 1 {
            result = multmodp(power, result);
        }
        power = multmodp(power, power);
        n >>= 1;
    }
    result
}

/// The CRC-32 of `A` followed by `B`, from `crc32(A)`, `crc32(B)` and the
/// length of `B`. ([`InOrder`] does the same, with the shift worked out
/// once for the usual chunk length.)
#[cfg(test)]
pub fn combine(crc_a: u32, crc_b: u32, len_b: u64) -> u32 {
    multmodp(shift_for(len_b), crc_a) ^ crc_b
}

/// Chains the CRCs of chunks, given in any order, into the CRC of the whole
/// file. A chunk that comes early waits (4 + 8 bytes) until the ones before
/// it are in; the reliable receiver never holds more than a window of them.
#[derive(Debug)]
pub struct InOrder {
    chunk_size: u64,
    /// `shift_for(chunk_size)`, worked out once.
    full_shift: u32,
    next: u32,
    value: u32,
    early: std::collections::BTreeMap<u32, (u32, u64)>,
}

impl InOrder {
    pub fn new(chunk_size: usize) -> InOrder {
        InOrder {
            chunk_size: chunk_size as u64,
            full_shift: shift_for(chunk_size as u64),
            next: 0,
            value: 0,
            early: std::collections::BTreeMap::new(),
        }
    }

    /// Chunk `index`, `len` bytes long, has CRC-32 `crc`. Each index must
    /// be given once.
    pub fn add(&mut self, index: u32, crc: u32, len: usize) {
        if index != self.next {
            self.early.insert(index, (crc, len as u64));
            return;
        }
        self.append(crc, len as u64);
        while let Some((crc, len)) = self.early.remove(&self.next) {
            self.append(crc, len);
        }
    }

    fn append(&mut self, crc: u32, len: u64) {
        let shift = if len == self.chunk_size {
            self.full_shift
        } else {
            shift_for(len)
        };
        self.value = multmodp(shift, self.value) ^ crc;
        self.next += 1;
    }

    /// The CRC-32 of chunks `0..next()`.
    pub fn value(&self) -> u32 {
        self.value
    }

    /// How many chunks, from the first, are chained.
    #[cfg(test)]
    pub fn next(&self) -> u32 {
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bitwise definition, for comparison.
    fn slow(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ POLY
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn combine_matches_the_crc_of_the_concatenation() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 13 + i / 7) as u8).collect();
        for split in [0, 1, 7, 1024, 4999, 5000] {
            let (a, b) = data.split_at(split);
            assert_eq!(
                combine(crc32(a), crc32(b), b.len() as u64),
                crc32(&data),
                "split at {split}"
            );
        }
    }

    #[test]
    fn chunks_in_any_order_chain_to_the_files_crc() {
        let data: Vec<u8> = (0..10_500u32).map(|i| (i * 31 % 251) as u8).collect();
        let chunks: Vec<&[u8]> = data.chunks(1000).collect();
        let mut chain = InOrder::new(1000);
        for i in [3usize, 0, 10, 1, 2, 5, 4, 9, 8, 7, 6] {
            chain.add(i as u32, crc32(chunks[i]), chunks[i].len());
            if i == 2 {
                assert_eq!(chain.next(), 4);
                assert_eq!(chain.value(), crc32(&data[..4000]));
            }
        }
        assert_eq!(chain.next(), 11);
        assert_eq!(chain.value(), crc32(&data));
        assert!(chain.early.is_empty());
        assert_eq!(InOrder::new(5).value(), crc32(b""));
    }

    #[test]
    fn known_values() {
        // The standard check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        // python3 -c 'import zlib; print(hex(zlib.crc32(b"hello world")))'
        assert_eq!(crc32(b"hello world"), 0x0D4A_1185);
    }

    #[test]
    fn matches_the_bitwise_definition_for_every_length_and_split() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + i / 3) as u8).collect();
        for len in 0..data.len() {
            assert_eq!(crc32(&data[..len]), slow(&data[..len]), "length {len}");
        }
        for split in 0..data.len() {
            let mut crc = Crc32::new();
            crc.update(&data[..split]);
            crc.update(&data[split..]);
            assert_eq!(crc.value(), slow(&data), "split at {split}");
        }
    }
}
