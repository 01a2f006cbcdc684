#!/usr/bin/env bash
# Keep the docs honest.
#
#   scripts/docs.sh --check   fail if docs/threading.md's diffs differ from the code,
#                             if any relative link in README.md or docs/ is dead, or if
#                             a lesson page is not tutorial -> break it -> full lesson
#                             with a real test behind every "break it" experiment
#   scripts/docs.sh --fix     rewrite the diff blocks in docs/threading.md from the code
#
# The diff blocks sit between `<!-- BEGIN diff NAME -->` and `<!-- END diff NAME -->`.
# Needs only bash, diff, grep and sed.
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
  diff -U1 --label "$a (without its //! header)" --label "$b (without its //! header)" \
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

status=0
case "$mode" in
  --fix)
    render > "$doc.new" && mv "$doc.new" "$doc"
    echo "rewrote the diff blocks of $doc" ;;
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
            elif ! grep -q "fn $4(" "$3"; then
              echo "$2: $3 has no test fn $4"; status=1
            fi ;;
          *) echo "$line"; status=1 ;;
        esac
      done < <(awk -f scripts/breakit.awk "$md")
    done
    [ "$status" = 0 ] && echo "docs: diffs match the code, every relative link resolves," \
      "every lesson page has its tutorial, break-it and full-lesson parts ($experiments test references)" ;;
  *) echo "usage: scripts/docs.sh --check | --fix" >&2; exit 2 ;;
esac
exit "$status"
