//! `--protocol reliable` of udp-chunked-transfer: every datagram that
//! `wire::decode` accepts re-encodes, with the lesson's own encoders, to the
//! very bytes it came from; every one it refuses says why in one line.
#![no_main]
#![allow(dead_code)]

use libfuzzer_sys::fuzz_target;

// The lesson is a binary: its modules are compiled in here as they are.
#[path = "../../crates/udp-chunked-transfer/src/window.rs"]
mod window;
#[path = "../../crates/udp-chunked-transfer/src/wire.rs"]
mod wire;

use wire::{DecodeError, Packet};

fuzz_target!(|datagram: &[u8]| {
    match wire::decode(datagram) {
        Ok(packet) => {
            if let Some(bytes) = encode(&packet) {
                assert_eq!(bytes, datagram, "{packet:?} re-encodes differently");
            }
            if !matches!(packet, Packet::Hello(_)) {
                assert_eq!(packet.id().to_be_bytes(), datagram[1..5]);
            }
        }
        Err(error) => {
            assert_eq!(error == DecodeError::Empty, datagram.is_empty());
            let text = error.to_string();
            assert!(!text.is_empty() && !text.contains('\n'), "{text:?}");
        }
    }
});

/// The packet, written back with the lesson's encoders. `None` for an ERROR
/// whose message is not UTF-8: `wire::error` takes a `&str` (the lesson
/// never sends anything else), so that one is checked by hand.
fn encode(packet: &Packet<'_>) -> Option<Vec<u8>> {
    Some(match *packet {
        Packet::Hello(hello) => wire::hello(&hello).to_vec(),
        Packet::Accept { id, window } => wire::accept(id, window).to_vec(),
        Packet::Fin { id, crc } => wire::fin(id, crc).to_vec(),
        Packet::Done { id, crc } => wire::done(id, crc).to_vec(),
        Packet::Data { id, index, data } => {
            let mut out = vec![0; wire::RELIABLE_HEADER + data.len()];
            wire::data_header(&mut out, id, index);
            out[wire::RELIABLE_HEADER..].copy_from_slice(data);
            out
        }
        Packet::Ack {
            id,
            cumulative,
            selective,
        } => {
            assert!(selective.len() <= wire::MAX_BITMAP);
            let mut out = Vec::new();
            wire::ack(&mut out, id, cumulative, selective);
            out
        }
        Packet::Error { id, code, message } => {
            assert!(message.len() <= wire::MAX_MESSAGE);
            let text = std::str::from_utf8(message).ok()?;
            let mut out = Vec::new();
            wire::error(&mut out, id, code, text);
            out
        }
    })
}
