#!/usr/bin/env bash
# Query latency benchmark: Panoptes, Prometheus and VictoriaMetrics hold exactly the same data
# (bench/loadgen's storage-benchmark load with a fixed end time, plus classic histograms), run at
# the same time, and answer the same queries in interleaved rounds (bench/query.py): median
# latency per query and server, ratios, and a check that the answers agree.
# Usage: bench/query.sh                     (100k series + 2,000 histograms, 70 min at 10 s)
#        SERIES=20000 HISTOGRAMS=500 MINUTES=30 REPS=5 bench/query.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SERIES=${SERIES:-100000}
HISTOGRAMS=${HISTOGRAMS:-2000}
MINUTES=${MINUTES:-70}
INTERVAL=${INTERVAL:-10}
BLOCK=${BLOCK:-10m}
SETTLE=${SETTLE:-60}
REPS=${REPS:-7}
WORK=$(mktemp -d /tmp/panoptes-query-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null; rm -rf "$WORK"' EXIT

source bench/common.sh
install_missing prometheus victoria-metrics

require_free_ports 19090 19091 19092

printf 'global:\n  scrape_interval: 1m\n' >"$WORK/prometheus.yml"
write_quiet_panoptes_config "$WORK/panoptes.yml"
"$PANOPTES" server --config.file "$WORK/panoptes.yml" --storage.tsdb.path "$WORK/panoptes" --web.listen-address 127.0.0.1:19090 \
  --storage.tsdb.min-block-duration "$BLOCK" --log.level warn >"$WORK/panoptes.log" 2>&1 &
prometheus --config.file "$WORK/prometheus.yml" --storage.tsdb.path "$WORK/prometheus" \
  --web.listen-address 127.0.0.1:19091 --web.enable-remote-write-receiver \
  --storage.tsdb.min-block-duration "$BLOCK" --log.level warn >"$WORK/prometheus.log" 2>&1 &
# Its result cache would answer repeated queries without evaluating them; the others have none.
victoria-metrics -storageDataPath "$WORK/victoria-metrics" -httpListenAddr 127.0.0.1:19092 -retentionPeriod 1y \
  -search.disableCache -loggerLevel WARN >"$WORK/victoria-metrics.log" 2>&1 &
wait_ready http://127.0.0.1:19090/-/ready
wait_ready http://127.0.0.1:19091/-/ready
wait_ready http://127.0.0.1:19092/health

# The last simulated scrape a minute ago, on a whole second: every server gets the same samples.
END_MS=$(( ($(date +%s) - 60) * 1000 ))
for port in 19090 19091 19092; do
  echo "loading 127.0.0.1:$port" >&2
  "$LOADGEN" --url "http://127.0.0.1:$port/api/v1/write" --series "$SERIES" --histograms "$HISTOGRAMS" \
    --minutes "$MINUTES" --interval-seconds "$INTERVAL" --end-ms "$END_MS" >&2
done
curl -sf http://127.0.0.1:19092/internal/force_flush >/dev/null
sleep "$SETTLE"

echo
echo "Series $SERIES + $HISTOGRAMS histograms x 12 buckets, interval ${INTERVAL}s, ${MINUTES} min, block duration $BLOCK (Panoptes, Prometheus); VictoriaMetrics with -search.disableCache; $(nproc) cores; commit $(git rev-parse --short HEAD)"
echo
python3 bench/query.py "$((END_MS / 1000))" "$REPS" \
  panoptes=http://127.0.0.1:19090 prometheus=http://127.0.0.1:19091 victoria-metrics=http://127.0.0.1:19092
