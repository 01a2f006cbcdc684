#!/usr/bin/env bash
# The stress and fault suite (docs/reliability.md; the package crates/stress):
# build the lessons, then abuse every server on loopback: hostile datagrams
# and connections, held and slow clients, running out of file descriptors,
# Ctrl+C under load, lossy transfers. (The bad command lines run in `cargo
# test`, in each lesson's tests/cli.rs.) One `PASS|FAIL <server> <check>:
# <figures>` line per check, then `N passed, N failed`; exits non-zero if any
# failed.
#
#   scripts/stress.sh                         # everything (about 80 s after the build)
#   scripts/stress.sh --only held,shutdown    # some groups; `--help` lists them
#
# Uses the debug build (the one `cargo test` and scripts/demo.sh build too);
# honours CARGO_TARGET_DIR.
#
# Linux only: the suite reads /proc (a server's threads, memory and open
# descriptors, its sockets' queues). This wrapper itself keeps to bash 3.2 and
# BSD tools all the same.
set -uo pipefail
cd "$(dirname "$0")/.."

target=${CARGO_TARGET_DIR:-target}
# Everything but the benchmark (crates/bench), which the suite does not run.
printf 'Building the lessons and the suite (cargo build --workspace --exclude bench --bins)...\n'
cargo build --workspace --exclude bench --bins --quiet || exit 1

# The held-connections check keeps about 1,000 sockets open at once, so the
# suite needs more than the common default of 1024 descriptors.
soft=$(ulimit -n)
if [ "$soft" != unlimited ] && [ "$soft" -lt 4096 ]; then
  hard=$(ulimit -Hn)
  if [ "$hard" = unlimited ] || [ "$hard" -ge 4096 ]; then ulimit -n 4096; else ulimit -n "$hard"; fi
fi

# The suite has its own watchdog (--deadline-s); this outer limit is only a
# last resort should the suite itself get stuck. macOS has no `timeout`:
# there a background watchdog ends the suite (this script's PID, which exec
# hands on to it) after the same 240 s, or leaves when it exits.
suite=("$target/debug/stress" --bin-dir "$target/debug" "$@")
if command -v timeout >/dev/null 2>&1; then # shcheck: ok
  exec timeout -k 5 240 "${suite[@]}" # shcheck: ok (GNU coreutils, checked above)
fi
(
  i=0
  while [ "$i" -lt 240 ]; do
    sleep 1
    kill -0 $$ 2>/dev/null || exit 0
    i=$((i + 1))
  done
  echo "stress.sh: the suite ran over 240 s; stopping it" >&2
  kill -TERM $$ 2>/dev/null
  i=0
  while [ "$i" -lt 5 ] && kill -0 $$ 2>/dev/null; do sleep 1; i=$((i + 1)); done
  kill -0 $$ 2>/dev/null && kill -KILL $$
) </dev/null >/dev/null &
exec "${suite[@]}"
