#!/usr/bin/env python3
"""Query phase of bench/query.sh: the same PromQL queries against every server, interleaved.

Each round sends every query to every server in turn (so machine noise falls on all of them
alike); after one warm-up round, REPS rounds are timed on the client (wall time from request to
parsed JSON). Reports the median per query and server, the ratios, and checks that the servers
agree: the same number of result series everywhere, and Panoptes' values equal to Prometheus'
(relative 1e-9; VictoriaMetrics computes rate() differently, so only its series count is
compared).

Usage: query.py END_SECONDS REPS name=url [name=url ...]
"""

import json
import math
import statistics
import sys
import time
import urllib.parse
import urllib.request

# (name, kind, expression). Instant queries run at the end of the data; range queries over its
# last hour at a 30 s step. Sample times are whole seconds plus 0–49 ms, query times end in .5 s.
QUERIES = [
    ("sum by namespace of rate", "instant", "sum by (namespace) (rate(http_requests_total[5m]))"),
    ("topk", "instant", "topk(10, rate(node_cpu_seconds_total[5m]))"),
    (
        "histogram_quantile",
        "instant",
        "histogram_quantile(0.99, sum by (le, namespace) (rate(http_request_duration_seconds_bucket[5m])))",
    ),
    (
        "regex selectors",
        "instant",
        'sum(rate(http_requests_total{handler=~"/api/v1/resource/(1|2|3).*", code=~"5.."}[5m]))',
    ),
    ("count of all series", "instant", 'count({__name__=~".+"})'),
    (
        "1h range, 30s step, 100k series",
        "range",
        'sum by (namespace) (rate({__name__=~"node_cpu_seconds_total|http_requests_total"}[5m]))',
    ),
    (
        "1h range histogram_quantile",
        "range",
        "histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
    ),
]


def run(url, kind, expr, end):
    if kind == "instant":
        params = {"query": expr, "time": str(end)}
        path = "/api/v1/query"
    else:
        params = {"query": expr, "start": str(end - 3600), "end": str(end), "step": "30"}
        path = "/api/v1/query_range"
    body = urllib.parse.urlencode(params).encode()
    began = time.perf_counter()
    request = urllib.request.Request(url + path, data=body, method="POST")
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    with urllib.request.urlopen(request, timeout=300) as response:
        data = json.loads(response.read())
    elapsed = time.perf_counter() - began
    if data.get("status") != "success":
        raise RuntimeError(f"{url}: {expr}: {data}")
    return elapsed, data["data"]["result"]


def values_of(result):
    """Maps each series (labels without __name__) to its list of float values."""
    out = {}
    for series in result:
        labels = tuple(sorted((k, v) for k, v in series["metric"].items() if k != "__name__"))
        if "value" in series:
            points = [series["value"]]
        else:
            points = series["values"]
        out[labels] = [(float(t), float(v)) for t, v in points]
    return out


def same_float(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1e-300)


def compare(reference, candidate):
    """Returns a description of the first difference, or None."""
    if reference.keys() != candidate.keys():
        return f"series differ: {len(reference)} vs {len(candidate)}"
    for labels, points in reference.items():
        other = candidate[labels]
        if len(points) != len(other):
            return f"{dict(labels)}: {len(points)} vs {len(other)} points"
        for (t1, v1), (t2, v2) in zip(points, other):
            if t1 != t2 or not same_float(v1, v2):
                return f"{dict(labels)} at {t1}: {v1} vs {v2} (t={t2})"
    return None


def main():
    # Half a second before the last scrape: window bounds then never fall on a sample, where
    # Prometheus 2 (left-closed ranges) and Prometheus 3 and Panoptes (left-open) differ.
    end = int(sys.argv[1]) - 0.5
    reps = int(sys.argv[2])
    servers = [arg.split("=", 1) for arg in sys.argv[3:]]
    names = [name for name, _ in servers]
    times = {(q, s): [] for q, _, _ in QUERIES for s in names}
    results = {}
    for round_number in range(reps + 1):
        for query, kind, expr in QUERIES:
            for name, url in servers:
                elapsed, result = run(url, kind, expr, end)
                if round_number == 0:
                    results[(query, name)] = result
                else:
                    times[(query, name)].append(elapsed)
        print(f"query.py: round {round_number}/{reps} done", file=sys.stderr)

    problems = []
    header = "| query | " + " | ".join(f"{n} median ms" for n in names) + " | series |"
    if "victoria-metrics" in names and "panoptes" in names:
        header += " Panoptes / VictoriaMetrics |"
    if "prometheus" in names and "panoptes" in names:
        header += " Panoptes / Prometheus |"
    print(header)
    print("| --- |" + " ---: |" * (header.count("|") - 2))
    for query, _, _ in QUERIES:
        medians = {n: statistics.median(times[(query, n)]) * 1000 for n in names}
        counts = {n: len(results[(query, n)]) for n in names}
        row = f"| {query} | " + " | ".join(f"{medians[n]:.1f}" for n in names)
        row += " | " + (str(counts[names[0]]) if len(set(counts.values())) == 1 else str(counts)) + " |"
        if "victoria-metrics" in names and "panoptes" in names:
            row += f" {medians['panoptes'] / medians['victoria-metrics']:.2f} |"
        if "prometheus" in names and "panoptes" in names:
            row += f" {medians['panoptes'] / medians['prometheus']:.2f} |"
        print(row)
        if len(set(counts.values())) != 1:
            problems.append(f"{query}: result series counts differ: {counts}")
        if "prometheus" in names and "panoptes" in names:
            difference = compare(values_of(results[(query, "prometheus")]), values_of(results[(query, "panoptes")]))
            if difference:
                problems.append(f"{query}: Panoptes differs from Prometheus: {difference}")
    print()
    print(f"{reps} timed rounds after one warm-up; each round sends every query to every server in turn.")
    for problem in problems:
        print(f"- MISMATCH {problem}")
    if not problems and "prometheus" in names and "panoptes" in names:
        print("- Panoptes' results equal Prometheus' for every query (values within 1e-9 relative).")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
