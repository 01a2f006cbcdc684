#!/usr/bin/env bash
# The udp-chunked-transfer benchmark: one file (64 MiB by default) over
# loopback with the reliable protocol, the basic blast (the tutorial's
# format, no recovery) and a plain TCP copy, with and without simulated
# loss. Prints markdown rows `| measure | value | goal |` on stdout
# (scripts/bench.sh folds them into its table); progress goes to stderr.
#
#   scripts/bench-chunked.sh                 # about 10 s after the build
#   BENCH_CHUNKED_ROUNDS=9 BENCH_CHUNKED_MIB=16 scripts/bench-chunked.sh   # knobs
#
# Every rate is the receiver's: bytes over the time from the first datagram
# (or connection) to the last byte in place with its CRC-32 checked; the
# fsync and rename that follow are not counted. Each configuration runs
# ROUNDS times, alternating with the others so that a busy moment of the
# machine hits all of them, and the best round counts. The two sides are
# pinned to two CPUs when taskset is there (BENCH_CHUNKED_PIN=0: not). Files go to /dev/shm when it
# exists (so the disk does not add noise), else to $TMPDIR; BENCH_DIR
# overrides. Loopback only; every transfer and wait has a deadline, and
# every process started here is stopped by its PID. Runs with bash 3.2 and
# BSD tools (macOS) too: no taskset there, so not pinned; no /dev/shm, so
# the files go to $TMPDIR.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/compat.sh

ROUNDS=${BENCH_CHUNKED_ROUNDS:-5}
SIZE_MIB=${BENCH_CHUNKED_MIB:-64}
MAX_CHUNK=65498
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
BIN=$CARGO_TARGET_DIR/release/udp-chunked-transfer

progress() { printf '%s\n' "$*" >&2; }

progress "building (cargo build --release -p udp-chunked-transfer)"
cargo build --release -p udp-chunked-transfer --quiet >&2 || exit 1

if [ -n "${BENCH_DIR:-}" ]; then
  WORK=$(mktemp -d "$BENCH_DIR/chunked-bench.XXXXXX") || exit 1
