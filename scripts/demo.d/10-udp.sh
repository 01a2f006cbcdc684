# Part of scripts/demo.sh: the UDP request/response lessons.
# udp-server and udp-threaded-server in every reply mode, driven by udp-client;
# then both with a slow handler and 8 clients at once, to show why threads help.
# Each lesson first runs its tutorial version (examples/*-tutorial.rs).

# The tutorial version of a server: one request from udp-client, the line the
# example prints, and Ctrl+C, which kills it (it has no graceful stop).
udp_tutorial_server() {
  local example=$1 reply
  start_program "$BIN/examples/$example" 127.0.0.1:0 || return
  show "udp-client --port $SERVER_PORT --message 'hello, tutorial'"
  reply=$("$BIN/udp-client" --port "$SERVER_PORT" --message 'hello, tutorial' 2>/dev/null)
  echo "$reply"
  expect_eq "tutorial version answers" "Message received" "$reply"
  expect_contains "tutorial version prints what it got" ": hello, tutorial" "$(cat "$SERVER_OUT")"
  tail -n 1 "$SERVER_OUT" | sed 's/^/    server| /'
  stop_tutorial "$SERVER_PID"
}

udp_reply_modes() {
  local server=$1 mode expected reply
  for mode in received ack echo upper command; do
    start_server "$server" --port 0 --reply "$mode" || return
    case $mode in
      received) expected="Message received" ;;
      ack) expected="Server acknowledges: hello" ;;
      echo) expected="Echo: hello" ;;
      upper) expected="Response: HELLO" ;;
      command) expected="hello" ;;
    esac
    local message=hello
    [ "$mode" = command ] && message="ECHO hello"
    show "udp-client --port $SERVER_PORT --message '$message'"
    reply=$("$BIN/udp-client" --port "$SERVER_PORT" --message "$message" 2>/dev/null)
    echo "$reply"
    expect_eq "--reply $mode" "$expected" "$reply"
    if [ "$mode" = command ]; then
      show "udp-client --port $SERVER_PORT --message TIME"
      reply=$("$BIN/udp-client" --port "$SERVER_PORT" --message TIME 2>/dev/null)
      echo "$reply"
      expect_contains "TIME answers with an ISO 8601 time" "T" "$reply"
    fi
    show_log "$SERVER_LOG" 2
    stop_server "$SERVER_PID" "$SERVER_LOG"
  done
}

lesson_begin udp-server "receive, reply, repeat - one datagram at a time"
note "tutorial version: examples/udp-server-tutorial.rs"
udp_tutorial_server udp-server-tutorial
udp_reply_modes udp-server
lesson_end

lesson_begin udp-threaded-server "the same server, one thread per datagram"
note "tutorial version: examples/udp-threaded-server-tutorial.rs"
udp_tutorial_server udp-threaded-server-tutorial
udp_reply_modes udp-threaded-server
lesson_end

lesson_begin udp-client "one-shot, interactive from a pipe, and no server at all"
note "tutorial version: examples/udp-client-tutorial.rs against udp-server-tutorial"
start_program "$BIN/examples/udp-server-tutorial" 127.0.0.1:0
show "printf 'hello\\nexit\\n' | udp-client-tutorial $SERVER_ADDR"
reply=$(printf 'hello\nexit\n' | "$BIN/examples/udp-client-tutorial" "$SERVER_ADDR" 2>&1)
echo "$reply"
expect_eq "tutorial client: one line, one reply, stops at 'exit'" "Server response: Message received" "$reply"
stop_tutorial "$SERVER_PID"
start_server udp-server --port 0 --reply ack
show "printf 'first\\nsecond\\nexit\\nnever sent\\n' | udp-client --port $SERVER_PORT"
reply=$(printf 'first\nsecond\nexit\nnever sent\n' | "$BIN/udp-client" --port "$SERVER_PORT" 2>/dev/null)
echo "$reply"
expect_eq "two lines, two replies, stops at 'exit'" \
  "Server acknowledges: first"$'\n'"Server acknowledges: second" "$reply"
stop_server "$SERVER_PID" "$SERVER_LOG"
show "udp-client --port $SERVER_PORT --message anyone --timeout-ms 200 --retries 1   # server gone"
"$BIN/udp-client" --port "$SERVER_PORT" --message anyone --timeout-ms 200 --retries 1 2>"$WORK/noreply.err"
status=$?
cat "$WORK/noreply.err"
expect_eq "no server: exit code 1" 1 "$status"
expect_contains "no server: says so" "no reply from 127.0.0.1:$SERVER_PORT" "$(cat "$WORK/noreply.err")"
lesson_end

# Eight clients at once against a server that takes 300 ms per request.
udp_race() {
  local server=$1 start i pids=()
  start_server "$server" --port 0 --delay-ms 300 || return
  start=$(now_ms)
  for i in 1 2 3 4 5 6 7 8; do
    "$BIN/udp-client" --port "$SERVER_PORT" --message "client $i" --timeout-ms 10000 --retries 0 \
      >"$WORK/race.$server.$i" 2>/dev/null &
    pids+=($!)
  done
  wait "${pids[@]}"
  RACE_MS=$(( $(now_ms) - start ))
  local answered
  answered=$(cat "$WORK"/race."$server".* | grep -c 'Message received')
  expect_eq "$server answered all 8 clients" 8 "$answered"
  stop_server "$SERVER_PID" "$SERVER_LOG"
}

lesson_begin "udp threading" "8 clients at once, 300 ms of work per request"
note "each client sends one message; how long until all 8 have their reply?"
udp_race udp-server; seq_ms=$RACE_MS
udp_race udp-threaded-server; thr_ms=$RACE_MS
printf '  udp-server          %5d ms   (one after another: about 8 x 300 ms)\n' "$seq_ms"
printf '  udp-threaded-server %5d ms   (side by side: about 300 ms)\n' "$thr_ms"
if [ "$thr_ms" -lt "$seq_ms" ]; then ok "the threaded server is faster with slow requests"; else fail "threads did not help"; fi
lesson_end
