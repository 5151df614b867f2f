#!/usr/bin/env bash
# The test command: installs what is missing, configures meson, builds, runs every test suite.
#
#   scripts/test.sh              plain build in build/
#   scripts/test.sh --sanitize   AddressSanitizer + UndefinedBehaviorSanitizer build in build-san/
#   scripts/test.sh --werror     warnings are errors (CI passes this)
#   scripts/test.sh ... -- ARGS  extra arguments for `meson test` (e.g. -- --suite unit)
#
# Interop tests need root and /dev/net/tun; without them they skip and say why, except under
# CI=true, where a skip is a failure. It ends with meson's test summary.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=build
meson_opts=()
test_args=()
while (($#)); do
  case "$1" in
    --sanitize) build_dir=build-san; meson_opts+=(-Db_sanitize=address,undefined -Db_lundef=false) ;;
    --werror) meson_opts+=(-Dwerror=true) ;;
    --) shift; test_args=("$@"); break ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done

scripts/setup.sh "$build_dir" "${meson_opts[@]}"

# Sanitizer reports are failures, not warnings.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
meson test -C "$build_dir" --print-errorlogs --num-processes 2 "${test_args[@]}"
