#!/usr/bin/env bash
# Prepare a Wine prefix for running the Windows build of the lessons (tests
# and scripts/wine-smoke.sh). Idempotent, quiet, and never touches ~/.wine:
#
#   WINEPREFIX=target/wine scripts/windows/setup-prefix.sh
#
# 1. Creates the prefix with `wineboot --init` if it is new (no Mono, no Gecko
#    dialogs: mscoree and mshtml are disabled while it is created).
# 2. Builds scripts/windows/bcryptprimitives.c with mingw into the prefix's
#    system32 (Wine 8 lacks ProcessPrng, which Rust's std needs; see the C file).
# 3. Starts a persistent wineserver for this prefix (`wineserver -p`), so
#    each wine process that follows does not pay for a server start-up.
#
# Prints the prefix's path. Needs wine, wine64 and gcc-mingw-w64-x86-64.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${WINEPREFIX:?set WINEPREFIX to the prefix to prepare (for example target/wine)}"
mkdir -p "$WINEPREFIX"
WINEPREFIX=$(cd "$WINEPREFIX" && pwd)
export WINEPREFIX WINEDEBUG=-all WINEARCH=win64

# Debian puts wineserver outside PATH.
wineserver=$(command -v wineserver || true)
[ -n "$wineserver" ] || for w in /usr/lib/wine/wineserver64 /usr/lib/wine/wineserver; do
  [ -x "$w" ] && { wineserver=$w; break; }
done
[ -n "$wineserver" ] || { echo "wineserver not found (apt-get install wine wine64)" >&2; exit 1; }

system32="$WINEPREFIX/drive_c/windows/system32"
if [ ! -f "$WINEPREFIX/system.reg" ] || [ ! -d "$system32" ]; then
  WINEDLLOVERRIDES="mscoree,mshtml=" wine wineboot --init >/dev/null 2>&1
  # Wait for this prefix's server to write the registry and exit.
  "$wineserver" -w
fi
# Keep this prefix's wineserver up between wine runs (without -p it exits
# three seconds after its last client, and the next run starts it again).
# A second -p is a no-op. Stop it with `WINEPREFIX=... wineserver -k`.
# Its output goes nowhere: on -k it lists the objects it still held.
"$wineserver" -p >/dev/null 2>&1
# The first program of a server's life starts the prefix's services
# (services.exe, winedevice.exe...), which inherit its stdout and stderr and
# keep them open: start them here, on /dev/null, not on a caller's pipe.
wine cmd.exe /c exit 0 </dev/null >/dev/null 2>&1

dll="$system32/bcryptprimitives.dll"
if [ ! -f "$dll" ] || [ "$here/bcryptprimitives.c" -nt "$dll" ]; then
  x86_64-w64-mingw32-gcc -O2 -s -shared -o "$dll" \
    "$here/bcryptprimitives.c" "$here/bcryptprimitives.def" -ladvapi32
fi
echo "$WINEPREFIX"
