// The dashboard list (Grafana's /api/search, filtered by text and tag) and the import page
// (a JSON file or pasted JSON, as exported from Grafana or grafana.com): the import shows what
// will not be rendered before saving it through /api/dashboards/import, or previews it locally.

import { useState } from "preact/hooks";
import { ApiError, deleteDashboard, importDashboard, searchDashboards } from "../lib/api";
import { readDashboard, type Report } from "../lib/dashboard";
import { navigate, setQuery, useLocation } from "../lib/router";
import { Badge, Button, Callout, Link, Spinner, toast, useAsync } from "../components/ui";
import { PREVIEW_KEY } from "./DashboardView";
import { Icon } from "../components/icons";

export function DashboardList() {
  const { query } = useLocation();
  const search = query.get("query") ?? "";
  const tag = query.get("tag") ?? "";
  const { data, error, loading, reload } = useAsync(() => searchDashboards(), []);
  const notServed = error && /404|not found/i.test(error);
  const hits = (data ?? []).filter((h) => h.type === "dash-db" && (!search || h.title.toLowerCase().includes(search.toLowerCase())) && (!tag || h.tags.includes(tag)));
  const folders = new Map<string, typeof hits>();
  for (const h of hits) {
    const f = h.folderTitle || "General";
    if (!folders.has(f)) folders.set(f, []);
    folders.get(f)!.push(h);
  }
  const remove = async (uid: string, title: string) => {
    if (!confirm(`Delete dashboard "${title}"?`)) return;
    try {
      await deleteDashboard(uid);
      toast(`Deleted "${title}"`);
      reload();
    } catch (e) {
      toast((e as Error).message, "error");
    }
  };
  return (
    <div class="page">
      <div class="row">
        <input class="input" style={{ width: "360px" }} placeholder="Search dashboards by name" value={search} onInput={(e) => setQuery({ query: (e.target as HTMLInputElement).value || undefined })} data-testid="dashboard-search" />
        {tag && (
          <Button size="sm" onClick={() => setQuery({ tag: undefined })}>
            tag: {tag} ✕
          </Button>
        )}
        {loading && <Spinner />}
        <span class="grow" />
        <Link href="/dashboard/new" class="btn primary">
          <Icon name="plus" /> New dashboard
        </Link>
        <Link href="/dashboard/import" class="btn">
          Import
        </Link>
      </div>
      {notServed ? <Callout kind="info">This server does not store dashboards yet (no /api/search). You can still import a dashboard JSON and preview it.</Callout> : error && <Callout kind="error">{error}</Callout>}
      {data && hits.length === 0 && <div class="card empty">No dashboards{search || tag ? " match the filter" : " yet. Create one or import a Grafana dashboard JSON."}</div>}
      {[...folders.entries()].map(([folder, list]) => (
        <section class="card" key={folder} data-testid="dashboard-folder">
          <div class="card-header">
            <span class="muted"><Icon name="folder" /></span>
            <h3 style={{ margin: 0 }}>{folder}</h3>
            <span class="muted small">{list.length}</span>
          </div>
          <div class="list">
            {list.map((h) => (
              <div class="list-item" key={h.uid}>
                <span class="muted"><Icon name="dashboards" /></span>
                <Link href={`/d/${encodeURIComponent(h.uid)}`} class="grow">
                  {h.title}
                </Link>
                <div class="labels">
                  {h.tags.map((t) => (
                    <span key={t} class="label-chip" style={{ cursor: "pointer" }} onClick={() => setQuery({ tag: t })}>
                      {t}
                    </span>
                  ))}
                </div>
                <Button size="sm" variant="ghost" title="Delete" onClick={() => remove(h.uid, h.title)}>
                  <Icon name="trash" />
                </Button>
              </div>
            ))}
          </div>
        </section>
      ))}
    </div>
  );
}

