#!/usr/bin/env bash
# Builds an optimized tree in build-release/ and runs the micro-benchmarks, then prints each
# hot path beside its baseline from the same run (checksum vs memcpy of the same size).
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
PY
