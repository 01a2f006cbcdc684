#!/usr/bin/env bash
# The Windows build of every lesson server, run under Wine and driven from
# Linux: start it on 127.0.0.1 port 0, read its `listening on ADDR` line,
# talk to it with the Linux build of the lesson's client, start a second
# copy on the same port (refused: "already in use", exit 1), then SIGINT
# (Wine turns it into a console Ctrl+C for the program): `server closed`
# within 250 ms, exit code 0. Then udp-client.exe against a port where
# nothing listens. Prints a table of the results and their times.
#
#   WINEPREFIX=target/wine scripts/wine-smoke.sh
#
# Needs: a prefix from scripts/windows/setup-prefix.sh; the Windows build
# (cargo build --target x86_64-pc-windows-gnu --bins) in WIN_BIN, and the
# Linux build (cargo build --bins) in LINUX_BIN. Loopback only. Every server
# started here is stopped by its PID when the script ends.
set -uo pipefail
cd "$(dirname "$0")/.."

WIN_BIN=${WIN_BIN:-${CARGO_TARGET_DIR:-target}/x86_64-pc-windows-gnu/debug}
LINUX_BIN=${LINUX_BIN:-${CARGO_TARGET_DIR:-target}/debug}
: "${WINEPREFIX:?set WINEPREFIX (see scripts/windows/setup-prefix.sh)}"
export WINEPREFIX WINEDEBUG=-all RUST_LOG=${RUST_LOG:-info}
BUDGET_MS=250

