#!/usr/bin/env bash
# The teaching benchmark. Builds the workspace in release mode, runs every
# request/response server against the load generator (crates/bench), and
# prints ONE markdown table of ratios measured side by side in this run,
# after a short description of the machine. docs/performance.md explains
# what each row teaches.
#
#   scripts/bench.sh               # about two minutes; the table on stdout
#   scripts/bench.sh > run.md      # progress stays on stderr
#
# Loopback only. Every load run stops after --duration-ms, every wait has a
# deadline, and every server started here is stopped by its PID.
#
# Knobs (environment): BENCH_SLICE_MS (one measuring slice, default 300),
# BENCH_ROUNDS (alternating rounds per comparison, default 7; row 1 spreads
# them over BENCH_INSTANCES fresh pairs of processes, default 3), BENCH_TRIES
# (Ctrl+C tries per server, default 20), BENCH_NAGLE_REPEAT (round trips per
# tcp-client run in row 8, default 50).
#
# Runs with bash 3.2 and BSD tools (macOS) too. Without `taskset` (macOS has
# none) rows 1 and 4 run unpinned, and the table says so.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/compat.sh

SLICE_MS=${BENCH_SLICE_MS:-300}
ROUNDS=${BENCH_ROUNDS:-7}
TRIES=${BENCH_TRIES:-20}
# Row 8: round trips per tcp-client run (a stalled one takes about 40 ms).
NAGLE_REPEAT=${BENCH_NAGLE_REPEAT:-50}
# Row 1: fresh server processes per comparison, and slices for each.
INSTANCES=${BENCH_INSTANCES:-3}
PER_INSTANCE=$(((ROUNDS + INSTANCES - 1) / INSTANCES))
DELAY_SLICE_MS=$((SLICE_MS * 2))

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
REL=$CARGO_TARGET_DIR/release
WORK=$(mktemp -d "${TMPDIR:-/tmp}/socket-bench.XXXXXX")
SERVERS=()
ROWS=()

progress() { printf '%s\n' "$*" >&2; }

