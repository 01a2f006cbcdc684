//! `--repeat N`: time N round trips of one message and print one line,
//! `N round trips, median X ms, max Y ms`.
//!
//! With `--split` and a line-framed server, each round trip waits for the
//! server's delayed ACK (about 40 ms on Linux); add `--nodelay` and the same
//! round trip takes a few hundredths of a millisecond on loopback. The
//! socket calls are in main.rs (`set_nodelay` in `run`, the two writes in
//! `send_message`); this file only repeats and times them.

use std::error::Error;
use std::io::BufReader;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::escape;
use common::options::tcp::TcpClientOptions;

use crate::{check_unasked, send_and_read, sendable};

/// Send `message` `--repeat` times, each time waiting for its replies, then
/// print the timing line on stdout (it is the result of the run, like a
/// reply). Only the first reply, and any reply unlike the one before it, is
/// printed: 10,000 copies of `Message received` would say nothing more.
pub(crate) fn repeat(
    stream: &TcpStream,
    reader: &mut BufReader<&TcpStream>,
    message: &str,
    options: &TcpClientOptions,
) -> Result<(), Box<dyn Error>> {
    let count = options.repeat.unwrap_or(1);
    if !sendable(message, options) {
        return Ok(());
    }
    let mut times = Vec::with_capacity(count);
    let mut last: Option<Vec<u8>> = None;
    for _ in 0..count {
        // Looking for unasked bytes is not part of the round trip: it runs
        // before the clock starts.
        check_unasked(stream, reader, options)?;
        let start = Instant::now();
        send_and_read(stream, reader, message, options, &mut |reply| {
            if last.as_deref() == Some(reply) {
                return Ok(());
            }
            last = Some(reply.to_vec());
            common::outln!("{}", escape::printable(reply))
        })?;
        times.push(start.elapsed());
    }
    common::outln!("{}", summary(&mut times))?;
    Ok(())
}

/// `N round trips, median X ms, max Y ms`, in milliseconds with three
/// decimals (a round trip without the stall is well under one).
fn summary(times: &mut [Duration]) -> String {
    times.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = match times.len() {
        0 => 0.0,
        n if n % 2 == 1 => ms(times[n / 2]),
        n => (ms(times[n / 2 - 1]) + ms(times[n / 2])) / 2.0,
    };
    let max = times.last().map_or(0.0, |d| ms(*d));
    format!(
        "{}, median {median:.3} ms, max {max:.3} ms",
        common::count(times.len() as u64, "round trip", "round trips")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(list: &[u64]) -> Vec<Duration> {
        list.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(
            summary(&mut ms(&[44, 1, 40])),
            "3 round trips, median 40.000 ms, max 44.000 ms"
        );
        assert_eq!(
            summary(&mut ms(&[2, 1, 4, 3])),
            "4 round trips, median 2.500 ms, max 4.000 ms"
        );
        assert_eq!(
            summary(&mut ms(&[7])),
            "1 round trip, median 7.000 ms, max 7.000 ms"
        );
    }

    #[test]
    fn sub_millisecond_times_keep_their_digits() {
        let mut times = vec![Duration::from_micros(50), Duration::from_micros(62)];
        assert_eq!(
            summary(&mut times),
            "2 round trips, median 0.056 ms, max 0.062 ms"
        );
    }
}
