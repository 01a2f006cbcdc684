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
# Multicast: one discovery of the group 239.255.42.99. As root on Linux it
# runs in two network namespaces joined by a veth pair (192.0.2.1 and
# 192.0.2.2; this machine's own interfaces are not touched); otherwise on the
# loopback interface (--interface 127.0.0.1) where the OS lets a socket join
# a group there; otherwise it is skipped with the reason.

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

# Multicast: listener and discover inside namespaces (root, Linux), else on
# loopback. Never without --interface: the kernel would pick a real network.
bc_group=239.255.42.99
bc_ns=""
bc_ns_delete() {
  [ -n "$bc_ns" ] || return 0
  ip netns delete "$bc_ns-a" 2>/dev/null
  ip netns delete "$bc_ns-b" 2>/dev/null
  bc_ns=""
}
trap 'bc_ns_delete; cleanup' EXIT
bc_where="loopback"
bc_iface=127.0.0.1
bc_from=127.0.0.1
if [ "$(uname -s)" = Linux ] && [ "$(id -u)" = 0 ] && command -v ip >/dev/null 2>&1; then
  bc_ns="demo-mc-$$"
  if ip netns add "$bc_ns-a" && ip netns add "$bc_ns-b" \
    && ip -n "$bc_ns-a" link add eth0 type veth peer name eth0 netns "$bc_ns-b" \
    && ip -n "$bc_ns-a" addr add 192.0.2.1/24 dev eth0 \
    && ip -n "$bc_ns-b" addr add 192.0.2.2/24 dev eth0 \
    && ip -n "$bc_ns-a" link set eth0 up && ip -n "$bc_ns-b" link set eth0 up; then
    bc_deadline=$(( $(now_ms) + 5000 ))
    until ip -n "$bc_ns-b" link show eth0 | grep -q LOWER_UP || [ "$(now_ms)" -gt "$bc_deadline" ]; do
      sleep 0.02
    done
    bc_where="two network namespaces, 192.0.2.1 and 192.0.2.2 on one veth cable"
    bc_iface=eth0 bc_from=192.0.2.2
  else
    fail "multicast: could not create the namespaces"
    bc_ns_delete
  fi
fi
bc_in() { if [ -n "$bc_ns" ]; then ip netns exec "$bc_ns-$1" "${@:2}"; else "${@:2}"; fi; }
note "multicast: group $bc_group on $bc_where"
if [ -n "$bc_ns" ]; then
  start_program ip netns exec "$bc_ns-a" "$BIN/udp-broadcast" listen --port 0 --lan \
    --group "$bc_group" --interface eth0 --name member
  bc_mc_ok=$?
else
  # Loopback: the OS may refuse to join a group on lo; then skip.
  "$BIN/udp-broadcast" listen --port 0 --group "$bc_group" --interface 127.0.0.1 \
    --name member >"$WORK/bc-mc-probe.out" 2>"$WORK/bc-mc-probe.err" &
  bc_probe=$!
  STARTED_PIDS+=("$bc_probe")
  bc_deadline=$(( $(now_ms) + 5000 ))
  until grep -q '^listening on ' "$WORK/bc-mc-probe.out" 2>/dev/null \
    || ! kill -0 "$bc_probe" 2>/dev/null || [ "$(now_ms)" -gt "$bc_deadline" ]; do
    sleep 0.02
  done
  kill -INT "$bc_probe" 2>/dev/null
  wait "$bc_probe" 2>/dev/null
  if grep -q '^listening on ' "$WORK/bc-mc-probe.out"; then
    start_program "$BIN/udp-broadcast" listen --port 0 --group "$bc_group" \
      --interface 127.0.0.1 --name member
    bc_mc_ok=$?
  else
    note "multicast: skipped: this OS will not join $bc_group on loopback: $(head -n 1 "$WORK/bc-mc-probe.err")"
    bc_mc_ok=skip
  fi
fi
if [ "$bc_mc_ok" = 0 ]; then
  bc_mc_pid=$SERVER_PID bc_mc_log=$SERVER_LOG bc_mc_port=$SERVER_PORT
  show "udp-broadcast discover --to $bc_group --interface $bc_iface --port $bc_mc_port --stop-after 1"
  bc_out=$(bc_in b "$BIN/udp-broadcast" discover --to "$bc_group" --interface "$bc_iface" \
    --port "$bc_mc_port" --stop-after 1 --wait-ms 3000 2>"$WORK/bc-mc.err")
  echo "$bc_out"
  show_log "$bc_mc_log" 2
  expect_contains "multicast: the member of $bc_group answered" "member at " "$bc_out"
  expect_contains "multicast: it heard the request from $bc_from" \
    "discovery request from $bc_from:" "$(cat "$bc_mc_log")"
  stop_server "$bc_mc_pid" "$bc_mc_log"
  expect_contains "multicast: it left the group" "left multicast group $bc_group" "$(cat "$bc_mc_log")"
elif [ "$bc_mc_ok" != skip ]; then
  fail "multicast: the group listener did not start"
fi
bc_ns_delete

lesson_end
