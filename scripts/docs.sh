#!/usr/bin/env bash
# Keep the docs honest.
#
#   scripts/docs.sh --check   fail if docs/threading.md's diffs differ from the code,
#                             if any relative link in README.md or docs/ is dead, or if
#                             a lesson page is not tutorial -> break it -> full lesson
#                             with a real test behind every "break it" experiment, or
#                             lacks its "Two machines" section, or
#                             if a lesson's header, files, example or twin diff outgrow
#                             their limits, or if a script uses what macOS's bash 3.2 or
#                             BSD tools lack (scripts/shcheck.sh)
#   scripts/docs.sh --fix     rewrite the diff blocks in docs/threading.md from the code,
#                             and the table of docs/exercises/README.md from the pages
#
# --check also runs `scripts/exercises.sh --lint` (every exercise has a checker and an
# answer patch, or a folded answer) and checks the table of exercises is current.
#
# The diff blocks sit between `<!-- BEGIN diff NAME -->` and `<!-- END diff NAME -->`.
# Needs only bash (3.2 will do), diff, grep, sed and awk, GNU or BSD.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:---check}
doc=docs/threading.md
LESSONS="udp-server udp-client udp-threaded-server tcp-server tcp-client tcp-threaded-server
         udp-chunked-transfer udp-broadcast"

# The block for one pair: a unified diff with stable labels, fenced. The
# `//!` headers are left out: each describes its own program, so they differ
# by design, and the code diff is the lesson.
block() {
  local a=crates/$1/src/main.rs b=crates/$2/src/main.rs
  printf '```diff\n'
  diff -U1 -L "$a (without its //! header)" -L "$b (without its //! header)" \
    <(grep -v '^//!' "$a") <(grep -v '^//!' "$b") || true
  printf '```\n'
}

render() {
  local line name in_block=0
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
      '<!-- BEGIN diff '*' -->')
        printf '%s\n' "$line"
        name=${line#<!-- BEGIN diff }; name=${name% -->}
        block "${name%%:*}" "${name##*:}"
        in_block=1 ;;
      '<!-- END diff '*' -->') in_block=0; printf '%s\n' "$line" ;;
      *) [ "$in_block" = 1 ] || printf '%s\n' "$line" ;;
    esac
  done < "$doc"
}

# docs/exercises/README.md with its table rebuilt from the lesson pages
# (between `<!-- BEGIN exercises -->` and `<!-- END exercises -->`).
exercises=docs/exercises/README.md
render_exercises() {
  local line in_block=0
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
      '<!-- BEGIN exercises -->') printf '%s\n' "$line"; scripts/exercises.sh --table; in_block=1 ;;
      '<!-- END exercises -->') in_block=0; printf '%s\n' "$line" ;;
      *) [ "$in_block" = 1 ] || printf '%s\n' "$line" ;;
    esac
  done < "$exercises"
}

