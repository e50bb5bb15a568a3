// Explore: PromQL queries, each with a graph (range query over the shared time range) or a
// table (instant query at the range's end). The queries and their tabs live in the URL
// (g0.expr, g0.tab, …), so a view can be shared by copying the address.

import { useEffect, useState } from "preact/hooks";
import { instantQuery, rangeQuery, type QueryData } from "../lib/api";
import { alignFrames, toFrames } from "../lib/frames";
import { PALETTE } from "../lib/fields";
import { seriesName } from "../lib/interpolate";
import { setQuery, useLocation } from "../lib/router";
import { formatDuration, parseDuration, stepFor } from "../lib/time";
import { setTimeRange, type TimeState } from "../lib/timecontext";
import { PromQLEditor } from "../components/PromQLEditor";
import { TimeSeriesChart } from "../components/TimeSeriesChart";
import { Button, ButtonGroup, Callout, DataTable, LabelChips, Spinner } from "../components/ui";

interface QueryPanel {
  expr: string;
  tab: "graph" | "table";
  stacked: boolean;
  step: string;
}

function readPanels(q: URLSearchParams): QueryPanel[] {
  const out: QueryPanel[] = [];
  for (let i = 0; i < 20; i++) {
    const expr = q.get(`g${i}.expr`);
    if (expr === null) break;
    out.push({ expr, tab: q.get(`g${i}.tab`) === "table" ? "table" : "graph", stacked: q.get(`g${i}.stacked`) === "1", step: q.get(`g${i}.step`) ?? "" });
  }
  return out.length ? out : [{ expr: "", tab: "graph", stacked: false, step: "" }];
}

function writePanels(panels: QueryPanel[]): void {
  const params: Record<string, string | undefined> = {};
  for (let i = 0; i < 20; i++) {
    const p = panels[i];
    params[`g${i}.expr`] = p?.expr;
    params[`g${i}.tab`] = p ? p.tab : undefined;
    params[`g${i}.stacked`] = p?.stacked ? "1" : undefined;
    params[`g${i}.step`] = p?.step || undefined;
  }
  setQuery(params, false);
}

export function Explore(props: { time: TimeState }) {
  const { query } = useLocation();
  const panels = readPanels(query);
  const update = (i: number, p: Partial<QueryPanel>) => writePanels(panels.map((x, j) => (j === i ? { ...x, ...p } : x)));
  return (
    <div class="page">
      {panels.map((p, i) => (
        <QueryCard
          key={i}
          index={i}
          panel={p}
          time={props.time}
          onChange={(np) => update(i, np)}
          onRemove={panels.length > 1 ? () => writePanels(panels.filter((_, j) => j !== i)) : undefined}
        />
      ))}
      <div>
        <Button onClick={() => writePanels([...panels, { expr: "", tab: "graph", stacked: false, step: "" }])}>Add query</Button>
      </div>
    </div>
  );
}

interface Result {
  data?: QueryData;
  warnings: string[];
  error?: string;
  loading: boolean;
  ms?: number;
  stepMs?: number;
}

function QueryCard(props: { index: number; panel: QueryPanel; time: TimeState; onChange: (p: Partial<QueryPanel>) => void; onRemove?: () => void }) {
  const { panel, time } = props;
  const [draft, setDraft] = useState(panel.expr);
  const [result, setResult] = useState<Result>({ warnings: [], loading: false });
  const [runNonce, setRunNonce] = useState(0);

  useEffect(() => {
    if (!panel.expr.trim()) {
      setResult({ warnings: [], loading: false });
      return;
    }
    const ctrl = new AbortController();
    const started = performance.now();
    setResult((r) => ({ ...r, loading: true }));
    const stepMs = (panel.step && parseDuration(panel.step)) || stepFor(time.range);
    const run = panel.tab === "graph" ? rangeQuery(panel.expr, time.range.from, time.range.to, stepMs, ctrl.signal) : instantQuery(panel.expr, time.range.to, ctrl.signal);
    run.then(
      (r) => setResult({ data: r.data, warnings: r.warnings, loading: false, ms: performance.now() - started, stepMs }),
      (e) => e.name !== "AbortError" && setResult({ error: e.message, warnings: [], loading: false }),
    );
    return () => ctrl.abort();
  }, [panel.expr, panel.tab, panel.step, time.range.from, time.range.to, time.tick, runNonce]);

  const execute = (expr: string = draft) => {
    setDraft(expr);
    // The same expression again runs again (the data may have changed since).
    if (expr === panel.expr) setRunNonce((n) => n + 1);
    else props.onChange({ expr });
  };

  const seriesCount = result.data ? (Array.isArray(result.data.result) && result.data.resultType !== "scalar" && result.data.resultType !== "string" ? result.data.result.length : 1) : 0;

  return (
    <section class="card" data-testid={`query-${props.index}`}>
      <div class="card-body" style={{ display: "flex", flexDirection: "column", gap: "10px" }}>
        <div class="query-row">
          <PromQLEditor value={panel.expr} onChange={setDraft} onRun={execute} autoFocus={props.index === 0} />
          <Button variant="primary" onClick={() => execute()} data-testid="run-query">
            Run query
          </Button>
          {props.onRemove && (
            <Button icon onClick={props.onRemove} title="Remove this query">
              ✕
            </Button>
          )}
        </div>
        <div class="row">
          <ButtonGroup value={panel.tab} options={[{ value: "graph", label: "Graph" }, { value: "table", label: "Table" }]} onChange={(tab) => props.onChange({ tab })} />
          {panel.tab === "graph" && (
            <>
              <label class="label-inline">
                <span>Step</span>
                <input class="input" style={{ width: "80px" }} placeholder={result.stepMs ? formatDuration(result.stepMs) : "auto"} value={panel.step} onChange={(e) => props.onChange({ step: (e.target as HTMLInputElement).value })} />
              </label>
              <label class="row small" style={{ gap: "4px" }}>
                <input type="checkbox" checked={panel.stacked} onChange={(e) => props.onChange({ stacked: (e.target as HTMLInputElement).checked })} /> Stacked
              </label>
            </>
          )}
          <span class="grow" />
          {result.loading && <Spinner />}
          {result.ms !== undefined && !result.loading && (
            <span class="small muted" data-testid="query-stats">
              {seriesCount} series · {Math.round(result.ms)} ms{result.stepMs && panel.tab === "graph" ? ` · step ${formatDuration(result.stepMs)}` : ""}
            </span>
          )}
        </div>
        {result.error && <Callout kind="error">{result.error}</Callout>}
        {result.warnings.map((w) => (
          <Callout key={w} kind="warning">
            {w}
          </Callout>
        ))}
        {result.data && panel.tab === "graph" && <GraphView data={result.data} stacked={panel.stacked} time={time} />}
        {result.data && panel.tab === "table" && <TableView data={result.data} />}
        {!result.data && !result.error && !panel.expr && <div class="muted small">Type an expression, e.g. <code>rate(prometheus_http_requests_total[5m])</code>, then press Enter. Completion offers metric names, labels, values and functions.</div>}
      </div>
    </section>
  );
}

