# Shared by bench/run.sh, bench/scrape.sh and bench/query.sh (sourced, not run): installs the
# competitors when missing, builds Panoptes and the load tools, and the small helpers the
# scripts measure with.

# Installs the Debian packages given as arguments that are not installed yet (by command name).
install_missing() {
  local need=() package
  for package in "$@"; do command -v "$package" >/dev/null || need+=("$package"); done
  if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
}

cargo build --release -q -p panoptes -p panoptes-loadgen
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
PANOPTES=$TARGET/release/panoptes
LOADGEN=$TARGET/release/panoptes-loadgen
TICKS=$(getconf CLK_TCK)

cpu_seconds() { awk -v t="$TICKS" '{print ($14+$15)/t}' "/proc/$1/stat"; }
peak_rss_mb() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
wait_ready() { for _ in $(seq 1 600); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done; echo "not ready: $1" >&2; return 1; }

# Exits when one of the given loopback ports is taken.
require_free_ports() {
  local port
  for port in "$@"; do
    if ss -ltn | grep -q "127.0.0.1:$port "; then echo "port $port is in use; stop what listens there first" >&2; exit 1; fi
  done
}

# Writes a Panoptes config to $1 whose job named like the built-in push job replaces it: nothing
# is scraped, so the head's newest sample is the load's, and older loaded samples are not
# refused as too old.
write_quiet_panoptes_config() {
  printf 'scrape_configs:\n- job_name: pushgateway\n  static_configs: []\n' >"$1"
}