elif [ -d /dev/shm ] && [ -w /dev/shm ]; then
  WORK=$(mktemp -d /dev/shm/chunked-bench.XXXXXX) || exit 1
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/chunked-bench.XXXXXX") || exit 1
fi
PIDS=()
cleanup() {
  local pid
  for pid in ${PIDS[@]+"${PIDS[@]}"}; do
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

if [ "${BENCH_CHUNKED_PIN:-1}" = 1 ] && command -v taskset >/dev/null 2>&1 && [ "$(cpu_count)" -ge 2 ]; then
  RX_CPU=(taskset -c 1)
  TX_CPU=(taskset -c 0)
  pinned="receiver on CPU 1, sender on CPU 0"
else
  RX_CPU=()
  TX_CPU=()
  pinned="not pinned"
fi
progress "files in ${WORK%/*} ($pinned), $SIZE_MIB MiB, best of $ROUNDS rounds"
head -c $((SIZE_MIB << 20)) /dev/urandom >"$WORK/src.bin" || exit 1

# one PROTOCOL CHUNK LOSS: one transfer. Sets RATE (MB/s, receiver side),
# LOST (% of chunks that never arrived, basic only) and SAME (yes if the
# copy is byte-identical).
one() {
  local proto=$1 chunk=$2 loss=$3 rx port="" deadline status
  local rx_log=$WORK/rx.log rx_out=$WORK/rx.out
  rm -f "$WORK/dst.bin" "$rx_log" "$rx_out"
  RATE=0 LOST=0 SAME=no
  # A basic receiver should give up on lost chunks soon; the others wait
  # longer, so that a busy machine does not end a transfer that would finish.
  local silence=5000
  [ "$proto" = basic ] && silence=300
  ${RX_CPU[@]+"${RX_CPU[@]}"} "$BIN" receive --port 0 --out "$WORK/dst.bin" --protocol "$proto" \
    --chunk-size "$chunk" --timeout-ms "$silence" >"$rx_out" 2>"$rx_log" &
  rx=$!
  PIDS+=("$rx")
  deadline=$(( $(now_ms) + 10000 ))
  while [ -z "$port" ] && [ "$(now_ms)" -lt "$deadline" ]; do
    port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$rx_out")
    [ -n "$port" ] || sleep 0.01
  done
  if [ -z "$port" ]; then
    progress "  $proto: the receiver did not start"
    kill -KILL "$rx" 2>/dev/null
    return
  fi
  local sim=()
  [ "$loss" = 0 ] || sim=(--simulate-loss "$loss" --seed 7)
  with_timeout 60 ${TX_CPU[@]+"${TX_CPU[@]}"} "$BIN" send "$WORK/src.bin" --port "$port" --protocol "$proto" \
    --chunk-size "$chunk" ${sim[@]+"${sim[@]}"} >/dev/null 2>"$WORK/tx.log"
  status=$?
  [ "$status" = 0 ] || [ "$proto" = basic ] || progress "  $proto: sender exit $status: $(tail -n 1 "$WORK/tx.log")"
  # The receiver's verdict comes before it lingers for late FINs; Ctrl+C
  # then ends the linger (a graceful stop, exit 0).
  deadline=$(( $(now_ms) + 10000 ))
  while kill -0 "$rx" 2>/dev/null && ! grep -qE ' received |never arrived' "$rx_log" &&
    [ "$(now_ms)" -lt "$deadline" ]; do
    sleep 0.01
  done
  kill -INT "$rx" 2>/dev/null
  wait "$rx" 2>/dev/null
  RATE=$(grep -oE '[0-9.]+ MB/s' "$rx_log" | tail -n 1 | cut -d' ' -f1)
  RATE=${RATE:-0}
  LOST=$(sed -n 's/.*(\([0-9.]*\)% lost.*/\1/p' "$rx_log" | tail -n 1)
  LOST=${LOST:-0}
  cmp -s "$WORK/src.bin" "$WORK/dst.bin" && SAME=yes
}

# The configurations: NAME PROTOCOL CHUNK LOSS.
CONFIGS=(
  "rel1k reliable 1024 0"
  "basic1k basic 1024 0"
  "relmax reliable $MAX_CHUNK 0"
  "basicmax basic $MAX_CHUNK 0"
  "tcp tcp 1024 0"
  "rel1k_loss reliable 1024 0.1"
  "relmax_loss reliable $MAX_CHUNK 0.1"
)
# Per configuration: its best rate, the loss seen in that round and how
# many rounds broke, in variables named FIELD_NAME (bash 3.2 has no
# associative arrays). get FIELD NAME prints one; put FIELD NAME VALUE sets it.
get() { local v="${1}_$2"; printf '%s' "${!v}"; }
put() { printf -v "${1}_$2" '%s' "$3"; }
for config in "${CONFIGS[@]}"; do
  read -r name _ <<<"$config"
  put BEST "$name" 0; put LOSTPCT "$name" ""; put BROKEN "$name" 0
done

started=$(date +%s)
for round in $(seq "$ROUNDS"); do
  progress "round $round of $ROUNDS"
  for config in "${CONFIGS[@]}"; do
    read -r name proto chunk loss <<<"$config"
    one "$proto" "$chunk" "$loss"
    progress "  $name: $RATE MB/s$([ "$proto" = basic ] && echo ", $LOST% lost"), identical: $SAME"
    if [ "$proto" != basic ] && [ "$SAME" != yes ]; then
      put BROKEN "$name" $(( $(get BROKEN "$name") + 1 ))
      continue
    fi
    if awk -v a="$RATE" -v b="$(get BEST "$name")" 'BEGIN { exit !(a > b) }'; then
      put BEST "$name" "$RATE"
      put LOSTPCT "$name" "$LOST"
    fi
  done
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
rate() {
  local note=""
  local broken lost
  broken=$(get BROKEN "$1") lost=$(get LOSTPCT "$1")
  [ "$broken" = 0 ] || note=" ($broken of $ROUNDS runs did not arrive intact)"
  [ -n "$lost" ] && [ "$lost" != 0 ] && note="$note ($lost% of chunks lost)"
  printf '%s MB/s%s' "$(get BEST "$1")" "$note"
}

mib="$SIZE_MIB MiB"
echo "| measure | value | goal |"
echo "|---|---|---|"
echo "| reliable, $mib, chunk 1024, no loss | $(rate rel1k) | — |"
echo "| basic blast, $mib, chunk 1024 | $(rate basic1k) | — |"
echo "| reliable / basic, chunk 1024 | $(ratio "$(get BEST rel1k)" "$(get BEST basic1k)") | ≥ 0.8 |"
echo "| reliable, $mib, chunk $MAX_CHUNK, no loss | $(rate relmax) | — |"
echo "| basic blast, $mib, chunk $MAX_CHUNK | $(rate basicmax) | — |"
echo "| reliable / basic, chunk $MAX_CHUNK | $(ratio "$(get BEST relmax)" "$(get BEST basicmax)") | ≥ 0.8 |"
echo "| plain TCP copy, $mib | $(rate tcp) | — |"
echo "| reliable (chunk $MAX_CHUNK) / TCP copy | $(ratio "$(get BEST relmax)" "$(get BEST tcp)") | ≥ 1.0 |"
echo "| reliable, $mib, chunk 1024, 10% of chunks lost | $(rate rel1k_loss) | — |"
echo "| reliable 10% loss / no loss, chunk 1024 | $(ratio "$(get BEST rel1k_loss)" "$(get BEST rel1k)") | ≥ 0.6 |"
echo "| reliable 10% loss / no loss, chunk $MAX_CHUNK | $(ratio "$(get BEST relmax_loss)" "$(get BEST relmax)") | ≥ 0.6 |"
progress "bench-chunked took $(( $(date +%s) - started )) s after the build"
