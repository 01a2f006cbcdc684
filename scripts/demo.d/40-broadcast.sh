# Part of scripts/demo.sh: the broadcast lesson.
# Three udp-broadcast listeners share one port (SO_REUSEADDR); one discover
# sent to 127.255.255.255 (the loopback network's broadcast address, so
# nothing leaves this machine) finds all three; a unicast request finds one;
# without SO_BROADCAST the kernel refuses the send (Permission denied).
# Listeners answer only loopback senders unless started with --lan.
# Tutorial version: the tutorial's broadcast server (the example) answers
# discover's broadcast with "Server response", which discover logs and drops.
# Seen on Linux only: whether macOS's loopback (lo0, which has no broadcast
# address) delivers a datagram sent to 127.255.255.255 to all three, and
# refuses it without SO_BROADCAST, is not checked here.

lesson_begin udp-broadcast "three listeners on one port, one broadcast finds them all"

bc_pids=() bc_logs=()
if start_server udp-broadcast listen --port 0 --name alpha; then
  bc_port=$SERVER_PORT
  bc_pids+=("$SERVER_PID") bc_logs+=("$SERVER_LOG")
  for bc_name in beta gamma; do
    start_server udp-broadcast listen --port "$bc_port" --name "$bc_name" || break
    bc_pids+=("$SERVER_PID") bc_logs+=("$SERVER_LOG")
  done
fi

if [ ${#bc_pids[@]} = 3 ]; then
  note "all three listen on 0.0.0.0:$bc_port: SO_REUSEADDR lets them share the port"
  note "without --lan they answer loopback senders only: nobody else learns their names"
  expect_contains "safe by default: loopback senders only" \
    "from loopback addresses only" "$(cat "${bc_logs[0]}")"

  show "udp-broadcast discover --port $bc_port --stop-after 3"
  bc_out=$("$BIN/udp-broadcast" discover --port "$bc_port" --stop-after 3 --wait-ms 3000 2>"$WORK/bc.err")
  bc_status=$?
  echo "$bc_out"
  expect_eq "one broadcast, three answers" 3 "$(printf '%s\n' "$bc_out" | grep -c " at 127.0.0.1:$bc_port$")"
  expect_eq "discover exits 0" 0 "$bc_status"
  for bc_name in alpha beta gamma; do
    expect_contains "$bc_name answered" "$bc_name at 127.0.0.1:$bc_port" "$bc_out"
  done
  show_log "${bc_logs[0]}" 1

  show "udp-broadcast discover --port $bc_port --to 127.0.0.1 --wait-ms 300   # unicast"
  bc_out=$("$BIN/udp-broadcast" discover --port "$bc_port" --to 127.0.0.1 --wait-ms 300 2>/dev/null)
  echo "$bc_out"
  expect_eq "a unicast datagram reaches only one listener" 1 "$(printf '%s\n' "$bc_out" | grep -c ' at ')"

  show "udp-broadcast discover --port $bc_port --without-so-broadcast"
  "$BIN/udp-broadcast" discover --port "$bc_port" --without-so-broadcast 2>"$WORK/bc-eacces.err"
  bc_status=$?
  grep 'error' "$WORK/bc-eacces.err"
  expect_eq "without SO_BROADCAST: exit code 1" 1 "$bc_status"
  expect_contains "without SO_BROADCAST: the kernel says Permission denied" \
    "Permission denied" "$(cat "$WORK/bc-eacces.err")"

  for i in 0 1 2; do
    stop_server "${bc_pids[$i]}" "${bc_logs[$i]}"
  done

  show "udp-broadcast discover --port $bc_port --wait-ms 200   # everyone has gone"
  "$BIN/udp-broadcast" discover --port "$bc_port" --wait-ms 200 2>"$WORK/bc-none.err"
  bc_status=$?
  grep 'error' "$WORK/bc-none.err"
  expect_eq "nobody left: exit code 1" 1 "$bc_status"
  expect_contains "nobody left: says so" "no responders" "$(cat "$WORK/bc-none.err")"
else
  fail "could not start three listeners on one port"
fi

# The tutorial version: the example answers every datagram with the same
# text.
if start_program "$BIN/examples/udp-broadcast-tutorial" 0; then
  bc_tut_pid=$SERVER_PID bc_tut_port=$SERVER_PORT bc_tut_log=$SERVER_LOG
  bc_tut_out=$SERVER_OUT
  note "tutorial version: the tutorial's broadcast server answers anyone with \"Server response\""
  show "udp-broadcast discover --port $bc_tut_port --wait-ms 300   # to the tutorial's server"
  "$BIN/udp-broadcast" discover --port "$bc_tut_port" --wait-ms 300 2>"$WORK/bc-tut.err"
  grep -e 'not a discovery reply' "$WORK/bc-tut.err"
  expect_contains "tutorial version: it answered the broadcast to 127.255.255.255" \
    'not a discovery reply: "Server response"' "$(cat "$WORK/bc-tut.err")"
  expect_contains "tutorial version: it printed the request" \
    "Received from 127.0.0.1:" "$(grep DISCOVER "$bc_tut_out")"
  # No Ctrl+C handler: SIGTERM ends it at once, without a word (exit 143).
  kill -TERM "$bc_tut_pid"
  bc_deadline=$(( $(now_ms) + 5000 ))
  while kill -0 "$bc_tut_pid" 2>/dev/null && [ "$(now_ms)" -lt "$bc_deadline" ]; do sleep 0.005; done
  wait "$bc_tut_pid" 2>/dev/null
  expect_eq "tutorial version: killed by the signal, no goodbye" "143 0" "$? $(count_bytes <"$bc_tut_log")"
fi

lesson_end
