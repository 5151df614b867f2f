#!/usr/bin/env bash
# Checks that tcpip installs and is usable from outside this tree, as a user would use it:
#   1. `meson install` of the build into a temporary root (--destdir), nothing outside it;
#   2. what is there: libtcpip.a and libtcpip.so, tcpip.pc, the apps, every header of stack/ and
#      drivers/ under include/tcpip/, each public header (<tcpip/socket.h>, ...) compiling on its
#      own with nothing but `pkg-config --cflags tcpip`, and libtcpip-preload.so at the path the
#      installed tcpip-run looks for it (TCPIP_PRELOAD_INSTALLED, apps/run/meson.build);
#   3. examples/ built out of tree against the installed tcpip.pc, with meson and with make;
#   4. the example run: --help, then a real exchange: in a network namespace of its own, with a
#      TAP, the kernel sends 200 kB to the example's echo server on our stack and gets them back;
#   5. the installed tcpip-run, run from its installed path (the temporary root laid over the
#      prefix in a private mount namespace, so that it finds the installed shim where it looks),
#      runs a stock python3 whose socket talks to a kernel-side echo server across the TAP; its
#      --stats file must show that the connection and the bytes crossed our stack;
#   6. with --subproject, the example built again with tcpip as a meson subproject
#      (dependency('tcpip') answered by meson.override_dependency): only the library is built
#      there (apps, tests and benchmarks are off in a subproject), so it needs no nlohmann/json.
# Everything is made under one `mktemp -d` directory and one namespace, removed on exit (also on
# failure or Ctrl-C). Steps 4 and 5 need root; without it they are skipped and the script says
# so, except under CI=true, where that is a failure. Prints "install_check: PASS" at the end.
#
#   scripts/install_check.sh [--subproject] [BUILD_DIR]      (default build/, made by setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; }
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
# Steps 4 and 5 make a network namespace with a TAP: root only.
as_root=1
if [[ $(id -u) -ne 0 ]]; then
  as_root=0
  if [[ "${CI:-}" == true ]]; then
    echo "install_check: FAIL: not root: steps 4 and 5 (runs in a network namespace with a TAP) must run in CI" >&2
    exit 1
  fi
  echo "install_check: not root: steps 4 and 5 (runs in a network namespace with a TAP) will be SKIPPED" >&2
fi

