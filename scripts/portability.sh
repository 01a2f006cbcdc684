#!/usr/bin/env bash
# The portability step of .ci/run, callable alone:
#
#   scripts/portability.sh
#
# 1. prerequisites: mingw-w64, Wine (installed with apt-get when missing and
#    we are root), the x86_64-pc-windows-gnu target, nightly with rust-src;
# 2. a Wine prefix under target/wine (never ~/.wine), with the test-only
#    bcryptprimitives.dll stand-in (scripts/windows/setup-prefix.sh);
# 3. the Windows build, and `cargo test --workspace` for Windows run under
#    Wine (tests that need Unix are ignored there, each with its reason);
# 4. scripts/wine-smoke.sh: the Windows servers driven from Linux clients;
# 5. a type-check of the whole workspace, tests included, for macOS on Apple
#    silicon (aarch64-apple-darwin), with a std built from source by nightly.
#
# Prints each part's time. Loopback only. See docs/portability.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
TARGET_DIR=${CARGO_TARGET_DIR:-target}
WIN=x86_64-pc-windows-gnu
MAC=aarch64-apple-darwin

started=$(date +%s)
part_started=$started
TIMES=()
part() {
  local now
  now=$(date +%s)
  [ -n "${PART:-}" ] && TIMES+=("$(printf '%-50s %4d s' "$PART" $((now - part_started)))")
  PART=$1
  part_started=$now
  printf '\n--- %s\n' "$1"
}
report_times() {
  part ""
  printf '\nportability step, time per part:\n'
  printf '  %s\n' "${TIMES[@]}"
  printf '  %-50s %4d s\n' "total" $(($(date +%s) - started))
}

part "prerequisites"
missing=()
command -v x86_64-w64-mingw32-gcc >/dev/null || missing+=(gcc-mingw-w64-x86-64)
command -v wine >/dev/null || missing+=(wine)
[ -x /usr/lib/wine/wine64 ] || command -v wine64 >/dev/null || missing+=(wine64)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  else
    echo "missing: ${missing[*]} (apt-get install them as root)" >&2
    exit 1
  fi
fi
rustup target list --installed | grep -qx "$WIN" || rustup target add "$WIN"
if ! rustup toolchain list | grep -q '^nightly'; then
  rustup toolchain install nightly --profile minimal --component rust-src
fi
rustup component list --toolchain nightly --installed | grep -q '^rust-src' \
  || rustup component add rust-src --toolchain nightly
echo "mingw: $(x86_64-w64-mingw32-gcc -dumpversion); $(WINEDEBUG=-all wine --version); $(rustc +nightly --version)"

part "Wine prefix + bcryptprimitives.dll stand-in"
WINEPREFIX=$(WINEPREFIX=${WINEPREFIX:-$TARGET_DIR/wine} scripts/windows/setup-prefix.sh)
export WINEPREFIX WINEDEBUG=-all
wineserver=$(command -v wineserver || echo /usr/lib/wine/wineserver)
# The persistent wineserver of this prefix (ours alone) goes when we do.
trap '"$wineserver" -k 2>/dev/null || true' EXIT
echo "prefix: $WINEPREFIX"

part "Windows build (bins, examples, tests)"
cargo build --workspace --target "$WIN" --bins --examples
cargo test --workspace --target "$WIN" --no-run 2>&1 | grep -v '^  Executable' || true

part "Windows tests under Wine"
log=$(mktemp "${TMPDIR:-/tmp}/portability-tests.XXXXXX")
status=0
CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=wine \
  cargo test --workspace --target "$WIN" --no-fail-fast >"$log" 2>&1 || status=$?
grep -E '^test .* FAILED$|^error: test failed' "$log" || true
read -r passed failed ignored < <(awk '/^test result:/ { p += $4; f += $6; i += $8 }
  END { print p + 0, f + 0, i + 0 }' "$log")
echo "Windows tests under Wine: $passed passed, $failed failed, $ignored ignored on Windows:"
sed -n 's/^test .* \.\.\. ignored, //p' "$log" | sort | uniq -c | sort -rn
if [ "$status" != 0 ]; then
  echo "--- the failures in full:"
  sed -n '/^---- .* stdout ----$/,/^failures:$/p' "$log" \
    | grep -v '^ *[0-9]*: \|^ *at \|^stack backtrace:\|^note: \|^failures:$\|^$' | head -150
fi
rm -f "$log"
tests_status=$status

part "Linux build of the clients (for the smoke test)"
cargo build --workspace --bins -q

part "scripts/wine-smoke.sh"
smoke_status=0
scripts/wine-smoke.sh || smoke_status=$?

part "macOS type-check ($MAC, build-std)"
cargo +nightly check -q -Zbuild-std=std,panic_abort --target "$MAC" --workspace --all-targets
echo "macOS ($MAC): the workspace and its tests type-check"

report_times
if [ "$tests_status" != 0 ] || [ "$smoke_status" != 0 ]; then
  echo "portability: FAILED (Windows tests: exit $tests_status; smoke test: exit $smoke_status)" >&2
  exit 1
fi
echo "portability: ok"
