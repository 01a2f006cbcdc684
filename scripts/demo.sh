#!/usr/bin/env bash
# Watch every lesson work: build once, then start each server on a free port,
# drive it with its client, stop it with Ctrl+C (SIGINT), and print PASS or
# FAIL per lesson. Exits non-zero if any lesson failed. Loopback only, except
# the multicast discovery, which runs in two network namespaces of its own
# when run as root on Linux (scripts/demo.d/40-broadcast.sh).
#
#   scripts/demo.sh            # all lessons
#   scripts/demo.sh udp tcp    # only the parts whose file names contain these words
#
# Needs bash (macOS's 3.2 will do) and the usual tools, GNU or BSD (see
# scripts/compat.sh). On Windows, WSL runs it as on Linux; Git Bash is not
# tried here (its kill may not turn SIGINT into a Ctrl+C for a Windows program,
# and the Ctrl+C checks rely on that).
set -uo pipefail
cd "$(dirname "$0")/.."

printf 'Building the workspace once (cargo build --workspace --bins --examples)...\n'
cargo build --workspace --bins --examples --quiet || exit 1

source scripts/lib.sh
demo_start=$(now_ms)

for part in scripts/demo.d/*.sh; do
  if [ $# -gt 0 ]; then
    wanted=0
    for word in "$@"; do case "$part" in *"$word"*) wanted=1 ;; esac; done
    [ "$wanted" = 1 ] || continue
  fi
  source "$part"
done

say "summary"
elapsed=$(( $(now_ms) - demo_start ))
printf 'demo ran in %d.%03d s after the build\n' $((elapsed / 1000)) $((elapsed % 1000))
if [ ${#FAILED_LESSONS[@]} -eq 0 ]; then
  printf '%sPASS%s every lesson\n' "$GREEN" "$RESET"
else
  printf '%sFAIL%s %s\n' "$RED" "$RESET" "${FAILED_LESSONS[*]}"
  exit 1
fi
