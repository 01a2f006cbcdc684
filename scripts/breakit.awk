# Part of scripts/docs.sh: check the shape of one lesson page.
#   tutorial program -> break it -> full lesson
# Prints one line per problem ("PAGE:LINE: what"), and one line per test
# reference ("REF PAGE:LINE FILE FUNCTION") for docs.sh to look up.
# Plain POSIX awk, so it runs with macOS's awk as well as GNU awk.

function problem(msg) { printf "%s:%d: %s\n", FILENAME, FNR, msg }
function close_experiment() {
  if (in_exp) {
    if (!checked) printf "%s:%d: experiment '%s' has no <!-- checked by: FILE TEST --> line\n", FILENAME, exp_line, exp_title
    if (!fixed) printf "%s:%d: experiment '%s' has no <!-- fixed by: FILE TEST --> line\n", FILENAME, exp_line, exp_title
  }
  in_exp = 0; checked = 0; fixed = 0
}

BEGIN { stage = 0; in_fence = 0; experiments = 0 }

/^```/ { in_fence = !in_fence; next }

!in_fence && /^## / {
  if (stage == 2) close_experiment()
  if ($0 ~ /^## 1\. The tutorial's program/) {
    if (stage != 0) problem("'## 1. The tutorial's program' out of order")
    stage = 1
  } else if ($0 ~ /^## 2\. Break it/) {
    if (stage != 1) problem("'## 2. Break it' must follow '## 1. The tutorial's program'")
    stage = 2
  } else if ($0 ~ /^## 3\. The full lesson/) {
    if (stage != 2) problem("'## 3. The full lesson' must follow '## 2. Break it'")
    stage = 3
  } else if (stage == 2) {
    stage = 4 # another section ends "Break it"
  }
  next
}

stage == 2 && !in_fence && /^### / {
  close_experiment()
  in_exp = 1; experiments++; exp_line = FNR; exp_title = substr($0, 5)
  next
}

stage == 2 && /<!-- (checked|fixed) by: / {
  kind = ($0 ~ /checked by/) ? "checked" : "fixed"
  line = $0
  sub(/.*<!-- (checked|fixed) by: */, "", line); sub(/ *-->.*/, "", line)
  n = split(line, part, / +/)
  if (!in_exp) problem(kind " by: outside an experiment (### heading)")
  else if (n != 2) problem(kind " by: wants FILE TEST, got '" line "'")
  else {
    printf "REF %s:%d %s %s\n", FILENAME, FNR, part[1], part[2]
    if (kind == "checked") checked = 1; else fixed = 1
  }
  next
}

# Shared set-up before the first experiment (start the program, make a
# file) is allowed under a <!-- setup: ... --> line: every experiment's
# tests run it too.
stage == 2 && !in_exp && /<!-- setup: / { setup = 1; next }

stage == 2 && in_fence && /^(terminal [0-9]+ )?\$ / {
  if (!in_exp && !setup) problem("a command in 'Break it' outside an experiment, so no test covers it")
}

END {
  if (stage == 2) close_experiment()
  if (stage < 3) printf "%s: needs '## 1. The tutorial's program', '## 2. Break it', '## 3. The full lesson' in that order\n", FILENAME
  if (experiments < 2 || experiments > 5) printf "%s: 'Break it' has %d experiments (2 to 5 wanted)\n", FILENAME, experiments
}
