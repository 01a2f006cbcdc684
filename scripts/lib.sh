# Shell helpers for scripts/demo.sh and its parts in scripts/demo.d/.
# Sourced, not run. Every wait here has a deadline; every server started here
# is stopped by PID when the script exits. Runs with bash 3.2 and BSD tools
# (macOS) as well as on Linux: see scripts/compat.sh.

source "$(dirname "${BASH_SOURCE[0]}")/compat.sh"

BIN=${BIN:-${CARGO_TARGET_DIR:-target}/debug}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/socket-lessons.XXXXXX")
STARTED_PIDS=()
FAILED_LESSONS=()
LESSON=""
LESSON_OK=1

if [ -t 1 ]; then
  BOLD=$'\e[1m'; GREEN=$'\e[32m'; RED=$'\e[31m'; DIM=$'\e[2m'; RESET=$'\e[0m'
else
  BOLD=""; GREEN=""; RED=""; DIM=""; RESET=""
fi

cleanup() {
  local pid
  for pid in ${STARTED_PIDS[@]+"${STARTED_PIDS[@]}"}; do
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

say() { printf '\n%s== %s ==%s\n' "$BOLD" "$*" "$RESET"; }
note() { printf '%s%s%s\n' "$DIM" "$*" "$RESET"; }
# Show a command as a student would type it, then run it.
show() { printf '%s$ %s%s\n' "$BOLD" "$*" "$RESET"; }

lesson_begin() { LESSON=$1; LESSON_OK=1; say "$1: $2"; }
fail() { printf '%sFAIL%s %s\n' "$RED" "$RESET" "$*"; LESSON_OK=0; }
ok() { printf '%sok%s   %s\n' "$GREEN" "$RESET" "$*"; }
lesson_end() {
  if [ "$LESSON_OK" = 1 ]; then
    printf '%sPASS%s %s\n' "$GREEN" "$RESET" "$LESSON"
  else
    printf '%sFAIL%s %s\n' "$RED" "$RESET" "$LESSON"
    FAILED_LESSONS+=("$LESSON")
  fi
}

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
  if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: expected '$2', got '$3'"; fi
}
# expect_contains WHAT NEEDLE HAYSTACK
expect_contains() {
  case "$3" in *"$2"*) ok "$1" ;; *) fail "$1: '$2' not found in: $3" ;; esac
}

# start_server NAME [ARGS...]: run $BIN/NAME in the background and wait (up to
# 10 s) for its `listening on ADDR` line. Sets SERVER_PID, SERVER_ADDR,
# SERVER_PORT, SERVER_OUT (its stdout) and SERVER_LOG (its stderr).
start_server() {
  local name=$1; shift
  start_program "$BIN/$name" "$@"
}

# start_program PATH [ARGS...]: start_server for any program, named by its
# path (a tutorial example: "$BIN/examples/udp-server-tutorial").
start_program() {
  local path=$1; shift
  local name=${path##*/}
  local out="$WORK/$name.$RANDOM.out"
  SERVER_OUT=$out
  SERVER_LOG="${out%.out}.log"
  "$path" "$@" >"$out" 2>"$SERVER_LOG" &
  SERVER_PID=$!
  STARTED_PIDS+=("$SERVER_PID")
  local deadline=$(( $(now_ms) + 10000 ))
  until grep -q '^listening on ' "$out" 2>/dev/null; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null || [ "$(now_ms)" -gt "$deadline" ]; then
      fail "$name did not start"; cat "$SERVER_LOG"; return 1
    fi
    sleep 0.02
  done
  SERVER_ADDR=$(sed -n 's/^listening on //p' "$out" | head -n 1)
  SERVER_PORT=${SERVER_ADDR##*:}
  note "$name $* -> listening on $SERVER_ADDR (pid $SERVER_PID)"
}

# stop_tutorial PID: stop a tutorial example, which has no graceful exit,
# and check that the signal killed it (within 5 s). SIGTERM, not SIGINT: a
# script's background jobs ignore SIGINT, and the example, unlike the lessons,
# installs no handler that would undo that. Either signal kills it mid-word.
stop_tutorial() {
  local pid=$1 status
  kill -TERM "$pid"
  local deadline=$(( $(now_ms) + 5000 ))
  while kill -0 "$pid" 2>/dev/null && [ "$(now_ms)" -lt "$deadline" ]; do sleep 0.005; done
  wait "$pid" 2>/dev/null; status=$?
  if [ "$status" = 143 ]; then
    ok "SIGTERM: killed (status 143), no goodbye: the tutorial has no shutdown"
  else
    fail "SIGTERM: exit status $status, expected death by the signal (143)"
  fi
}

# stop_server PID LOG: SIGINT, as Ctrl+C does; check exit 0 within 250 ms and
# the `server closed` log line. Sets STOP_MS.
stop_server() {
  local pid=$1 log=$2 start status
  start=$(now_ms)
  kill -INT "$pid"
  local deadline=$(( start + 5000 ))
  while kill -0 "$pid" 2>/dev/null && [ "$(now_ms)" -lt "$deadline" ]; do sleep 0.005; done
  wait "$pid" 2>/dev/null; status=$?
  STOP_MS=$(( $(now_ms) - start ))
  if [ "$status" = 0 ] && [ "$STOP_MS" -le 250 ] && grep -q 'server closed' "$log"; then
    ok "Ctrl+C: exit 0 in ${STOP_MS} ms, log says: $(grep -o 'server closed.*' "$log" | tail -n 1)"
  else
    fail "Ctrl+C: exit status $status after ${STOP_MS} ms"; tail -n 5 "$log"
  fi
}

# Print the last N lines of a server log, indented, so the reader sees it.
show_log() { tail -n "${2:-4}" "$1" | sed 's/^/    server| /'; }
