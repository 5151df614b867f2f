# Shared by bench/e2e.sh and bench/paths.sh (sourced): stopping a process the script started.
# The caller keeps the PIDs it started in the array `started` (its cleanup kills what is left).

# stop PID: SIGTERM, up to 5 s for it to exit, then SIGKILL; and forget it.
stop() {
  local victim=$1 i
  kill -TERM "$victim" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$victim" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$victim" 2>/dev/null || true
  wait "$victim" 2>/dev/null || true
  local kept=() p
  for p in "${started[@]}"; do [[ $p == "$victim" ]] || kept+=("$p"); done
  started=("${kept[@]}")
}
