#!/usr/bin/env bash
# shcheck: linux-only
# Packet captures of the lessons, each line printed beside a note saying what
# it is. Everything runs inside network namespaces this script creates (named
# with its pid) and deletes on exit, even on failure: the lessons talk over the
# namespace's own loopback, or over a veth pair (MTU 1500, 10.77.0.0/24) that
# joins two namespaces. Nothing leaves them.
#
#   scripts/capture.sh [PART...]   parts: tcp close rst nagle udp icmp fragments broadcast
#
# Needs Linux, root, `ip` (iproute2), `ss`, `tcpdump` and `timeout`; without
# them it says why, prints "skipped" and exits 0. Every wait has a deadline;
# every process it starts is stopped by pid. The lessons run from
# target/debug (built here with `cargo build --bins` unless CAPTURE_NO_BUILD=1).
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/compat.sh

ALL_PARTS="tcp close rst nagle udp icmp fragments broadcast"
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/debug}

skip() { printf 'capture.sh: skipped: %s\n' "$*"; exit 0; }
[ "$(uname -s)" = Linux ] || skip "network namespaces exist only on Linux"
[ "$(id -u)" = 0 ] || skip "not root (creating network namespaces needs root)"
for tool in ip ss tcpdump timeout; do
  command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed"
done

PARTS=${*:-$ALL_PARTS}
for part in $PARTS; do
  case " $ALL_PARTS " in *" $part "*) ;; *) echo "unknown part: $part (parts: $ALL_PARTS)" >&2; exit 2 ;; esac
done

if [ "${CAPTURE_NO_BUILD:-0}" != 1 ]; then
  cargo build --quiet --bins || exit 1
fi

NS_A=cap$$-a
NS_B=cap$$-b
WORK=$(mktemp -d "${TMPDIR:-/tmp}/capture.XXXXXX")
PIDS=()
FAILED=0

