# Part of scripts/demo.sh: the TCP lessons.
# tcp-server and tcp-threaded-server in every reply mode and both framings,
# driven by tcp-client; the client's burst (raw vs line framing) and its
# failures; then the contrast: client A stays connected while client B tries.

# tcp_tutorial_step SERVER_EXAMPLE: the tutorial's server, answering the
# tutorial's client and then the lesson's client. The tutorial's server
# has no Ctrl+C handling: stop_tutorial (lib.sh) kills it by its PID.
tcp_tutorial_step() {
  local example=$1 reply
  note "tutorial version: the tutorial's own server and client (examples/)"
  start_program "$BIN/examples/$example" 127.0.0.1:0 || return
  show "examples/tcp-client-tutorial $SERVER_ADDR"
  reply=$("$BIN/examples/tcp-client-tutorial" "$SERVER_ADDR" 2>&1)
  echo "$reply"
  expect_eq "tutorial client <-> $example" \
    "Connected to $SERVER_ADDR"$'\n'"Received response: Message received" "$reply"
  show "tcp-client --port $SERVER_PORT --message 'Hello, Server!'"
  reply=$("$BIN/tcp-client" --port "$SERVER_PORT" --message "Hello, Server!" 2>/dev/null)
  echo "$reply"
  expect_eq "the lesson's client <-> $example" "Message received" "$reply"
  show_log "$SERVER_OUT" 4
  expect_contains "$example printed the message" "Hello, Server!" "$(cat "$SERVER_OUT")"
  stop_tutorial "$SERVER_PID"
}

# Every --reply mode in raw framing, and echo in line framing.
tcp_reply_modes() {
  local server=$1 mode expected reply message
  for mode in received ack echo upper command; do
    start_server "$server" --port 0 --reply "$mode" || return
    case $mode in
      received) expected="Message received" ;;
      ack) expected="Server acknowledges: Hello, Server!" ;;
      echo) expected="Echo: Hello, Server!" ;;
      upper) expected="Response: HELLO, SERVER!" ;;
      command) expected="Hello, Server!" ;;
    esac
    message="Hello, Server!"
    [ "$mode" = command ] && message="ECHO Hello, Server!"
    show "tcp-client --port $SERVER_PORT --message '$message'"
    reply=$("$BIN/tcp-client" --port "$SERVER_PORT" --message "$message" 2>/dev/null)
    echo "$reply"
    expect_eq "--reply $mode" "$expected" "$reply"
    show_log "$SERVER_LOG" 3
    stop_server "$SERVER_PID" "$SERVER_LOG"
  done
  start_server "$server" --port 0 --reply echo --framing line || return
  show "printf 'one\\ntwo\\n' | tcp-client --port $SERVER_PORT --framing line"
  reply=$(printf 'one\ntwo\n' | "$BIN/tcp-client" --port "$SERVER_PORT" --framing line 2>/dev/null)
  echo "$reply"
  expect_eq "--framing line: one reply per line" "Echo: one"$'\n'"Echo: two" "$reply"
  stop_server "$SERVER_PID" "$SERVER_LOG"
}

lesson_begin tcp-server "bind, listen, accept one client, answer it until it leaves"
tcp_tutorial_step tcp-server-tutorial
tcp_reply_modes tcp-server
lesson_end

lesson_begin tcp-threaded-server "the same server, one thread per client, at most --max-connections"
tcp_tutorial_step tcp-threaded-server-tutorial
tcp_reply_modes tcp-threaded-server
note "--max-connections 1: while A is connected, B is told the server is busy"
start_server tcp-threaded-server --port 0 --max-connections 1
mkfifo "$WORK/cap.in"
"$BIN/tcp-client" --port "$SERVER_PORT" <"$WORK/cap.in" >"$WORK/cap.a" 2>/dev/null &
cap_a=$!
exec 7>"$WORK/cap.in"
echo "I am A" >&7
deadline=$(( $(now_ms) + 5000 ))
until grep -q 'Message received' "$WORK/cap.a" || [ "$(now_ms)" -gt "$deadline" ]; do sleep 0.01; done
show "tcp-client --port $SERVER_PORT --message 'I am B'     # A still connected"
"$BIN/tcp-client" --port "$SERVER_PORT" --message "I am B" >"$WORK/cap.b" 2>&1 7>&-
status=$?
cat "$WORK/cap.b"
expect_eq "B is turned away: exit code 1" 1 "$status"
expect_contains "B says the server is busy" "is busy: it serves at most --max-connections" "$(cat "$WORK/cap.b")"
expect_contains "the server sent its busy line" "server busy, try again later" "$(cat "$SERVER_LOG")"
exec 7>&-
wait "$cap_a"
stop_server "$SERVER_PID" "$SERVER_LOG"
lesson_end

lesson_begin tcp-client "a pipe, two quick writes in raw and line framing, and failures"
note "tutorial version: the tutorial's own client against the lesson's server"
start_server tcp-server --port 0
show "examples/tcp-client-tutorial $SERVER_ADDR"
reply=$("$BIN/examples/tcp-client-tutorial" "$SERVER_ADDR" 2>&1)
echo "$reply"
expect_eq "tutorial client <-> tcp-server" \
  "Connected to $SERVER_ADDR"$'\n'"Received response: Message received" "$reply"
