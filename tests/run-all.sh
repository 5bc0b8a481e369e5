#!/bin/bash
# Runs the whole test suite after `make test` has built build/ (normal) and
# build-asan/ (ASan+UBSan):
#   1. every unit-test binary build/tests/test_* and build-asan/tests/test_*
#   2. pytest on tests/e2e against build/xdpcached
#   3. the protocol subset (TCP, UDP, the XDP fast path, differential: marker
#      `protocol`) against build-asan/xdpcached
#   4. the libFuzzer targets build-fuzz/fuzz_* (`make fuzz`; FUZZ_BUILD, and
#      FUZZ_SECONDS of fuzzing per target, default 45)
# The XDP fast-path tests (tests/e2e/test_xdp.py) need root: they create a
# network namespace and a veth pair and attach XDP programs (the daemon's, and
# <build>/xdp_pass.bpf.o on the client's end). Not root: they are skipped,
# and this script says so.
# Prints each suite's outcome and ends with one line "N passed, N failed"
# (", N skipped" when any). Exits non-zero if anything failed or nothing ran.
set -u
cd "$(dirname "$0")/.."

PY=/usr/bin/python3            # the Python that has pytest and pymemcache
UNIT_TIMEOUT=${UNIT_TIMEOUT:-600}
E2E_TIMEOUT=${E2E_TIMEOUT:-2400}

export PYTHONDONTWRITEBYTECODE=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# Soft limit only: -r (memcached's "raise the core limit") must still work.
ulimit -S -c 0 2>/dev/null || true

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

total_pass=0 total_fail=0 total_skip=0
summary=()

add() {   # add SUITE PASSED FAILED SKIPPED
    total_pass=$((total_pass + $2))
    total_fail=$((total_fail + $3))
    total_skip=$((total_skip + $4))
    local line="$1: $2 passed, $3 failed"
    [ "$4" -gt 0 ] && line="$line, $4 skipped"
    summary+=("$line")
    echo "== $line"
}

# -- unit tests (cmocka, TAP output) -------------------------------------------
# A test counts once: "ok" passed, "not ok ... # SKIP" skipped, "not ok" failed.
# Tests announced by the plan ("1..N") that never reported (the binary
# crashed) count as failed; so does a binary that exits non-zero with no
# failed test reported (a leak report at exit, say).
run_unit() {
    local bin=$1 out=$TMP/unit.out rc
    echo "-- $bin"
    CMOCKA_MESSAGE_OUTPUT=TAP timeout -k 10 "$UNIT_TIMEOUT" "$bin" >"$out" 2>&1
    rc=$?
    local counts
    counts=$(awk '
        /^1\.\.[0-9]+/        { sub(/^1\.\./, ""); plan += $0 + 0; next }
        /^not ok .*# SKIP/    { s++; next }
        /^not ok /            { f++; print "   FAILED: " $0 > "/dev/stderr"; next }
        /^ok .*# SKIP/        { s++; next }
        /^ok /                { p++; next }
        END { printf "%d %d %d %d\n", p, f, s, plan }' "$out")
    local p f s plan
    read -r p f s plan <<<"$counts"
    # The fast path's verifier counts are printed on every run, not only when
    # the budget test fails, so a kernel that costs more shows before it fails.
    grep -o 'verifier: .*' "$out" | sed 's/^/   /'
    local missing=$((plan - p - f - s))
    if [ "$missing" -gt 0 ]; then
        echo "   $missing test(s) never reported: the binary died (status $rc)"
        f=$((f + missing))
    fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "   exited with status $rc although no test failed"
        f=1
    fi
    if [ "$f" -gt 0 ]; then
        echo "   --- output of $bin (last 80 lines) ---"
        tail -n 80 "$out" | sed 's/^/   | /'
    fi
    add "unit $bin" "$p" "$f" "$s"
}

for dir in build/tests build-asan/tests; do
    found=0
    for bin in "$dir"/test_*; do
        [ -f "$bin" ] && [ -x "$bin" ] || continue
        found=1
        run_unit "$bin"
    done
    [ "$found" -eq 1 ] || echo "-- no unit-test binaries in $dir"
done

# -- pytest ------------------------------------------------------------------
# Counts come from pytest's JUnit XML: a test case with a failure or an error
# (teardown included) counts as failed. A pytest that exits non-zero with no
# failed test counted (collection error, crash, nothing collected) adds one.
run_pytest() {   # run_pytest SUITE BINARY [pytest args...]
    local suite=$1 bin=$2 xml=$TMP/junit.xml rc
    shift 2
    local pass_obj
    pass_obj=$(dirname "$bin")/xdp_pass.bpf.o
    echo "-- $suite: XDPCACHED_BIN=$bin XDPCACHED_XDP_PASS_OBJ=$pass_obj pytest $*"
    rm -f "$xml"
    XDPCACHED_BIN=$bin XDPCACHED_XDP_PASS_OBJ=$pass_obj timeout -k 30 "$E2E_TIMEOUT" \
        "$PY" -m pytest -p no:cacheprovider -q -rfEsx --junitxml="$xml" "$@" tests/e2e
    rc=$?
    local counts
    counts=$("$PY" - "$xml" <<'EOF'
import sys
import xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError):
    print("0 0 0")
    sys.exit()
worst = {}
rank = {"p": 0, "s": 1, "f": 2}
for tc in root.iter("testcase"):
    tags = {child.tag for child in tc}
    state = "f" if tags & {"failure", "error"} else "s" if "skipped" in tags else "p"
    key = (tc.get("classname"), tc.get("name"))
    if rank[state] >= rank[worst.get(key, "p")]:
        worst[key] = state
vals = list(worst.values())
print(vals.count("p"), vals.count("f"), vals.count("s"))
EOF
)
    local p f s
    read -r p f s <<<"$counts"
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "   pytest exited with status $rc with no failed test counted"
        f=1
    fi
    add "$suite" "$p" "$f" "$s"
}