cleanup() {
  local pid
  for pid in ${SERVERS[@]+"${SERVERS[@]}"}; do
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

bench_start=$(now_ms)

# ---------------------------------------------------------------- builds --
# Download first (untimed), so the clean build measures compiling only.
progress "fetching dependencies (cargo fetch)..."
cargo fetch --quiet || exit 1

progress "timing a clean debug build (cargo build --workspace, fresh target dir)..."
clean_dir=$(mktemp -d "${TMPDIR:-/tmp}/socket-bench-build.XXXXXX")
t=$(now_ms)
CARGO_TARGET_DIR=$clean_dir cargo build --workspace --quiet || exit 1
CLEAN_BUILD_MS=$(($(now_ms) - t))
rm -rf "$clean_dir"

progress "building release binaries (cargo build --release --workspace --bins)..."
t=$(now_ms)
cargo build --release --workspace --bins --quiet || exit 1
RELEASE_BUILD_MS=$(($(now_ms) - t))

# ------------------------------------------------------------- helpers --
# Rows 1 and 4 pin the server and the load generator to one CPU: then a
# request costs CPU time and nothing else, and the ratio lesson/bare says
# what the lesson's extra code costs. (Unpinned, a ping-pong between two
# CPUs of a virtual machine is slow or fast depending on where the scheduler
# puts the two threads, and the noise swamps a 5% difference.)
PIN=()
if command -v taskset >/dev/null 2>&1; then
  PIN=(taskset -c "$(($(cpu_count) - 1))")
fi

# start [--pin] NAME ARGS...: run $REL/NAME with RUST_LOG=warn and wait (up
# to 10 s) for its `listening on ADDR` line. Sets SPID and SADDR.
start() {
  local pin=()
  if [ "$1" = --pin ]; then pin=(${PIN[@]+"${PIN[@]}"}); shift; fi
  local name=$1; shift
  local out="$WORK/$name.$RANDOM"
  RUST_LOG=warn ${pin[@]+"${pin[@]}"} "$REL/$name" "$@" >"$out.out" 2>"$out.err" &
  SPID=$!
  SERVERS+=("$SPID")
  local deadline=$(($(now_ms) + 10000))
  until grep -q '^listening on ' "$out.out" 2>/dev/null; do
    if ! kill -0 "$SPID" 2>/dev/null || [ "$(now_ms)" -gt "$deadline" ]; then
      progress "$name $* did not start:"
      cat "$out.err" >&2
      exit 1
    fi
    sleep 0.01
  done
  SADDR=$(sed -n 's/^listening on //p' "$out.out" | head -n 1)
}

# stop_all: SIGTERM to every server started so far (the lessons shut down
# gracefully, the bare loops just die), SIGKILL after 2 s.
stop_all() {
  local pid deadline
  for pid in ${SERVERS[@]+"${SERVERS[@]}"}; do kill -TERM "$pid" 2>/dev/null; done
  for pid in ${SERVERS[@]+"${SERVERS[@]}"}; do
    deadline=$(($(now_ms) + 2000))
    while kill -0 "$pid" 2>/dev/null && [ "$(now_ms)" -lt "$deadline" ]; do sleep 0.01; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  SERVERS=()
}

# field KEY LINE: the value of KEY=VALUE in a loadgen result line.
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

# slice PIN ARGS: one loadgen run (ARGS are words without spaces). Prints
# the result line.
slice() {
  local pin=()
  [ "$1" = 1 ] && pin=(${PIN[@]+"${PIN[@]}"})
  shift
  # shellcheck disable=SC2086 # ARGS are meant to be split into words
  ${pin[@]+"${pin[@]}"} "$REL/loadgen" $1 2>>"$WORK/loadgen.err"
}

max() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 > b + 0) ? a : b }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else print "n/a" }'; }
# meets VALUE >=|<= LIMIT: "yes" or "**no**"
meets() {
  awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
    if (v == "n/a") { print "**no**"; exit }
    ok = (op == ">=") ? (v + 0 >= l + 0) : (v + 0 <= l + 0)
    print ok ? "yes" : "**no**" }'
}
# 12345.6 -> 12,346
num() {
  awk -v x="$1" 'BEGIN { s = sprintf("%.0f", x); n = length(s); out = ""
    for (i = 1; i <= n; i++) { out = out substr(s, i, 1); if ((n - i) % 3 == 0 && i < n) out = out "," }
    print out }'
}
errors_note() {
  local total=$(($1 + $2))
  [ "$total" -gt 0 ] && printf ' (%d errors)' "$total"
}

# duel PIN ROUNDS SLICE ARGS_A ARGS_B: warm both up, then ROUNDS rounds of
# one slice each, alternating which goes first. The best slice of each side
# counts: interference from other work on the machine only ever slows a
# slice down. Sets A_RPS, B_RPS and A_ERR, B_ERR (errors over all slices; a
# slice whose loadgen printed nothing counts as one error).
duel() {
  local pin=$1 rounds=$2 ms=$3 a=$4 b=$5 r line e side
  A_RPS=0; B_RPS=0; A_ERR=0; B_ERR=0
  slice "$pin" "$a --duration-ms 100" >/dev/null
  slice "$pin" "$b --duration-ms 100" >/dev/null
  for ((r = 0; r < rounds; r++)); do
    for side in A B; do
      [ $((r % 2)) = 1 ] && side=$([ "$side" = A ] && echo B || echo A)
      if [ "$side" = A ]; then
        line=$(slice "$pin" "$a --duration-ms $ms")
        A_RPS=$(max "$(field rps "$line")" "$A_RPS")
        e=$(field errors "$line"); A_ERR=$((A_ERR + ${e:-1}))
      else
        line=$(slice "$pin" "$b --duration-ms $ms")
        B_RPS=$(max "$(field rps "$line")" "$B_RPS")
        e=$(field errors "$line"); B_ERR=$((B_ERR + ${e:-1}))
      fi
    done
  done
}

row() { ROWS+=("| $1 | $2 | $3 | $4 | $5 | $6 |"); }

plural() { [ "$1" = 1 ] && echo "1 client" || echo "$1 clients"; }

