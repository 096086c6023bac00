#!/usr/bin/env bash
# run-tests.sh: what `make test` runs once the binaries are built.
#
# Runs bin/unit-tests (Criterion), the fuzz corpora, then every tests/e2e/test_*.py
# (with python3, on the gslbtest harness) in name order, and ends with one line "N passed, N failed": Criterion's counts from its "Synthesis:"
# line plus the "ok" / "not ok" lines of the end-to-end scripts. A script that dies
# without reporting a failure, or overruns its time limit, counts as one failure.
# Exits non-zero when anything failed.
#
# Usage: tools/run-tests.sh [--no-unit] [tests/e2e/test_NAME.py ...]
#   E2E_TIMEOUT=seconds  limit per end-to-end script (default 600)
#   E2E_KEEP=1           keep each script's temporary directory (logs, zones)
#   PYTHON=python3       interpreter for the .py scripts; when it cannot import
#                        dnspython (a pyenv or venv python3 first in PATH, say),
#                        the system's /usr/bin/python3 is used if it can
# It builds nothing (the Makefile does) and needs no network beyond loopback.

set -u
cd "$(dirname "$0")/.." || exit 2
# Under `make SANITIZE=...`, any sanitizer report fails the test it happens in.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"

run_unit=1
if [ "${1:-}" = "--no-unit" ]; then
    run_unit=""
    shift
fi
if [ $# -gt 0 ]; then
    scripts=("$@")
else
    shopt -s nullglob
    mapfile -t scripts < <(printf '%s\n' tests/e2e/test_*.py | LC_ALL=C sort)
    shopt -u nullglob
fi

# The Python suites need dnspython (Debian's python3-dnspython, for /usr/bin/python3).
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import dns.message' 2>/dev/null && [ -x /usr/bin/python3 ] &&
    /usr/bin/python3 -c 'import dns.message' 2>/dev/null; then
    PYTHON=/usr/bin/python3
fi
# No __pycache__ directories left in the source tree.
export PYTHONDONTWRITEBYTECODE=1

passed=0
failed=0
out=$(mktemp "${TMPDIR:-/tmp}/gslb-run-tests.XXXXXX")
trap 'rm -f "$out"' EXIT

if [ -n "$run_unit" ]; then
    echo "== bin/unit-tests"
    if [ -x bin/unit-tests ]; then
        timeout "${UNIT_TIMEOUT:-600}" bin/unit-tests 2>&1 | tee "$out"
        status=${PIPESTATUS[0]}
        # "[====] Synthesis: Tested: 12 | Passing: 11 | Failing: 1 | Crashing: 0"
        line=$(grep 'Synthesis:' "$out" | tail -1 | sed 's/\x1b\[[0-9;]*m//g')
        tested=$(printf '%s\n' "$line" | sed -n 's/.*Tested: *\([0-9]*\).*/\1/p')
        passing=$(printf '%s\n' "$line" | sed -n 's/.*Passing: *\([0-9]*\).*/\1/p')
        if [ -n "$tested" ] && [ -n "$passing" ]; then
            passed=$((passed + passing))
            failed=$((failed + tested - passing))
            if [ "$status" -ne 0 ] && [ "$tested" -eq "$passing" ]; then
                echo "not ok - bin/unit-tests exited with status $status"
                failed=$((failed + 1))
            fi
        else
            echo "not ok - bin/unit-tests gave no Synthesis line (status $status)"
            failed=$((failed + 1))
        fi
    else
        echo "not ok - bin/unit-tests is missing (make bin/unit-tests)"
        failed=$((failed + 1))
    fi
fi

# The fuzz targets' corpora, replayed with the ordinary build (make fuzz
# grows them): each input is one test; a crash fails the run.
if [ -n "$run_unit" ]; then
    for replay in bin/replay-*; do
        [ -x "$replay" ] || continue
        target=${replay#bin/replay-}
        echo "== $replay tests/fuzz/corpus/$target"
        if result=$(timeout 600 "$replay" tests/fuzz/corpus/"$target"/* 2>&1); then
            n=$(printf '%s\n' "$result" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
            echo "ok - fuzz corpus $target: ${n:-0} inputs replayed without a crash"
            passed=$((passed + 1))
        else
            printf '%s\n' "$result" | tail -20
            echo "not ok - fuzz corpus $target: a replayed input crashed (see above)"
            failed=$((failed + 1))
        fi
    done
fi

for script in "${scripts[@]}"; do
    echo "== $script"
    timeout "${E2E_TIMEOUT:-600}" "$PYTHON" "$script" 2>&1 | tee "$out"
    status=${PIPESTATUS[0]}
    ok=$(grep -c '^ok ' "$out")
    not_ok=$(grep -c '^not ok ' "$out")
    passed=$((passed + ok))
    failed=$((failed + not_ok))
    if [ "$status" -eq 124 ]; then
        echo "not ok - $script timed out after ${E2E_TIMEOUT:-600}s"
        failed=$((failed + 1))
    elif [ "$status" -ne 0 ] && [ "$not_ok" -eq 0 ]; then
        echo "not ok - $script exited with status $status"
        failed=$((failed + 1))
    fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
