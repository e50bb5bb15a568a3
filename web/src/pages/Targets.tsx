// Targets: every scrape pool with its targets' health, labels, last scrape and error, filterable
// by state and text (the filter is kept in the URL).

import { promGet } from "../lib/api";
import { setQuery, useLocation } from "../lib/router";
import { Badge, ButtonGroup, Callout, DataTable, LabelChips, Spinner, ago, useAsync } from "../components/ui";
import { useState } from "preact/hooks";

interface Target {
  discoveredLabels: Record<string, string>;
  labels: Record<string, string>;
  scrapePool: string;
  scrapeUrl: string;
  globalUrl?: string;
  lastError: string;
  lastScrape: string;
  lastScrapeDuration: number;
  health: "up" | "down" | "unknown";
  scrapeInterval?: string;
  scrapeTimeout?: string;
}

export function Targets(props: { tick: number }) {
  const { query } = useLocation();
  const state = (query.get("state") ?? "all") as "all" | "unhealthy";
  const search = query.get("search") ?? "";
  const { data, error, loading } = useAsync(() => promGet<{ activeTargets: Target[]; droppedTargets: unknown[] }>("/api/v1/targets?state=active"), [props.tick]);
  const [collapsed, setCollapsed] = useState<Set<string>>(new Set());
  const targets = (data?.activeTargets ?? []).filter(
    (t) => (state === "all" || t.health !== "up") && (!search || JSON.stringify(t.labels).includes(search) || t.scrapeUrl.includes(search)),
  );
  const pools = new Map<string, Target[]>();
  for (const t of data?.activeTargets ?? []) if (!pools.has(t.scrapePool)) pools.set(t.scrapePool, []);
  for (const t of targets) pools.get(t.scrapePool)!.push(t);
  return (
    <div class="page">
      <div class="row">
        <ButtonGroup value={state} options={[{ value: "all", label: "All" }, { value: "unhealthy", label: "Unhealthy" }]} onChange={(v) => setQuery({ state: v === "all" ? undefined : v })} />
        <input class="input" style={{ width: "320px" }} placeholder="Filter by endpoint or labels" value={search} onInput={(e) => setQuery({ search: (e.target as HTMLInputElement).value || undefined })} />
        {loading && <Spinner />}
      </div>
      {error && <Callout kind="error">{error}</Callout>}
      {data && pools.size === 0 && <div class="empty card">No scrape targets are configured.</div>}
      {[...pools.entries()].map(([pool, list]) => {
        const all = (data?.activeTargets ?? []).filter((t) => t.scrapePool === pool);
        const up = all.filter((t) => t.health === "up").length;
        const isCollapsed = collapsed.has(pool);
        return (
          <section class="card" key={pool} data-testid="target-pool">
            <div
              class="collapsible-head"
              onClick={() => {
                const n = new Set(collapsed);
                if (n.has(pool)) n.delete(pool);
                else n.add(pool);
                setCollapsed(n);
              }}
            >
              <span class="muted">{isCollapsed ? "▸" : "▾"}</span>
              <h3 style={{ margin: 0 }}>{pool}</h3>
              <Badge kind={up === all.length ? "up" : "down"}>
                {up} / {all.length} up
              </Badge>
            </div>
            {!isCollapsed && (
              <DataTable
                columns={[
                  { key: "endpoint", title: "Endpoint", width: "28%", render: (t) => <a href={t.scrapeUrl} class="mono" target="_blank" rel="noreferrer">{t.scrapeUrl}</a>, sortValue: (t) => t.scrapeUrl },
                  { key: "state", title: "State", render: (t) => <Badge kind={t.health}>{t.health.toUpperCase()}</Badge>, sortValue: (t) => t.health },
                  { key: "labels", title: "Labels", render: (t) => <LabelChips labels={t.labels} /> },
                  { key: "last", title: "Last scrape", render: (t) => ago(t.lastScrape), sortValue: (t) => Date.parse(t.lastScrape) || 0 },
                  { key: "dur", title: "Duration", numeric: true, render: (t) => `${(t.lastScrapeDuration * 1000).toFixed(1)} ms`, sortValue: (t) => t.lastScrapeDuration },
                  { key: "err", title: "Error", render: (t) => t.lastError && <span style={{ color: "var(--error-text)" }}>{t.lastError}</span> },
                ]}
                rows={list}
                rowKey={(t) => t.scrapeUrl + JSON.stringify(t.labels)}
                empty="No targets match the filter"
              />
            )}
          </section>
        );
      })}
    </div>
  );
}
