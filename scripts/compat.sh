# Portable helpers for the scripts: the same behaviour with bash 5 and GNU
# tools (Linux) as with macOS's bash 3.2 and BSD tools. Sourced, not run.
# scripts/shcheck.sh keeps bash-4-only and GNU-only constructs out of the
# scripts; this file holds the few places that need to ask what is there.
#
# One trap this file cannot hide: with `set -u`, bash before 4.4 calls an
# empty array unbound, so "${a[@]}" of an empty array stops the script. Write
# ${a[@]+"${a[@]}"} where an array may be empty.

# now_ms: milliseconds since the epoch. bash 5 has $EPOCHREALTIME; GNU date
# has %N; macOS has neither, but it has perl (and often python3). Chosen once
# here, so that each call costs what it must.
if [ "${BASH_VERSINFO[0]}" -ge 5 ] && [ -n "${EPOCHREALTIME:-}" ]; then # shcheck: ok
  now_ms() {
    local t=${EPOCHREALTIME//[!0-9]/} # shcheck: ok (seconds, then 6 digits of microseconds)
    printf '%s\n' "${t%???}"
  }
elif case $(date +%s%3N 2>/dev/null) in *[!0-9]* | '') false ;; esac; then # shcheck: ok
  now_ms() { date +%s%3N; } # shcheck: ok (checked above: this date knows %N)
elif perl -MTime::HiRes -e 1 2>/dev/null; then
  now_ms() { perl -MTime::HiRes=time -e 'printf "%d\n", time() * 1000'; }
elif command -v python3 >/dev/null 2>&1; then
  now_ms() { python3 -c 'import time; print(int(time.time() * 1000))'; }
else
  # Whole seconds only: deadlines still hold, times print in steps of 1000.
  now_ms() { echo $(( $(date +%s) * 1000 )); }
fi

# cpu_count: how many CPUs this process may use (nproc on Linux honours
# taskset; macOS has no nproc).
cpu_count() {
  nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1 # shcheck: ok
}

# with_timeout SECONDS COMMAND [ARGS...]: run COMMAND, killed after SECONDS.
# GNU timeout where it exists (exit 124 on timeout); else perl's alarm,
# which survives exec (the command dies of SIGALRM, exit 142); else no limit.
with_timeout() {
  local secs=$1; shift
  if command -v timeout >/dev/null 2>&1; then # shcheck: ok
    timeout "$secs" "$@" # shcheck: ok (GNU coreutils, checked above)
  elif command -v perl >/dev/null 2>&1; then
    perl -e 'alarm shift; exec { $ARGV[0] } @ARGV or die "$ARGV[0]: $!\n"' "$secs" "$@"
  else
    "$@"
  fi
}

# count_lines < FILE: wc -l without BSD wc's leading blanks.
count_lines() { local n; n=$(wc -l); echo $((n)); } # shcheck: ok
# count_bytes < FILE: the same for wc -c.
count_bytes() { local n; n=$(wc -c); echo $((n)); } # shcheck: ok
