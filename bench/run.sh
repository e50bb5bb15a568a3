#!/usr/bin/env bash
# Whole-process storage benchmark: the same remote-write load into Panoptes, Prometheus and
# VictoriaMetrics, one after the other on this machine, measured the same way:
#   - server CPU seconds (utime+stime from /proc) per million acknowledged samples, during load;
#   - peak resident memory (VmHWM) over the whole run;
#   - on-disk bytes per sample: the whole data directory after compaction and a clean stop, and
#     (Panoptes, Prometheus) bytes of compacted blocks per sample they hold (meta.json).
# Usage: bench/run.sh            (100k series, 10s interval, 70 min simulated)
#        SERIES=20000 MINUTES=30 bench/run.sh
#        SERVERS="panoptes" bench/run.sh   (a subset; ratios need all three)
set -euo pipefail
cd "$(dirname "$0")/.."
SERIES=${SERIES:-100000}
MINUTES=${MINUTES:-70}
INTERVAL=${INTERVAL:-10}
BLOCK=${BLOCK:-10m}
SETTLE=${SETTLE:-75}
SERVERS=${SERVERS:-panoptes prometheus victoria-metrics}
WORK=$(mktemp -d /tmp/panoptes-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null; rm -rf "$WORK"' EXIT

source bench/common.sh
install_missing prometheus victoria-metrics

dir_bytes() { du -sb "$1" | cut -f1; }
# Sum of block directory sizes and of the samples their meta.json files declare.
block_stats() {
  local bytes=0 samples=0 meta dir
  for meta in "$1"/*/meta.json; do
    [ -e "$meta" ] || continue
    dir=$(dirname "$meta")
    bytes=$((bytes + $(dir_bytes "$dir")))
    samples=$((samples + $(grep -o '"numSamples": *[0-9]*' "$meta" | grep -o '[0-9]*$')))
  done
  echo "$bytes $samples"
}

require_free_ports 19090 19091 19092

results=()
run_one() {
  local name=$1 port=$2 data=$WORK/$1; shift 2
  case " $SERVERS " in *" $name "*) ;; *) return 0 ;; esac
  mkdir -p "$data"
  "$@" >"$WORK/$name.log" 2>&1 &
  local pid=$!
  wait_ready "http://127.0.0.1:$port/$READY_PATH"
  local cpu_before; cpu_before=$(cpu_seconds $pid)
  local load; load=$("$LOADGEN" --url "http://127.0.0.1:$port/api/v1/write" --series "$SERIES" --minutes "$MINUTES" --interval-seconds "$INTERVAL")
  local cpu_after; cpu_after=$(cpu_seconds $pid)
  local acknowledged; acknowledged=$(echo "$load" | sed -n 's/.*acknowledged=\([0-9]*\).*/\1/p')
  local rate; rate=$(echo "$load" | sed -n 's/.*samples_per_second=\([0-9]*\).*/\1/p')
  if [ -n "$FLUSH" ]; then eval "$FLUSH"; fi
  sleep "$SETTLE"
  local rss; rss=$(peak_rss_mb $pid)
  kill -TERM $pid; wait $pid || true
  local total; total=$(dir_bytes "$data")
  read -r bbytes bsamples < <(block_stats "$data")
  local cpu_per_m; cpu_per_m=$(awk -v a="$cpu_before" -v b="$cpu_after" -v n="$acknowledged" 'BEGIN {printf "%.3f", (b-a)/(n/1e6)}')
  local bps_total; bps_total=$(awk -v b="$total" -v n="$acknowledged" 'BEGIN {printf "%.3f", b/n}')
  local bps_blocks="-"
  if [ "$bsamples" -gt 0 ]; then bps_blocks=$(awk -v b="$bbytes" -v n="$bsamples" 'BEGIN {printf "%.3f", b/n}'); fi
  results+=("$name $acknowledged $rate $cpu_per_m $rss $bps_total $bps_blocks")
  echo "$name: $load cpu_s_per_million=$cpu_per_m peak_rss_mb=$rss bytes_per_sample_total=$bps_total bytes_per_sample_blocks=$bps_blocks ($bsamples samples in blocks)" >&2
}

echo "config" > "$WORK/prometheus.yml"; printf 'global:\n  scrape_interval: 1m\n' > "$WORK/prometheus.yml"

write_quiet_panoptes_config "$WORK/panoptes.yml"
READY_PATH=-/ready FLUSH="" run_one panoptes 19090 \
  "$PANOPTES" server --config.file "$WORK/panoptes.yml" --storage.tsdb.path "$WORK/panoptes" --web.listen-address 127.0.0.1:19090 \
  --storage.tsdb.min-block-duration "$BLOCK" --log.level warn
READY_PATH=-/ready FLUSH="" run_one prometheus 19091 \
  prometheus --config.file "$WORK/prometheus.yml" --storage.tsdb.path "$WORK/prometheus" \
  --web.listen-address 127.0.0.1:19091 --web.enable-remote-write-receiver \
  --storage.tsdb.min-block-duration "$BLOCK" --log.level warn
READY_PATH=health FLUSH='curl -sf http://127.0.0.1:19092/internal/force_flush >/dev/null; curl -sf "http://127.0.0.1:19092/internal/force_merge?partition_prefix=$(date -u +%Y_%m)" >/dev/null' \
  run_one victoria-metrics 19092 \
  victoria-metrics -storageDataPath "$WORK/victoria-metrics" -httpListenAddr 127.0.0.1:19092 -retentionPeriod 1y -loggerLevel WARN

echo
echo "Series $SERIES, interval ${INTERVAL}s, ${MINUTES} min simulated, block duration $BLOCK (Panoptes, Prometheus); $(nproc) cores; commit $(git rev-parse --short HEAD)"
echo
echo "| server | samples acknowledged | samples/s | CPU s per 1M samples | peak RSS MB | bytes/sample (data dir) | bytes/sample (blocks) |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for row in "${results[@]}"; do
  set -- $row
  echo "| $1 | $2 | $3 | $4 | $5 | $6 | $7 |"
done
[ ${#results[@]} -eq 3 ] || exit 0
vm=$(printf '%s\n' "${results[@]}" | awk '$1=="victoria-metrics"')
pn=$(printf '%s\n' "${results[@]}" | awk '$1=="panoptes"')
pr=$(printf '%s\n' "${results[@]}" | awk '$1=="prometheus"')
echo
awk -v p="$pn" -v v="$vm" -v q="$pr" 'BEGIN {
  split(p, a, " "); split(v, b, " "); split(q, c, " ");
  printf "Panoptes / VictoriaMetrics: CPU per sample %.2f, peak RSS %.2f, bytes per sample (data dir) %.2f\n", a[4]/b[4], a[5]/b[5], a[6]/b[6];
  printf "Panoptes / Prometheus:      CPU per sample %.2f, peak RSS %.2f, bytes per sample (data dir) %.2f\n", a[4]/c[4], a[5]/c[5], a[6]/c[6];
}'