export function DashboardImport() {
  const [text, setText] = useState("");
  const [parsed, setParsed] = useState<{ json: any; title: string; panels: number; report: Report } | null>(null);
  const [error, setError] = useState("");
  const [overwrite, setOverwrite] = useState(false);
  const [busy, setBusy] = useState(false);
  const load = (t: string) => {
    setText(t);
    setError("");
    setParsed(null);
    if (!t.trim()) return;
    try {
      const json = JSON.parse(t);
      const { dashboard, report } = readDashboard(json);
      const count = (ps: any[]): number => ps.reduce((a, p) => a + (p.type === "row" ? count(p.panels ?? []) : 1), 0);
      setParsed({ json: json.dashboard && typeof json.dashboard === "object" ? json.dashboard : json, title: dashboard.title, panels: count(dashboard.panels), report });
    } catch (e) {
      setError(e instanceof SyntaxError ? `invalid JSON: ${e.message}` : (e as Error).message);
    }
  };
  const onFile = async (e: Event) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) load(await f.text());
  };
  const doImport = async () => {
    if (!parsed) return;
    setBusy(true);
    try {
      const r = await importDashboard({ ...parsed.json, id: null }, overwrite);
      toast(`Imported "${parsed.title}"`);
      navigate(`/d/${encodeURIComponent(r.uid)}`);
    } catch (e) {
      const err = e as ApiError;
      setError(err.status === 404 || err.status === 405 ? "This server has no dashboard store (the dashboard API is not available): use Preview instead." : err.message);
    } finally {
      setBusy(false);
    }
  };
  const preview = () => {
    if (!parsed) return;
    sessionStorage.setItem(PREVIEW_KEY, JSON.stringify(parsed.json));
    navigate("/dashboard/preview");
  };
  const issues = parsed ? parsed.report.dashboard.length + parsed.report.panels.reduce((a, p) => a + p.issues.length, 0) : 0;
  return (
    <div class="page" style={{ maxWidth: "1100px" }}>
      <section class="card">
        <div class="card-body" style={{ display: "flex", flexDirection: "column", gap: "12px" }}>
          <h2>Import a dashboard</h2>
          <p class="muted" style={{ margin: 0 }}>
            Upload or paste Grafana dashboard JSON (exported from Grafana or downloaded from grafana.com). Legacy graph and singlestat panels are converted; anything not supported is listed below, panel by panel.
          </p>
          <div class="row">
            <label class="btn">
              Upload JSON file
              <input type="file" accept=".json,application/json" style={{ display: "none" }} onChange={onFile} data-testid="import-file" />
            </label>
          </div>
          <textarea class="input" rows={14} placeholder="Paste dashboard JSON here" value={text} onInput={(e) => load((e.target as HTMLTextAreaElement).value)} spellcheck={false} data-testid="import-json" />
          {error && <Callout kind="error">{error}</Callout>}
        </div>
      </section>
      {parsed && (
        <section class="card" data-testid="import-summary">
          <div class="card-header">
            <h3 style={{ margin: 0, flex: 1 }}>{parsed.title}</h3>
            <Badge kind="neutral">{parsed.panels} panels</Badge>
            <Badge kind={issues ? "warn" : "ok"}>{issues ? `${issues} unsupported` : "fully supported"}</Badge>
          </div>
          <div class="card-body" style={{ display: "flex", flexDirection: "column", gap: "10px" }}>
            {parsed.report.dashboard.map((i) => (
              <Callout key={i} kind="warning">
                {i}
              </Callout>
            ))}
            {parsed.report.panels.map((p, k) => (
              <div key={k}>
                <strong>{p.title}</strong>
                <ul class="issues">
                  {p.issues.map((i) => (
                    <li key={i}>{i}</li>
                  ))}
                </ul>
              </div>
            ))}
            <div class="row">
              <label class="row small" style={{ gap: "4px" }}>
                <input type="checkbox" checked={overwrite} onChange={(e) => setOverwrite((e.target as HTMLInputElement).checked)} /> Overwrite a dashboard with the same uid
              </label>
              <span class="grow" />
              <Button onClick={preview} data-testid="import-preview">
                Preview
              </Button>
              <Button variant="primary" onClick={doImport} disabled={busy} data-testid="import-save">
                Import
              </Button>
            </div>
          </div>
        </section>
      )}
    </div>
  );
}