# ------------------------------------------ 1. lesson vs bare echo loop --
progress "1. lesson servers vs bare echo loops (pinned to one CPU, best of $ROUNDS x $SLICE_MS ms)"
# lesson_vs_bare LESSON "ARGS" BARE "ARGS" PROTO "CLIENTS..." MODE: MODE
# per-request gives TCP runs with more than one client a connection per
# request (the sequential server serves one connection at a time, so
# persistent clients would just queue behind the first).
lesson_vs_bare() {
  local lesson=$1 largs=$2 bare=$3 bargs=$4 proto=$5 clients=$6 mode=$7
  local c i la ba best_a best_b err_a err_b
  for c in $clients; do
    local extra=""
    [ "$proto" = tcp ] && [ "$mode" = per-request ] && [ "$c" != 1 ] && extra="--per-request-connect"
    progress "  $lesson vs $bare, $(plural "$c") $extra"
    # A fresh pair of processes for each instance: one process can be
    # unlucky for its whole life (where its memory and CPU land), which the
    # best of its slices cannot undo; the best over fresh ones can.
    best_a=0; best_b=0; err_a=0; err_b=0
    for ((i = 0; i < INSTANCES; i++)); do
      # shellcheck disable=SC2086
      start --pin "$lesson" --port 0 --reply echo $largs; la=$SADDR
      # shellcheck disable=SC2086
      start --pin "$bare" --port 0 $bargs; ba=$SADDR
      duel 1 "$PER_INSTANCE" "$SLICE_MS" "$proto --addr $la --clients $c $extra" "$proto --addr $ba --clients $c $extra"
      best_a=$(max "$A_RPS" "$best_a"); best_b=$(max "$B_RPS" "$best_b")
      err_a=$((err_a + A_ERR)); err_b=$((err_b + B_ERR))
      stop_all
    done
    local r how=""
    r=$(ratio "$best_a" "$best_b")
    [ -n "$extra" ] && how=", a connection per request"
    row 1 "$lesson / $bare$([ -n "$bargs" ] && echo " $bargs"), $(plural "$c")$how" "$r" \
      "$(num "$best_a") vs $(num "$best_b") req/s$(errors_note "$err_a" "$err_b")" "≥ 0.95" "$(meets "$r" ">=" 0.95)"
  done
}

lesson_vs_bare udp-server "" bare-udp-echo "" udp "1 8" -
lesson_vs_bare udp-threaded-server "" bare-udp-echo "--threaded" udp "1 8" -
lesson_vs_bare tcp-server "" bare-tcp-echo "" tcp "1 8" per-request
lesson_vs_bare tcp-threaded-server "" bare-tcp-echo "--threaded" tcp "1 8" persistent

# ----------------------------------------- 2. threads and slow requests --
progress "2. sequential vs threaded with --delay-ms 10 (both CPUs, best of 2 x $DELAY_SLICE_MS ms)"
delay_rows() {
  local proto=$1 seq=$2 thr=$3 extra=$4 c
  start "$seq" --port 0 --reply echo --delay-ms 10; local sa=$SADDR
  start "$thr" --port 0 --reply echo --delay-ms 10; local ta=$SADDR
  for c in 1 8 32; do
    progress "  $thr vs $seq, $(plural "$c")"
    duel 0 2 "$DELAY_SLICE_MS" "$proto --addr $ta --clients $c $extra" "$proto --addr $sa --clients $c $extra"
    local r goal="—" met="" how=""
    r=$(ratio "$A_RPS" "$B_RPS")
    if [ "$c" = 32 ]; then goal="≥ 20"; met=$(meets "$r" ">=" 20); fi
    [ -n "$extra" ] && how=", a connection per request"
    row 2 "$thr / $seq, --delay-ms 10, $(plural "$c")$how" "$r" \
      "$(num "$A_RPS") vs $(num "$B_RPS") req/s (Little's law: $(num $((c * 100))) vs 100)$(errors_note "$A_ERR" "$B_ERR")" \
      "$goal" "$met"
  done
  stop_all
}
delay_rows udp udp-server udp-threaded-server ""
delay_rows tcp tcp-server tcp-threaded-server "--per-request-connect"

