//! `--protocol basic` of udp-chunked-transfer (the tutorial's format):
//! `wire::decode_basic` takes a 4-byte count header or an index and at least
//! one byte of data, and what it returns writes back to the same bytes.
#![no_main]
#![allow(dead_code)]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/udp-chunked-transfer/src/window.rs"]
mod window;
#[path = "../../crates/udp-chunked-transfer/src/wire.rs"]
mod wire;

use wire::Basic;

fuzz_target!(|datagram: &[u8]| {
    match wire::decode_basic(datagram) {
        Some(Basic::Count(count)) => {
            assert_eq!(wire::basic_count(count), datagram);
        }
        Some(Basic::Chunk { index, data }) => {
            assert!(!data.is_empty(), "a chunk holds at least one byte");
            assert!(data.len() <= datagram.len() - wire::BASIC_HEADER);
            let mut out = index.to_be_bytes().to_vec();
            out.extend_from_slice(data);
            assert_eq!(out, datagram);
        }
        None => assert!(datagram.len() < wire::BASIC_HEADER),
    }
});
