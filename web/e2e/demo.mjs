// Browser test of `panoptes demo` (started by crates/panoptes/tests/ui_demo.rs with the ratings
// fault off): playwright-core drives Debian's Chromium headless through what a newcomer sees.
//
// 1. The Targets page shows every target up; the provisioned mesh dashboard shows traffic; Istio's
//    mesh dashboard, imported through the import page into the store, renders with data; no
//    query fails. A fault injected through the demo's control API fires IstioHigh5xxRate, shown
//    on the Alerts page and in the mesh dashboard's 5xx panel. Times are measured from the
//    demo's start (PANOPTES_STARTED_MS). Then every other dashboard of PANOPTES_DASHBOARDS is
//    imported the same way and rendered: a report per dashboard (panels, panels with data,
//    queries, failures, the panels without data).
// 2. The dashboard store through the UI against Grafana's API: search, provisioned dashboards
//    read-only, edit and save twice (versions increment), a conflicting save shown to the user
//    and overwritten, versions listed and one restored, a new dashboard created and deleted.
//
// Environment: PANOPTES_URL, PANOPTES_STARTED_MS, PANOPTES_DASHBOARDS, PANOPTES_ARTIFACTS,
// CHROMIUM. Prints one JSON summary line prefixed with "SUMMARY ".

import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { artifactsDir, collectConsoleErrors, dashboardReport, failureList, openBrowser } from "./lib.mjs";