# ------------------------------- 3. a thread per tiny request, no delay --
# ------------------------------- 4. TCP: persistent vs per-request -------
progress "3. sequential vs threaded, no delay, 8 clients (both CPUs, best of $ROUNDS x $SLICE_MS ms)"
start udp-server --port 0 --reply echo; us=$SADDR
start udp-threaded-server --port 0 --reply echo; ut=$SADDR
progress "  udp-threaded-server vs udp-server"
duel 0 "$ROUNDS" "$SLICE_MS" "udp --addr $ut --clients 8" "udp --addr $us --clients 8"
r=$(ratio "$A_RPS" "$B_RPS")
row 3 "udp-threaded-server / udp-server, no delay, 8 clients" "$r" \
  "$(num "$A_RPS") vs $(num "$B_RPS") req/s$(errors_note "$A_ERR" "$B_ERR")" "≥ 0.5" "$(meets "$r" ">=" 0.5)"
stop_all

start tcp-server --port 0 --reply echo; ts=$SADDR
start tcp-threaded-server --port 0 --reply echo; tt=$SADDR
progress "  tcp-threaded-server vs tcp-server, a connection per request"
duel 0 "$ROUNDS" "$SLICE_MS" "tcp --addr $tt --clients 8 --per-request-connect" "tcp --addr $ts --clients 8 --per-request-connect"
r=$(ratio "$A_RPS" "$B_RPS")
row 3 "tcp-threaded-server / tcp-server, no delay, 8 clients, a connection per request" "$r" \
  "$(num "$A_RPS") vs $(num "$B_RPS") req/s$(errors_note "$A_ERR" "$B_ERR")" "≥ 0.5" "$(meets "$r" ">=" 0.5)"

stop_all

progress "4. TCP persistent vs per-request connections (pinned to one CPU, best of $ROUNDS x $SLICE_MS ms)"
handshake_row() {
  local server=$1 addr=$2 c=$3
  progress "  $server, $(plural "$c"): persistent vs per-request"
  duel 1 "$ROUNDS" "$SLICE_MS" "tcp --addr $addr --clients $c" "tcp --addr $addr --clients $c --per-request-connect"
  local r latency
  r=$(ratio "$A_RPS" "$B_RPS")
  # Little's law: time per request = requests in flight / throughput.
  latency=$(awk -v c="$c" -v a="$A_RPS" -v b="$B_RPS" 'BEGIN {
    if (a > 0 && b > 0) printf "%.0f → %.0f µs", c / a * 1e6, c / b * 1e6; else print "?" }')
  row 4 "$server, $(plural "$c"): persistent / a connection per request" "$r" \
    "$(num "$A_RPS") vs $(num "$B_RPS") req/s; time per request $latency$(errors_note "$A_ERR" "$B_ERR")" \
    "— (the handshake cost)" ""
}
start --pin tcp-server --port 0 --reply echo; ts=$SADDR
start --pin tcp-threaded-server --port 0 --reply echo; tt=$SADDR
handshake_row tcp-threaded-server "$tt" 8
handshake_row tcp-server "$ts" 1
stop_all

# ------------------------------------------------- 5. chunked transfer --
if [ -x scripts/bench-chunked.sh ]; then
  progress "5. udp-chunked-transfer (scripts/bench-chunked.sh)"
  chunked_out=$(scripts/bench-chunked.sh 2>>"$WORK/chunked.err")
  chunked_status=$?
  # Its rows are `| measure | value | goal |`; skip any header and rule.
  while IFS= read -r line; do
    case "$line" in
      '|'*'---'*) continue ;;
      '| measure'*) continue ;;
      '|'*) ;;
      *) continue ;;
    esac
    IFS='|' read -r _ m v g _ <<<"$line"
    m=$(sed 's/^ *//; s/ *$//' <<<"$m"); v=$(sed 's/^ *//; s/ *$//' <<<"$v"); g=$(sed 's/^ *//; s/ *$//' <<<"$g")
    met=""
    limit=$(sed -n -e 's/^≥ *\([0-9.]*\).*/\1/p' -e 's/^>= *\([0-9.]*\).*/\1/p' <<<"$g")
    value=$(sed -n 's/^\([0-9.][0-9.]*\).*/\1/p' <<<"$v")
    [ -n "$limit" ] && [ -n "$value" ] && met=$(meets "$value" ">=" "$limit")
    row 5 "udp-chunked-transfer: $m" "$v" "" "${g:-—}" "$met"
  done <<<"$chunked_out"
  if [ "$chunked_status" != 0 ]; then
    row 5 "udp-chunked-transfer" "failed" "scripts/bench-chunked.sh exited $chunked_status" "—" "**no**"
    tail -n 5 "$WORK/chunked.err" >&2
  fi
