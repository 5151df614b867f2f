#!/usr/bin/env bash
# Checks that tcpip installs and is usable from outside this tree, as a user would use it:
#   1. `meson install` of the build into a temporary root (--destdir), nothing outside it;
#   2. what is there: libtcpip.a and libtcpip.so, tcpip.pc, the apps, every header of stack/ and
#      drivers/ under include/tcpip/, and each public header (<tcpip/socket.h>, ...) compiling on
#      its own with nothing but `pkg-config --cflags tcpip`;
#   3. examples/ built out of tree against the installed tcpip.pc, with meson and with make;
#   4. the example run: --help, then a real exchange: in a network namespace of its own, with a
#      TAP, the kernel sends 200 kB to the example's echo server on our stack and gets them back;
#   5. with --subproject, the example built again with tcpip as a meson subproject
#      (dependency('tcpip') answered by meson.override_dependency), which compiles the library
#      once more (a few minutes on two cores).
# Everything is made under one `mktemp -d` directory and one namespace, removed on exit (also on
# failure or Ctrl-C). Needs root for step 4. Prints "install_check: PASS" at the end.
#
#   scripts/install_check.sh [--subproject] [BUILD_DIR]      (default build/, made by setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }
subproject=0
build=build
while (($#)); do
  case "$1" in
    --subproject) subproject=1; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "install_check: unknown option $1 (try --help)" >&2; exit 2 ;;
    *) build=$1; shift ;;
  esac
done
if [[ $(id -u) -ne 0 ]]; then
  echo "install_check: run as root (step 4 makes a network namespace with a TAP)" >&2
  exit 1
fi

source scripts/packages.sh
install_missing install_check "${build_packages[@]}" make iproute2 python3 || exit 1
scripts/setup.sh "$build" >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/tcpip-install-check.XXXXXX")
ns="tcpip-install-$$"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() { echo "install_check: FAIL: $*" >&2; exit 1; }
step() { echo "install_check: $*"; }

