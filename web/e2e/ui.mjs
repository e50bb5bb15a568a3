// Browser test of the Panoptes UI against a real `panoptes server` (started and loaded with data
// by crates/panoptes/tests/ui.rs): playwright-core drives Debian's Chromium headless.
//
// Checks: every page loads without console errors; a query typed in Explore (with completion)
// draws a uPlot graph; a silence is created and expired through the UI; every dashboard in
// PANOPTES_DASHBOARDS is imported (import page, local preview) and rendered with all rows
// expanded, and every panel's queries run without error; screenshots go to PANOPTES_ARTIFACTS.
// Also measures the render time of a generated 20 panels × 10 series dashboard over 6 h.
//
// Environment: PANOPTES_URL, PANOPTES_DASHBOARDS, PANOPTES_ARTIFACTS, CHROMIUM (default
// /usr/bin/chromium). Prints one JSON summary line prefixed with "SUMMARY ".

import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { artifactsDir, collectConsoleErrors, dashboardReport, failureList, openBrowser } from "./lib.mjs";

const base = process.env.PANOPTES_URL ?? "http://127.0.0.1:9090";
const dashboardsDir = process.env.PANOPTES_DASHBOARDS;
const artifacts = artifactsDir("target/ui-e2e");
const { failures, fail } = failureList();
const { browser, page } = await openBrowser();

// Whether the server in this build stores dashboards (Grafana's API): without it the list page's
// /api/search answers 404, which the browser logs; only that one expected error is tolerated.
const hasDashboardApi = (await fetch(`${base}/api/search`)).status !== 404;
const errors = collectConsoleErrors(page, (text, url) => !hasDashboardApi && /\/api\/(search|dashboards)/.test(url) && /404/.test(text));

async function visit(path, readySelector, name) {
  errors.list = [];
  await page.goto(base + path, { waitUntil: "networkidle" });
  try {
    await page.waitForSelector(readySelector, { timeout: 15000 });
  } catch {
    fail(`${path}: ${readySelector} never appeared`);
  }
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(artifacts, `${name}.png`) });
  if (errors.list.length) fail(`${path}: console errors: ${errors.list.join(" | ")}`);
  return errors.list.length === 0;
}

const pages = {};
pages.targets = await visit("/targets", "[data-testid=target-pool] .badge", "targets");
pages.rules = await visit("/rules", "[data-testid=rule-group]", "rules");
pages.alerts = await visit("/alerts", "[data-testid=alert-rules] .badge.firing", "alerts");
pages.silences = await visit("/silences", "[data-testid=silences] table", "silences");
pages.status = await visit("/status", ".kv dd", "status");
pages.tsdb = await visit("/status?tab=tsdb", "[data-testid=tsdb-status] table tbody tr", "status-tsdb");
pages.config = await visit("/status?tab=config", "[data-testid=config-yaml]", "status-config");
pages.flags = await visit("/status?tab=flags", "table tbody tr", "status-flags");
pages.dashboards = await visit("/dashboards", hasDashboardApi ? "[data-testid=dashboard-search]" : ".callout", "dashboards");
pages.import = await visit("/dashboard/import", "[data-testid=import-json]", "dashboard-import");
pages.newDashboard = await visit("/dashboard/new", "[data-testid=dashboard-title]", "dashboard-new");

// Building a dashboard: add a visualization with the panel editor; it queries and draws.
let editor = { panelDrawn: false };
errors.list = [];
await page.goto(`${base}/dashboard/new`, { waitUntil: "networkidle" });
try {
  await page.click("button[title='Add a panel or a row']");
  await page.click("[data-testid=add-panel]");
  await page.fill("[data-testid=panel-title-input]", "Requests per workload");
  await page.fill("[data-testid=panel-expr-input]", "sum by (destination_workload) (rate(istio_requests_total[$__rate_interval]))");
  await page.click("[data-testid=apply-panel]");
  await page.waitForSelector("[data-testid=panel][data-panel-title='Requests per workload'] canvas", { timeout: 15000 });
  editor.panelDrawn = (await page.locator("[data-testid=panel] .legend-item").count()) > 0;
  if (!editor.panelDrawn) fail("dashboard editor: the new panel has no series");
  await page.screenshot({ path: join(artifacts, "dashboard-new-panel.png") });
  // Resize by the corner (4 columns wider, 2 rows taller), then move by the header (to the right).
  const item = page.locator("[data-testid=grid-item]", { has: page.locator("[data-panel-title='Requests per workload']") });
  const gridBox = await page.locator("[data-testid=dashboard-grid]").boundingBox();
  const column = (gridBox.width + 8) / 24;
  const dragBy = async (handle, dx, dy) => {
    const box = await handle.boundingBox();
    const x = box.x + Math.min(box.width / 2, 40);
    const y = box.y + box.height / 2;
    await page.mouse.move(x, y);
    await page.mouse.down();
    await page.mouse.move(x + dx / 2, y + dy / 2, { steps: 4 });
    await page.mouse.move(x + dx, y + dy, { steps: 4 });
    await page.mouse.up();
  };
  editor.before = await item.getAttribute("data-grid-pos");
  await dragBy(item.locator("[data-testid=panel-resize]"), 4 * column, 2 * 38);
  await page.waitForFunction(() => document.querySelector("[data-testid=grid-item]")?.getAttribute("data-grid-pos") !== "0,0,12,8", null, { timeout: 5000 }).catch(() => {});
  editor.resized = await item.getAttribute("data-grid-pos");
  if (editor.resized !== "0,0,16,10") fail(`dashboard editor: resizing 12x8 by 4 columns and 2 rows gave ${editor.resized}`);
  await dragBy(item.locator(".panel-title"), 6 * column, 0);
  await page.waitForTimeout(300);
  editor.moved = await item.getAttribute("data-grid-pos");
  if (editor.moved !== "6,0,16,10") fail(`dashboard editor: moving by 6 columns gave ${editor.moved}`);
  await page.screenshot({ path: join(artifacts, "dashboard-panel-resized.png") });
} catch (e) {
  fail(`dashboard editor: ${e.message.split("\n")[0]}`);
}
if (errors.list.length) fail(`dashboard editor: console errors: ${errors.list.join(" | ")}`);

