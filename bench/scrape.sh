#!/usr/bin/env bash
# Whole-process scrape benchmark: Panoptes, Prometheus and VictoriaMetrics scrape the same
# targets with the same configuration, one after the other on this machine:
#   - TARGETS synthetic targets of SERIES series each (bench/loadgen's panoptes-bench-targets,
#     Prometheus text format, HELP/TYPE, 8 labels per series) plus Debian's node-exporter;
#   - after WARMUP seconds, server CPU seconds (utime+stime from /proc) over WINDOW seconds,
#     divided by the samples the server itself reports scraping in that window
#     (sum_over_time(scrape_samples_scraped)); peak RSS (VmHWM) over the run.
# Usage: bench/scrape.sh                    (50 targets x 1,000 series at 1s, 120 s window)
#        TARGETS=20 WINDOW=60 bench/scrape.sh
#        SERVERS="panoptes" bench/scrape.sh (a subset; ratios need all three)
set -euo pipefail
cd "$(dirname "$0")/.."
TARGETS=${TARGETS:-50}
SERIES=${SERIES:-1000}
INTERVAL=${INTERVAL:-1s}
WARMUP=${WARMUP:-30}
WINDOW=${WINDOW:-120}
SERVERS=${SERVERS:-panoptes prometheus victoria-metrics}
WORK=$(mktemp -d /tmp/panoptes-scrape-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

source bench/common.sh
install_missing prometheus victoria-metrics prometheus-node-exporter


"$TARGET/release/panoptes-bench-targets" --targets "$TARGETS" --series "$SERIES" --port 19200 2>"$WORK/targets.log" &
prometheus-node-exporter --web.listen-address=127.0.0.1:19199 >"$WORK/node.log" 2>&1 &
wait_ready http://127.0.0.1:19199/metrics
wait_ready http://127.0.0.1:19200/metrics

targets=$(for i in $(seq 0 $((TARGETS - 1))); do printf "'127.0.0.1:%d'," $((19200 + i)); done)
cat >"$WORK/scrape.yml" <<YAML
global:
  scrape_interval: $INTERVAL
  scrape_timeout: $INTERVAL
scrape_configs:
- job_name: bench
  static_configs:
  - targets: [${targets%,}]
- job_name: node
  static_configs:
  - targets: ['127.0.0.1:19199']
YAML

results=()
run_one() {
  local name=$1 port=$2; shift 2
  case " $SERVERS " in *" $name "*) ;; *) return 0 ;; esac
  mkdir -p "$WORK/$name"
  "$@" >"$WORK/$name.log" 2>&1 &
  local pid=$!
  wait_ready "http://127.0.0.1:$port/$READY_PATH"
  sleep "$WARMUP"
  local cpu_before; cpu_before=$(cpu_seconds $pid)
  sleep "$WINDOW"
  local cpu_after; cpu_after=$(cpu_seconds $pid)
  local scraped
  scraped=$(curl -sf "http://127.0.0.1:$port/api/v1/query" --data-urlencode "query=sum(sum_over_time(scrape_samples_scraped[${WINDOW}s]))" \
    | sed -n 's/.*"value":\[[0-9.]*,"\([0-9.e+]*\)"\].*/\1/p')
  local rss; rss=$(peak_rss_mb $pid)
  kill -TERM $pid; wait $pid || true
  local cpu_per_m; cpu_per_m=$(awk -v a="$cpu_before" -v b="$cpu_after" -v n="$scraped" 'BEGIN {printf "%.3f", (b-a)/(n/1e6)}')
  local rate; rate=$(awk -v n="$scraped" -v w="$WINDOW" 'BEGIN {printf "%.0f", n/w}')
  results+=("$name $scraped $rate $cpu_per_m $rss")
  echo "$name: scraped=$scraped samples_per_second=$rate cpu_s_per_million=$cpu_per_m peak_rss_mb=$rss" >&2
}

READY_PATH=-/ready run_one panoptes 19090 \
  "$PANOPTES" server --config.file "$WORK/scrape.yml" --storage.tsdb.path "$WORK/panoptes" \
  --web.listen-address 127.0.0.1:19090 --log.level warn
READY_PATH=-/ready run_one prometheus 19091 \
  prometheus --config.file "$WORK/scrape.yml" --storage.tsdb.path "$WORK/prometheus" \
  --web.listen-address 127.0.0.1:19091 --log.level warn
READY_PATH=health run_one victoria-metrics 19092 \
  victoria-metrics -promscrape.config "$WORK/scrape.yml" -storageDataPath "$WORK/victoria-metrics" \
  -httpListenAddr 127.0.0.1:19092 -loggerLevel WARN

echo
echo "$TARGETS targets x $SERIES series + node-exporter, interval $INTERVAL, ${WINDOW}s window after ${WARMUP}s warm-up; $(nproc) cores; commit $(git rev-parse --short HEAD)"
echo
echo "| server | samples scraped in window | samples/s | CPU s per 1M scraped samples | peak RSS MB |"
echo "| --- | ---: | ---: | ---: | ---: |"
for row in "${results[@]}"; do
  set -- $row
  echo "| $1 | $2 | $3 | $4 | $5 |"
done
[ ${#results[@]} -eq 3 ] || exit 0
vm=$(printf '%s\n' "${results[@]}" | awk '$1=="victoria-metrics"')
pn=$(printf '%s\n' "${results[@]}" | awk '$1=="panoptes"')
pr=$(printf '%s\n' "${results[@]}" | awk '$1=="prometheus"')
echo
awk -v p="$pn" -v v="$vm" -v q="$pr" 'BEGIN {
  split(p, a, " "); split(v, b, " "); split(q, c, " ");
  printf "Panoptes / Prometheus:      CPU per scraped sample %.2f, peak RSS %.2f\n", a[4]/c[4], a[5]/c[5];
  printf "Panoptes / VictoriaMetrics: CPU per scraped sample %.2f, peak RSS %.2f\n", a[4]/b[4], a[5]/b[5];
}'