WORK=$(mktemp -d "${TMPDIR:-/tmp}/wine-smoke.XXXXXX")
STARTED=()
cleanup() {
  local pid
  for pid in "${STARTED[@]}"; do
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

now_ms() { date +%s%3N; }
ROWS=()
FAILED=0
# row PROGRAM CHECK ok|FAIL DETAIL
row() {
  ROWS+=("$(printf '%-42s %-28s %-4s %s' "$1" "$2" "$3" "$4")")
  [ "$3" = ok ] || FAILED=$((FAILED + 1))
}

# start NAME EXE ARGS...: run WIN_BIN/EXE.exe under Wine in the background
# and wait up to 10 s for its `listening on` line. `wine` execs the loader,
# which becomes the program: $! is the Linux process of the .exe itself (ps
# shows its Windows path), so a signal to $! reaches the program, and the
# script never has to look for it among other processes. Sets PID, PORT,
# OUT, ERR; returns 1 if it never listened.
start() {
  local name=$1 exe=$2; shift 2
  OUT="$WORK/$name.out"; ERR="$WORK/$name.err"
  wine "$WIN_BIN/$exe.exe" "$@" >"$OUT" 2>"$ERR" &
  PID=$!
  STARTED+=("$PID")
  local started deadline
  started=$(now_ms); deadline=$((started + 10000))
  until grep -q '^listening on ' "$OUT" 2>/dev/null; do
    if ! kill -0 "$PID" 2>/dev/null || [ "$(now_ms)" -gt "$deadline" ]; then
      row "$name" "start" FAIL "no listening line: $(tr '\n' ' ' <"$ERR" | cut -c1-120)"
      return 1
    fi
    sleep 0.01
  done
  PORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$OUT" | head -1)
  row "$name" "start" ok "$(head -1 "$OUT") after $(($(now_ms) - started)) ms"
}

# talk NAME WHAT EXPECTED COMMAND...: run a Linux client (10 s at most) and
# check that its stdout holds EXPECTED.
talk() {
  local name=$1 what=$2 expected=$3; shift 3
  local t0 out rc
  t0=$(now_ms)
  out=$(timeout 10 "$@" 2>"$WORK/client.err"); rc=$?
  if [ "$rc" = 0 ] && [[ $out == *"$expected"* ]]; then
    row "$name" "$what" ok "${expected:+\"$expected\", }exit 0 in $(($(now_ms) - t0)) ms"
  else
    row "$name" "$what" FAIL "exit $rc: $(tr '\n' ' ' <<<"$out" | cut -c1-60) $(tr '\n' ' ' <"$WORK/client.err" | cut -c1-100)"
  fi
}

# in_use NAME EXE ARGS...: a second copy on the port of the first must stop
# with exit 1 and say the port is already in use.
in_use() {
  local name=$1 exe=$2; shift 2
  local t0 rc
  t0=$(now_ms)
  timeout 10 wine "$WIN_BIN/$exe.exe" "$@" >/dev/null 2>"$WORK/second.err"; rc=$?
  if [ "$rc" = 1 ] && grep -q 'already in use' "$WORK/second.err"; then
    row "$name" "second copy on port $PORT" ok "exit 1, \"already in use\", $(($(now_ms) - t0)) ms"
  else
    row "$name" "second copy on port $PORT" FAIL "exit $rc: $(tr '\n' ' ' <"$WORK/second.err" | cut -c1-120)"
  fi
}

# interrupt NAME: SIGINT to PID, then `server closed` within BUDGET_MS and
# exit code 0. Timed from just before the signal to the line showing up.
interrupt() {
  local name=$1 t0 took rc deadline
  t0=$(date +%s%N)
  kill -INT "$PID"
  deadline=$(( $(now_ms) + 5000 ))
  until grep -q 'server closed' "$ERR"; do
    [ "$(now_ms)" -gt "$deadline" ] && break
    sleep 0.002
  done
  took=$(( ($(date +%s%N) - t0) / 1000000 ))
  if ! grep -q 'server closed' "$ERR"; then
    kill -KILL "$PID" 2>/dev/null
    wait "$PID" 2>/dev/null
    row "$name" "Ctrl+C (SIGINT)" FAIL "no \"server closed\" within 5 s"
    return
  fi
  wait "$PID"; rc=$?
  if [ "$rc" = 0 ] && [ "$took" -le "$BUDGET_MS" ]; then
    row "$name" "Ctrl+C (SIGINT)" ok "\"server closed\" after $took ms, exit 0"
  else
    row "$name" "Ctrl+C (SIGINT)" FAIL "\"server closed\" after $took ms (budget $BUDGET_MS), exit $rc"
  fi
}

for exe in udp-client tcp-client udp-chunked-transfer udp-broadcast; do
  [ -x "$LINUX_BIN/$exe" ] || { echo "missing $LINUX_BIN/$exe: run cargo build --bins" >&2; exit 1; }
done
for exe in udp-server udp-threaded-server tcp-server tcp-threaded-server udp-chunked-transfer udp-broadcast udp-client; do
  [ -f "$WIN_BIN/$exe.exe" ] || { echo "missing $WIN_BIN/$exe.exe: run cargo build --target x86_64-pc-windows-gnu --bins" >&2; exit 1; }
done

began=$(now_ms)

# The request-reply servers.
FREE_PORT=""
for server in udp-server udp-threaded-server tcp-server tcp-threaded-server; do
  client=${server%%-*}-client
  if start "$server.exe" "$server" --host 127.0.0.1 --port 0; then
    talk "$server.exe" "$client (Linux) request" "Message received" \
      "$LINUX_BIN/$client" --host 127.0.0.1 --port "$PORT" --message "hello from Linux"
    in_use "$server.exe" "$server" --host 127.0.0.1 --port "$PORT"
    interrupt "$server.exe"
    [ "$server" = udp-server ] && FREE_PORT=$PORT
  fi
done

# The chunked receiver, over UDP and over TCP: it writes one file and exits
# by itself, so one copy receives and a second, idle one gets the Ctrl+C.
head -c 300000 /dev/urandom >"$WORK/file.bin"
for protocol in reliable tcp; do
  name="udp-chunked-transfer.exe ($protocol)"
  if start "$name" udp-chunked-transfer receive --protocol "$protocol" \
    --out "$WORK/copy-$protocol.bin" --host 127.0.0.1 --port 0; then
    in_use "$name" udp-chunked-transfer receive --protocol "$protocol" \
      --out "$WORK/other.bin" --host 127.0.0.1 --port "$PORT"
    talk "$name" "send 300 kB (Linux)" "" \
      "$LINUX_BIN/udp-chunked-transfer" send "$WORK/file.bin" --protocol "$protocol" \
      --host 127.0.0.1 --port "$PORT"
    if timeout 10 tail --pid="$PID" -f /dev/null && wait "$PID" \
      && cmp -s "$WORK/file.bin" "$WORK/copy-$protocol.bin"; then
      row "$name" "copy written, exit 0" ok "identical"
    else
      row "$name" "copy written, exit 0" FAIL "$(tr '\n' ' ' <"$ERR" | cut -c1-120)"
    fi
  fi
  if start "$name idle" udp-chunked-transfer receive --protocol "$protocol" \
    --out "$WORK/never.bin" --host 127.0.0.1 --port 0; then
    interrupt "$name idle"
  fi
done

# The broadcast listener: answers a loopback broadcast from the Linux
# discover. Its port is shared on purpose (SO_REUSEADDR), so instead of a
# refusal a second listener joins it.
if start "udp-broadcast.exe listen" udp-broadcast listen --port 0 --name wine-one; then
  first=$PID first_err=$ERR
  talk "udp-broadcast.exe listen" "discover (Linux), broadcast" "wine-one" \
    "$LINUX_BIN/udp-broadcast" discover --to 127.255.255.255 --port "$PORT" \
    --stop-after 1 --wait-ms 3000
  if start "udp-broadcast.exe listen (2nd)" udp-broadcast listen --port "$PORT" --name wine-two; then
    interrupt "udp-broadcast.exe listen (2nd)"
  fi
  PID=$first ERR=$first_err
  interrupt "udp-broadcast.exe listen"
fi

# The client against a port where nothing listens (the UDP server's, now
# closed): exit 1 and a single line on stderr, the error, never a panic.
if [ -n "$FREE_PORT" ]; then
  t0=$(now_ms)
  # RUST_LOG=error: only the error, not the log of each try.
  RUST_LOG=error timeout 20 wine "$WIN_BIN/udp-client.exe" --host 127.0.0.1 \
    --port "$FREE_PORT" --message "anyone?" --timeout-ms 300 --retries 1 \
    >/dev/null 2>"$WORK/client.err"; rc=$?
  lines=$(wc -l <"$WORK/client.err")
  if [ "$rc" = 1 ] && [ "$lines" = 1 ]; then
    row "udp-client.exe" "nobody on port $FREE_PORT" ok "exit 1 after $(($(now_ms) - t0)) ms: $(cut -c1-70 "$WORK/client.err")"
  else
    row "udp-client.exe" "nobody on port $FREE_PORT" FAIL "exit $rc, $lines stderr lines: $(tr '\n' ' ' <"$WORK/client.err" | cut -c1-120)"
  fi
fi

printf '\n%-42s %-28s %-4s %s\n' PROGRAM CHECK OK DETAIL
printf '%s\n' "${ROWS[@]}"
printf '\nwine smoke test: %d checks, %d failed, %d ms\n' "${#ROWS[@]}" "$FAILED" "$(($(now_ms) - began))"
[ "$FAILED" = 0 ]
