#!/usr/bin/env bash
# What the trace costs when it is off (issue 17: pinned request/response within 2 % of a build
# without the trace), measured against a build of the same commit with the hooks compiled out.
#
#   bench/trace_cost.sh [--rr]            (--rr needs root: it also runs bench/rr_compare.sh)
#
# The build without the trace is made from `git archive HEAD` in a temporary directory: every
# place the stack reads its tracer (StackConfig::tracer through config_, the Runtime's
# stack.config().tracer, the Ethernet layer's copy) reads the constant kNoTracer (null) instead,
# so the compiler removes each hook, its branch and its arguments. The checkout's own HEAD, built
# the same way, is the build with the trace (off, as every app runs without --trace). Then:
#   - bench/rr_instructions.sh: instructions per 1-byte transaction of each (cachegrind; exact,
#     not disturbed by a loaded machine), and their ratio;
#   - with --rr, bench/rr_compare.sh: pinned tcp-rr transactions per second against tcpip-echo of
#     each, medians of 5 alternating runs, and their ratio.
# Both trees are built in their own temporary directories (release, no tests), removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
rr=0
case "${1:-}" in
  "") ;;
  --rr) rr=1 ;;
  *) echo "trace_cost: unknown argument '$1' (usage: bench/trace_cost.sh [--rr])" >&2; exit 2 ;;
esac

work=$(mktemp -d /tmp/trace-cost.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/with" "$work/without"
git archive HEAD | tar -x -C "$work/with"
git archive HEAD | tar -x -C "$work/without"

# The hooks compiled out: every read of the tracer becomes the null constant.
cd "$work/without"
printf '\n// bench/trace_cost.sh: the build without the trace reads this instead of any tracer.\ninline constexpr tcpip::Tracer* kNoTracer = nullptr;\n' >>stack/core/trace.h
grep -rlE 'config_\.tracer|config\(\)\.tracer|tracer_' stack --include='*.cpp' --include='*.h' | grep -v '^stack/trace/' |
  xargs sed -i -E 's/config_\.tracer/kNoTracer/g; s/(stack_?)\.config\(\)\.tracer/kNoTracer/g'
sed -i -E 's/void set_tracer\(Tracer\* tracer\) \{ tracer_ = tracer; \}/void set_tracer(Tracer*) {}/; s/Tracer\* tracer_ = nullptr;/static constexpr Tracer* tracer_ = kNoTracer;/' \
  stack/ethernet/ethernet.h
left=$(grep -rnE 'config_\.tracer|config\(\)\.tracer' stack --include='*.cpp' --include='*.h' | grep -v '^stack/trace/' || true)
[[ -z $left ]] || { echo "trace_cost: reads of the tracer left in the build without it:" >&2; echo "$left" >&2; exit 1; }
cd - >/dev/null

echo "base: the build without the trace; new: this commit, the trace off"
bash bench/rr_instructions.sh "$work/without" "$work/with"

if ((rr)); then
  for tree in with without; do
    ninja -C "$work/$tree/build-release" apps/tcpip-echo >/dev/null
  done
  bash bench/rr_compare.sh --base "$work/without/build-release/apps/tcpip-echo" --new "$work/with/build-release/apps/tcpip-echo"
fi
