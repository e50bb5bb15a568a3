"""An app instrumented with the Python `prometheus_client` package, for the scrape comparison
in crates/panoptes/tests/scrape.rs.

Serves on a free loopback port, printed as the first line of standard output:
- /metrics: the client's own content negotiation (OpenMetrics when the Accept header names
  application/openmetrics-text, the text format 0.0.4 otherwise);
- /text: the text format 0.0.4 whatever the Accept header says (for scrapers that cannot choose);
- /requests: JSON list of the scrapes served (path, User-Agent, Accept, Content-Type).

Every metric is set once at start, so every scrape returns the same values.
Run with Debian's interpreter: /usr/bin/python3 (package python3-prometheus-client).
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

from prometheus_client import CollectorRegistry, Counter, Enum, Gauge, Histogram, Info, Summary
from prometheus_client.exposition import CONTENT_TYPE_LATEST, choose_encoder, generate_latest

registry = CollectorRegistry()

requests = Counter("http_requests", "Requests handled.", ["method", "code"], registry=registry)
requests.labels("get", "200").inc(1027)
requests.labels("post", "500").inc(3)
requests.labels("get", "404").inc(0.5)

temperature = Gauge("room_temperature", "Room temperature.", ["room"], unit="celsius", registry=registry)
temperature.labels("kitchen").set(21.5)
temperature.labels('K\u00fcche "main"\\floor\nwest').set(-3.25)
temperature.labels("cellar").set(float("nan"))

in_flight = Gauge("in_flight_requests", "Requests in flight.", registry=registry)
in_flight.set(7)

latency = Histogram(
    "request_duration_seconds",
    "Request latency.",
    ["handler"],
    buckets=(0.05, 0.1, 0.5, 1.0, 2.5),
    registry=registry,
)
for value in (0.01, 0.07, 0.2, 0.3, 0.9, 3.0):
    latency.labels("/api").observe(value)
latency.labels("/health").observe(0.001)

rpc = Summary("rpc_duration_seconds", "RPC latency.", ["service"], registry=registry)
for value in (0.25, 0.5, 1.25):
    rpc.labels("users").observe(value)

build = Info("build", "Build information.", registry=registry)
build.info({"version": "1.2.3", "revision": "abc123"})

task_state = Enum(
    "task_state", "State of a task.", ["task"], states=["starting", "running", "stopped"], registry=registry
)
task_state.labels("backup").state("running")
task_state.labels("cleanup").state("stopped")

served = []
served_lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        path = urlparse(self.path).path
        if path == "/requests":
            with served_lock:
                body = json.dumps(served).encode()
            self.reply(200, "application/json", body)
            return
        if path == "/metrics":
            encoder, content_type = choose_encoder(self.headers.get("Accept"))
            body = encoder(registry)
        elif path == "/text":
            content_type, body = CONTENT_TYPE_LATEST, generate_latest(registry)
        else:
            self.reply(404, "text/plain", b"not found\n")
            return
        with served_lock:
            served.append(
                {
                    "path": path,
                    "user_agent": self.headers.get("User-Agent", ""),
                    "accept": self.headers.get("Accept", ""),
                    "content_type": content_type,
                }
            )
        self.reply(200, content_type, body)

    def reply(self, status, content_type, body):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
sys.stdout.close()
server.serve_forever()
