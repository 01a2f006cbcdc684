#!/usr/bin/env bash
# Fuzz the decoders that take bytes from the network or the user
# (docs/reliability.md, "Fuzzing"; the targets are in fuzz/fuzz_targets/):
# run each target for SECONDS with a fixed seed, then print one
# `PASS|FAIL <target>: N executions in S s, K crashes` line per target.
# Exits non-zero if any target crashed; the input that did it is kept in
# fuzz/artifacts/<target>/ and the line says how to replay it.
#
#   scripts/fuzz.sh                  # every target, 20 s each (what CI runs)
#   scripts/fuzz.sh 300              # every target, 5 minutes each
#   scripts/fuzz.sh 60 tcp_lines     # some targets
#
# FUZZ_SEED (default 1) is libFuzzer's -seed. Each run starts from the seed
# corpus in fuzz/seeds/<target>/ (crashes found before are kept there) and
# grows a copy in a temporary directory, so runs do not feed one another.
#
# Needs the nightly toolchain, cargo-fuzz and a C++ compiler; installs them
# (rustup, cargo install, apt-get as root) when missing. Runs on Linux and
# macOS; libFuzzer has no Windows port here. Built without a sanitizer (the
# lessons have no unsafe code) but with debug assertions, so an overflow
# panics as it does in a test build.
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-20}
case $seconds in
  '' | *[!0-9]*) printf 'usage: scripts/fuzz.sh [SECONDS] [TARGET...]\n' >&2; exit 2 ;;
esac
[ $# -gt 0 ] && shift
seed=${FUZZ_SEED:-1}

# libfuzzer-sys compiles libFuzzer, which is C++. A fresh Debian has no
# C++ compiler; install one when we are root there, as on CI.
if ! command -v c++ >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  printf 'Installing a C++ compiler for libFuzzer (apt-get install g++)...\n'
  { apt-get update -qq && apt-get install -y -qq g++ >/dev/null; } || exit 1
fi
if ! cargo +nightly --version >/dev/null 2>&1; then
  printf 'Installing the nightly toolchain (rustup toolchain install nightly)...\n'
  rustup toolchain install nightly --profile minimal || exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  printf 'Installing cargo-fuzz (cargo install cargo-fuzz --locked)...\n'
  cargo install cargo-fuzz --locked --quiet || exit 1
fi

cd fuzz || exit 1
if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  while IFS= read -r t; do targets+=("$t"); done < <(cargo fuzz list)
fi
build=(cargo +nightly fuzz build --sanitizer none --debug-assertions)
printf 'Building %d targets (%s)...\n' "${#targets[@]}" "${build[*]}"
if [ $# -gt 0 ]; then
  for t in "${targets[@]}"; do "${build[@]}" "$t" || exit 1; done
else
  "${build[@]}" || exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/lessons-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
failed=0
for t in "${targets[@]}"; do
  corpus=$work/$t
  mkdir -p "$corpus" "artifacts/$t"
  [ -d "seeds/$t" ] && cp seeds/"$t"/* "$corpus"/ 2>/dev/null
  log=$work/$t.log
  # -max_total_time bounds the run; -timeout bounds one input. The value
  # profile counts "closer to the other side of a comparison" as progress, so
  # length limits (an ACK one byte over its longest) are reached too.
  cargo +nightly fuzz run --sanitizer none --debug-assertions "$t" "$corpus" -- \
    -seed="$seed" -max_total_time="$seconds" -timeout=10 -use_value_profile=1 \
    -print_final_stats=1 -artifact_prefix="artifacts/$t/" >"$log" 2>&1
  status=$?
  execs=$(awk -F: '/^stat::number_of_executed_units/ { gsub(/ /, "", $NF); print $NF }' "$log")
  took=$(awk -F: '/^stat::total_run_time/ { gsub(/ /, "", $NF); print $NF }' "$log")
  crash=$(grep -c -E 'Test unit written to' "$log")
  inputs=$(find "$corpus" -type f | awk 'END { print NR }')
  if [ "$status" = 0 ] && [ "$crash" = 0 ]; then
    printf 'PASS %s: %s executions in %s s, 0 crashes, corpus %s inputs\n' \
      "$t" "${execs:-?}" "${took:-$seconds}" "$inputs"
  else
    failed=1
    printf 'FAIL %s: %s executions, %s crashes (exit %s)\n' "$t" "${execs:-?}" "${crash:-?}" "$status"
    grep -E 'panicked at|^==[0-9]+== ERROR|Test unit written to' "$log" | head -n 5 | sed 's/^/    /'
    printf '    replay: (cd fuzz && cargo +nightly fuzz run -s none -a %s artifacts/%s/crash-...)\n' "$t" "$t"
  fi
done
exit "$failed"
