#!/usr/bin/env bash
# Exercises that check themselves (docs/exercises/README.md).
#
#   scripts/exercises.sh                  list every exercise: its lesson, the
#                                         command that checks it, its answer
#   scripts/exercises.sh --check [NAME]   prove every checker (or those whose
#                                         answer file is NAME.patch) both ways
#   scripts/exercises.sh --table          the course's table of exercises, from
#                                         the lesson pages (docs.sh keeps
#                                         docs/exercises/README.md in step)
#   scripts/exercises.sh --lint           quick consistency checks, run by
#                                         scripts/docs.sh --check
#
# Each answer is a patch, docs/exercises/LESSON--NAME.patch, against the lesson
# as it is on main. Its first lines, before the diff, say which exercise it
# answers and which command checks it:
#
#   Exercise: udp-server 2 (--reply reverse)
#   Checker: cargo test -p udp-server --test exercises -- --ignored reverse
#
# --check copies the tracked tree into target/exercises/tree (never touching
# the working tree), then, with one shared target directory so that each
# patch rebuilds only what it changes:
#   1. runs every checker on the untouched copy: each must fail, and say
#      "not solved yet" (common::testing::exercise), not crash;
#   2. for each patch: applies it, runs its checker (it must pass), runs every
#      other test of that lesson (`cargo test -p LESSON`, which must pass too),
#      and takes the patch out again.
# It ends with `N exercises: N fail untouched, N pass with their solution`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/compat.sh

mode=list
case "${1:-}" in
  --check) mode=check; shift ;;
  --table) mode=table; shift ;;
  --lint) mode=lint; shift ;;
  -h|--help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac

LESSONS="udp-server udp-client udp-threaded-server tcp-server tcp-client tcp-threaded-server
         udp-chunked-transfer udp-broadcast"

field() { sed -n "s/^$1: //p" "$2" | head -n 1; }
lesson_of() { local name; name=$(basename "$1" .patch); echo "${name%%--*}"; }

