//! udp-chunked-transfer: hostile datagrams to the receiver, transfers over a
//! simulated bad link, transfers killed at random points, and Ctrl+C to the
//! receiver in the middle of a transfer.

use std::fs;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use crate::chunked_wire::fake_packet;
use crate::process::{self, check_log, Bins};
use crate::report::{median_max, ms, Outcome, Report};
use crate::shutdown::BUDGET;
use crate::udp::{self, loopback};
use crate::Plan;
use common::rng::SplitMix64;
use common::testing::Lesson;

const BIN: &str = "udp-chunked-transfer";
/// The simulated link of the transfer checks, on both sides (data one way,
/// acknowledgements the other).
const LINK: [&str; 6] = [
    "--simulate-loss",
    "0.1",
    "--simulate-reorder",
    "0.05",
    "--simulate-duplicate",
    "0.02",
];

/// A scratch directory for the files of this run, removed at the end.
pub struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    pub fn new() -> Result<Scratch, String> {
        let dir = std::env::temp_dir().join(format!("stress-chunked-{}", std::process::id()));
        fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(Scratch { dir })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Files in the directory whose names contain `part` (the receivers'
    /// temporary files).
    fn leftovers(&self, part: &str) -> Vec<String> {
        fs::read_dir(&self.dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.contains(part))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn remove_leftovers(&self, part: &str) {
        for name in self.leftovers(part) {
            let _ = fs::remove_file(self.dir.join(name));
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Write `len` random bytes to `path`.
fn make_file(path: &Path, len: usize, rng: &mut SplitMix64) -> Result<Vec<u8>, String> {
    let bytes = rng.bytes(len);
    fs::write(path, &bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(bytes)
}

/// Is the file at `path` exactly `expected`?
fn same(path: &Path, expected: &[u8]) -> Result<(), String> {
    let got = fs::read(path).map_err(|e| format!("{} is missing: {e}", path.display()))?;
    if got == expected {
        Ok(())
    } else {
        let at = got
            .iter()
            .zip(expected)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(expected.len()));
        Err(format!(
            "{} differs: {} bytes instead of {}, first difference at byte {at}",
            path.display(),
            got.len(),
            expected.len()
        ))
    }
}

fn receiver_args<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["receive", "--out", out, "--port", "0"];
    args.extend_from_slice(extra);
    args
}

/// 10,000 hostile datagrams to a waiting receiver; then a real transfer.
fn hostile(bins: &Bins, plan: &Plan, scratch: &Scratch) -> Outcome {
    let out = scratch.path("after-flood.bin");
    let out_text = out.to_string_lossy().into_owned();
    let mut receiver = process::start(bins, BIN, &receiver_args(&out_text, &[]))?;
    let flood = udp::flood(&receiver, plan.datagrams, plan.seed, &fake_packet)?;
    ensure_alive(&mut receiver)?;
    if out.exists() {
        return Err("the flood made the receiver write a file".into());
    }
    let source = scratch.path("source-flood.bin");
    let mut rng = SplitMix64::new(plan.seed);
    let bytes = make_file(&source, 300_000, &mut rng)?;
    let port = loopback(receiver.try_addr()?).port().to_string();
    let source_text = source.to_string_lossy().into_owned();
    let sent = process::run(
        &bins.path(BIN),
        &["send", &source_text, "--port", &port].map(Into::into),
        Duration::from_secs(20),
    )?;
    if sent.status.code() != Some(0) {
        return Err(format!(
            "the transfer after the flood failed: {}",
            sent.stderr.trim()
        ));
    }
    let status = receiver
        .try_wait_exit(Duration::from_secs(5))
        .ok_or("the receiver did not exit after its file")?;
    if status.code() != Some(0) {
        return Err(format!(
            "the receiver exited with {status}: {}",
            receiver.stderr_tail(2)
        ));
    }
    same(&out, &bytes)?;
    check_log(&receiver.stderr())?;
    flood.check_delivered(1)?;
    flood.check_memory(2 * 1024, 64 * 1024)?;
    Ok(format!(
        "{}; then a 300000-byte file arrived intact in {}",
        flood.figures(),
        ms(sent.elapsed)
    ))
}

fn ensure_alive(server: &mut Lesson) -> Result<(), String> {
    if server.alive() {
        Ok(())
    } else {
        Err(format!("the receiver died: {}", server.stderr_tail(3)))
    }
}

/// The file sizes of the lossy transfers: an empty file, one byte, a whole
/// number of chunks, and random sizes up to 1 MiB.
fn transfer_size(i: usize, rng: &mut SplitMix64) -> usize {
    match i {
        0 => 0,
        1 => 1,
        2 => 1024 * 64,
        _ => rng.range(2, 1 << 20),
    }
}

/// One transfer over the simulated bad link; its time.
fn lossy_transfer(
    bins: &Bins,
    scratch: &Scratch,
    i: usize,
    seed: u64,
) -> Result<(Duration, usize), String> {
    let mut rng = SplitMix64::new(seed);
    let len = transfer_size(i, &mut rng);
    let source = scratch.path(&format!("source-{i}.bin"));
    let out = scratch.path(&format!("lossy-{i}.bin"));
    let bytes = make_file(&source, len, &mut rng)?;
    let out_text = out.to_string_lossy().into_owned();
    let receiver_seed = (seed ^ 0x5555).to_string();
    let mut extra: Vec<&str> = LINK.to_vec();
    extra.extend_from_slice(&["--seed", &receiver_seed]);
    let mut receiver = process::start(bins, BIN, &receiver_args(&out_text, &extra))?;
    let port = loopback(receiver.try_addr()?).port().to_string();
    let source_text = source.to_string_lossy().into_owned();
    let sender_seed = seed.to_string();
    let mut args: Vec<&str> = vec!["send", &source_text, "--port", &port];
    args.extend_from_slice(&LINK);
    args.extend_from_slice(&["--seed", &sender_seed]);
    let args: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
    let sent = process::run(&bins.path(BIN), &args, Duration::from_secs(30))?;
    if sent.status.code() != Some(0) {
        return Err(format!(
            "seed {seed}, {len} bytes: the sender exited with {}: {}",
            sent.status,
            sent.stderr.trim()
        ));
    }
    let status = receiver
        .try_wait_exit(Duration::from_secs(5))
        .ok_or_else(|| format!("seed {seed}: the receiver did not exit after its file"))?;
    if status.code() != Some(0) {
        return Err(format!(
            "seed {seed}, {len} bytes: the receiver exited with {status}: {}",
            receiver.stderr_tail(2)
        ));
    }
    same(&out, &bytes).map_err(|e| format!("seed {seed}: {e}"))?;
    check_log(&receiver.stderr())?;
    let _ = fs::remove_file(&source);
    let _ = fs::remove_file(&out);
    Ok((sent.elapsed, len))
}

/// 20 transfers (20 seeds) with 10% loss, 5% reordering, 2% duplication.
fn lossy(bins: &Bins, plan: &Plan, scratch: &Scratch) -> Outcome {
    let mut times = Vec::new();
    let mut bytes = 0;
    let mut failures = Vec::new();
    for i in 0..plan.transfers {
        let seed = plan.seed.wrapping_add(i as u64);
        match lossy_transfer(bins, scratch, i, seed) {
            Ok((elapsed, len)) => {
                times.push(elapsed);
                bytes += len;
            }
            Err(e) => failures.push(e),
        }
    }
    let (median, max) = median_max(&times);
    let figures = format!(
        "{}/{} transfers byte-identical ({:.1} MiB in all, sizes 0 B to 1 MiB) over a link \
         losing 10%, reordering 5%, duplicating 2% each way; time per transfer median {}, max {}",
        times.len(),
        plan.transfers,
        bytes as f64 / 1_048_576.0,
        ms(median),
        ms(max)
    );
    if failures.is_empty() {
        Ok(figures)
    } else {
        Err(format!(
            "{} failed; first: {}; {figures}",
            failures.len(),
            failures.first().map(String::as_str).unwrap_or("")
        ))
    }
}

/// What one killed transfer left behind.
#[derive(Default)]
struct Killed {
    mid_transfer: usize,
    completed_first: usize,
    temp_left_by_sigkill: usize,
}

/// Transfers killed at random points: SIGKILL to the receiver, SIGKILL to
/// the sender (the receiver then times out), SIGINT to the receiver. The
/// destination is never a partial file: it is absent, or the whole file.
fn killed(bins: &Bins, plan: &Plan, scratch: &Scratch) -> Outcome {
    let mut rng = SplitMix64::new(plan.seed ^ 0xdead);
    let source = scratch.path("source-killed.bin");
    // Big enough, over a lossy link, to take a while.
    let bytes = make_file(&source, 4 << 20, &mut rng)?;
    let source_text = source.to_string_lossy().into_owned();
    // One whole transfer first, to know how long one takes: the kills then
    // land at random points inside that time.
    let calibration = scratch.path("killed-calibration.bin");
    let calibration_text = calibration.to_string_lossy().into_owned();
    let mut receiver = process::start(bins, BIN, &receiver_args(&calibration_text, &LINK))?;
    let port = loopback(receiver.try_addr()?).port().to_string();
    let mut args: Vec<&str> = vec!["send", &source_text, "--port", &port];
    args.extend_from_slice(&LINK);
    let args: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
    let whole = process::run(&bins.path(BIN), &args, Duration::from_secs(30))?;
    receiver.try_wait_exit(Duration::from_secs(5));
    drop(receiver);
    same(&calibration, &bytes).map_err(|e| format!("the calibration transfer: {e}"))?;
    let _ = fs::remove_file(&calibration);
    let span_ms = (whole.elapsed.as_millis() as usize * 9 / 10).max(1);

    let mut tally = Killed::default();
    let mut problems = Vec::new();
    for round in 0..plan.kills {
        let out = scratch.path(&format!("killed-{round}.bin"));
        let out_text = out.to_string_lossy().into_owned();
        let mut extra: Vec<&str> = LINK.to_vec();
        extra.extend_from_slice(&["--timeout-ms", "300"]);
        let mut receiver = process::start(bins, BIN, &receiver_args(&out_text, &extra))?;
        let port = loopback(receiver.try_addr()?).port().to_string();
        let mut args: Vec<&str> = vec!["send", &source_text, "--port", &port];
        args.extend_from_slice(&LINK);
        let mut sender = process::spawn(bins, BIN, &args)?;
        thread::sleep(Duration::from_millis(rng.range(0, span_ms) as u64));
        let how = round % 3;
        match how {
            0 => receiver.kill_now(),
            1 => sender.kill_now(),
            _ => {
                let _ = receiver.try_signal(common::testing::SIGINT);
            }
        }
        // Whatever is left ends by itself: the receiver times out, the
        // sender runs out of retries or hears the receiver's ERROR.
        let receiver_end = receiver.try_wait_exit(Duration::from_secs(5));
        sender.try_wait_exit(Duration::from_secs(5));
        sender.kill_now();
        receiver.kill_now();
        if receiver_end.is_none() {
            problems.push(format!(
                "round {round}: the receiver did not exit within 5 s"
            ));
        }
        match fs::metadata(&out) {
            Err(_) => tally.mid_transfer += 1,
            Ok(_) => match same(&out, &bytes) {
                Ok(()) => tally.completed_first += 1,
                Err(e) => problems.push(format!("round {round}: a partial file: {e}")),
            },
        }
        let temps = scratch.leftovers(".part");
        if !temps.is_empty() {
            if how == 0 {
                // SIGKILL gives no chance to clean up; the name says whose.
                tally.temp_left_by_sigkill += temps.len();
            } else {
                problems.push(format!(
                    "round {round}: temporary file left after a {}: {temps:?}",
                    if how == 1 { "dead sender" } else { "Ctrl+C" }
                ));
            }
            scratch.remove_leftovers(".part");
        }
        if !receiver.stderr().is_empty() {
            if let Err(e) = check_log(&receiver.stderr()) {
                if how != 0 {
                    problems.push(format!("round {round}: {e}"));
                }
            }
        }
        let _ = fs::remove_file(&out);
    }
    let figures = format!(
        "{} transfers of 4 MiB (a whole one takes {}) killed at random points (receiver \
         SIGKILL, sender SIGKILL, receiver SIGINT in turn): {} stopped mid-transfer with no file at the destination, {} \
         had finished (whole file); {} temporary .part files left by SIGKILL (nothing can clean \
         up after SIGKILL; the destination was never touched)",
        plan.kills,
        ms(whole.elapsed),
        tally.mid_transfer,
        tally.completed_first,
        tally.temp_left_by_sigkill
    );
    if problems.is_empty() {
        Ok(figures)
    } else {
        Err(format!("{}; {figures}", problems.join("; ")))
    }
}

/// Ctrl+C to the receiver mid-transfer, `rounds` times: exit 0 within 250
/// ms, `server closed`, a whole log, and no partial or temporary file.
fn shutdown(bins: &Bins, plan: &Plan, scratch: &Scratch) -> Outcome {
    let mut rng = SplitMix64::new(plan.seed ^ 0xc0de);
    let source = scratch.path("source-shutdown.bin");
    make_file(&source, 4 << 20, &mut rng)?;
    let source_text = source.to_string_lossy().into_owned();
    let mut times = Vec::new();
    let mut failures = Vec::new();
    let mut exit_codes = Vec::new();
    for round in 1..=plan.rounds {
        let out = scratch.path(&format!("interrupted-{round}.bin"));
        let out_text = out.to_string_lossy().into_owned();
        let result = (|| -> Result<(), String> {
            let mut receiver = process::start(bins, BIN, &receiver_args(&out_text, &LINK))?;
            let port = loopback(receiver.try_addr()?).port().to_string();
            let mut args: Vec<&str> = vec!["send", &source_text, "--port", &port];
            args.extend_from_slice(&LINK);
            let mut sender = process::spawn(bins, BIN, &args)?;
            if !receiver.wait_stderr(" sends ", Duration::from_secs(5)) {
                return Err(format!("no transfer started: {}", receiver.stderr_tail(2)));
            }
            thread::sleep(Duration::from_millis(rng.range(5, 60) as u64));
            if !receiver.alive() {
                return Err("the transfer finished before the SIGINT; use a bigger file".into());
            }
            let (elapsed, status) = receiver.try_interrupt(Duration::from_secs(3))?;
            sender.try_wait_exit(Duration::from_secs(3));
            sender.kill_now();
            exit_codes.push(status.code().unwrap_or(-1));
            times.push(elapsed);
            if elapsed > BUDGET {
                return Err(format!("took {} to exit", ms(elapsed)));
            }
            if out.exists() {
                return Err("a partial file at the destination".into());
            }
            let temps = scratch.leftovers(".part");
            if !temps.is_empty() {
                return Err(format!("temporary files left: {temps:?}"));
            }
            let log = receiver.stderr();
            check_log(&log)?;
            if status.code() != Some(0) {
                return Err(format!(
                    "exit status {} after Ctrl+C mid-transfer (the course's rule for a server \
                     is 0 on Ctrl+C); log ends: {}",
                    status.code().unwrap_or(-1),
                    receiver.stderr_tail(2)
                ));
            }
            let last = log.lines().last().unwrap_or("");
            if !last.contains("server closed") {
                return Err(format!("the last log line is {last:?}"));
            }
            Ok(())
        })();
        if let Err(e) = result {
            failures.push(format!("round {round}: {e}"));
        }
        scratch.remove_leftovers(".part");
        let _ = fs::remove_file(&out);
    }
    let (median, max) = median_max(&times);
    exit_codes.sort_unstable();
    exit_codes.dedup();
    let figures = format!(
        "{}/{} rounds clean; SIGINT mid-transfer to exit median {}, max {}; exit codes seen \
         {exit_codes:?}",
        plan.rounds - failures.len(),
        plan.rounds,
        ms(median),
        ms(max)
    );
    if failures.is_empty() {
        Ok(figures)
    } else {
        Err(format!(
            "{} of {} rounds failed; first: {}; {figures}",
            failures.len(),
            plan.rounds,
            failures.first().map(String::as_str).unwrap_or("")
        ))
    }
}

pub fn run_checks(bins: &Bins, plan: &Plan, report: &mut Report) {
    let who = "udp-chunked-transfer-receive";
    let wanted = ["datagrams", "transfer", "shutdown"];
    if !wanted.iter().any(|g| plan.wants(g)) {
        return;
    }
    let scratch = match Scratch::new() {
        Ok(s) => s,
        Err(e) => {
            report.record(who, "scratch-directory", Err(e));
            return;
        }
    };
    if plan.wants("datagrams") {
        report.record(who, "hostile-datagrams", hostile(bins, plan, &scratch));
    }
    if plan.wants("transfer") {
        report.record(BIN, "lossy-transfers", lossy(bins, plan, &scratch));
        report.record(BIN, "killed-transfers", killed(bins, plan, &scratch));
    }
    if plan.wants("shutdown") {
        report.record(who, "shutdown-under-load", shutdown(bins, plan, &scratch));
    }
}