// Explore: completion offers a metric name, then the query draws a graph.
let explore = { completion: false, graph: false, series: 0 };
errors.list = [];
await page.goto(`${base}/explore`, { waitUntil: "networkidle" });
await page.click(".cm-content");
await page.keyboard.type("istio_requests_to");
try {
  await page.waitForSelector(".cm-tooltip-autocomplete li:has-text('istio_requests_total')", { timeout: 10000 });
  explore.completion = true;
} catch {
  fail("explore: no completion offered istio_requests_total");
}
await page.keyboard.press("Escape");
await page.keyboard.press("Control+A");
await page.keyboard.type("sum by (destination_workload) (rate(istio_requests_total[5m]))");
await page.keyboard.press("Escape");
await page.keyboard.press("Enter");
try {
  await page.waitForSelector("[data-testid=explore-graph] canvas", { timeout: 15000 });
  explore.series = await page.locator("[data-testid=explore-graph] .legend-item").count();
  explore.graph = explore.series > 0;
  if (!explore.graph) fail("explore: graph drawn without series");
} catch {
  fail("explore: no graph canvas");
}
const url = page.url();
if (!url.includes("g0.expr=")) fail(`explore: the query is not in the URL (${url})`);
await page.screenshot({ path: join(artifacts, "explore.png") });
// Hover the plot to show the tooltip in a second screenshot.
const over = page.locator("[data-testid=explore-graph] .u-over");
if (await over.count()) {
  const box = await over.boundingBox();
  await page.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.4);
  await page.waitForTimeout(200);
  if (!(await page.locator(".tooltip").isVisible())) fail("explore: no tooltip on hover");
  await page.screenshot({ path: join(artifacts, "explore-tooltip.png") });
}
if (errors.list.length) fail(`explore: console errors: ${errors.list.join(" | ")}`);
pages.explore = errors.list.length === 0;

// Silences: create one through the form, then expire it.
let silence = { created: false, expired: false };
errors.list = [];
await page.goto(`${base}/silences`, { waitUntil: "networkidle" });
await page.click("[data-testid=new-silence]");
await page.fill("[data-testid=silence-matcher]", 'alertname="AlwaysFiring"');
await page.fill("[data-testid=silence-author]", "e2e");
await page.fill("[data-testid=silence-comment]", "silenced by the browser test");
await page.click("[data-testid=create-silence]");
try {
  await page.waitForSelector("[data-testid=silences] td:has-text('silenced by the browser test')", { timeout: 10000 });
  silence.created = true;
  await page.screenshot({ path: join(artifacts, "silences-created.png") });
  await page.click("[data-testid=silences] button:has-text('Expire')");
  await page.waitForSelector("[data-testid=silences] td:has-text('silenced by the browser test')", { state: "detached", timeout: 10000 });
  await page.goto(`${base}/silences?state=expired`, { waitUntil: "networkidle" });
  await page.waitForSelector("[data-testid=silences] td:has-text('silenced by the browser test')", { timeout: 10000 });
  silence.expired = true;
} catch (e) {
  fail(`silences: ${e.message.split("\n")[0]}`);
}
if (errors.list.length) fail(`silences: console errors: ${errors.list.join(" | ")}`);

