//! What a person sees: a progress bar while the transfer runs (only when
//! stderr is a terminal, and not with `RUST_LOG=debug`) and one summary
//! line at the end.

use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

/// Redraw at most this often.
const REDRAW: Duration = Duration::from_millis(100);
const BAR_WIDTH: usize = 30;

/// A one-line progress bar on stderr: bytes, percent, rate.
#[derive(Debug)]
pub struct Progress {
    total: u64,
    start: Instant,
    last_draw: Option<Instant>,
    on: bool,
}

impl Progress {
    /// A bar for `total` bytes, drawn only if stderr is a terminal: piped
    /// into a file or another program, it stays silent. Nor is it drawn
    /// with `RUST_LOG=debug`: debug lines come many times a second, mid
    /// transfer, on the same stderr, and each would start where the bar
    /// ends. The log is what a student asked for then, so it wins.
    pub fn new(total: u64) -> Progress {
        Progress {
            total,
            start: Instant::now(),
            last_draw: None,
            on: io::stderr().is_terminal() && !log::log_enabled!(log::Level::Debug),
        }
    }

    /// `done` bytes so far. Cheap to call often: it redraws ten times a
    /// second at most.
    pub fn update(&mut self, done: u64) {
        if !self.on {
            return;
        }
        let now = Instant::now();
        if self.last_draw.is_some_and(|t| now - t < REDRAW) {
            return;
        }
        self.last_draw = Some(now);
        let line = bar(done, self.total, now - self.start);
        let _ = write!(io::stderr(), "\r{line}");
    }

    /// Erase the bar, so the summary line starts clean.
    pub fn finish(&mut self) {
        if self.on && self.last_draw.is_some() {
            let _ = write!(io::stderr(), "\r{:width$}\r", "", width = 80);
        }
        self.last_draw = None;
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// `[#########.....] 12.0 MiB / 64.0 MiB  18%  310.2 MB/s`
fn bar(done: u64, total: u64, elapsed: Duration) -> String {
    let fraction = if total == 0 {
        1.0
    } else {
        (done as f64 / total as f64).min(1.0)
    };
    let filled = (fraction * BAR_WIDTH as f64) as usize;
    format!(
        "[{}{}] {} / {} {:3.0}% {:7.1} MB/s",
        "#".repeat(filled),
        ".".repeat(BAR_WIDTH - filled),
        mib(done),
        mib(total),
        fraction * 100.0,
        megabytes_per_second(done, elapsed)
    )
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Decimal megabytes (10^6 bytes) per second, as network speeds are quoted.
pub fn megabytes_per_second(bytes: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        0.0
    } else {
        bytes as f64 / secs / 1e6
    }
}

/// The one-line summary both sides end with. Each side reports only what
/// it counted itself: the receiver cannot see a retransmission (to it, a
/// resent chunk is the first copy that arrived), so it reports duplicates
/// received, and leaves retransmissions to the sender's line.
#[derive(Debug, Clone)]
pub struct Summary {
    /// `sent` or `received`.
    pub verb: &'static str,
    pub file: String,
    pub bytes: u64,
    /// How the bytes travelled, counted: `1954 chunks`, `10 reads`.
    pub pieces: String,
    /// What this side counted on the way, in words: `224 retransmissions`.
    pub counts: Vec<String>,
    pub elapsed: Duration,
    pub crc: u32,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}, {}",
            self.verb,
            self.file,
            common::count(self.bytes, "byte", "bytes"),
            self.pieces
        )?;
        for count in &self.counts {
            write!(f, ", {count}")?;
        }
        write!(
            f,
            ", {:.1} MB/s, crc32 {:08x}",
            megabytes_per_second(self.bytes, self.elapsed),
            self.crc
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_shows_bytes_percent_and_rate() {
        let line = bar(5 << 20, 10 << 20, Duration::from_secs(1));
        assert!(line.starts_with(&format!("[{}{}]", "#".repeat(15), ".".repeat(15))));
        assert!(line.contains("5.0 MiB / 10.0 MiB"), "{line}");
        assert!(line.contains(" 50%"), "{line}");
        assert!(line.contains("5.2 MB/s"), "{line}");
        let empty = bar(0, 0, Duration::ZERO);
        assert!(empty.contains("100%"), "{empty}");
    }

    #[test]
    fn summary_line() {
        let s = Summary {
            verb: "received",
            file: "out.bin".into(),
            bytes: 2_000_000,
            pieces: "1954 chunks".into(),
            counts: vec!["3 duplicate chunks received".into(), "and so on".into()],
            elapsed: Duration::from_millis(500),
            crc: 0xab,
        };
        assert_eq!(
            s.to_string(),
            "received out.bin: 2000000 bytes, 1954 chunks, 3 duplicate chunks received, \
             and so on, 4.0 MB/s, crc32 000000ab"
        );
        let one = Summary {
            bytes: 1,
            pieces: "1 chunk".into(),
            counts: Vec::new(),
            ..s
        };
        assert!(one
            .to_string()
            .starts_with("received out.bin: 1 byte, 1 chunk, 0.0 MB/s"));
    }
}
