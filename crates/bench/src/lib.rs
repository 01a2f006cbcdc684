//! The benchmark of `scripts/bench.sh`. Not a lesson. (The stress suite
//! is its own package, `crates/stress`.)
//!
//! `loadgen` (the load generator of `scripts/bench.sh`) is built from the
//! [`loadgen`] module; the bare echo servers it is compared against are
//! `src/bin/bare-udp-echo.rs` and `src/bin/bare-tcp-echo.rs`.
//!
//! Everything here talks to loopback only and every loop has both a count
//! and a time limit, so a broken server makes a run report errors instead of
//! hanging.

pub mod loadgen;

use std::net::SocketAddr;

/// Refuse anything but a loopback address: the benchmark must never send a
/// packet off this machine, even by a typo on the command line.
pub fn require_loopback(addr: SocketAddr) -> Result<SocketAddr, String> {
    if addr.ip().is_loopback() {
        Ok(addr)
    } else {
        Err(format!(
            "{addr} is not a loopback address: the benchmark only talks to 127.0.0.0/8 or ::1"
        ))
    }
}

/// The value `q` (0.0 to 1.0) of the way up a sorted slice, or 0 when empty.
pub fn quantile(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let last = sorted.len() - 1;
    // `last` is at most usize::MAX, and q is clamped, so the product fits.
    let index = ((last as f64) * q.clamp(0.0, 1.0)).round() as usize;
    sorted.get(index.min(last)).copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles() {
        assert_eq!(quantile(&[], 0.5), 0);
        assert_eq!(quantile(&[7], 0.99), 7);
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(quantile(&v, 0.0), 1);
        assert_eq!(quantile(&v, 0.5), 51);
        assert_eq!(quantile(&v, 1.0), 100);
    }

    #[test]
    fn loopback_only() {
        assert!(require_loopback("127.0.0.1:1".parse().unwrap()).is_ok());
        assert!(require_loopback("127.3.2.1:1".parse().unwrap()).is_ok());
        assert!(require_loopback("[::1]:1".parse().unwrap()).is_ok());
        assert!(require_loopback("10.0.0.1:1".parse().unwrap()).is_err());
        assert!(require_loopback((std::net::Ipv4Addr::BROADCAST, 1).into()).is_err());
    }
}