if [ "$(id -u)" -ne 0 ]; then
    echo "-- not root: the XDP fast-path tests (tests/e2e/test_xdp.py) will be skipped"
fi
run_pytest "e2e (build/xdpcached)" build/xdpcached
# The ASan build answers two to three times slower, and six differential
# jobs share two CPUs with it: its pauses between replies pass the default
# 80 ms quiet time often enough to use half the retry budget (5 of 10 in two
# runs), so this run waits twice as long before it takes a reply as whole.
XDPCACHED_DIFF_QUIET_MS=${XDPCACHED_DIFF_QUIET_MS:-160} \
    run_pytest "protocol (build-asan/xdpcached)" build-asan/xdpcached -m protocol

# -- fuzz targets (tests/fuzz/) ----------------------------------------------
# One test per target: its regression inputs and seed corpus must all run
# clean, then it fuzzes a copy of them in $TMP for FUZZ_SECONDS with a fixed
# seed. A crash's reproducer stays in $FUZZ_BUILD/crashes/<target>/ (run the
# target on it to see the report again; tests/fuzz/README.md says more).
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-45}

fuzz_report() {   # fuzz_report LOG TARGET: the reproducer and the report's first lines
    local unit
    unit=$(grep -o "Test unit written to .*" "$1" | tail -n 1)
    unit=${unit#Test unit written to }
    # Replaying files writes none: the reproducer is the file being run.
    [ -n "$unit" ] || unit=$(grep "^Running: " "$1" | tail -n 1 | cut -d' ' -f2-)
    echo "   reproducer: $unit (see it again: $2 $unit)"
    grep -m1 -A 20 -E "ERROR: |runtime error|fuzz harness:|fuzz_store:|deadly signal" "$1" | sed 's/^/   | /'
}

run_fuzz() {   # run_fuzz TARGET (text, meta, bin, store, auth)
    local name=$1 bin=$FUZZ_BUILD/fuzz_$1 log=$TMP/fuzz.log work=$TMP/fuzz-$1
    local crashes=$FUZZ_BUILD/crashes/$1 inputs=() f
    for f in tests/fuzz/regressions/"$name"/* tests/fuzz/corpus/"$name"/*; do
        [ -f "$f" ] && [ "${f##*/}" != README ] && inputs+=("$f")
    done
    echo "-- $bin: ${#inputs[@]} regression and seed inputs, then ${FUZZ_SECONDS}s of fuzzing"
    if [ ! -x "$bin" ] || [ "${#inputs[@]}" -eq 0 ]; then
        echo "   $bin or its seeds are missing (make fuzz; tests/fuzz/make_seeds.py)"
        add "fuzz $name" 0 1 0
        return
    fi
    mkdir -p "$crashes" "$work"
    if ! timeout -k 10 600 "$bin" -artifact_prefix="$crashes/" "${inputs[@]}" >"$log" 2>&1; then
        echo "   replaying the regression and seed inputs failed:"
        fuzz_report "$log" "$bin"
        add "fuzz $name" 0 1 0
        return
    fi
    for f in "${inputs[@]}"; do
        cp "$f" "$work/${f//\//_}"
    done
    if ! timeout -k 10 $((FUZZ_SECONDS + 300)) "$bin" -dict="tests/fuzz/$name.dict" \
            -max_total_time="$FUZZ_SECONDS" -seed=1 -max_len=4096 -rss_limit_mb=2048 \
            -timeout=10 -artifact_prefix="$crashes/" "$work" >"$log" 2>&1; then
        echo "   fuzzing found a failure:"
        fuzz_report "$log" "$bin"
        add "fuzz $name" 0 1 0
        return
    fi
    grep -E "^#[0-9]+[[:space:]]+DONE" "$log" | tail -n 1 | sed 's/^/   /'
    add "fuzz $name" 1 0 0
}

for target in text meta bin store auth; do
    run_fuzz "$target"
done

# -- summary -----------------------------------------------------------------
echo
echo "== summary"
for line in "${summary[@]}"; do
    echo "   $line"
done
if [ $((total_pass + total_fail)) -eq 0 ]; then
    echo "no test ran"
    total_fail=$((total_fail + 1))
fi
final="$total_pass passed, $total_fail failed"
[ "$total_skip" -gt 0 ] && final="$final, $total_skip skipped"
echo "$final"
[ "$total_fail" -eq 0 ]