cleanup() {
  local pid
  # Each pid is a `timeout`, which passes TERM on to the program it runs
  # (KILL it could not), so TERM first; KILL what is left a second later.
  for pid in ${PIDS[@]+"${PIDS[@]}"}; do
    kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
  done
  for pid in ${PIDS[@]+"${PIDS[@]}"}; do
    timeout 1 tail --pid="$pid" -f /dev/null 2>/dev/null
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  done
  ip netns del "$NS_A" 2>/dev/null
  ip netns del "$NS_B" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

in_a() { ip netns exec "$NS_A" "$@"; }
in_b() { ip netns exec "$NS_B" "$@"; }
show() { printf '$ %s\n' "$*"; }
problem() { printf 'FAIL %s\n' "$*"; FAILED=1; }

# Namespace A: only its loopback, for every part but fragments.
ip netns add "$NS_A" || exit 1
in_a ip link set lo up || exit 1

# until_ms MS COMMAND...: retry COMMAND every 20 ms for at most MS ms.
until_ms() {
  local deadline=$(( $(now_ms) + $1 )); shift
  until "$@"; do
    [ "$(now_ms)" -gt "$deadline" ] && return 1
    sleep 0.02
  done
}
has_line() { grep -q "$2" "$1" 2>/dev/null; }
count_lines() { grep -c "$2" "$1" 2>/dev/null || true; }
at_least() { [ "$(count_lines "$1" "$2")" -ge "$3" ]; }

# start NS OUT COMMAND...: run COMMAND in namespace NS in the background
# (at most 30 s), stdout in OUT, stderr in OUT.err; sets STARTED.
start() {
  local ns=$1 out=$2; shift 2
  ip netns exec "$ns" timeout 30 "$@" >"$out" 2>"$out.err" &
  STARTED=$!
  PIDS+=("$STARTED")
}
# server NS NAME ARGS...: start a lesson server, wait for `listening on`;
# sets PORT (from that line) and SERVER.
server() {
  local ns=$1 name=$2; shift 2
  local out="$WORK/$name.$RANDOM"
  start "$ns" "$out" "$BIN/$name" "$@"
  SERVER=$STARTED
  if ! until_ms 10000 has_line "$out" '^listening on '; then
    problem "$name did not start: $(cat "$out.err")"; return 1
  fi
  PORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$out" | head -n 1)
}
stop() { kill -INT "$1" 2>/dev/null; timeout 5 tail --pid="$1" -f /dev/null 2>/dev/null; kill -KILL "$1" 2>/dev/null; true; }

# capture_start NS IFACE FILTER [TCPDUMP-FLAGS]: tcpdump in NS, lines to $CAP.
capture_start() {
  local ns=$1 iface=$2 filter=$3 flags=${4:-}
  CAP="$WORK/capture.$RANDOM"
  # -n numeric, -l line-buffered, -ttt time since the previous line,
  # -K no checksum check (loopback and veth leave checksums to "hardware").
  # shellcheck disable=SC2086
  start "$ns" "$CAP" tcpdump -i "$iface" -n -l -K -ttt $flags "$filter"
  TCPDUMP=$STARTED
  until_ms 10000 has_line "$CAP.err" 'listening on' || problem "tcpdump did not start: $(cat "$CAP.err")"
}
# capture_stop PATTERN COUNT: wait (at most 5 s) for COUNT lines matching
# PATTERN, stop tcpdump, print the annotated capture.
capture_stop() {
  until_ms 5000 at_least "$CAP" "$1" "$2" || problem "the capture has fewer than $2 lines matching '$1'"
  stop "$TCPDUMP"
  annotate <"$CAP"
}

# annotate: each capture line (tcpdump -v's two lines joined) with a note
# beside it. Client and server are told apart by $PORT, the server's;
# MODE=nagle names the halves of --split messages.
annotate() {
  awk -v port="${PORT:-0}" -v mode="${MODE:-}" '
    function flush() { if (line != "") note(line); line = "" }
    # A line starts with the -ttt time; tcpdump -v continues it indented.
    /^ *[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\./ { flush(); sub(/^ +/, ""); line = $0; next }
    { sub(/^[ \t]+/, " "); line = line $0 }
    END { flush() }
    function note(l,    src, dst, sp, dp, who, f, len, ip, n) {
      n = ""
      if (match(l, / [0-9.]+\.[0-9]+ > [0-9.]+\.[0-9]+:/)) {
        split(substr(l, RSTART + 1, RLENGTH - 2), a, " > ")
        sp = a[1]; sub(/.*\./, "", sp); dp = a[2]; sub(/.*\./, "", dp)
      }
      who = (dp == port) ? "client->server" : (sp == port) ? "server->client" : ""
      len = ""; if (match(l, /length [0-9]+$/)) len = substr(l, RSTART + 7)
      ip = ""; if (match(l, /proto [A-Z]+ \([0-9]+\), length [0-9]+/)) { ip = substr(l, RSTART, RLENGTH); sub(/.* /, "", ip) }
      if (match(l, /Flags \[[^]]*\]/)) {
        f = substr(l, RSTART + 7, RLENGTH - 8)
        if (f == "S") n = "SYN: " who ", open? (handshake 1/3)"
        else if (f == "S.") n = "SYN-ACK: " who ", yes (handshake 2/3)"
        else if (f ~ /R/) n = "RST: " who ", reset: the connection is gone at once"
        else if (f ~ /F/) n = "FIN: " who ", nothing more from me" (len > 0 ? ", after " len " bytes" : "")
        else if (len > 0 && mode == "nagle" && who == "client->server") {
          if (++half % 2) n = "message " (half + 1) / 2 ", first half (" len " bytes): nothing is unacknowledged, so it leaves at once"
          else if (prev == "delayed") n = "second half: Nagle held it until the delayed ACK above"
          else if (prev == "ack") n = "second half, right after the ACK above (a new connection ACKs at once at first: no stall yet)"
          else n = "second half: leaves at once, before any ACK (TCP_NODELAY)"
        }
        else if (len > 0) n = "data: " who ", " len " bytes" (f ~ /P/ ? " (PUSH)" : "")
        else if (!acked) { n = "ACK: " who " (handshake 3/3: connected)"; acked = 1 }
        else if (mode == "nagle" && substr(l, 1, 8) == "00:00:00" && substr(l, 7, 9) + 0 >= 0.02) {
          n = sprintf("delayed ACK, %.1f ms later: half a line, no reply yet to carry the ACK", substr(l, 7, 9) * 1000)
          delayed = 1
        }
        else n = "ACK: " who ", got it"
        prev = (len == 0 && who == "server->client" && f == ".") ? (delayed ? "delayed" : "ack") : "other"
        delayed = 0
        if (f == "S") acked = 0
        if (ip != "" && len != "") n = n sprintf("; IP length %d = 20 IP + %d TCP header + %d data", ip, ip - 20 - len, len)
      } else if (l ~ /ICMP .* port [0-9]+ unreachable/) {
        n = "ICMP port unreachable: the kernel says no socket has that port (only a connect()ed UDP socket hears of it, as ECONNREFUSED)"
      } else if (l ~ /^[^ ]+ ARP/) {
        n = (l ~ /Request/) ? "ARP request: a real link needs the MAC address of 10.77.0.2 first (loopback has none)" : "ARP reply: its MAC address"
      } else if (l ~ /UDP, / && l ~ /flags \[\+\]/) {
        n = "UDP datagram: " who ", " len " bytes, too big for one 1500-byte packet: IP fragment 1 (offset 0, more follow: flags [+]) holds the 8-byte UDP header and " ip - 28 " bytes"
      } else if (l ~ /UDP, /) {
        n = "UDP datagram" (who != "" ? ": " who : "") ", " len " bytes"
        if (l ~ /\.255\.[0-9]+: /) n = n ", to the broadcast address"
        if (ip != "" && len != "") n = n sprintf("; IP length %d = 20 IP + 8 UDP + %d", ip, len)
      } else if (l ~ /offset [0-9]+, flags/ ) {
        o = l; sub(/.*offset /, "", o); sub(/,.*/, "", o)
        n = "IP fragment at byte " o (l ~ /flags \[\+\]/ ? ", more follow" : ", the last") " (same IP id as fragment 1; no UDP header: only the first fragment has one)"
      }
      printf "%s\n", l
      if (n != "") printf "    ^ %s\n", n
    }'
}

# ss_time_wait PORT: the connections to or from PORT in TIME_WAIT.
ss_time_wait() {
  show "ss -tan state time-wait '( sport = :$1 or dport = :$1 )'    # inside the namespace"
  in_a ss -tan state time-wait "( sport = :$1 or dport = :$1 )" | sed 's/^/    /'
}

part_tcp() {
  echo "== tcp: handshake, a message and its reply, an orderly close, TIME_WAIT =="
  server "$NS_A" tcp-server --port 0 --reply echo || return
  capture_start "$NS_A" lo "tcp port $PORT" -v
  show "tcp-client --port $PORT --message hello"
  in_a timeout 10 "$BIN/tcp-client" --port "$PORT" --message hello 2>&1 | sed 's/^/    /'
  capture_stop 'Flags \[F' 2
  echo "The client closed first, so the client's side (not port $PORT) waits in TIME_WAIT:"
  ss_time_wait "$PORT"
  stop "$SERVER"
}

part_close() {
  echo "== close: the server hangs up first (idle timeout), TIME_WAIT on the server's side =="
  server "$NS_A" tcp-server --port 0 --idle-timeout-ms 300 || return
  capture_start "$NS_A" lo "tcp port $PORT"
  show "bash -c 'exec 3<>/dev/tcp/127.0.0.1/$PORT; cat <&3'    # says nothing, reads, closes"
  # bash's /dev/tcp: a client that only reads, then closes after the FIN.
  in_a timeout 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$PORT"'; cat <&3; exec 3<&-' | sed 's/^/    /'
  capture_stop 'Flags \[F' 2
  echo "The server closed first, so its side (local port $PORT) waits in TIME_WAIT:"
  ss_time_wait "$PORT"
  stop "$SERVER"
}

part_rst() {
  echo "== rst: a close with unread data sends a reset, not a FIN =="
  server "$NS_A" tcp-server --port 0 --reply echo || return
  capture_start "$NS_A" lo "tcp port $PORT"
  show "bash -c 'exec 3<>/dev/tcp/127.0.0.1/$PORT; printf hello >&3; (the reply arrives); exec 3<&-'    # never reads"
  local cap=$CAP
  # Wait until the reply has arrived (it sits unread in the client's socket),
  # then close: the kernel throws the unread bytes away and sends RST.
  in_a timeout 10 bash -c '
    exec 3<>/dev/tcp/127.0.0.1/'"$PORT"'
    printf hello >&3
    for i in $(seq 250); do
      grep -q "\.'"$PORT"' > .*Flags \[P" '"$cap"' && break
      sleep 0.02
    done
    exec 3<&-'
  capture_stop 'Flags \[R' 1
  echo "No FIN, no TIME_WAIT: a reset ends the connection on both sides at once."
  ss_time_wait "$PORT"
  stop "$SERVER"
}

part_nagle() {
  echo "== nagle: a message in two writes waits for the peer's (delayed) ACK =="
  if ! "$BIN/tcp-client" --help 2>/dev/null | grep -q -- '--split'; then
    echo "skipped: tcp-client has no --split yet"; return
  fi
  server "$NS_A" tcp-server --port 0 --reply echo --framing line || return
  local flags
  for flags in "" "--nodelay"; do
    capture_start "$NS_A" lo "tcp port $PORT"
    # shellcheck disable=SC2086
    show "tcp-client --port $PORT --framing line --split --repeat 3${flags:+ $flags} --message hello-nagle"
    # shellcheck disable=SC2086
    in_a timeout 20 "$BIN/tcp-client" --port "$PORT" --framing line --split --repeat 3 $flags \
      --message hello-nagle 2>&1 | sed 's/^/    /'
    MODE=nagle capture_stop 'Flags \[F' 2
  done
  stop "$SERVER"
}

part_udp() {
  echo "== udp: one datagram per send_to, no handshake, no ACK =="
  server "$NS_A" udp-server --port 0 --reply echo || return
  capture_start "$NS_A" lo "udp port $PORT" -v
  show "printf 'one\\ntwo\\n' | udp-client --port $PORT"
  printf 'one\ntwo\n' | in_a timeout 10 "$BIN/udp-client" --port "$PORT" 2>&1 | sed 's/^/    /'
  capture_stop 'UDP' 4
  stop "$SERVER"
}

part_icmp() {
  echo "== icmp: a datagram to a port where nothing listens =="
  PORT=9
  capture_start "$NS_A" lo "udp port 9 or icmp"
  show "udp-client --port 9 --retries 0 --timeout-ms 300 --message hello"
  in_a timeout 10 "$BIN/udp-client" --port 9 --retries 0 --timeout-ms 300 --message hello 2>&1 | sed 's/^/    /'
  capture_stop 'unreachable' 1
}

part_fragments() {
  echo "== fragments: a 2000-byte datagram on a 1500-byte MTU link =="
  ip netns add "$NS_B" || return
  ip link add veth-a netns "$NS_A" type veth peer name veth-b netns "$NS_B" || return
  in_a ip addr add 10.77.0.1/24 dev veth-a
  in_b ip addr add 10.77.0.2/24 dev veth-b
  in_a ip link set veth-a mtu 1500 up
  in_b ip link set veth-b mtu 1500 up
  in_b ip link set lo up
  echo "namespace A: veth-a 10.77.0.1/24 <-> namespace B: veth-b 10.77.0.2/24, MTU 1500 both ends"
  server "$NS_B" udp-server --host 10.77.0.2 --port 0 --reply ack --buffer-size 4000 || return
  capture_start "$NS_B" veth-b "host 10.77.0.1" -v
  local big
  big=$(printf '%02000d' 0)
  show "udp-client --host 10.77.0.2 --port $PORT --message <2000 zeros>    # from namespace A"
  in_a timeout 10 "$BIN/udp-client" --host 10.77.0.2 --port "$PORT" --message "$big" 2>&1 | cut -c 1-100 | sed 's/^/    /'
  capture_stop 'offset [1-9]' 2
  stop "$SERVER"
}

part_broadcast() {
  echo "== broadcast: one datagram, three answers =="
  local names="alpha beta gamma" name port=0 pids=""
  for name in $names; do
    server "$NS_A" udp-broadcast listen --port "$port" --name "$name" || return
    port=$PORT; pids="$pids $SERVER"
  done
  capture_start "$NS_A" lo "udp port $PORT" -v
  show "udp-broadcast discover --to 127.255.255.255 --port $PORT --stop-after 3"
  in_a timeout 10 "$BIN/udp-broadcast" discover --to 127.255.255.255 --port "$PORT" --stop-after 3 \
    --wait-ms 3000 2>&1 | sed 's/^/    /'
  capture_stop 'UDP' 4
  for name in $pids; do stop "$name"; done
}

started=$(now_ms)
for part in $PARTS; do
  "part_$part"
  echo
done
printf 'capture.sh: %s in %d ms%s\n' "$PARTS" $(( $(now_ms) - started )) \
  "$([ "$FAILED" = 0 ] || echo ', with failures')"
exit "$FAILED"
