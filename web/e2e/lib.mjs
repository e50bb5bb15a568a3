// Helpers shared by the browser tests (ui.mjs, demo.mjs): Chromium launch, console error
// collection, failure list and the dashboard checks (rows expanded, panels settled, a report of
// panels, queries and failures from the UI's run registry `window.__panoptesRuns`).

import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

/** Opens Debian's Chromium headless with one 1280×800 page; fails the run after `limitMs`. */
export async function openBrowser(limitMs = 10 * 60 * 1000) {
  // A renderer stuck in a loop would hang Playwright calls that have no timeout of their own
  // (keyboard input, evaluate): fail the whole run instead of waiting forever.
  setTimeout(() => {
    console.error(`FAIL the browser test did not finish within ${limitMs / 60000} minutes (a page is stuck?)`);
    process.exit(2);
  }, limitMs).unref();
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  return { browser, context, page };
}

/** The artifacts directory (PANOPTES_ARTIFACTS), created. */
export function artifactsDir(fallback) {
  const dir = process.env.PANOPTES_ARTIFACTS ?? fallback;
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A list of failures; `fail` records one and prints it. */
export function failureList() {
  const failures = [];
  return { failures, fail: (what) => (failures.push(what), console.error(`FAIL ${what}`)) };
}

/**
 * Collects the page's console errors and uncaught exceptions into `errors.list` (reset it between
 * checks); `ignore(message, url)` returning true drops an expected one.
 */
export function collectConsoleErrors(page, ignore = () => false) {
  const errors = { list: [] };
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    const url = msg.location()?.url ?? "";
    if (ignore(msg.text(), url)) return;
    errors.list.push(`${msg.text()} (${url})`);
  });
  page.on("pageerror", (err) => errors.list.push(`uncaught: ${err.message}`));
  return errors;
}

/** Waits until every panel's queries are done and the set of runs is stable for 0.7 s. */
export async function waitForPanels(page, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  let stableSince = 0;
  let last = "";
  while (Date.now() < deadline) {
    const state = await page.evaluate(() => {
      const runs = [...(window.__panoptesRuns?.values() ?? [])];
      return JSON.stringify({ n: runs.length, done: runs.filter((r) => r.done).length });
    });
    const s = JSON.parse(state);
    if (s.n > 0 && s.n === s.done) {
      if (state === last) {
        if (Date.now() - stableSince > 700) return true;
      } else stableSince = Date.now();
    }
    last = state;
    await page.waitForTimeout(100);
  }
  return false;
}

/** Opens every collapsed row (repeatedly: opening one may reveal more). */
export async function expandRows(page) {
  for (let i = 0; i < 50; i++) {
    const collapsed = page.locator("[data-testid=dashboard-row].collapsed");
    if ((await collapsed.count()) === 0) return;
    await collapsed.first().click();
    await page.waitForTimeout(50);
  }
}

/**
 * Expands the rows of the dashboard on the page, waits for its panels and reports: panels shown,
 * panels with data, queries, failed queries, panels with unsupported features, whether it settled.
 */
export async function dashboardReport(page, name) {
  await page.waitForSelector("[data-testid=dashboard-grid]", { timeout: 30000 });
  await expandRows(page);
  const settled = await waitForPanels(page);
  await page.waitForTimeout(300);
  const runs = await page.evaluate(() => [...window.__panoptesRuns.entries()].map(([key, r]) => ({ key, ...r })));
  const panels = await page.locator("[data-testid=panel]").count();
  const panelsWithUnsupported = await page.locator("[data-testid=panel-issues]").count();
  const queries = runs.flatMap((r) => r.queries.map((q) => ({ panel: r.title, ...q })));
  const failed = queries.filter((q) => q.error);
  const panelsWithData = runs.filter((r) => r.queries.some((q) => q.series > 0)).length;
  return {
    dashboard: name,
    panels,
    panelsWithData,
    panelsQueried: runs.length,
    queries: queries.length,
    failures: failed.map((q) => `${q.panel} ${q.refId}: ${q.error}`),
    panelsWithUnsupported,
    settled,
  };
}
