# Part of scripts/demo.sh: the chunked-transfer lesson.
# The tutorial's own program (the example) sending a file to itself; a file
# in the tutorial's basic format; the same kind of file with the
# reliable protocol over a simulated bad link (10% loss, 5% reordering, 2%
# duplication, both ways), checked byte for byte with cmp; and a receiver
# that refuses a file over its --max-size.

# chunked_wait PID: wait (up to 20 s) for a receiver that stops by itself
# after one file; sets CHUNKED_STATUS to its exit code.
chunked_wait() {
  local pid=$1 deadline=$(( $(now_ms) + 20000 ))
  while kill -0 "$pid" 2>/dev/null && [ "$(now_ms)" -lt "$deadline" ]; do sleep 0.01; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -INT "$pid"
    fail "receiver $pid still running after 20 s"
  fi
  wait "$pid" 2>/dev/null
  CHUNKED_STATUS=$?
}

# chunked_file NAME BYTES: a file of random bytes in $WORK.
chunked_file() {
  head -c "$2" /dev/urandom >"$WORK/$1"
}

CHUNKED_TUTORIAL=$BIN/examples/udp-chunked-transfer-tutorial

lesson_begin udp-chunked-transfer "a file in many datagrams: the tutorial's way, then reliably"

# 0. The tutorial version: the example's receive_large_data and
#    send_large_data, 40 chunks (small enough for a default socket buffer:
#    the tutorial has no flow control).
chunked_file tutorial.bin 40000
if start_program "$CHUNKED_TUTORIAL" receive 127.0.0.1:0 "$WORK/tutorial.copy"; then
  show "udp-chunked-transfer-tutorial send tutorial.bin $SERVER_ADDR"
  "$CHUNKED_TUTORIAL" send "$WORK/tutorial.bin" "$SERVER_ADDR"
  chunked_wait "$SERVER_PID"
  sed 's/^/    receiver| /' "$SERVER_OUT"
  expect_eq "tutorial: the receiver exits 0 after one file" 0 "$CHUNKED_STATUS"
  if cmp -s "$WORK/tutorial.bin" "$WORK/tutorial.copy"; then
    ok "tutorial: cmp finds the copy identical (40000 bytes, 40 chunks)"
  else
    fail "tutorial: the copy differs"
  fi
fi

# 1. The tutorial's format: a count, then [index][data] per chunk.
chunked_file basic.bin 100000
if start_server udp-chunked-transfer receive --protocol basic --port 0 \
  --out "$WORK/basic.copy" --timeout-ms 2000; then
  show "udp-chunked-transfer send basic.bin --protocol basic --port $SERVER_PORT"
  "$BIN/udp-chunked-transfer" send "$WORK/basic.bin" --protocol basic --port "$SERVER_PORT" 2>/dev/null
  chunked_wait "$SERVER_PID"
  show_log "$SERVER_LOG" 3
  expect_eq "basic: the receiver exits 0 after one file" 0 "$CHUNKED_STATUS"
  if cmp -s "$WORK/basic.bin" "$WORK/basic.copy"; then
    ok "basic: cmp finds the copy identical (100000 bytes, 98 chunks, nothing lost)"
  else
    fail "basic: the copy differs"
  fi
fi

# 2. Reliable, over a link that loses, reorders and duplicates, both ways.
bad_link() { echo --simulate-loss 0.1 --simulate-reorder 0.05 --simulate-duplicate 0.02 --seed "$1"; }
chunked_file lossy.bin 2000000
# shellcheck disable=SC2046 # bad_link's words are meant to split
if start_server udp-chunked-transfer receive --port 0 --out "$WORK/lossy.copy" $(bad_link 2); then
  note "both sides lose 10%, reorder 5% and duplicate 2% of what they send"
  show "udp-chunked-transfer send lossy.bin --port $SERVER_PORT $(bad_link 1)"
  # shellcheck disable=SC2046
  sent=$("$BIN/udp-chunked-transfer" send "$WORK/lossy.bin" --port "$SERVER_PORT" $(bad_link 1) 2>"$WORK/lossy.err")
  sent_status=$?
  echo "$sent"
  grep 'simulator' "$WORK/lossy.err"
  chunked_wait "$SERVER_PID"
  show_log "$SERVER_LOG" 4
  expect_eq "reliable: the sender exits 0" 0 "$sent_status"
  expect_eq "reliable: the receiver exits 0" 0 "$CHUNKED_STATUS"
  if cmp -s "$WORK/lossy.bin" "$WORK/lossy.copy"; then
    ok "reliable: cmp finds the copy identical despite the bad link"
  else
    fail "reliable: the copy differs"
  fi
  retrans=$(sed -n 's/.* \([0-9][0-9]*\) retransmissions.*/\1/p' <<<"$sent")
  if [ "${retrans:-0}" -gt 0 ]; then
    ok "reliable: $retrans chunks were sent again"
  else
    fail "reliable: no retransmissions on a lossy link?"
  fi
  expect_contains "reliable: both sides agree on the CRC-32" \
    "$(grep -o 'crc32 [0-9a-f]*' <<<"$sent")" "$(cat "$SERVER_LOG")"
fi

# 3. --max-size: the receiver refuses, says why, and waits for another file.
if start_server udp-chunked-transfer receive --port 0 --out "$WORK/big.copy" --max-size 100K; then
  show "udp-chunked-transfer send lossy.bin --port $SERVER_PORT   # 2000000 bytes, over --max-size 100K"
  "$BIN/udp-chunked-transfer" send "$WORK/lossy.bin" --port "$SERVER_PORT" 2>"$WORK/refused.err"
  refused_status=$?
  cat "$WORK/refused.err"
  expect_eq "max-size: the sender exits 1" 1 "$refused_status"
  expect_contains "max-size: the reason reaches the sender" \
    "over this receiver's --max-size of 102400 bytes" "$(cat "$WORK/refused.err")"
  show_log "$SERVER_LOG" 1
  stop_server "$SERVER_PID" "$SERVER_LOG"
  if [ -e "$WORK/big.copy" ]; then fail "max-size: a file was written"; else ok "max-size: nothing was written"; fi
fi

lesson_end