source scripts/packages.sh
install_missing install_check "${build_packages[@]}" make iproute2 python3 binutils util-linux || exit 1
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
# (`cmd | grep -q` would fail now and then under pipefail: grep -q exits at the first match and
# cmd dies of SIGPIPE; so grep reads everything here, its output discarded.)
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
# tcpip-run finds the shim beside itself or at the path compiled into it (apps/run/tcpip_run.cpp):
# installed, the shim is in libdir, not beside it, so that path must name the installed file.
shim=$(strings -a "$installed/bin/tcpip-run" | grep -E '^/.+/libtcpip-preload\.so$' || true)
shim=${shim%%$'\n'*}
[[ -n "$shim" ]] || fail "the installed tcpip-run names no installed path of libtcpip-preload.so (TCPIP_PRELOAD_INSTALLED, apps/run/meson.build)"
[[ "$shim" == "$prefix"/* ]] || fail "the installed tcpip-run looks for the shim at $shim, outside the prefix $prefix"
[[ -f "$root$shim" ]] || fail "the installed tcpip-run looks for the shim at $shim, but the install put none there"
step "tcpip.pc $(pkg-config --modversion tcpip), libtcpip.a and .so, apps, all headers; public headers compile alone"
step "libtcpip-preload.so installed at $shim, where the installed tcpip-run looks for it"

# ---- 3. The example, out of tree, with meson and with make ----
cp -r examples "$work/example"
meson setup "$work/example-build" "$work/example" >"$work/example-setup.log" 2>&1 ||
  { cat "$work/example-setup.log"; fail "meson setup of the example"; }
ninja -C "$work/example-build" >"$work/example-build.log" 2>&1 || { cat "$work/example-build.log"; fail "building the example with meson"; }
make -C "$work/example" >"$work/example-make.log" 2>&1 || { cat "$work/example-make.log"; fail "building the example with make"; }
ldd "$work/example-build/echo_server" | grep -F "$root$libdir/libtcpip.so" >/dev/null || fail "the example is not linked with the installed libtcpip.so"
step "examples/echo_server built out of tree (meson and make)"

"$work/example/echo_server" --help | grep "^usage: echo_server" >/dev/null || fail "echo_server --help"

# Steps 4 and 5: in a network namespace of our own, with a TAP (root only).
namespace_steps() {
  # ---- 4. The example serves the kernel ----
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

  # ---- 5. The installed tcpip-run ----
  # A kernel-side echo server on the TAP's kernel address, for one connection.
  ip netns exec "$ns" timeout 60 python3 -u -c '
import socket
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("10.77.0.1", 8080))
srv.listen(1)
print("listening")
srv.settimeout(30)
conn, _ = srv.accept()
conn.settimeout(10)
while data := conn.recv(65536):
    conn.sendall(data)
conn.close()
' >"$work/kernel-server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do grep -q "listening" "$work/kernel-server.log" && break; sleep 0.1; done
  grep -q "listening" "$work/kernel-server.log" || { cat "$work/kernel-server.log"; fail "the kernel-side echo server never listened"; }
  # tcpip-run from its installed path, without TCPIP_PRELOAD: it finds the shim as an installed one
  # does. The temporary root is laid over the prefix as an overlay (the rest of the prefix stays
  # visible, python3 too if the prefix is /usr) in a mount namespace of this command's own. The
  # program is Debian's python3 (dynamically linked), named by its path: not a wrapper on PATH.
  client='
import socket, sys, time
data = b"through the installed tcpip-run\n" * 2000
for attempt in range(20):      # the first SYN may wait for ARP
    try:
        s = socket.create_connection(("10.77.0.1", 8080), timeout=2)
        break
    except OSError:
        time.sleep(0.2)
else:
    sys.exit("no connection")
s.settimeout(10)
s.sendall(data)
s.shutdown(socket.SHUT_WR)
got = bytearray()
while chunk := s.recv(65536):
    got += chunk
print("echoed", len(got), "match" if bytes(got) == data else "MISMATCH")
'
  result=$(env -u LD_LIBRARY_PATH -u TCPIP_PRELOAD -u LD_PRELOAD ip netns exec "$ns" \
    unshare --mount --propagation private sh -c 'mount -t overlay tcpip-install -o "lowerdir=$1:$2" "$2" && shift 2 && exec "$@"' \
    sh "$installed" "$prefix" \
    timeout 60 "$prefix/bin/tcpip-run" --tap tap0 --ip 10.77.0.2/24 --stats "$work/run-stats.txt" -- /usr/bin/python3 -c "$client" \
    2>"$work/run.log") || { cat "$work/run.log"; fail "python3 under the installed tcpip-run failed: $result"; }
  [[ "$result" == "echoed 64000 match" ]] || { cat "$work/run.log"; fail "python3 under the installed tcpip-run: $result"; }
  for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
  wait "$server_pid" || fail "the kernel-side echo server failed: $(cat "$work/kernel-server.log")"
  server_pid=""
  # The counters tcpip-run wrote at the program's exit ("section:", then "    name: value" lines).
  [[ -s "$work/run-stats.txt" ]] || fail "tcpip-run --stats wrote no counters"
  crossed=$(python3 - "$work/run-stats.txt" <<'PY'
import sys
counters, section = {}, None
for line in open(sys.argv[1]):
    if not line.startswith(" ") and line.rstrip().endswith(":"):
        section = line.strip()[:-1]
    elif section and ":" in line:
        name, value = line.split(":", 1)
        counters[(section, name.strip())] = int(value)
opens = counters.get(("tcp", "active_opens"), 0)
rx, tx = counters.get(("tap", "rx_bytes"), 0), counters.get(("tap", "tx_bytes"), 0)
ok = opens >= 1 and rx >= 64000 and tx >= 64000
print(("crossed" if ok else "NOT crossed") + f": tcp active_opens {opens}, tap rx_bytes {rx}, tx_bytes {tx}")
PY
  )
  [[ "$crossed" == crossed:* ]] || { cat "$work/run-stats.txt"; fail "the traffic did not cross our stack ($crossed)"; }
  step "the installed tcpip-run ran python3 on our stack: 64 kB echoed by the kernel, byte-exact ($crossed)"
}
if ((as_root)); then
  namespace_steps
else
  step "steps 4 and 5 SKIPPED: not root (they make a network namespace with a TAP)"
fi

# ---- 6. As a meson subproject ----
if ((subproject)); then
  parent="$work/parent"
  mkdir -p "$parent/subprojects"
  ln -s "$repo" "$parent/subprojects/tcpip"
  cp examples/echo_server.cpp "$parent/"
  cat >"$parent/meson.build" <<'EOF'
project('uses-tcpip', 'cpp', default_options : ['cpp_std=c++20'])
subproject('tcpip')
executable('echo_server', 'echo_server.cpp', dependencies : dependency('tcpip'))
EOF
  started=$SECONDS
  env -u PKG_CONFIG_PATH -u PKG_CONFIG_SYSROOT_DIR meson setup "$work/parent-build" "$parent" >"$work/parent.log" 2>&1 ||
    { cat "$work/parent.log"; fail "meson setup with tcpip as a subproject"; }
  # In a subproject only the library is built (static and shared): no app, test or benchmark.
  targets=$(meson introspect "$work/parent-build" --targets | python3 -c '
import json, sys
print(" ".join(sorted(t["name"] for t in json.load(sys.stdin) if t["subproject"] == "tcpip")))')
  [[ "$targets" == "tcpip tcpip" ]] || fail "tcpip as a subproject builds more than its library: $targets"
  ninja -C "$work/parent-build" >>"$work/parent.log" 2>&1 || { tail -30 "$work/parent.log"; fail "building with tcpip as a subproject"; }
  env -u LD_LIBRARY_PATH "$work/parent-build/echo_server" --help | grep "^usage: echo_server" >/dev/null || fail "subproject build: --help"
  step "echo_server built with tcpip as a meson subproject (the library only, in $((SECONDS - started)) s)"
fi

if ((as_root)); then
  echo "install_check: PASS"
else
  echo "install_check: PASS, except steps 4 and 5: SKIPPED (not root)"
fi