# The exercises of one lesson page, one line each, tab-separated:
# NUMBER, TITLE, CHECKER COMMAND (or -), ANSWER (a patch, or "details" for an
# answer folded on the page, or -). An exercise is a numbered item of the
# page's "## Exercises" section that starts with a bold title:
#   1. **Reply in reverse.** Add ...
#      Check: `cargo test -p ... -- --ignored NAME` · answer: [..](exercises/LESSON--NAME.patch)
exercises_of() {
  awk '
    /^## Exercises/ { on = 1; next }
    /^## / { on = 0 }
    !on { next }
    function flush() {
      if (n != "") printf "%s\t%s\t%s\t%s\n", n, title, (check == "" ? "-" : check), (answer == "" ? "-" : answer)
    }
    /^[0-9]+\. \*\*/ {
      flush()
      n = $0; sub(/\..*/, "", n)
      title = $0; sub(/^[0-9]+\. \*\*/, "", title); sub(/\*\*.*/, "", title); sub(/\.$/, "", title)
      check = ""; answer = ""
    }
    /Check: `/ { c = $0; sub(/.*Check: `/, "", c); sub(/`.*/, "", c); check = c }
    /\(exercises\/[^)]*\.patch\)/ { a = $0; sub(/.*\(exercises\//, "", a); sub(/\).*/, "", a); answer = a }
    /<details>/ { if (answer == "") answer = "details" }
    END { flush() }
  ' "docs/$1.md"
}

if [ "$mode" = table ]; then
  printf '| lesson | exercise | check it with | answer |\n|---|---|---|---|\n'
  for lesson in $LESSONS; do
    exercises_of "$lesson" | while IFS="$(printf '\t')" read -r n title check answer; do
      case "$check" in -) check="(a question)" ;; *) check="\`$check\`" ;; esac
      case "$answer" in
        details) answer="[on the page](../$lesson.md#exercises)" ;;
        -) answer="none yet" ;;
        *) answer="[$answer]($answer)" ;;
      esac
      printf '| [%s](../%s.md#exercises) | %s. %s | %s | %s |\n' "$lesson" "$lesson" "$n" "$title" "$check" "$answer"
    done
  done
  exit 0
fi

if [ "$mode" = lint ]; then
  status=0
  for lesson in $LESSONS; do
    rows=$(exercises_of "$lesson")
    [ -n "$rows" ] || { echo "docs/$lesson.md: no exercises with a bold title"; status=1; }
    while IFS="$(printf '\t')" read -r n title check answer; do
      [ -n "$n" ] || continue
      case "$answer" in
        -) echo "docs/$lesson.md: exercise $n ($title) has neither an answer patch nor a <details> answer"; status=1 ;;
        details) [ "$check" = - ] || { echo "docs/$lesson.md: exercise $n has a checker but no answer patch"; status=1; } ;;
        *.patch)
          patch=docs/exercises/$answer
          if [ ! -e "$patch" ]; then echo "docs/$lesson.md: exercise $n: $patch is missing"; status=1; continue; fi
          if [ "$(field Checker "$patch")" != "$check" ]; then
            echo "docs/$lesson.md: exercise $n: the page's checker differs from $patch's:"
            echo "  page:  $check"; echo "  patch: $(field Checker "$patch")"; status=1
          fi ;;
      esac
    done <<EOF_ROWS
$rows
EOF_ROWS
  done
  # Every answer is linked from its lesson's page.
  for patch in docs/exercises/*.patch; do
    [ -e "$patch" ] || continue
    grep -q "(exercises/$(basename "$patch"))" "docs/$(lesson_of "$patch").md" \
      || { echo "$patch: not linked from docs/$(lesson_of "$patch").md"; status=1; }
  done
  exit "$status"
fi

# The answers, in the course's order of lessons.
patches=()
for lesson in $LESSONS; do
  for patch in docs/exercises/"$lesson"--*.patch; do
    [ -e "$patch" ] || continue
    name=$(basename "$patch" .patch)
    if [ $# -gt 0 ]; then
      wanted=0
      for arg in "$@"; do [ "$arg" = "$name" ] && wanted=1; done
      [ "$wanted" = 1 ] || continue
    fi
    patches+=("$patch")
  done
done
if [ ${#patches[@]} -eq 0 ]; then
  echo "no exercise answers found in docs/exercises/ ${*:+(for $*)}" >&2
  exit 2
fi

if [ "$mode" = list ]; then
  for patch in "${patches[@]}"; do
    printf '%s\n    check:  %s\n    answer: %s\n' \
      "$(field Exercise "$patch")" "$(field Checker "$patch")" "$patch"
  done
  exit 0
fi

# The checker command as the script runs it: exactly the named test.
run_checker() {
  local checker=$1
  case "$checker" in
    "cargo test -p "*" -- --ignored "*) ;;
    *) echo "unexpected checker command: $checker" >&2; return 2 ;;
  esac
  # shellcheck disable=SC2086 # the command is split into words on purpose
  (cd "$tree" && with_timeout 900 $checker --exact)
}

root=$PWD
export CARGO_TARGET_DIR=$root/target/exercises/target
export CARGO_TERM_COLOR=never
tree=$root/target/exercises/tree
log=$root/target/exercises/log
# The copy sits inside this repository's folder; stop git from finding the
# repository above it, so that `git apply` patches the copy's files.
export GIT_CEILING_DIRECTORIES=$root/target/exercises
mkdir -p "$tree"
# The tracked files as they are now (edits included). A file is copied only
# when its content differs from the copy's, and then gets a new time: cargo
# decides what to rebuild by file times, so an older time would let it
# reuse a build of a patched file.
copied=0
while IFS= read -r f; do
  [ -e "$f" ] || continue
  if ! cmp -s "$f" "$tree/$f"; then
    mkdir -p "$tree/$(dirname "$f")"
    cp "$f" "$tree/$f"
    copied=$((copied + 1))
  fi
done < <(git ls-files)
printf 'copied %d changed files into %s\n' "$copied" "${tree#"$root"/}"

started=$(now_ms)
total=${#patches[@]}
failing=0
passing=0
problems=()

printf '::: %d checkers on the untouched lessons: each must fail, saying what is missing\n' "$total"
for patch in "${patches[@]}"; do
  checker=$(field Checker "$patch")
  name=$(basename "$patch" .patch)
  if run_checker "$checker" > "$log" 2>&1; then
    problems+=("$name: its checker passes on the untouched lesson")
    printf 'FAIL %s: passes untouched\n' "$name"
  elif grep -q "not solved yet" "$log"; then
    failing=$((failing + 1))
    printf 'ok   %s fails untouched: %s\n' "$name" "$(grep -m1 -A1 'not solved yet' "$log" | tail -n 1 | sed 's/^ *//')"
  else
    problems+=("$name: its checker fails untouched without its message")
    printf 'FAIL %s: fails, but not with "not solved yet":\n' "$name"
    tail -n 30 "$log"
  fi
done

# Take a patch out again even when this script is interrupted, so the next
# run starts from the untouched copy.
current=""
trap '[ -z "$current" ] || (cd "$tree" && git apply -R "$root/$current")' EXIT
printf '\n::: each answer applied in turn: its checker must pass, and so must the rest of its lesson\n'
for patch in "${patches[@]}"; do
  checker=$(field Checker "$patch")
  name=$(basename "$patch" .patch)
  lesson=$(lesson_of "$patch")
  if ! (cd "$tree" && git apply "$root/$patch"); then
    problems+=("$name: the patch no longer applies to main")
    printf 'FAIL %s: does not apply\n' "$name"
    continue
  fi
  current=$patch
  if ! run_checker "$checker" > "$log" 2>&1; then
    problems+=("$name: its checker fails with the answer applied")
    printf 'FAIL %s: checker fails with the answer\n' "$name"
    tail -n 30 "$log"
  elif ! (cd "$tree" && with_timeout 900 cargo test -q -p "$lesson") > "$log" 2>&1; then
    problems+=("$name: with the answer applied, other $lesson tests fail")
    printf 'FAIL %s: other tests of %s fail with the answer\n' "$name" "$lesson"
    grep -E '^(test .* FAILED|---- |failures:)' "$log" | head -n 20 || tail -n 30 "$log"
  else
    passing=$((passing + 1))
    printf 'ok   %s passes with its answer, and so do the other %s tests\n' "$name" "$lesson"
  fi
  (cd "$tree" && git apply -R "$root/$patch")
  current=""
done

printf '\n%d exercises: %d fail untouched, %d pass with their solution (%d s)\n' \
  "$total" "$failing" "$passing" $(( ($(now_ms) - started) / 1000 ))
if [ ${#problems[@]} -gt 0 ]; then
  printf '  %s\n' "${problems[@]}"
  exit 1
fi
