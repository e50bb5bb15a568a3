// One dashboard panel: the header (title, description, per-panel report of unsupported features
// and query errors, menu) and its visualization, re-querying when the range, variables or
// refresh tick change.

import { useEffect, useRef, useState } from "preact/hooks";
import type { Panel } from "../lib/dashboard";
import { panelIssues } from "../lib/dashboard";
import { interpolate, type Scope } from "../lib/interpolate";
import { runPanelQueries, runRegistry, type PanelResult } from "../lib/panelquery";
import type { TimeRange } from "../lib/time";
import { Dropdown } from "../components/ui";
import { BarGaugeViz, GaugeViz, HeatmapViz, PieViz, StatViz, TableViz, TextViz, TimeseriesViz, type VizProps } from "./viz";

const VIZ: Record<string, (p: VizProps) => any> = {
  timeseries: TimeseriesViz,
  stat: StatViz,
  gauge: GaugeViz,
  bargauge: BarGaugeViz,
  table: TableViz,
  heatmap: HeatmapViz,
  text: TextViz,
  piechart: PieViz,
};

export interface PanelViewProps {
  panelKey: string;
  panel: Panel;
  scope: Scope;
  range: TimeRange;
  tick: number;
  onZoom: (from: number, to: number) => void;
  onEdit?: () => void;
  onRemove?: () => void;
  onView?: () => void;
  /** Issues found when the dashboard was read (migrations), added to the panel's own. */
  extraIssues?: string[];
}

export function PanelView(props: PanelViewProps) {
  const { panel } = props;
  const host = useRef<HTMLDivElement>(null);
  const [result, setResult] = useState<PanelResult | null>(null);
  const [loading, setLoading] = useState(false);
  const [failed, setFailed] = useState<string | null>(null);
  const scopeKey = JSON.stringify(props.scope);
  const queriesKey = JSON.stringify([panel.targets, panel.interval, panel.maxDataPoints]);
  const interp = (s: string) => interpolate(s, props.scope);
  const title = interp(panel.title ?? "");
  const needsQueries = panel.type !== "text" && VIZ[panel.type] !== undefined;

  useEffect(() => {
    if (!needsQueries) {
      runRegistry.set(props.panelKey, { title, type: panel.type, queries: [], done: true });
      return;
    }
    const ctrl = new AbortController();
    setLoading(true);
    runRegistry.set(props.panelKey, { title, type: panel.type, queries: [], done: false });
    const width = host.current?.clientWidth ?? 600;
    runPanelQueries(panel, props.scope, props.range, width, ctrl.signal).then(
      (r) => {
        setResult(r);
        setFailed(null);
        setLoading(false);
        runRegistry.set(props.panelKey, { title, type: panel.type, queries: r.queries, done: true, doneAt: performance.now() });
      },
      (e) => {
        if (e.name === "AbortError") return;
        setFailed(String(e.message ?? e));
        setLoading(false);
        runRegistry.set(props.panelKey, { title, type: panel.type, queries: [{ refId: "?", expr: "", error: String(e.message ?? e), series: 0, points: 0, ms: 0 }], done: true });
      },
    );
    return () => ctrl.abort();
  }, [queriesKey, scopeKey, props.range.from, props.range.to, props.tick, panel.type]);

  useEffect(() => () => void runRegistry.delete(props.panelKey), [props.panelKey]);

  const Viz = VIZ[panel.type];
  const issues = [...(props.extraIssues ?? []), ...panelIssues(panel).filter((i) => !(props.extraIssues ?? []).includes(i))];
  const errors = (result?.queries ?? []).filter((q) => q.error).map((q) => `${q.refId}: ${q.error}`);
  if (failed) errors.push(failed);
  return (
    <div class={`panel ${panel.transparent ? "transparent" : ""}`} ref={host} data-testid="panel" data-panel-type={panel.type} data-panel-title={title}>
      <div class="panel-head">
        {loading && <div class="panel-loading" />}
        <span class="panel-title" title={title}>
          {title}
        </span>
        {panel.description && (
          <span class="panel-icon info" title={interp(panel.description)}>
            i
          </span>
        )}
        {issues.length > 0 && (
          <span class="panel-icon warn" title={`Not rendered as in Grafana:\n• ${issues.join("\n• ")}`} data-testid="panel-issues">
            !
          </span>
        )}
        {errors.length > 0 && (
          <span class="panel-icon err" title={errors.join("\n")} data-testid="panel-error">
            ✕
          </span>
        )}
        {(props.onEdit || props.onView) && (
          <Dropdown label="⋮" buttonClass="ghost sm" title="Panel menu">
            {(close) => (
              <>
                {props.onView && (
                  <button class="item" onClick={() => (close(), props.onView!())}>
                    View / inspect
                  </button>
                )}
                {props.onEdit && (
                  <button class="item" onClick={() => (close(), props.onEdit!())}>
                    Edit
                  </button>
                )}
                {props.onRemove && (
                  <button class="item" onClick={() => (close(), props.onRemove!())}>
                    Remove
                  </button>
                )}
              </>
            )}
          </Dropdown>
        )}
      </div>
      <div class="panel-body">
        {!Viz ? (
          <div class="nodata" style={{ flexDirection: "column", gap: "6px", textAlign: "center" }}>
            <strong>Panel type "{panel.type}" is not supported</strong>
            <span class="small">Its queries are kept and exported unchanged.</span>
          </div>
        ) : errors.length > 0 && (result?.frames.length ?? 0) === 0 ? (
          <div class="nodata" style={{ color: "var(--error-text)", padding: "8px", textAlign: "center" }}>
            {errors[0]}
          </div>
        ) : needsQueries && !result ? (
          <div class="nodata" />
        ) : (
          <Viz panel={panel} frames={result?.frames ?? []} range={props.range} onZoom={props.onZoom} interpolate={interp} />
        )}
      </div>
    </div>
  );
}