else
  row 5 "udp-chunked-transfer" "not run" "scripts/bench-chunked.sh is missing" "—" ""
fi

# ---------------------------------------------------- 6. Ctrl+C latency --
progress "6. Ctrl+C latency ($TRIES tries per server, idle and under load)"
# A 20 MB file for the chunked receiver's load: a transfer in progress.
head -c 20000000 /dev/urandom >"$WORK/load.bin"
UDP_LOAD="$REL/loadgen udp --addr {addr} --clients 2 --duration-ms 10000 --check any"
TCP_LOAD="$REL/loadgen tcp --addr {addr} --clients 2 --duration-ms 10000 --check any"
# ctrlc_row NAME ARGS LABEL [LOAD SEEN]: SIGINT to the `server closed` line,
# idle, or while LOAD runs (SIGINT once the server's log shows SEEN).
ctrlc_row() {
  local name=$1 args=$2 label=$3 load=${4:-} seen=${5:-} line how
  if [ -n "$load" ]; then how="under load"; else how="idle"; fi
  progress "  $name $label, $how"
  if [ -n "$load" ]; then
    line=$("$REL/loadgen" ctrlc --bin "$REL/$name" --args "$args" --tries "$TRIES" \
      --load "$load" --load-seen "$seen" 2>>"$WORK/ctrlc.err")
  else
    line=$("$REL/loadgen" ctrlc --bin "$REL/$name" --args "$args" --tries "$TRIES" 2>>"$WORK/ctrlc.err")
  fi
  local max median min failures
  max=$(field max_ms "$line"); median=$(field median_ms "$line")
  min=$(field min_ms "$line"); failures=$(field failures "$line")
  local met
  met=$(meets "${max:-n/a}" "<=" 250)
  [ "$(meets "${median:-n/a}" "<=" 20)" = yes ] || met="**no**"
  [ "${failures:-1}" != 0 ] && met="**no**"
  row 6 "Ctrl+C → \`server closed\`: $name${label:+ $label}, $how" "median $(printf '%.1f' "${median:-0}") ms" \
    "max $(printf '%.1f' "${max:-0}") ms, min $(printf '%.1f' "${min:-0}") ms, $TRIES tries, ${failures:-?} failed" \
    "median ≤ 20 ms, max ≤ 250 ms" "$met"
}
for lesson in udp-server udp-threaded-server; do
  ctrlc_row $lesson "--port 0" ""
  ctrlc_row $lesson "--port 0" "" "$UDP_LOAD" "replied to"
done
for lesson in tcp-server tcp-threaded-server; do
  ctrlc_row $lesson "--port 0" ""
  ctrlc_row $lesson "--port 0" "" "$TCP_LOAD" ': "'
done
ctrlc_row udp-broadcast "listen --port 0" "listen"
# Not discovery requests, but datagrams it must read and weigh all the same.
ctrlc_row udp-broadcast "listen --port 0" "listen" \
  "$REL/loadgen udp --addr {addr} --clients 2 --duration-ms 10000 --check any --timeout-ms 5 --retries 0" "ignored"
ctrlc_row udp-chunked-transfer "receive --port 0 --out $WORK/received.bin" "receive"
ctrlc_row udp-chunked-transfer "receive --port 0 --out $WORK/received.bin" "receive" \
  "$REL/udp-chunked-transfer send $WORK/load.bin --port {port}" " sends "