stop_server "$SERVER_PID" "$SERVER_LOG"
start_server tcp-server --port 0 --reply ack
show "printf 'first\\nsecond\\nexit\\nnever sent\\n' | tcp-client --port $SERVER_PORT"
reply=$(printf 'first\nsecond\nexit\nnever sent\n' | "$BIN/tcp-client" --port "$SERVER_PORT" 2>/dev/null)
echo "$reply"
expect_eq "two lines, two replies on one connection, stops at 'exit'" \
  "Server acknowledges: first"$'\n'"Server acknowledges: second" "$reply"
stop_server "$SERVER_PID" "$SERVER_LOG"

note "three quick writes; the server takes 100 ms per message, so the later ones queue up."
note "Timing alone decides what comes back. Seen in 20 runs: 'Echo: ping' then 'Echo: pingping'"
note "(17), one 'Echo: pingpingping' (3). Without --delay-ms: 'Echo: pingEcho: pingEcho: ping',"
note "three replies run together on the client's side (19), and 'Echo: pingpingping' (1)."
start_server tcp-server --port 0 --reply echo --delay-ms 100
show "tcp-client --port $SERVER_PORT --message ping --burst 3 --timeout-ms 400"
"$BIN/tcp-client" --port "$SERVER_PORT" --message ping --burst 3 --timeout-ms 400 \
  >"$WORK/burst.raw" 2>"$WORK/burst.raw.err"
cat "$WORK/burst.raw"; grep -o 'sent 3 messages.*' "$WORK/burst.raw.err"
replies=$(count_lines <"$WORK/burst.raw")
pings=$(grep -o ping "$WORK/burst.raw" | count_lines)
if [ "$pings" = 3 ]; then
  ok "raw framing: 3 writes, every ping echoed, in $replies read(s) of replies this time"
else
  fail "raw framing: expected 3 pings echoed, got $pings in $replies replies"
fi
stop_server "$SERVER_PID" "$SERVER_LOG"
start_server tcp-server --port 0 --reply echo --delay-ms 100 --framing line
show "tcp-client --port $SERVER_PORT --message ping --burst 3 --framing line"
reply=$("$BIN/tcp-client" --port "$SERVER_PORT" --message ping --burst 3 --framing line 2>/dev/null)
echo "$reply"
expect_eq "line framing: 3 writes, 3 replies" "Echo: ping"$'\n'"Echo: ping"$'\n'"Echo: ping" "$reply"
stop_server "$SERVER_PID" "$SERVER_LOG"

show "tcp-client --port $SERVER_PORT --message anyone   # server gone"
"$BIN/tcp-client" --port "$SERVER_PORT" --message anyone 2>"$WORK/refused.err"
status=$?
cat "$WORK/refused.err"
expect_eq "refused: exit code 1" 1 "$status"
expect_contains "refused: says so" "connection refused by 127.0.0.1:$SERVER_PORT" "$(cat "$WORK/refused.err")"
lesson_end

# Client A connects, talks once and stays connected, idle. Then client B
# sends one message. Sets B_WAITED (did B have to wait for A to leave?) and
# B_MS (how long B took).
tcp_contrast() {
  local server=$1 a_pid b_pid b_start
  start_server "$server" --port 0 || return
  rm -f "$WORK/a.in"; mkfifo "$WORK/a.in"
  "$BIN/tcp-client" --port "$SERVER_PORT" <"$WORK/a.in" >"$WORK/a.out" 2>/dev/null &
  a_pid=$!
  exec 8>"$WORK/a.in"
  echo "hello from A" >&8
  local deadline=$(( $(now_ms) + 5000 ))
  until grep -q 'Message received' "$WORK/a.out" || [ "$(now_ms)" -gt "$deadline" ]; do sleep 0.01; done
  note "A sent one message, got its reply, and stays connected"
  show "tcp-client --port $SERVER_PORT --message 'hello from B' --timeout-ms 5000"
  b_start=$(now_ms)
  # (8>&-: B must not hold A's input open, or A would never see its end.)
  "$BIN/tcp-client" --port "$SERVER_PORT" --message "hello from B" --timeout-ms 5000 \
    >"$WORK/b.out" 2>/dev/null 8>&- &
  b_pid=$!
  # Give B half a second. The threaded server answers it at once; the
  # sequential one does not even read it while A is connected.
  deadline=$(( b_start + 500 ))
  while kill -0 "$b_pid" 2>/dev/null && [ "$(now_ms)" -lt "$deadline" ]; do sleep 0.01; done
  if kill -0 "$b_pid" 2>/dev/null; then
    B_WAITED=1
    note "after 500 ms B still has no reply; now A leaves (closes its connection)"
  else
    B_WAITED=0
    note "B is done, and A is still connected: $(kill -0 "$a_pid" 2>/dev/null && echo yes || echo no)"
  fi
  exec 8>&-
  wait "$b_pid"
  B_MS=$(( $(now_ms) - b_start ))
  wait "$a_pid"
  printf '  B: %s (after %d ms)\n' "$(cat "$WORK/b.out")" "$B_MS"
  expect_eq "B is answered in the end" "Message received" "$(cat "$WORK/b.out")"
  show_log "$SERVER_LOG" 6
  stop_server "$SERVER_PID" "$SERVER_LOG"
}

lesson_begin "tcp threading" "client A stays connected while client B tries"
tcp_contrast tcp-server
expect_eq "tcp-server: B waits until A leaves" 1 "$B_WAITED"
tcp_contrast tcp-threaded-server
expect_eq "tcp-threaded-server: B is answered while A is connected" 0 "$B_WAITED"
lesson_end
