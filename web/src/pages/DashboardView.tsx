// A dashboard: variables bar, toolbar (time range, refresh, add panel, save, settings/JSON,
// export, versions, report of unsupported features), the 24-column grid with collapsible and
// repeated rows and panels, and the panel editor. Sources: the dashboard API (/d/<uid>), a new
// empty dashboard, or a local preview of imported JSON that needs no server store.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiError, dashboardVersions, getDashboard, restoreDashboardVersion, saveDashboard, type DashboardEnvelope, type DashboardVersion } from "../lib/api";
import { dragged, layoutDashboard, placePanel, readDashboard, type Dashboard, type GridPos, type Panel, type Report } from "../lib/dashboard";
import { ALL } from "../lib/interpolate";
import { navigate, setQuery, useLocation } from "../lib/router";
import { runRegistry } from "../lib/panelquery";
import { formatDateTime } from "../lib/time";
import { setTimeRange, type TimeState } from "../lib/timecontext";
import { repeatValues, resolveVariables, scopeOf, type ResolvedVariable } from "../lib/variables";
import { PanelView } from "../panels/PanelView";
import { RefreshPicker, TimePicker } from "../components/TimePicker";
import { Badge, Button, Callout, Dropdown, Link, Modal, Spinner, toast } from "../components/ui";
import { Icon } from "../components/icons";

export type DashboardSource = { kind: "uid"; uid: string } | { kind: "new" } | { kind: "preview" };

export const PREVIEW_KEY = "panoptes.preview";

const EMPTY: Dashboard = { title: "New dashboard", panels: [], templating: { list: [] }, time: { from: "now-6h", to: "now" }, schemaVersion: 39, tags: [] };

interface Loaded {
  dashboard: Dashboard;
  report: Report;
  meta?: DashboardEnvelope["meta"];
}

export function DashboardPage(props: { source: DashboardSource; time: TimeState }) {
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [error, setError] = useState<string | null>(null);
  const sourceKey = JSON.stringify(props.source);
  useEffect(() => {
    setLoaded(null);
    setError(null);
    (async () => {
      try {
        if (props.source.kind === "uid") {
          const env = await getDashboard(props.source.uid);
          const { dashboard, report } = readDashboard(env.dashboard);
          setLoaded({ dashboard, report, meta: env.meta });
        } else if (props.source.kind === "preview") {
          const text = sessionStorage.getItem(PREVIEW_KEY);
          if (!text) throw new Error("nothing to preview: import a dashboard first");
          setLoaded({ ...readDashboard(JSON.parse(text)) });
        } else {
          setLoaded({ dashboard: structuredClone(EMPTY), report: { dashboard: [], panels: [] } });
        }
      } catch (e) {
        setError(e instanceof ApiError && e.status === 404 ? `Dashboard not found (${e.message})` : (e as Error).message);
      }
    })();
  }, [sourceKey]);
  if (error)
    return (
      <div class="page">
        <Callout kind="error">{error}</Callout>
        <div>
          <Link href="/dashboards" class="btn">
            Back to dashboards
          </Link>
        </div>
      </div>
    );
  if (!loaded)
    return (
      <div class="page">
        <Spinner />
      </div>
    );
  return <DashboardEditor key={sourceKey} initial={loaded} source={props.source} time={props.time} />;
}

