#!/usr/bin/env bash
# Builds an optimized tree in build-release/ and runs the micro-benchmarks, then prints each
# hot path beside its baseline from the same run (checksum vs memcpy of the same size; epoll_wait
# with one ready socket among N watched, N=10000 against N=10, beside poll over the same sockets).
#
#   scripts/bench.sh [benchmark options, e.g. --benchmark_filter=Checksum]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build-release --buildtype=release -Dtests=disabled -Dbench=enabled >/dev/null
out=$(mktemp)
trap 'rm -f "$out"' EXIT
build-release/bench/bench_micro --benchmark_out="$out" --benchmark_out_format=json \
  --benchmark_repetitions=${REPETITIONS:-3} --benchmark_report_aggregates_only=true "$@"
python3 - "$out" <<'PY'
import json, sys
rows = {b["name"]: b for b in json.load(open(sys.argv[1]))["benchmarks"] if b.get("aggregate_name") == "median"}
print("\nchecksum throughput as a fraction of memcpy (medians, same run):")
for size in (64, 1500, 65536):
    c = rows.get(f"BM_Checksum/{size}_median"); m = rows.get(f"BM_Memcpy/{size}_median")
    if c and m:
        print(f"  {size:>6} B: checksum {c['bytes_per_second']/1e9:6.2f} GB/s, memcpy {m['bytes_per_second']/1e9:6.2f} GB/s, ratio {c['bytes_per_second']/m['bytes_per_second']:.2f}")
# epoll_wait looks at the ready list only: flat in N (ratio near 1); poll looks at every socket.
for name, what in (("BM_EpollWaitOneReadyAmongN", "epoll_wait"), ("BM_PollOneReadyAmongN", "poll")):
    times = {n: rows.get(f"{name}/{n}_median") for n in (10, 1000, 10000)}
    if all(times.values()):
        ns = {n: r["real_time"] * {"ns": 1, "us": 1e3, "ms": 1e6}[r["time_unit"]] for n, r in times.items()}
        if what == "epoll_wait":
            print("\none ready socket among N watched, time per call (medians, same run):")
        print(f"  {what:>10}: N=10 {ns[10]:9.0f} ns, N=1000 {ns[1000]:9.0f} ns, N=10000 {ns[10000]:9.0f} ns;"
              f" ratio N=10000/N=10 {ns[10000]/ns[10]:.2f}")
PY
