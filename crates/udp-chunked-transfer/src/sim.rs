//! The lossy-link simulator: `--simulate-loss`, `--simulate-duplicate`,
//! `--simulate-reorder` and `--seed`.
//!
//! Loopback almost never loses, duplicates or reorders a datagram, so a
//! student could not watch the reliable protocol recover. The simulator
//! decides the fate of each datagram this side is about to send:
//!
//! - lose it (never call `send_to`),
//! - send it twice,
//! - hold it back and send it right after the next datagram (reordering),
//! - or send it normally.
//!
//! The random numbers come from SplitMix64 seeded with `--seed`, so the same
//! seed makes the same choices, datagram by datagram.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use common::rng::SplitMix64;

use crate::options::Simulation;

/// A transfer id nobody can guess in advance: the clock and the process id,
/// well mixed.
pub fn random_id() -> u32 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    let mut rng = SplitMix64::new(nanos ^ (u64::from(std::process::id()) << 32));
    rng.next_u64() as u32
}

/// What to do with the datagram about to be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Send,
    Lose,
    SendTwice,
    /// Keep it; send it after the next one.
    HoldBack,
}

/// Counts of what the simulator did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimStats {
    pub lost: u64,
    pub duplicated: u64,
    pub reordered: u64,
}

/// The simulator of one side.
#[derive(Debug)]
pub struct Simulator {
    config: Simulation,
    rng: SplitMix64,
    held: Vec<u8>,
    held_to: Option<SocketAddr>,
    pub stats: SimStats,
}

impl Simulator {
    pub fn new(config: Simulation) -> Simulator {
        Simulator {
            config,
            rng: SplitMix64::new(config.seed),
            held: Vec::new(),
            held_to: None,
            stats: SimStats::default(),
        }
    }

    /// Decide the fate of the next datagram.
    pub fn fate(&mut self) -> Fate {
        if !self.config.active() {
            return Fate::Send;
        }
        if self.rng.chance(self.config.loss) {
            self.stats.lost += 1;
            return Fate::Lose;
        }
        // Only one datagram is held back at a time.
        if self.held_to.is_none() && self.rng.chance(self.config.reorder) {
            self.stats.reordered += 1;
            return Fate::HoldBack;
        }
        if self.rng.chance(self.config.duplicate) {
            self.stats.duplicated += 1;
            return Fate::SendTwice;
        }
        Fate::Send
    }

    /// Keep a copy of `datagram` to send later (after [`Fate::HoldBack`]).
    pub fn hold(&mut self, datagram: &[u8], to: SocketAddr) {
        self.held.clear();
        self.held.extend_from_slice(datagram);
        self.held_to = Some(to);
    }

    /// The datagram held back, if any. Call [`Simulator::release`] once it
    /// is sent.
    pub fn held(&self) -> Option<(&[u8], SocketAddr)> {
        self.held_to.map(|to| (self.held.as_slice(), to))
    }

    /// Forget the held datagram.
    pub fn release(&mut self) {
        self.held_to = None;
    }

    /// A summary for the log, or `None` if the simulator is off.
    pub fn report(&self) -> Option<String> {
        self.config.active().then(|| {
            format!(
                "simulator (seed {}): lost {}, duplicated {}, reordered {} datagrams",
                self.config.seed, self.stats.lost, self.stats.duplicated, self.stats.reordered
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(loss: f64, duplicate: f64, reorder: f64, seed: u64) -> Simulation {
        Simulation {
            loss,
            duplicate,
            reorder,
            seed,
        }
    }

    #[test]
    fn same_seed_same_fates() {
        let fates = |seed| {
            let mut sim = Simulator::new(config(0.1, 0.05, 0.05, seed));
            let to: SocketAddr = "127.0.0.1:1".parse().unwrap();
            (0..1000)
                .map(|_| {
                    let f = sim.fate();
                    if f == Fate::HoldBack {
                        sim.hold(b"x", to);
                    } else {
                        sim.release();
                    }
                    f
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(fates(7), fates(7));
        assert_ne!(fates(7), fates(8));
    }

    #[test]
    fn rates_are_about_right() {
        let mut sim = Simulator::new(config(0.1, 0.02, 0.0, 42));
        for _ in 0..100_000 {
            sim.fate();
        }
        let lost = sim.stats.lost as f64 / 100_000.0;
        let dup = sim.stats.duplicated as f64 / 100_000.0;
        assert!((0.09..0.11).contains(&lost), "{lost}");
        assert!((0.015..0.025).contains(&dup), "{dup}");
    }

    #[test]
    fn off_means_every_datagram_goes() {
        let mut sim = Simulator::new(Simulation::default());
        assert!((0..1000).all(|_| sim.fate() == Fate::Send));
        assert_eq!(sim.report(), None);
    }

    #[test]
    fn one_held_back_at_a_time() {
        let mut sim = Simulator::new(config(0.0, 0.0, 1.0, 1));
        let to: SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert_eq!(sim.fate(), Fate::HoldBack);
        sim.hold(b"first", to);
        assert_eq!(sim.fate(), Fate::Send);
        assert_eq!(sim.held(), Some((&b"first"[..], to)));
        sim.release();
        assert_eq!(sim.held(), None);
    }
}