function DashboardEditor(props: { initial: Loaded; source: DashboardSource; time: TimeState }) {
  const { query } = useLocation();
  const [dash, setDash] = useState<Dashboard>(props.initial.dashboard);
  const [dirty, setDirty] = useState(props.source.kind !== "uid");
  const [vars, setVars] = useState<ResolvedVariable[] | null>(null);
  const [toggled, setToggled] = useState<Set<string>>(new Set());
  const [modal, setModal] = useState<null | { kind: "json" } | { kind: "panel"; index: number } | { kind: "save" } | { kind: "versions" } | { kind: "report" } | { kind: "inspect"; panel: Panel }>(null);
  const { time } = props;
  const report = props.initial.report;
  const readOnly = props.initial.meta?.provisioned === true || props.initial.meta?.canSave === false;

  // The dashboard's own default time range applies when the URL does not name one.
  useEffect(() => {
    if (!query.get("from") && dash.time && (dash.time.from !== time.raw.from || dash.time.to !== time.raw.to)) setQuery({ from: dash.time.from, to: dash.time.to });
    if (!query.get("refresh") && typeof dash.refresh === "string" && dash.refresh) setQuery({ refresh: dash.refresh });
    runRegistry.clear();
  }, []);

  const varParams = (dash.templating?.list ?? []).map((v) => `${v.name}=${query.getAll(`var-${v.name}`).join(",")}`).join("&");
  const refreshesOnTime = (dash.templating?.list ?? []).some((v) => v.type === "query" && v.refresh === 2);
  useEffect(() => {
    let cancelled = false;
    resolveVariables(dash.templating?.list ?? [], time.range, (name) => query.getAll(`var-${name}`)).then((r) => !cancelled && setVars(r));
    return () => {
      cancelled = true;
    };
  }, [varParams, JSON.stringify(dash.templating), refreshesOnTime ? `${time.range.from}-${time.range.to}` : time.raw.from + time.raw.to]);

  // Moving a panel by its header or resizing it by its corner, in grid cells (editable only).
  const gridRef = useRef<HTMLDivElement>(null);
  const [drag, setDrag] = useState<null | { index: number; kind: "move" | "resize"; x0: number; y0: number; from: GridPos; to: GridPos }>(null);
  const startDrag = (e: PointerEvent, index: number, kind: "move" | "resize") => {
    const target = e.target as HTMLElement;
    if (kind === "move" && (!target.closest(".panel-head") || target.closest("button, .dropdown, .panel-icon"))) return;
    e.preventDefault();
    (e.currentTarget as HTMLElement).setPointerCapture(e.pointerId);
    const from = dash.panels[index].gridPos;
    setDrag({ index, kind, x0: e.clientX, y0: e.clientY, from, to: from });
  };
  const moveDrag = (e: PointerEvent) => {
    if (!drag || !gridRef.current) return;
    const { dx, dy } = gridCells(gridRef.current, e.clientX - drag.x0, e.clientY - drag.y0);
    setDrag({ ...drag, to: dragged(drag.from, drag.kind, dx, dy) });
  };
  const endDrag = () => {
    if (!drag) return;
    setDrag(null);
    const { index, from, to } = drag;
    if (to.x === from.x && to.y === from.y && to.w === from.w && to.h === from.h) return;
    update({ ...dash, panels: placePanel(dash.panels, index, to) });
  };

  const byName = useMemo(() => new Map((vars ?? []).map((v) => [v.def.name, v])), [vars]);
  const items = useMemo(() => layoutDashboard(dash.panels, { valuesOf: (n) => repeatValues(byName.get(n)), toggled }), [dash.panels, byName, toggled]);
  const issuesByTitle = new Map(report.panels.map((p) => [p.title, p.issues]));

  const update = (next: Dashboard) => {
    setDash(next);
    setDirty(true);
  };
  const zoom = (from: number, to: number) => setTimeRange({ from: String(from), to: String(to) });
  const exportJson = () => JSON.stringify({ ...dash, id: null }, null, 2);
  const download = () => {
    const blob = new Blob([exportJson()], { type: "application/json" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `${(dash.title || "dashboard").replace(/[^\w-]+/g, "-")}-${Date.now()}.json`;
    a.click();
    URL.revokeObjectURL(a.href);
  };
  const addPanel = () => {
    const maxY = Math.max(0, ...dash.panels.map((p) => p.gridPos.y + p.gridPos.h));
    const id = Math.max(0, ...dash.panels.map((p) => p.id ?? 0)) + 1;
    const panel: Panel = { id, type: "timeseries", title: "New panel", gridPos: { x: 0, y: maxY, w: 12, h: 8 }, targets: [{ refId: "A", expr: "", legendFormat: "" }], fieldConfig: { defaults: {}, overrides: [] }, options: { legend: { displayMode: "list", placement: "bottom", calcs: [] } } };
    update({ ...dash, panels: [...dash.panels, panel] });
    setModal({ kind: "panel", index: dash.panels.length });
  };
  const addRow = () => {
    const maxY = Math.max(0, ...dash.panels.map((p) => p.gridPos.y + p.gridPos.h));
    const id = Math.max(0, ...dash.panels.map((p) => p.id ?? 0)) + 1;
    update({ ...dash, panels: [...dash.panels, { id, type: "row", title: "Row title", collapsed: false, gridPos: { x: 0, y: maxY, w: 24, h: 1 }, panels: [] }] });
  };
  const panelIndex = (p: Panel) => dash.panels.indexOf(p);
  const totalIssues = report.dashboard.length + report.panels.reduce((a, p) => a + p.issues.length, 0);

  return (
    <div style={{ display: "flex", flexDirection: "column", minWidth: 0 }}>
      <header class="topbar">
        <Link href="/dashboards" class="crumb">
          Dashboards
        </Link>
        <span class="crumb">/</span>
        <div class="title" data-testid="dashboard-title">
          {dash.title}
        </div>
        {props.source.kind === "preview" && <Badge kind="warn">preview, not saved</Badge>}
        {readOnly && <Badge kind="neutral" title="Provisioned from a file: read-only here, as in Grafana">provisioned</Badge>}
        {dirty && props.source.kind !== "preview" && <Badge kind="pending">unsaved changes</Badge>}
        <span class="spacer" />
        {totalIssues > 0 && (
          <Button size="sm" onClick={() => setModal({ kind: "report" })} data-testid="report-button" title="What this dashboard uses that Panoptes does not render">
            <Icon name="warning" /> {totalIssues} unsupported
          </Button>
        )}
        <Dropdown label={<><Icon name="plus" /> Add</>} title="Add a panel or a row">
          {(close) => (
            <>
              <button class="item" onClick={() => (close(), addPanel())} data-testid="add-panel">
                Visualization
              </button>
              <button class="item" onClick={() => (close(), addRow())}>
                Row
              </button>
            </>
          )}
        </Dropdown>
        <Button variant="primary" onClick={() => setModal({ kind: "save" })} disabled={readOnly} data-testid="save-dashboard" title={readOnly ? "Provisioned dashboards are read-only; save a copy instead" : "Save the dashboard"}>
          Save
        </Button>
        <Dropdown label={<Icon name="more" />} title="More">
          {(close) => (
            <>
              <button class="item" onClick={() => (close(), setModal({ kind: "json" }))}>
                Settings / JSON model
              </button>
              <button class="item" onClick={() => (close(), download())}>
                Export JSON file
              </button>
              <button class="item" onClick={() => (close(), navigator.clipboard?.writeText(exportJson()), toast("Dashboard JSON copied"))}>
                Copy JSON
              </button>
              {props.source.kind === "uid" && (
                <button class="item" onClick={() => (close(), setModal({ kind: "versions" }))} data-testid="versions-menu">
                  Versions
                </button>
              )}
            </>
          )}
        </Dropdown>
        <TimePicker time={time} />
        <RefreshPicker time={time} />
      </header>
      <div class="page" style={{ gap: "10px" }}>
        {report.dashboard.length > 0 && (
          <Callout kind="warning">
            {report.dashboard.join("; ")}
          </Callout>
        )}
        <VariablesBar vars={vars} />
        {dash.panels.length === 0 && (
          <div class="card empty">
            This dashboard is empty. <Button variant="primary" onClick={addPanel}>Add a visualization</Button>
          </div>
        )}
        {vars && (
          <div class={`grid ${drag ? "dragging" : ""}`} data-testid="dashboard-grid" ref={gridRef}>
            {items.map((it) => {
              const draggedHere = drag && drag.index === panelIndex(it.panel) && it.panel.type !== "row";
              const pos = draggedHere ? { ...it.pos, w: drag.to.w, h: drag.to.h, x: drag.to.x, y: it.pos.y + drag.to.y - drag.from.y } : it.pos;
              const style = { gridColumn: `${pos.x + 1} / span ${pos.w}`, gridRow: `${Math.max(0, pos.y) + 1} / span ${pos.h}` };
              const scope = scopeOf(vars, it.scoped);
              if (it.panel.type === "row") {
                const count = it.panel.collapsed ? (it.panel.panels ?? []).length : undefined;
                return (
                  <div
                    key={it.key}
                    class={`dash-row ${it.collapsed ? "collapsed" : ""}`}
                    style={style}
                    data-testid="dashboard-row"
                    onClick={() => {
                      const n = new Set(toggled);
                      if (n.has(it.key)) n.delete(it.key);
                      else n.add(it.key);
                      setToggled(n);
                    }}
                  >
                    <span class="chev">▾</span>
                    {Object.keys(it.scoped).length ? interpolateTitle(it.panel.title ?? "", scope) : interpolateTitle(it.panel.title ?? "", scope)}
                    {it.collapsed && count !== undefined && <span class="count">({count} panels)</span>}
                  </div>
                );
              }
              const idx = panelIndex(it.panel);
              const movable = idx >= 0 && !readOnly && !it.panel.repeat;
              return (
                <div
                  key={it.key}
                  class={`grid-item ${draggedHere ? "dragged" : ""} ${movable ? "movable" : ""}`}
                  style={{ ...style, display: "flex", minWidth: 0, minHeight: 0 }}
                  data-testid="grid-item"
                  data-grid-pos={`${it.pos.x},${it.pos.y},${it.pos.w},${it.pos.h}`}
                  onPointerDown={movable ? (e) => startDrag(e as unknown as PointerEvent, idx, "move") : undefined}
                  onPointerMove={movable ? (e) => moveDrag(e as unknown as PointerEvent) : undefined}
                  onPointerUp={movable ? endDrag : undefined}
                  onPointerCancel={movable ? () => setDrag(null) : undefined}
                >
                  <PanelView
                    panelKey={it.key}
                    panel={it.panel}
                    scope={scope}
                    range={time.range}
                    tick={time.tick}
                    onZoom={zoom}
                    extraIssues={issuesByTitle.get(it.panel.title || `(untitled ${it.panel.type})`)}
                    onView={() => setModal({ kind: "inspect", panel: it.panel })}
                    onEdit={idx >= 0 ? () => setModal({ kind: "panel", index: idx }) : undefined}
                    onRemove={idx >= 0 ? () => update({ ...dash, panels: dash.panels.filter((_, j) => j !== idx) }) : undefined}
                  />
                  {movable && (
                    <span
                      class="resize-handle"
                      title="Drag to resize"
                      data-testid="panel-resize"
                      onPointerDown={(e) => {
                        e.stopPropagation();
                        startDrag(e as unknown as PointerEvent, idx, "resize");
                      }}
                    />
                  )}
                </div>
              );
            })}
          </div>
        )}
      </div>
      {modal?.kind === "json" && <JsonModel dash={dash} onClose={() => setModal(null)} onApply={(d) => (update(d), setModal(null))} />}
      {modal?.kind === "panel" && <PanelEditor panel={dash.panels[modal.index]} onClose={() => setModal(null)} onApply={(p) => (update({ ...dash, panels: dash.panels.map((x, j) => (j === modal.index ? p : x)) }), setModal(null))} />}
      {modal?.kind === "save" && <SaveModal dash={dash} source={props.source} onClose={() => setModal(null)} onSaved={(saved) => (setDash({ ...dash, id: saved.id ?? dash.id, uid: saved.uid, version: saved.version }), setDirty(false), setModal(null), props.source.kind !== "uid" && navigate(`/d/${saved.uid}`))} />}
      {modal?.kind === "versions" && props.source.kind === "uid" && <Versions uid={props.source.uid} readOnly={readOnly} onClose={() => setModal(null)} />}
      {modal?.kind === "report" && <ReportModal report={report} onClose={() => setModal(null)} />}
      {modal?.kind === "inspect" && <Inspect panel={modal.panel} onClose={() => setModal(null)} />}
    </div>
  );
}

function interpolateTitle(title: string, scope: ReturnType<typeof scopeOf>): string {
  return title.replace(/\$(\w+)|\$\{(\w+)\}/g, (w, a, b) => {
    const v = scope[a ?? b];
    if (!v) return w;
    return v.values.includes(ALL) ? "All" : v.values.join(", ");
  });
}

function VariablesBar(props: { vars: ResolvedVariable[] | null }) {
  const { query } = useLocation();
  if (!props.vars) return <Spinner />;
  const shown = props.vars.filter((v) => v.def.hide !== 2 && v.def.type !== "constant");
  if (shown.length === 0) return null;
  const set = (name: string, values: string[]) => setQuery({ [`var-${name}`]: values }, false);
  return (
    <div class="vars" data-testid="variables">
      {shown.map((v) => (
        <div class="label-inline" key={v.def.name} title={v.error}>
          {v.def.hide !== 1 && <span>{v.def.label || v.def.name}</span>}
          {v.def.type === "textbox" ? (
            <input class="input" value={query.get(`var-${v.def.name}`) ?? v.current[0] ?? ""} onChange={(e) => set(v.def.name, [(e.target as HTMLInputElement).value])} />
          ) : v.def.multi ? (
            <MultiSelect v={v} onChange={(vals) => set(v.def.name, vals)} />
          ) : (
            <select class="input" value={v.current[0] ?? ""} onChange={(e) => set(v.def.name, [(e.target as HTMLSelectElement).value])} data-testid={`var-${v.def.name}`}>
              {v.def.includeAll && <option value={ALL}>All</option>}
              {v.options.map((o) => (
                <option key={o.value} value={o.value}>
                  {o.text}
                </option>
              ))}
              {v.options.length === 0 && !v.def.includeAll && <option value="">{v.error ? "error" : "No options"}</option>}
            </select>
          )}
          {v.error && <span style={{ color: "var(--error-text)" }}>!</span>}
        </div>
      ))}
    </div>
  );
}

function MultiSelect(props: { v: ResolvedVariable; onChange: (values: string[]) => void }) {
  const { v } = props;
  const isAll = v.current.includes(ALL);
  const label = isAll ? "All" : v.current.map((c) => v.options.find((o) => o.value === c)?.text ?? c).join(" + ") || "None";
  const toggle = (value: string) => {
    if (value === ALL) return props.onChange([ALL]);
    const base = isAll ? [] : v.current;
    const next = base.includes(value) ? base.filter((x) => x !== value) : [...base, value];
    props.onChange(next.length ? next : v.def.includeAll ? [ALL] : []);
  };
  return (
    <Dropdown label={<span style={{ maxWidth: "260px", overflow: "hidden", textOverflow: "ellipsis" }}>{label} ▾</span>} align="left" buttonClass="ghost">
      {() => (
        <>
          {v.def.includeAll && (
            <button class={`item ${isAll ? "selected" : ""}`} onClick={() => toggle(ALL)}>
              <input type="checkbox" checked={isAll} readOnly /> All
            </button>
          )}
          {v.options.map((o) => (
            <button key={o.value} class={`item ${!isAll && v.current.includes(o.value) ? "selected" : ""}`} onClick={() => toggle(o.value)}>
              <input type="checkbox" checked={!isAll && v.current.includes(o.value)} readOnly /> {o.text}
            </button>
          ))}
        </>
      )}
    </Dropdown>
  );
}

function JsonModel(props: { dash: Dashboard; onClose: () => void; onApply: (d: Dashboard) => void }) {
  const [title, setTitle] = useState(props.dash.title);
  const [tags, setTags] = useState((props.dash.tags ?? []).join(", "));
  const [text, setText] = useState(JSON.stringify(props.dash, null, 2));
  const [error, setError] = useState("");
  const apply = () => {
    try {
      const parsed = JSON.parse(text);
      const { dashboard } = readDashboard(parsed);
      const changedMeta = title !== props.dash.title || tags !== (props.dash.tags ?? []).join(", ");
      if (changedMeta) {
        dashboard.title = title;
        dashboard.tags = tags.split(",").map((t) => t.trim()).filter(Boolean);
      }
      props.onApply(dashboard);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return (
    <Modal title="Dashboard settings" onClose={props.onClose} wide footer={<><Button onClick={props.onClose}>Cancel</Button><Button variant="primary" onClick={apply}>Apply</Button></>}>
      <div class="row">
        <div class="field grow">
          <label>Title</label>
          <input class="input" value={title} onInput={(e) => setTitle((e.target as HTMLInputElement).value)} />
        </div>
        <div class="field grow">
          <label>Tags (comma separated)</label>
          <input class="input" value={tags} onInput={(e) => setTags((e.target as HTMLInputElement).value)} />
        </div>
      </div>
      <div class="field">
        <label>JSON model</label>
        <textarea class="input" rows={24} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} spellcheck={false} />
      </div>
      {error && <Callout kind="error">{error}</Callout>}
    </Modal>
  );
}

const PANEL_TYPES = ["timeseries", "stat", "gauge", "bargauge", "table", "heatmap", "text", "piechart"];

function PanelEditor(props: { panel: Panel; onClose: () => void; onApply: (p: Panel) => void }) {
  const [p, setP] = useState<Panel>(structuredClone(props.panel));
  const [json, setJson] = useState<string | null>(null);
  const [error, setError] = useState("");
  const defaults = p.fieldConfig?.defaults ?? {};
  const setDefaults = (d: Record<string, unknown>) => setP({ ...p, fieldConfig: { ...(p.fieldConfig ?? {}), defaults: { ...defaults, ...d } } });
  const targets = p.targets ?? [];
  const setTarget = (i: number, t: Record<string, unknown>) => setP({ ...p, targets: targets.map((x, j) => (j === i ? { ...x, ...t } : x)) });
  const apply = () => {
    if (json !== null) {
      try {
        props.onApply(JSON.parse(json));
      } catch (e) {
        setError((e as Error).message);
      }
      return;
    }
    props.onApply(p);
  };
  return (
    <Modal title="Edit panel" onClose={props.onClose} wide footer={<><Button onClick={props.onClose}>Cancel</Button><Button variant="primary" onClick={apply} data-testid="apply-panel">Apply</Button></>}>
      <div class="row">
        <Button size="sm" onClick={() => setJson(json === null ? JSON.stringify(p, null, 2) : null)}>{json === null ? "Edit as JSON" : "Back to form"}</Button>
      </div>
      {json !== null ? (
        <textarea class="input" rows={26} value={json} onInput={(e) => setJson((e.target as HTMLTextAreaElement).value)} spellcheck={false} />
      ) : (
        <>
          <div class="row">
            <div class="field grow">
              <label>Title</label>
              <input class="input" value={p.title ?? ""} onInput={(e) => setP({ ...p, title: (e.target as HTMLInputElement).value })} data-testid="panel-title-input" />
            </div>
            <div class="field">
              <label>Visualization</label>
              <select class="input" value={p.type} onChange={(e) => setP({ ...p, type: (e.target as HTMLSelectElement).value })}>
                {PANEL_TYPES.map((t) => (
                  <option key={t}>{t}</option>
                ))}
              </select>
            </div>
            <div class="field">
              <label>Unit</label>
              <input class="input" style={{ width: "120px" }} value={defaults.unit ?? ""} placeholder="short, bytes, s…" onInput={(e) => setDefaults({ unit: (e.target as HTMLInputElement).value || undefined })} />
            </div>
            <div class="field">
              <label>Decimals</label>
              <input class="input" style={{ width: "80px" }} value={defaults.decimals ?? ""} onInput={(e) => { const v = (e.target as HTMLInputElement).value; setDefaults({ decimals: v === "" ? undefined : Number(v) }); }} />
            </div>
            <div class="field">
              <label>Width (of 24)</label>
              <input class="input" style={{ width: "80px" }} type="number" min={1} max={24} value={p.gridPos.w} onInput={(e) => setP({ ...p, gridPos: { ...p.gridPos, w: Number((e.target as HTMLInputElement).value) || 12 } })} />
            </div>
            <div class="field">
              <label>Height</label>
              <input class="input" style={{ width: "80px" }} type="number" min={2} value={p.gridPos.h} onInput={(e) => setP({ ...p, gridPos: { ...p.gridPos, h: Number((e.target as HTMLInputElement).value) || 8 } })} />
            </div>
          </div>
          {p.type === "text" ? (
            <div class="field">
              <label>Content (Markdown)</label>
              <textarea class="input" rows={8} value={p.options?.content ?? ""} onInput={(e) => setP({ ...p, options: { ...(p.options ?? {}), mode: "markdown", content: (e.target as HTMLTextAreaElement).value } })} />
            </div>
          ) : (
            <>
              {targets.map((t, i) => (
                <div class="card" key={i} style={{ padding: "10px", display: "flex", flexDirection: "column", gap: "8px" }}>
                  <div class="row">
                    <strong>{t.refId ?? String.fromCharCode(65 + i)}</strong>
                    <span class="grow" />
                    <label class="small row" style={{ gap: "4px" }}>
                      <input type="checkbox" checked={!!t.instant} onChange={(e) => setTarget(i, { instant: (e.target as HTMLInputElement).checked, range: !(e.target as HTMLInputElement).checked })} /> Instant
                    </label>
                    <Button size="sm" onClick={() => setP({ ...p, targets: targets.filter((_, j) => j !== i) })}>Remove</Button>
                  </div>
                  <textarea class="input" rows={3} value={t.expr ?? ""} placeholder="PromQL expression" onInput={(e) => setTarget(i, { expr: (e.target as HTMLTextAreaElement).value })} data-testid="panel-expr-input" />
                  <div class="row">
                    <label class="label-inline grow">
                      <span>Legend</span>
                      <input class="input grow" value={t.legendFormat ?? ""} placeholder="{{label}}" onInput={(e) => setTarget(i, { legendFormat: (e.target as HTMLInputElement).value })} />
                    </label>
                    <label class="label-inline">
                      <span>Min interval</span>
                      <input class="input" style={{ width: "80px" }} value={t.interval ?? ""} placeholder="auto" onInput={(e) => setTarget(i, { interval: (e.target as HTMLInputElement).value })} />
                    </label>
                  </div>
                </div>
              ))}
              <div>
                <Button size="sm" onClick={() => setP({ ...p, targets: [...targets, { refId: String.fromCharCode(65 + targets.length), expr: "" }] })}>+ Add query</Button>
              </div>
            </>
          )}
        </>
      )}
      {error && <Callout kind="error">{error}</Callout>}
    </Modal>
  );
}

function SaveModal(props: { dash: Dashboard; source: DashboardSource; onClose: () => void; onSaved: (saved: { id?: number; uid: string; version: number }) => void }) {
  const [message, setMessage] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const save = async (overwrite: boolean) => {
    setBusy(true);
    try {
      const body = props.source.kind === "uid" ? props.dash : { ...props.dash, id: null };
      const r = await saveDashboard(body, message, overwrite);
      toast(`Dashboard saved (version ${r.version})`);
      // The next save must name the version just stored, or the server answers 412.
      props.onSaved(r);
    } catch (e) {
      const err = e as ApiError;
      setError(err.status === 404 || err.status === 405 ? "This server has no dashboard store (the dashboard API is not available). Export the JSON instead." : err.message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal
      title={`Save "${props.dash.title}"`}
      onClose={props.onClose}
      footer={
        <>
          <Button onClick={props.onClose}>Cancel</Button>
          {error && /changed|version|exists/i.test(error) && <Button variant="danger" onClick={() => save(true)}>Overwrite</Button>}
          <Button variant="primary" disabled={busy} onClick={() => save(false)} data-testid="confirm-save">
            Save
          </Button>
        </>
      }
    >
      <div class="field">
        <label>Message (optional, kept in the version history)</label>
        <input class="input" value={message} onInput={(e) => setMessage((e.target as HTMLInputElement).value)} />
      </div>
      {error && <Callout kind="error">{error}</Callout>}
    </Modal>
  );
}

function Versions(props: { uid: string; readOnly: boolean; onClose: () => void }) {
  const [list, setList] = useState<DashboardVersion[] | null>(null);
  const [error, setError] = useState("");
  const restore = async (version: number) => {
    try {
      const r = await restoreDashboardVersion(props.uid, version);
      toast(`Restored version ${version} as version ${r.version}`);
      // The editor holds the dashboard it loaded: load the restored one afresh.
      location.reload();
    } catch (e) {
      setError((e as Error).message);
    }
  };
  useEffect(() => {
    dashboardVersions(props.uid).then(setList, (e) => setError(e.message));
  }, [props.uid]);
  return (
    <Modal title="Versions" onClose={props.onClose}>
      {error && <Callout kind="error">{error}</Callout>}
      {!list && !error && <Spinner />}
      {list && (
        <table class="table">
          <thead>
            <tr>
              <th>Version</th>
              <th>Date</th>
              <th>By</th>
              <th>Message</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.map((v, k) => (
              <tr key={v.id} data-testid="dashboard-version">
                <td>{v.version}</td>
                <td>{Number.isNaN(Date.parse(v.created)) ? v.created : formatDateTime(Date.parse(v.created))}</td>
                <td>{v.createdBy}</td>
                <td>{v.message}</td>
                <td>
                  {k > 0 && !props.readOnly && (
                    <Button size="sm" onClick={() => restore(v.version)} data-testid="restore-version">
                      Restore
                    </Button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Modal>
  );
}

function ReportModal(props: { report: Report; onClose: () => void }) {
  return (
    <Modal title="Not rendered as in Grafana" onClose={props.onClose}>
      <p class="muted small" style={{ margin: 0 }}>
        Everything else in this dashboard is rendered. These parts are kept in the JSON (and in exports) but are not shown or applied.
      </p>
      {props.report.dashboard.length > 0 && (
        <div>
          <h3>Dashboard</h3>
          <ul class="issues">
            {props.report.dashboard.map((i) => (
              <li key={i}>{i}</li>
            ))}
          </ul>
        </div>
      )}
      {props.report.panels.map((p, k) => (
        <div key={k}>
          <h3>{p.title}</h3>
          <ul class="issues">
            {p.issues.map((i) => (
              <li key={i}>{i}</li>
            ))}
          </ul>
        </div>
      ))}
    </Modal>
  );
}

function Inspect(props: { panel: Panel; onClose: () => void }) {
  const runs = [...runRegistry.values()].filter((r) => r.title === (props.panel.title ?? "") || r.type === props.panel.type);
  return (
    <Modal title={`Inspect: ${props.panel.title ?? ""}`} onClose={props.onClose} wide>
      <h3>Queries (last run)</h3>
      {runs.slice(0, 1).flatMap((r) =>
        r.queries.map((q) => (
          <div key={q.refId} class="card" style={{ padding: "8px" }}>
            <div class="row">
              <strong>{q.refId}</strong>
              <span class="muted small">{q.series} series · {Math.round(q.ms)} ms</span>
              {q.error && <Badge kind="err">error</Badge>}
              <span class="grow" />
              <Link href={`/explore?g0.expr=${encodeURIComponent(q.expr)}&g0.tab=graph`} class="btn sm">
                Open in Explore
              </Link>
            </div>
            <pre class="config" style={{ marginTop: "6px" }}>{q.expr}</pre>
            {q.error && <Callout kind="error">{q.error}</Callout>}
          </div>
        )),
      )}
      <h3>Panel JSON</h3>
      <pre class="config">{JSON.stringify(props.panel, null, 2)}</pre>
    </Modal>
  );
}

/** A pointer movement in pixels as whole grid cells (24 columns; rows of 30 px and 8 px gaps). */
function gridCells(grid: HTMLElement, dxPx: number, dyPx: number): { dx: number; dy: number } {
  const style = getComputedStyle(grid);
  const gap = parseFloat(style.columnGap) || 8;
  const rowHeight = parseFloat(style.gridAutoRows) || 30;
  const column = (grid.clientWidth + gap) / 24;
  return { dx: Math.round(dxPx / column), dy: Math.round(dyPx / (rowHeight + gap)) };
}
