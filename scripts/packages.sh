# Sourced by the project's scripts: install_missing WHO PACKAGE... installs, with apt-get, those of
# the Debian packages that are not installed yet (dpkg-query says "install ok installed" only for
# packages that are fully installed), and says so as WHO. Without root it names them and fails.
install_missing() {
  local who=$1
  shift
  local missing=() p
  for p in "$@"; do
    if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]]; then
      missing+=("$p")
    fi
  done
  ((${#missing[@]})) || return 0
  if [[ $(id -u) -ne 0 ]]; then
    echo "$who: missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
    return 1
  fi
  echo "$who: installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# What building the library and the apps needs, in every build directory (setup.sh, fuzz.sh):
# the compiler and meson, and nlohmann/json for tcpip-perf's iperf3 messages (apps/perf/json.h).
build_packages=(meson ninja-build pkg-config g++ nlohmann-json3-dev)