# ------------------------------------- 8. the Nagle/delayed-ACK stall --
# tcp-client --repeat times NAGLE_REPEAT round trips of one line-framed
# message to tcp-server --framing line: in one write, in two (--split), and
# in two with TCP_NODELAY. The split one waits for the server's delayed ACK.
progress "8. Nagle stall: tcp-client --split with and without --nodelay ($NAGLE_REPEAT round trips each)"
start tcp-server --framing line --port 0
nagle_port=${SADDR##*:}
# nagle_median FLAGS...: the median (ms) of tcp-client's summary line, or
# empty if it printed none.
nagle_median() {
  RUST_LOG=warn "$REL/tcp-client" --port "$nagle_port" --framing line --message ping \
    --repeat "$NAGLE_REPEAT" "$@" 2>>"$WORK/nagle.err" |
    sed -n 's/^.* round trips, median \([0-9.]*\) ms, max \([0-9.]*\) ms$/\1 \2/p'
}
nagle_one=$(nagle_median)
nagle_split=$(nagle_median --split)
nagle_nodelay=$(nagle_median --split --nodelay)
stop_all
# "MEDIAN MAX" -> "median X ms, max Y ms"
nagle_words() { awk -v m="${1% *}" -v x="${1#* }" 'BEGIN { if (m == "") print "no summary line"; else printf "median %s ms, max %s ms", m, x }'; }
nagle_ratio=$(ratio "${nagle_split% *}" "$(max "${nagle_nodelay% *}" 0.001)")
[ -n "$nagle_split" ] && [ -n "$nagle_nodelay" ] || nagle_ratio=n/a
row 8 "tcp-client --split / --split --nodelay, median round trip, tcp-server --framing line" "$nagle_ratio" \
  "--split: $(nagle_words "$nagle_split"); --split --nodelay: $(nagle_words "$nagle_nodelay"); one write: $(nagle_words "$nagle_one"); $NAGLE_REPEAT round trips each" \
  "≥ 20" "$(meets "$nagle_ratio" ">=" 20)"

# ------------------------------------------------------ 7. build time --
crates=$(find crates -mindepth 2 -maxdepth 2 -name Cargo.toml | count_lines)
row 7 "clean build of the workspace (debug)" "$(awk -v ms="$CLEAN_BUILD_MS" 'BEGIN { printf "%.1f s", ms / 1000 }')" \
  "cargo build --workspace into an empty target dir, $crates crates + dependencies; then the release build: $(awk -v ms="$RELEASE_BUILD_MS" 'BEGIN { printf "%.1f s", ms / 1000 }') (near 0 when already built)" \
  "—" ""

# ------------------------------------------------------------- output --
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
[ -n "$cpu" ] || cpu=$(sysctl -n machdep.cpu.brand_string 2>/dev/null)
load=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
[ -n "$load" ] || load=$(sysctl -n vm.loadavg 2>/dev/null | tr -d '{}' | awk '{ print $1, $2, $3 }')
total_ms=$(($(now_ms) - bench_start))
printf -- '- %s\n' \
  "Machine: $(cpu_count) CPUs, ${cpu:-unknown CPU}; $(uname -sr); $(rustc --version)." \
  "Load average when the run ended: ${load:-unknown}. Loopback only." \
  "Rows 1 and 4 pin server and load generator to one CPU (${PIN[*]:-no taskset: unpinned}); rows 2 and 3 use every CPU." \
  "Each ratio is the best slice of each side (${ROUNDS} x ${SLICE_MS} ms, alternating; row 1: ${PER_INSTANCE} x ${SLICE_MS} ms in each of ${INSTANCES} fresh pairs of processes); rows 2: 2 x ${DELAY_SLICE_MS} ms." \
  "The whole run took $(awk -v ms="$total_ms" 'BEGIN { printf "%.0f s", ms / 1000 }'), builds included."
printf '\n'
printf '%s\n' "| row | measure | result | raw numbers | goal | met |" "|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