status=0
case "$mode" in
  --fix)
    render > "$doc.new" && mv "$doc.new" "$doc"
    echo "rewrote the diff blocks of $doc"
    render_exercises > "$exercises.new" && mv "$exercises.new" "$exercises"
    echo "rewrote the table of $exercises" ;;
  --check)
    if ! render | diff -u "$doc" - > /dev/null; then
      echo "$doc no longer matches the code: run scripts/docs.sh --fix and reread the text around the diffs"
      render | diff -u "$doc" - | head -n 40 || true
      status=1
    fi
    # Every relative link must point at a file or folder that exists.
    for md in README.md docs/*.md; do
      dir=$(dirname "$md")
      while IFS= read -r target; do
        target=${target%%#*}
        case "$target" in ''|http://*|https://*|mailto:*) continue ;; esac
        if [ ! -e "$dir/$target" ]; then
          echo "$md: dead link ($target)"
          status=1
        fi
      done < <(grep -o '\]([^)]*)' "$md" | sed 's/^\](//; s/)$//')
    done
    # Every lesson page: the tutorial's program, then "Break it", then the
    # full lesson. Each experiment in "Break it" names the test that shows
    # the break (against the example) and the one that shows the fix
    # (against the lesson); both must exist. See scripts/breakit.awk.
    experiments=0
    for lesson in $LESSONS; do
      md=docs/$lesson.md
      while IFS= read -r line; do
        case "$line" in
          REF\ *)
            set -- $line
            experiments=$((experiments + 1))
            if [ ! -f "$3" ]; then
              echo "$2: no such test file: $3"; status=1
            # A test is a `fn`, or a name in a common::scenario_tests! list
            # (after its first two lines, the module and the binary).
            elif ! grep -q "fn $4(" "$3" && ! awk -v n="$4," '/scenario_tests!\(/ { list = 1; i = 0; next }
                list { i++ } list && i > 2 && $NF == n { found = 1 } /^\);/ { list = 0 }
                END { exit !found }' "$3"; then
              echo "$2: $3 has no test fn $4"; status=1
            fi ;;
          *) echo "$line"; status=1 ;;
        esac
      done < <(awk -f scripts/breakit.awk "$md")
    done
    # Every lesson page says how to run it across two machines (issue 13).
    for lesson in $LESSONS; do
      grep -Eq '^## ([0-9]+\. )?Two machines$' "docs/$lesson.md" ||
        { echo "docs/$lesson.md: no '## Two machines' section"; status=1; }
    done
    # The lesson sources keep the shape the pages promise: a `//!` header of
    # at most 40 lines, no file over 500 lines before its unit tests, one
    # tutorial example of at most 50 lines of code (80 for the chunked
    # transfer), and at most 20 changed code lines between twins.
    for lesson in $LESSONS; do
      dir=crates/$lesson
      h=$(grep -c '^//!' "$dir/src/main.rs")
      [ "$h" -le 40 ] || { echo "$dir/src/main.rs: $h-line //! header (at most 40)"; status=1; }
      for f in "$dir"/src/*.rs; do
        n=$(awk '/^#\[cfg\(test\)\]/{exit} {n++} END{print n+0}' "$f")
        [ "$n" -le 500 ] || { echo "$f: $n lines before its unit tests (at most 500)"; status=1; }
      done
      set -- "$dir"/examples/*.rs
      if [ "$#" != 1 ] || [ "$1" != "$dir/examples/$lesson-tutorial.rs" ]; then
        echo "$dir/examples: wants exactly one program, $lesson-tutorial.rs"; status=1
      else
        limit=50; [ "$lesson" = udp-chunked-transfer ] && limit=80
        n=$(grep -v '^[[:space:]]*//' "$1" | grep -c -v '^[[:space:]]*$')
        [ "$n" -le "$limit" ] || { echo "$1: $n lines of code (at most $limit)"; status=1; }
      fi
    done
    for pair in udp-server:udp-threaded-server tcp-server:tcp-threaded-server; do
      a=crates/${pair%%:*}/src/main.rs b=crates/${pair##*:}/src/main.rs
      n=$(diff <(grep -v '^//!' "$a") <(grep -v '^//!' "$b") | grep -c '^[<>]' || true)
      [ "$n" -le 20 ] || { echo "$a -> $b: $n changed code lines (at most 20)"; status=1; }
    done
    # Every exercise is checked or answered, and the course's list of them
    # is current.
    lint=$(scripts/exercises.sh --lint 2>&1) || { printf '%s\n' "$lint"; status=1; }
    if ! render_exercises | diff -u "$exercises" - > /dev/null; then
      echo "$exercises: its table no longer matches the lesson pages: run scripts/docs.sh --fix"
      status=1
    fi
    # The scripts run on macOS too (bash 3.2, BSD tools).
    shcheck=$(scripts/shcheck.sh 2>&1) || { printf '%s\n' "$shcheck"; status=1; }
    [ "$status" = 0 ] && echo "docs: diffs match the code, every relative link resolves," \
      "every lesson page has its tutorial, break-it and full-lesson parts ($experiments test references)" \
      "and its Two machines section, every exercise checked or answered," \
      "every lesson's header, files, example and twin diff within their limits," \
      "every script free of bash-4 and GNU-only constructs" ;;
  *) echo "usage: scripts/docs.sh --check | --fix" >&2; exit 2 ;;
esac
exit "$status"
