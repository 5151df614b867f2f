#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, clang, ASan + UBSan) in build-fuzz and runs them.
# See --help. CI runs `scripts/fuzz.sh --runs 20000`.
set -euo pipefail
cd "$(dirname "$0")/.."

all_targets=(ethernet arp ipv4 icmp udp tcp_header ipv4_reassembly http_request perf_control perf_json stack)

usage() {
    cat <<EOF
usage: scripts/fuzz.sh [--runs N | --minutes M] [--seed S] [TARGET...]

Builds every fuzz target in build-fuzz (clang, -Dfuzz=enabled) and runs each named TARGET (all
by default: ${all_targets[*]}) one after the other.

  --runs N      N executions per target (default: 20000, what CI runs)
  --minutes M   M minutes per target (so 11 targets take 11 * M minutes); may be a decimal
  --seed S      libFuzzer's random seed; default 1 with --runs (a CI run is repeatable),
                a new one each run with --minutes
  -h, --help    this text

Each target starts from a scratch copy of its committed seed corpus (tests/fuzz/corpus/<target>,
copied to build-fuzz/corpus/<target>; the committed one is never written) with its dictionary
(tests/fuzz/dict/). Logs go to build-fuzz/logs/<target>.log. A crashing input is saved as
build-fuzz/crashes/<target>/crash-<sha1> (see tests/fuzz/regressions/ for what to do with it).
At the end one line per target: executions, edge coverage (libFuzzer's cov:), corpus size,
result. Exit status: 0 all passed, 1 a target crashed or failed, 2 bad arguments.
EOF
}

bad_usage() {
    echo "fuzz.sh: $1 (see scripts/fuzz.sh --help)" >&2
    exit 2
}

runs=""
minutes=""
seed=""
targets=()
while (($#)); do
    case "$1" in
        --runs)
            [[ $# -ge 2 && "$2" =~ ^[0-9]+$ && "$2" -gt 0 ]] || bad_usage "--runs needs a positive whole number"
            runs=$2; shift 2 ;;
        --minutes)
            [[ $# -ge 2 && "$2" =~ ^[0-9]*\.?[0-9]+$ ]] || bad_usage "--minutes needs a positive number"
            minutes=$2; shift 2 ;;
        --seed)
            [[ $# -ge 2 && "$2" =~ ^[0-9]+$ ]] || bad_usage "--seed needs a whole number"
            seed=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        -*) bad_usage "unknown option $1" ;;
        *)
            name=${1#fuzz_}
            [[ " ${all_targets[*]} " == *" $name "* ]] || bad_usage "unknown target $1 (targets: ${all_targets[*]})"
            targets+=("$name"); shift ;;
    esac
done
[[ -n "$runs" && -n "$minutes" ]] && bad_usage "give --runs or --minutes, not both"
[[ -z "$runs" && -z "$minutes" ]] && runs=20000
((${#targets[@]})) || targets=("${all_targets[@]}")

# ---- What the build needs: clang, and libFuzzer with the sanitizer runtimes, which Debian ships
# in libclang-rt-14-dev (it holds libclang_rt.fuzzer-x86_64.a and the ASan/UBSan libraries).
source scripts/packages.sh
install_missing fuzz.sh clang libclang-rt-14-dev "${build_packages[@]}" || exit 1

# ---- Build: only the fuzz targets (a -Dfuzz=enabled build has no unit tests or benchmarks).
build=build-fuzz
if [[ ! -f "$build/build.ninja" ]]; then
    CC=clang CXX=clang++ meson setup "$build" -Dfuzz=enabled >/dev/null
fi
ninja -C "$build" -j "$(nproc)" "${targets[@]/#/tests/fuzz/fuzz_}" >/dev/null

dict_of() {
    case "$1" in
        ipv4|ipv4_reassembly) echo ipv4 ;;
        tcp_header|stack) echo tcp ;;
        http_request) echo http ;;
        perf_control|perf_json) echo json ;;
        *) echo "$1" ;;
    esac
}
max_len_of() {
    case "$1" in
        http_request) echo 32768 ;;   # past kMaxRequestLine + kMaxHeaderBytes (24 KiB)
        stack) echo 8192 ;;
        *) echo 4096 ;;
    esac
}

mkdir -p "$build/logs" "$build/crashes" "$build/corpus"
summary=()
failed=0
for t in "${targets[@]}"; do
    scratch="$build/corpus/$t"
    rm -rf "$scratch"
    mkdir -p "$scratch" "$build/crashes/$t"
    cp tests/fuzz/corpus/"$t"/* "$scratch"/ 2>/dev/null || true

    args=(-dict="tests/fuzz/dict/$(dict_of "$t").dict" -max_len="$(max_len_of "$t")" -timeout=30
          -print_final_stats=1 -artifact_prefix="$build/crashes/$t/")
    if [[ -n "$runs" ]]; then
        args+=(-runs="$runs" -seed="${seed:-1}")
    else
        args+=(-max_total_time="$(awk -v m="$minutes" 'BEGIN { s = int(m * 60 + 0.5); print (s < 1 ? 1 : s) }')")
        [[ -n "$seed" ]] && args+=(-seed="$seed")
    fi
    log="$build/logs/$t.log"
    echo "fuzz.sh: fuzz_$t ${args[*]}"
    status=0
    "$build/tests/fuzz/fuzz_$t" "${args[@]}" "$scratch" >"$log" 2>&1 || status=$?

    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}')
    corpus=$(find "$scratch" -type f | wc -l)
    if ((status == 0)); then
        result=ok
    else
        failed=1
        crash=$(ls -t "$build/crashes/$t"/ 2>/dev/null | head -1)
        result="FAILED (exit $status${crash:+, input $build/crashes/$t/$crash}; log $log)"
        grep -m1 -E 'ERROR: (AddressSanitizer|libFuzzer|UndefinedBehaviorSanitizer)|runtime error|fuzz oracle failed' "$log" >&2 || true
    fi
    summary+=("$(printf '%-16s executions %-9s edge coverage %-6s corpus %-6s %s' \
        "$t" "${execs:-?}" "${cov:-?}" "$corpus" "$result")")
    states=$(grep -h '^tcp states reached' "$log" | tail -1 || true)
    [[ -n "$states" ]] && summary+=("    $states")
done

echo
echo "fuzz.sh: ${runs:+$runs runs}${minutes:+$minutes minutes} per target"
printf '%s\n' "${summary[@]}"
exit "$failed"