# ---- 1. Install into a temporary root ----
root="$work/root"
meson install -C "$build" --destdir "$root" >"$work/install.log" 2>&1 || { cat "$work/install.log"; fail "meson install"; }
read -r prefix libdir < <(meson introspect "$build" --buildoptions | python3 -c '
import json, sys
opts = {o["name"]: o["value"] for o in json.load(sys.stdin)}
print(opts["prefix"], opts["libdir"])')
[[ "$libdir" == /* ]] || libdir="$prefix/$libdir"
installed="$root$prefix"
step "installed into $installed ($(find "$root" -type f | wc -l) files)"
# pkg-config reads the installed tcpip.pc, and puts the temporary root before its paths.
export PKG_CONFIG_PATH="$root$libdir/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$root"
export LD_LIBRARY_PATH="$root$libdir"

# ---- 2. What is there ----
pkg-config --exists tcpip || fail "pkg-config does not find tcpip.pc in $PKG_CONFIG_PATH"
[[ -f "$root$libdir/libtcpip.a" ]] || fail "no libtcpip.a in $root$libdir"
[[ -e "$root$libdir/libtcpip.so" ]] || fail "no libtcpip.so in $root$libdir"
for app in tcpip-echo tcpip-ping tcpip-nc tcpip-httpd tcpip-perf tcpip-run; do
  [[ -x "$installed/bin/$app" ]] || fail "no $app in $installed/bin"
done
missing=()
for dir in stack drivers; do
  while read -r header; do
    [[ -f "$installed/include/tcpip/$dir/$header" ]] || missing+=("$dir/$header")
  done < <(cd "$dir" && find . -name '*.h' | sed 's|^\./||')
done
((${#missing[@]} == 0)) || fail "headers not installed (add them to stack/meson.build or drivers/meson.build): ${missing[*]}"
for header in include/tcpip/*.h; do
  name="tcpip/$(basename "$header")"
  echo "#include <$name>" | c++ -std=c++20 -fsyntax-only $(pkg-config --cflags tcpip) -x c++ - ||
    fail "<$name> does not compile on its own against the installed headers"
done
step "tcpip.pc $(pkg-config --modversion tcpip), libtcpip.a and .so, apps, all headers; public headers compile alone"

# ---- 3. The example, out of tree, with meson and with make ----
cp -r examples "$work/example"
meson setup "$work/example-build" "$work/example" >"$work/example-setup.log" 2>&1 ||
  { cat "$work/example-setup.log"; fail "meson setup of the example"; }
ninja -C "$work/example-build" >"$work/example-build.log" 2>&1 || { cat "$work/example-build.log"; fail "building the example with meson"; }
make -C "$work/example" >"$work/example-make.log" 2>&1 || { cat "$work/example-make.log"; fail "building the example with make"; }
ldd "$work/example-build/echo_server" | grep -q "$root$libdir/libtcpip.so" || fail "the example is not linked with the installed libtcpip.so"
step "examples/echo_server built out of tree (meson and make)"

# ---- 4. Run it ----
"$work/example/echo_server" --help | grep -q "^usage: echo_server" || fail "echo_server --help"
ip netns add "$ns"
ip -n "$ns" tuntap add dev tap0 mode tap
ip -n "$ns" addr add 10.77.0.1/24 dev tap0
ip -n "$ns" link set tap0 up
ip -n "$ns" link set lo up
ip netns exec "$ns" "$work/example-build/echo_server" --tap tap0 --ip 10.77.0.2/24 --port 7 --once \
  >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do grep -q "listening" "$work/server.log" && break; sleep 0.1; done
grep -q "listening" "$work/server.log" || { cat "$work/server.log"; fail "the example never listened"; }
result=$(ip netns exec "$ns" timeout 30 python3 - <<'PY'
import os, socket, threading, time
data = os.urandom(200_000)
for attempt in range(20):      # the first SYN may go out before the stack's ARP reply
    try:
        s = socket.create_connection(("10.77.0.2", 7), timeout=2)
        break
    except OSError:
        time.sleep(0.2)
else:
    raise SystemExit("no connection")
s.settimeout(10)
threading.Thread(target=lambda: (s.sendall(data), s.shutdown(socket.SHUT_WR))).start()
got = bytearray()
while chunk := s.recv(65536):
    got += chunk
print("echoed", len(got), "match" if bytes(got) == data else "MISMATCH")
PY
) || fail "the exchange with the example failed: $result"
[[ "$result" == "echoed 200000 match" ]] || fail "the exchange: $result"
for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
wait "$server_pid" || fail "the example exited with an error: $(cat "$work/server.log")"
server_pid=""
step "echo_server on our stack echoed 200 kB from the kernel, byte-exact"

# ---- 5. As a meson subproject ----
if ((subproject)); then
  parent="$work/parent"
  mkdir -p "$parent/subprojects"
  ln -s "$repo" "$parent/subprojects/tcpip"
  cp examples/echo_server.cpp "$parent/"
  cat >"$parent/meson.build" <<'EOF'
project('uses-tcpip', 'cpp', default_options : ['cpp_std=c++20'])
subproject('tcpip', default_options : ['tests=disabled', 'bench=disabled'])
executable('echo_server', 'echo_server.cpp', dependencies : dependency('tcpip'))
EOF
  env -u PKG_CONFIG_PATH -u PKG_CONFIG_SYSROOT_DIR meson setup "$work/parent-build" "$parent" >"$work/parent.log" 2>&1 ||
    { cat "$work/parent.log"; fail "meson setup with tcpip as a subproject"; }
  ninja -C "$work/parent-build" echo_server >>"$work/parent.log" 2>&1 || { tail -30 "$work/parent.log"; fail "building with tcpip as a subproject"; }
  env -u LD_LIBRARY_PATH "$work/parent-build/echo_server" --help | grep -q "^usage: echo_server" || fail "subproject build: --help"
  step "echo_server built with tcpip as a meson subproject"
fi

echo "install_check: PASS"
