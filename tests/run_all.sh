#!/bin/sh
# Runs every cmocka suite given as an argument from the repository root, then prints one
# closing line "N passed, N failed" summing them. Exit status non-zero if any suite failed.
pass=0; fail=0; bad=""
for t in "$@"; do
    out=$("$t" 2>&1); rc=$?
    printf '%s\n' "$out"
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
    pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0}))
    if [ $rc -ne 0 ]; then
        bad="$bad $(basename "$t")"
        [ -z "$f" ] && fail=$((fail + 1))   # crashed before cmocka could count
    fi
done
echo
[ -n "$bad" ] && echo "failing suites:$bad"
echo "$pass passed, $fail failed"
[ -z "$bad" ]
