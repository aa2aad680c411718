#!/bin/sh
# Runs every cmocka suite given as an argument from the repository root, then prints, for
# every skipped test, why it was skipped (the line the test printed just before cmocka's
# "[  SKIPPED ] name"; tests use TU_SKIP from tests/testutil.h), and one closing line
# "N passed, N failed, N skipped" summing them. Exit status non-zero if any suite failed or
# crashed; skips do not fail the run, they are only counted and explained.
pass=0; fail=0; skipped=0; bad=""; why=""
nl='
'
for t in "$@"; do
    out=$("$t" 2>&1); rc=$?
    printf '%s\n' "$out"
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
    s=$(printf '%s\n' "$out" | sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' | tail -n 1)
    pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0})); skipped=$((skipped + ${s:-0}))
    # one line per skipped test: "suite: test: reason" (the line printed before the skip)
    r=$(printf '%s\n' "$out" | awk -v suite="$(basename "$t")" '
        /^\[  SKIPPED \] [0-9]+ test/ { listing = 1; next }   # the summary (stderr) lists them again
        /^$/ { listing = 0 }
        /^\[  SKIPPED \] / { name = $0; sub(/^\[  SKIPPED \] /, "", name)
                             if (!(name in seen)) { seen[name] = 1; order[n++] = name }
                             if (!listing && !(name in reason) && prev !~ /^\[ RUN /) {
                                 reason[name] = prev; sub(/^\[ *SKIP *\] */, "", reason[name]) }
                             next }
        { prev = $0 }
        END { for (k = 0; k < n; k++)
                  print "  " suite ": " order[k] ": " (order[k] in reason ? reason[order[k]] : "(no reason printed)") }')
    [ -n "$r" ] && why="$why$r$nl"
    if [ $rc -ne 0 ]; then
        bad="$bad $(basename "$t")"
        [ -z "$f" ] && fail=$((fail + 1))   # crashed before cmocka could count
    fi
done
echo
if [ -n "$why" ]; then
    echo "skipped tests and why:"
    printf '%s' "$why"
fi
[ -n "$bad" ] && echo "failing suites:$bad"
echo "$pass passed, $fail failed, $skipped skipped"
[ -z "$bad" ]