const base = process.env.PANOPTES_URL ?? "http://127.0.0.1:9090";
const started = Number(process.env.PANOPTES_STARTED_MS ?? Date.now());
const dashboardsDir = process.env.PANOPTES_DASHBOARDS;
const artifacts = artifactsDir("target/ui-demo-e2e");
const { failures, fail } = failureList();
const { browser, page } = await openBrowser(8 * 60 * 1000);
const errors = collectConsoleErrors(page);
// Deleting a dashboard asks for confirmation.
page.on("dialog", (dialog) => dialog.accept());
const since = () => Date.now() - started;
const shot = (name, fullPage = false) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage });
const checkConsole = (what) => {
  if (errors.list.length) fail(`${what}: console errors: ${errors.list.join(" | ")}`);
  errors.list = [];
};
async function api(method, path, body) {
  const response = await fetch(base + path, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}
/** Retries `check` (which returns a value or null) until it answers or `deadline` passes. */
async function until(deadline, check, pauseMs = 1000) {
  while (Date.now() < deadline) {
    const value = await check();
    if (value) return value;
    await page.waitForTimeout(pauseMs);
  }
  return null;
}

const timings = {};
const mesh = {};
const store = {};

// --- Targets: every pool's badge reads "n / n up", the seven workloads and the node collector.
const targets = await until(started + 60000, async () => {
  await page.goto(`${base}/targets`, { waitUntil: "networkidle" });
  await page.waitForSelector("[data-testid=target-pool] .badge", { timeout: 10000 }).catch(() => {});
  const badges = await page.locator("[data-testid=target-pool] .collapsible-head .badge").allTextContents();
  const down = await page.locator("[data-testid=target-pool] td .badge:not(.up)").count();
  const allUp = badges.length >= 8 && down === 0 && badges.every((b) => /^\s*(\d+)\s*\/\s*\1\s+up\s*$/.test(b));
  return allUp ? { pools: badges.length, badges } : null;
});
timings.allTargetsUpMs = since();
if (!targets) fail("targets: not every target up within a minute of the demo's start");
await shot("demo-targets", true);
checkConsole("targets");

// --- The provisioned mesh dashboard shows traffic: requests per destination service for the
// four Bookinfo services, no failed query.
let meshReport = await until(started + 90000, async () => {
  await page.goto(`${base}/d/panoptes-mesh?from=now-5m&to=now`, { waitUntil: "networkidle" });
  const report = await dashboardReport(page, "panoptes-mesh");
  const requests = await page.evaluate(() => [...window.__panoptesRuns.values()].find((r) => r.title === "Requests by destination service"));
  report.requestSeries = requests?.queries.reduce((a, q) => a + q.series, 0) ?? 0;
  return report.settled && report.requestSeries >= 4 && report.failures.length === 0 ? report : (mesh.lastTry = report, null);
}, 2000);
timings.trafficOnMeshDashboardMs = since();
if (!meshReport) fail(`mesh dashboard: no traffic within 90 s of the start: ${JSON.stringify(mesh.lastTry)}`);
mesh.provisioned = meshReport;
// The p99 panel draws the latency alert's threshold as a dashed line.
mesh.p99Thresholds = await page.locator("[data-testid=panel][data-panel-title='P99 latency by destination workload'] [data-testid=uplot-container]").getAttribute("data-thresholds").catch(() => null);
if (mesh.p99Thresholds !== "dashed:2") fail(`mesh dashboard: the p99 panel's threshold line is not drawn (${mesh.p99Thresholds})`);
mesh.readOnly = (await page.locator("[data-testid=save-dashboard]").isDisabled()) && (await page.locator(".badge:has-text('provisioned')").count()) === 1;
if (!mesh.readOnly) fail("mesh dashboard: a provisioned dashboard is not shown read-only (Save enabled or no badge)");
await shot("demo-mesh-dashboard", true);
checkConsole("mesh dashboard");

// --- The fault, injected now through the control API: ratings-v1 answers 20% of requests 503.
const fault = await api("PUT", "/api/demo/faults/ratings-v1", { abortPercent: 20, abortCode: 503 });
if (fault.status !== 200) fail(`fault injection answered ${fault.status}: ${JSON.stringify(fault.body)}`);
const faultAt = Date.now();
timings.faultInjectedMs = since();

// --- Istio's mesh dashboard imported through the import page into the store, rendered.
await page.goto(`${base}/dashboard/import`, { waitUntil: "networkidle" });
await page.setInputFiles("[data-testid=import-file]", join(dashboardsDir, "istio-mesh-dashboard.gen.json"));
await page.waitForSelector("[data-testid=import-summary]", { timeout: 10000 });
await page.click("[data-testid=import-save]");
await page.waitForURL(/\/d\//, { timeout: 15000 }).catch(() => fail(`import: no navigation to the stored dashboard (at ${page.url()})`));
const importedUid = decodeURIComponent(new URL(page.url()).pathname.split("/")[2] ?? "");
const istio = await dashboardReport(page, "istio-mesh (imported)");
mesh.istioImported = { uid: importedUid, ...istio };
timings.istioMeshDashboardRenderedMs = since();
if (istio.failures.length) fail(`istio mesh dashboard: failed queries: ${istio.failures.join(" | ")}`);
if (istio.panelsWithData === 0) fail("istio mesh dashboard: no panel with data");
await shot("demo-istio-mesh-dashboard", true);
checkConsole("istio mesh dashboard (imported)");
const stored = await api("GET", `/api/dashboards/uid/${encodeURIComponent(importedUid)}`);
if (stored.status !== 200 || stored.body.meta.version !== 1 || stored.body.meta.provisioned) fail(`import: the store does not hold version 1 of ${importedUid}: ${stored.status} ${JSON.stringify(stored.body?.meta)}`);

// --- The 5xx alert firing on the Alerts page.
const firingSelector = "[data-testid=alert-rules] .collapsible-head:has(strong:text-is('IstioHigh5xxRate')) .badge.firing";
const alertSeen = await until(faultAt + 90000, async () => {
  await page.goto(`${base}/alerts`, { waitUntil: "networkidle" });
  return (await page.locator(firingSelector).count()) > 0;
}, 2000);
timings.alertVisibleMs = since();
timings.alertVisibleAfterFaultMs = Date.now() - faultAt;
if (!alertSeen) fail("alerts: IstioHigh5xxRate not firing on the Alerts page within 90 s of the fault");
const alertText = alertSeen ? await page.locator("[data-testid=alert-rules] > div", { has: page.locator(".collapsible-head strong", { hasText: /^IstioHigh5xxRate$/ }) }).innerText() : "";
mesh.alertText = alertText;
if (alertSeen && !/ratings-v1/.test(alertText)) fail(`alerts: the firing alert does not name ratings-v1: ${alertText}`);
await shot("demo-alerts", true);
checkConsole("alerts");

// The provisioned dashboard's 5xx panel now has ratings-v1.
await page.goto(`${base}/d/panoptes-mesh?from=now-5m&to=now`, { waitUntil: "networkidle" });
const afterFault = await dashboardReport(page, "panoptes-mesh after the fault");
const fivexx = await page.evaluate(() => [...window.__panoptesRuns.values()].find((r) => r.title === "5xx by destination workload"));
mesh.fivexxSeriesAfterFault = fivexx?.queries.reduce((a, q) => a + q.series, 0) ?? 0;
if (mesh.fivexxSeriesAfterFault === 0) fail("mesh dashboard: the 5xx panel has no series after the fault");
if (afterFault.failures.length) fail(`mesh dashboard after the fault: ${afterFault.failures.join(" | ")}`);
await shot("demo-mesh-dashboard-fault", true);
checkConsole("mesh dashboard after the fault");

// --- Every other shared dashboard (Istio's service, workload, performance, extension, pilot
// and ztunnel dashboards), imported the same way and rendered against the demo's data.
const imported = [{ file: "istio-mesh-dashboard.gen.json", ...istio }];
for (const file of readdirSync(dashboardsDir).filter((f) => f.endsWith(".json") && f !== "istio-mesh-dashboard.gen.json").sort()) {
  const name = file.replace(/(\.gen)?\.json$/, "");
  try {
    await page.goto(`${base}/dashboard/import`, { waitUntil: "networkidle" });
    await page.setInputFiles("[data-testid=import-file]", join(dashboardsDir, file));
    await page.waitForSelector("[data-testid=import-summary]", { timeout: 10000 });
    await page.click("[data-testid=import-save]");
    await page.waitForURL(/\/d\//, { timeout: 15000 });
    const report = await dashboardReport(page, name);
    report.file = file;
    report.panelsWithoutData = await page.evaluate(() => [...window.__panoptesRuns.values()].filter((r) => r.queries.length && !r.queries.some((q) => q.series > 0)).map((r) => r.title));
    imported.push(report);
    if (!report.settled) fail(`dashboard ${name}: panels did not finish loading`);
    if (report.panels === 0) fail(`dashboard ${name}: no panel rendered`);
    if (report.failures.length) fail(`dashboard ${name}: ${report.failures.length} failed queries: ${report.failures.join(" | ")}`);
    await shot(`demo-${name}`, true);
  } catch (e) {
    fail(`dashboard ${name}: ${e.message.split("\n")[0]}`);
    await shot(`demo-${name}-failure`, true);
  }
  checkConsole(`dashboard ${name}`);
}
mesh.dashboards = imported;

// --- The dashboard store through the UI.
async function addPanel(title, expr) {
  await page.click("button[title='Add a panel or a row']");
  await page.click("[data-testid=add-panel]");
  await page.fill("[data-testid=panel-title-input]", title);
  await page.fill("[data-testid=panel-expr-input]", expr);
  await page.click("[data-testid=apply-panel]");
  await page.waitForSelector(`[data-testid=panel][data-panel-title='${title}']`, { timeout: 15000 });
}
async function saveInUi() {
  await page.click("[data-testid=save-dashboard]");
  await page.click("[data-testid=confirm-save]");
}
const storedVersion = async (uid) => (await api("GET", `/api/dashboards/uid/${encodeURIComponent(uid)}`)).body?.meta?.version;
const waitVersion = async (uid, version) => (await until(Date.now() + 10000, async () => (await storedVersion(uid)) === version, 200)) === true;

try {
  // Search: the provisioned dashboards and the imported one, filtered by name.
  await page.goto(`${base}/dashboards`, { waitUntil: "networkidle" });
  await page.waitForSelector("[data-testid=dashboard-folder]", { timeout: 10000 });
  const titles = await page.locator("[data-testid=dashboard-folder] .list-item a").allTextContents();
  store.listed = titles;
  for (const t of ["Istio mesh overview", "Istio service", "Istio workload", "Istio Mesh Dashboard"]) if (!titles.some((x) => x.trim() === t)) fail(`dashboard list: "${t}" missing from ${JSON.stringify(titles)}`);
  await shot("demo-dashboards");
  await page.fill("[data-testid=dashboard-search]", "workload");
  await page.waitForFunction(() => [...document.querySelectorAll("[data-testid=dashboard-folder] .list-item a")].every((a) => /workload/i.test(a.textContent)), null, { timeout: 10000 });
  store.searched = await page.locator("[data-testid=dashboard-folder] .list-item a").allTextContents();
  if (!page.url().includes("query=workload")) fail(`dashboard search: the filter is not in the URL (${page.url()})`);
  checkConsole("dashboard list");

  // Edit and save the imported dashboard twice: versions 2 and 3.
  await page.goto(`${base}/d/${encodeURIComponent(importedUid)}`, { waitUntil: "networkidle" });
  await addPanel("Requests per workload", "sum by (destination_workload) (rate(istio_requests_total[$__rate_interval]))");
  await saveInUi();
  store.savedOnce = await waitVersion(importedUid, 2);
  if (!store.savedOnce) fail(`save: the store is not at version 2 (${await storedVersion(importedUid)})`);
  await page.waitForSelector("[data-testid=confirm-save]", { state: "detached", timeout: 5000 });
  await addPanel("5xx per workload", 'sum by (destination_workload) (rate(istio_requests_total{response_code=~"5.."}[$__rate_interval]))');
  await saveInUi();
  store.savedTwice = await waitVersion(importedUid, 3);
  if (!store.savedTwice) fail(`second save: the store is not at version 3 (${await storedVersion(importedUid)}): ${await page.locator(".modal .callout").allTextContents()}`);
  await page.waitForSelector("[data-testid=confirm-save]", { state: "detached", timeout: 5000 }).catch(() => {});

  // Someone else saves (a script through the API): the UI's next save is a conflict, shown with
  // the server's message and an Overwrite button, which saves over it.
  const current = (await api("GET", `/api/dashboards/uid/${encodeURIComponent(importedUid)}`)).body.dashboard;
  const other = await api("POST", "/api/dashboards/db", { dashboard: { ...current, description: "changed by a script" }, message: "script" });
  if (other.status !== 200 || other.body.version !== 4) fail(`script save: ${other.status} ${JSON.stringify(other.body)}`);
  await addPanel("Latency per workload", "histogram_quantile(0.99, sum by (destination_workload, le) (rate(istio_request_duration_milliseconds_bucket[$__rate_interval])))");
  await saveInUi();
  await page.waitForSelector(".modal :text('changed by someone else')", { timeout: 10000 });
  store.conflictShown = true;
  await shot("demo-save-conflict");
  await page.click(".modal button:has-text('Overwrite')");
  store.overwritten = await waitVersion(importedUid, 5);
  if (!store.overwritten) fail(`overwrite: the store is not at version 5 (${await storedVersion(importedUid)})`);
  const after = (await api("GET", `/api/dashboards/uid/${encodeURIComponent(importedUid)}`)).body.dashboard;
  store.panelsAfterOverwrite = after.panels.length;
  if (!after.panels.some((p) => p.title === "Latency per workload")) fail("overwrite: the stored dashboard lacks the panel added in the UI");
  errors.list = errors.list.filter((e) => !/412/.test(e)); // the refused save, logged by the browser as a failed request
  checkConsole("dashboard save");

  // Versions: five listed, newest first; restoring version 2 stores it again as version 6.
  await page.waitForSelector("[data-testid=confirm-save]", { state: "detached", timeout: 5000 }).catch(() => {});
  await page.click("button[title='More']");
  await page.click("[data-testid=versions-menu]");
  await page.waitForSelector("[data-testid=dashboard-version]", { timeout: 10000 });
  const versions = await page.locator("[data-testid=dashboard-version] td:first-child").allTextContents();
  store.versions = versions;
  if (versions.join(",") !== "5,4,3,2,1") fail(`versions: ${versions.join(",")}`);
  await shot("demo-versions");
  await page.locator("[data-testid=dashboard-version]").nth(3).locator("[data-testid=restore-version]").click();
  store.restored = await waitVersion(importedUid, 6);
  await page.waitForLoadState("networkidle");
  const restored = await api("GET", `/api/dashboards/uid/${encodeURIComponent(importedUid)}`);
  const restoredPanels = restored.body.dashboard.panels.map((p) => p.title);
  if (!store.restored || !restoredPanels.includes("Requests per workload") || restoredPanels.includes("5xx per workload")) fail(`restore: version ${restored.body.meta.version} has panels ${restoredPanels.join(", ")}`);
  await page.waitForSelector("[data-testid=panel][data-panel-title='Requests per workload']", { timeout: 15000 });
  if (await page.locator("[data-testid=panel][data-panel-title='5xx per workload']").count()) fail("restore: the page still shows the newer panel");
  checkConsole("versions");

  // A new dashboard: created, saved (the page moves to its uid), then deleted from the list.
  await page.goto(`${base}/dashboard/new`, { waitUntil: "networkidle" });
  await addPanel("Mesh requests", "sum(rate(istio_requests_total[$__rate_interval]))");
  await saveInUi();
  await page.waitForURL(/\/d\//, { timeout: 10000 });
  const newUid = decodeURIComponent(new URL(page.url()).pathname.split("/")[2]);
  store.created = (await storedVersion(newUid)) === 1;
  if (!store.created) fail(`new dashboard: ${newUid} not stored as version 1`);
  await page.goto(`${base}/dashboards?query=New%20dashboard`, { waitUntil: "networkidle" });
  await page.click("[data-testid=dashboard-folder] .list-item:has(a:text-is('New dashboard')) button[title='Delete']");
  await page.waitForSelector("[data-testid=dashboard-folder] .list-item:has(a:text-is('New dashboard'))", { state: "detached", timeout: 10000 });
  store.deleted = (await api("GET", `/api/dashboards/uid/${encodeURIComponent(newUid)}`)).status === 404;
  if (!store.deleted) fail(`delete: ${newUid} still stored`);
  checkConsole("new dashboard");
} catch (e) {
  fail(`dashboard store: ${e.message.split("\n")[0]}`);
  await shot("demo-store-failure");
}

await browser.close();
const summary = { timings, targets, mesh, store, failures };
writeFileSync(join(artifacts, "summary.json"), JSON.stringify(summary, null, 2));
console.log("SUMMARY " + JSON.stringify(summary));
process.exit(failures.length ? 1 : 0);