function GraphView(props: { data: QueryData; stacked: boolean; time: TimeState }) {
  if (props.data.resultType !== "matrix") return <Callout kind="info">This expression returns a {props.data.resultType}; switch to the table to see it, or use a range query.</Callout>;
  if (props.data.result.length === 0) return <div class="empty">No data in this time range</div>;
  const frames = toFrames(props.data, "A");
  const aligned = alignFrames(frames);
  const series = frames.map((f, i) => ({ name: seriesName(f.labels), values: aligned.values[i], color: PALETTE[i % PALETTE.length], fillOpacity: props.stacked ? 30 : 0, lineWidth: 1.5 }));
  return (
    <div style={{ height: "420px", display: "flex" }} data-testid="explore-graph">
      <TimeSeriesChart
        timestamps={aligned.timestamps}
        series={series}
        stacking={props.stacked ? "normal" : "none"}
        xRange={props.time.range}
        legend={{ show: true, mode: "list", placement: "bottom" }}
        onZoom={(from, to) => setTimeRange({ from: String(from), to: String(to) })}
      />
    </div>
  );
}

function TableView(props: { data: QueryData }) {
  const d = props.data;
  if (d.resultType === "scalar" || d.resultType === "string") {
    return (
      <div class="mono" data-testid="explore-table">
        {d.resultType}: {d.result[1]}
      </div>
    );
  }
  if (d.resultType === "vector") {
    return (
      <div data-testid="explore-table">
        <DataTable
          columns={[
            { key: "series", title: "Series", render: (r) => <SeriesLabel labels={r.metric} />, sortValue: (r) => seriesName(r.metric) },
            { key: "value", title: "Value", numeric: true, render: (r) => <span class="mono">{r.value[1]}</span>, sortValue: (r) => parseFloat(r.value[1]) },
          ]}
          rows={d.result}
          rowKey={(r) => seriesName(r.metric)}
          empty="Empty query result"
          maxHeight="60vh"
        />
      </div>
    );
  }
  return (
    <div data-testid="explore-table">
      <DataTable
        columns={[
          { key: "series", title: "Series", render: (r) => <SeriesLabel labels={r.metric} />, sortValue: (r) => seriesName(r.metric) },
          {
            key: "values",
            title: "Values",
            render: (r) => (
              <div class="mono small">
                {r.values.slice(-20).map(([t, v]) => (
                  <div key={t}>
                    {v} @{t}
                  </div>
                ))}
                {r.values.length > 20 && <div class="muted">… {r.values.length - 20} earlier samples</div>}
              </div>
            ),
          },
        ]}
        rows={d.result}
        rowKey={(r) => seriesName(r.metric)}
        empty="Empty query result"
        maxHeight="60vh"
      />
    </div>
  );
}

function SeriesLabel(props: { labels: Record<string, string> }) {
  const name = props.labels.__name__;
  return (
    <div class="row" style={{ gap: "6px" }}>
      {name && <strong class="mono">{name}</strong>}
      <LabelChips labels={props.labels} omit={["__name__"]} />
    </div>
  );
}