async function renderDashboard(path, name) {
  errors.list = [];
  await page.goto(`${base}/dashboard/import`, { waitUntil: "networkidle" });
  // Through the import page's file upload, as a user would bring a file exported from Grafana.
  await page.setInputFiles("[data-testid=import-file]", path);
  await page.waitForSelector("[data-testid=import-summary]", { timeout: 10000 });
  await page.click("[data-testid=import-preview]");
  const report = await dashboardReport(page, name);
  report.consoleErrors = [...errors.list];
  await page.screenshot({ path: join(artifacts, `dashboard-${name}.png`), fullPage: true });
  if (!report.settled) fail(`dashboard ${name}: panels did not finish loading`);
  if (report.panels === 0) fail(`dashboard ${name}: no panel rendered`);
  if (report.failures.length) fail(`dashboard ${name}: ${report.failures.length} failed queries: ${report.failures.join(" | ")}`);
  if (errors.list.length) fail(`dashboard ${name}: console errors: ${errors.list.join(" | ")}`);
  return report;
}

const dashboards = [];
if (dashboardsDir) {
  for (const file of readdirSync(dashboardsDir).filter((f) => f.endsWith(".json")).sort()) {
    dashboards.push(await renderDashboard(join(dashboardsDir, file), file.replace(/\.json$/, "")));
  }
}

// The light theme, on the first dashboard's page, for a look at both themes.
await page.click("[data-testid=theme-toggle]").catch(() => {});
await page.goto(`${base}/explore?g0.expr=${encodeURIComponent("sum by (destination_workload) (rate(istio_requests_total[5m]))")}&g0.tab=graph`, { waitUntil: "networkidle" });
await page.waitForSelector("[data-testid=explore-graph] canvas", { timeout: 15000 }).catch(() => fail("explore (light): no graph"));
await page.screenshot({ path: join(artifacts, "explore-light.png") });
await page.evaluate(() => localStorage.setItem("panoptes.theme", "dark"));

// Measurement: 20 timeseries panels × 10 series over 6 h, from navigation to every panel drawn.
const bench = { panels: 20, seriesPerPanel: 10, range: "6h", pointsPerSeries: null, runs: [] };
const benchDashboard = {
  title: "Render benchmark 20x10",
  time: { from: "now-6h", to: "now" },
  panels: Array.from({ length: 20 }, (_, i) => ({ id: i + 1, type: "timeseries", title: `bench ${i}`, gridPos: { x: (i % 3) * 8, y: Math.floor(i / 3) * 8, w: 8, h: 8 }, targets: [{ refId: "A", expr: `bench_series{panel="${i}"}`, legendFormat: "{{series}}" }] })),
};
await page.goto(`${base}/dashboard/import`, { waitUntil: "networkidle" });
await page.evaluate((json) => sessionStorage.setItem("panoptes.preview", json), JSON.stringify(benchDashboard));
for (let run = 0; run < 4; run++) {
  await page.goto(`${base}/dashboard/preview?from=now-6h&to=now`, { waitUntil: "domcontentloaded" });
  // Checked on every animation frame, so the time is when the last panel's canvas exists.
  await page.waitForFunction(() => {
    const runs = [...(window.__panoptesRuns?.values() ?? [])];
    return runs.length === 20 && runs.every((r) => r.done) && document.querySelectorAll("[data-testid=panel] canvas").length >= 20;
  }, null, { timeout: 60000, polling: "raf" });
  const t = await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => {
    const runs = [...window.__panoptesRuns.values()];
    resolve({ drawn: performance.now(), queriesDone: Math.max(...runs.map((r) => r.doneAt)), slowestQuery: Math.max(...runs.flatMap((r) => r.queries.map((q) => q.ms))), series: runs.reduce((a, r) => a + r.queries.reduce((b, q) => b + q.series, 0), 0), points: runs.reduce((a, r) => a + r.queries.reduce((b, q) => b + q.points, 0), 0) });
  }))));
  if (t.series !== 200) fail(`bench: expected 200 series, got ${t.series}`);
  bench.pointsPerSeries = Math.round(t.points / 200);
  // The first run warms the server's and the browser's caches.
  if (run > 0) bench.runs.push({ totalMs: Math.round(t.drawn), queriesDoneMs: Math.round(t.queriesDone), slowestQueryMs: Math.round(t.slowestQuery), drawAfterQueriesMs: Math.round(t.drawn - t.queriesDone) });
}
await page.screenshot({ path: join(artifacts, "bench-20x10.png"), fullPage: true });
const median = (k) => [...bench.runs.map((r) => r[k])].sort((a, b) => a - b)[Math.floor(bench.runs.length / 2)];
bench.medianMs = median("totalMs");
bench.medianQueriesDoneMs = median("queriesDoneMs");
bench.medianDrawAfterQueriesMs = median("drawAfterQueriesMs");

await browser.close();
const summary = { pages, explore, editor, silence, dashboards, bench, failures };
writeFileSync(join(artifacts, "summary.json"), JSON.stringify(summary, null, 2));
console.log("SUMMARY " + JSON.stringify(summary));
process.exit(failures.length ? 1 : 0);
