#!/usr/bin/env bash
# Keep the scripts portable: fail on any construct that macOS's bash 3.2
# lacks, and on any flag or tool only GNU/Linux has (macOS has BSD tools).
# scripts/docs.sh --check runs it. A line that must use one, behind a check
# that it is there (scripts/compat.sh has them all), ends with `# shcheck: ok`.
#
#   scripts/shcheck.sh            # scripts/*.sh, scripts/demo.d/*.sh, scripts/*.awk
#   scripts/shcheck.sh FILE...
#
# A grep per rule, so it is a net, not a parser: full-line comments are
# skipped, strings are not. Linux-only scripts are left out: those that drive
# Wine and the cross builds, and any whose first 20 lines say
# `# shcheck: linux-only`. Needs bash (3.2 will do) and grep, GNU or BSD.
set -uo pipefail
cd "$(dirname "$0")/.."
# Left out too: this file, whose rules would match themselves.
SKIP="scripts/shcheck.sh scripts/portability.sh scripts/wine-smoke.sh"

# One rule a line: an extended regular expression, a tab, what to do instead.
# (A function, not "$(cat <<EOF ...)": bash 3.2 does not fully parse what is
# inside $(...), and a quote in a here-document there breaks it.)
rules() {
  cat <<'EOF'
(^|[^[:alnum:]_])(declare|typeset|local)[[:space:]]+-[a-zA-Z]*[Anglu]	declare -A/-n/-g/-l/-u are bash 4: use plain variables (see bench-chunked.sh's get/put)
(^|[^[:alnum:]_])(mapfile|readarray|coproc)([^[:alnum:]_]|$)	bash 4: use a while-read loop
\$\{[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?(\^|,)	${x^^} and ${x,,} are bash 4: use tr
\$\{[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?@[QEPAaKkUuL]\}	${x@Q} is bash 4.4
\[\[?[[:space:]]+-v[[:space:]]	[ -v NAME ] is bash 4.2: use [ -n "${NAME+set}" ]
\$\{[A-Za-z_][A-Za-z0-9_]*\[-[0-9]	negative array indices are bash 4.3: use ${a[${#a[@]}-1]}
(^|[;&|[:space:]])wait[[:space:]]+-n	wait -n is bash 4.3
EPOCHREALTIME|EPOCHSECONDS|SRANDOM|BASH_ARGV0|BASHPID	bash 4/5 only: use now_ms from scripts/compat.sh
(^|[^|])\|&	|& is bash 4: use 2>&1 |
&>>	&>> is bash 4: use >>FILE 2>&1
(^|[;&|[:space:]])read[[:space:]].*-t[[:space:]]*[0-9]*\.[0-9]	a fractional read -t is bash 4
\{[^{}[:space:]]*\.\.[^{}[:space:]]*\.\.[^{}[:space:]]*\}	{a..b..step} is bash 4: use seq or a for ((...)) loop
%\([^)]*\)T	printf %(...)T is bash 4.2: use date
;;&|[[:space:]];&([[:space:]]|$)	case fall-through is bash 4
\{[A-Za-z_][A-Za-z0-9_]*\}[<>]	exec {fd}> is bash 4.1: pick a fixed descriptor
shopt[[:space:]]+-s[[:space:]]+(globstar|lastpipe|autocd|direxpand|nocasematch)	this shopt is bash 4+
\$\([^)]*<<-?[[:space:]]*['"\\]?[A-Za-z_]	a here-document inside $(...): bash 3.2 misreads quotes in it; put it in a function
\$\(([^)]*[;&|[:space:]])?case[[:space:]]	a case inside $(...): bash 3.2 takes its "pattern)" for the end; use a function
date[[:space:]][^|;]*%[0-9]*N	date's %N is GNU only: use now_ms from scripts/compat.sh
(^|[^[:alnum:]_-])sed[[:space:]]+(-[a-zA-Z]*[ir]|--in-place|--regexp-extended)	sed -i and -r differ on BSD: write to a new file and mv; use -E
(^|[^[:alnum:]_-])(sed|grep)([[:space:]]+-[a-zA-DF-Z]+)*[[:space:]]+(-e[[:space:]]+)?'[^']*\\[|+?sSwW]	\| \+ \? \s \w in a basic regexp are GNU only: use -E, or [[:space:]]
(^|[^[:alnum:]_-])grep[[:space:]]+-[a-zA-Z]*P	grep -P is GNU only: use -E
readlink[[:space:]]+-f|stat[[:space:]]+-c|find[[:space:]].*-printf|xargs[[:space:]]+-[a-zA-Z]*r|sort[[:space:]]+-[a-zA-Z]*V|du[[:space:]]+-[a-zA-Z]*b|base64[[:space:]]+-w	a GNU-only flag
head[[:space:]]+-n[[:space:]]*-[0-9]	head -n -N is GNU only
(^|[;&|(`]|[[:space:]])(tac|nproc|timeout|ss)([[:space:]]|[);|&`]|$)	not on macOS: see scripts/compat.sh (cpu_count, with_timeout)
mktemp([[:space:]]+-[a-zA-Z]+)*[[:space:]]*($|[);|&])|mktemp[[:space:]].*-t[[:space:]]	mktemp wants a template: mktemp -d "${TMPDIR:-/tmp}/name.XXXXXX" (-t differs on BSD)
\$\(([^)]*[^[:alnum:]_-])?wc([[:space:]]+-[a-zA-Z]+)*[[:space:]]*(<|\)|$)	BSD wc pads its count with blanks: use count_lines/count_bytes from scripts/compat.sh
(gensub|strftime|systime|mktime|asorti?|patsplit)\(|PROCINFO|IGNORECASE|BEGINFILE|ENDFILE	a gawk extension: macOS's awk is POSIX awk
EOF
}

if [ $# -gt 0 ]; then
  files=("$@")
else
  files=()
  for f in scripts/*.sh scripts/demo.d/*.sh scripts/*.awk; do
    [ -f "$f" ] || continue
    case " $SKIP " in *" $f "*) continue ;; esac
    head -n 20 "$f" | grep -q '# shcheck: linux-only' && continue
    files+=("$f")
  done
fi

found=0
while IFS=$'\t' read -r re why; do
  [ -n "$re" ] || continue
  for f in ${files[@]+"${files[@]}"}; do
    while IFS= read -r hit; do
      printf '%s:%s\n    %s\n' "$f" "$hit" "$why"
      found=$((found + 1))
    done < <(grep -nE -e "$re" "$f" | grep -vE '^[0-9]+:[[:space:]]*#' | grep -vF '# shcheck: ok')
  done
done < <(rules)

if [ "$found" != 0 ]; then
  echo "shcheck: $found line(s) that bash 3.2 or BSD tools (macOS) would not run as Linux does"
  exit 1
fi
echo "shcheck: ${#files[@]} scripts use nothing bash 3.2 or BSD tools lack"
