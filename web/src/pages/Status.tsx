// Status: build and runtime information, command-line flags, the loaded configuration and the
// TSDB's head cardinality (series by metric name, label value counts, memory by label).

import { promGet } from "../lib/api";
import { setQuery, useLocation } from "../lib/router";
import { formatDateTime } from "../lib/time";
import { formatText } from "../lib/units";
import { Callout, Card, DataTable, Tabs, useAsync } from "../components/ui";

type Tab = "runtime" | "tsdb" | "config" | "flags";

export function Status(props: { tick: number }) {
  const { query } = useLocation();
  const tab = (query.get("tab") ?? "runtime") as Tab;
  return (
    <div class="page">
      <Tabs<Tab>
        value={tab}
        options={[
          { value: "runtime", label: "Runtime & build" },
          { value: "tsdb", label: "TSDB status" },
          { value: "config", label: "Configuration" },
          { value: "flags", label: "Command-line flags" },
        ]}
        onChange={(t) => setQuery({ tab: t === "runtime" ? undefined : t })}
      />
      {tab === "runtime" && <Runtime tick={props.tick} />}
      {tab === "tsdb" && <Tsdb tick={props.tick} />}
      {tab === "config" && <Config />}
      {tab === "flags" && <Flags />}
    </div>
  );
}

function KV(props: { data: Record<string, unknown> }) {
  return (
    <dl class="kv">
      {Object.entries(props.data).map(([k, v]) => [<dt key={k + "k"}>{k}</dt>, <dd key={k + "v"}>{typeof v === "object" ? JSON.stringify(v) : String(v)}</dd>])}
    </dl>
  );
}

function Runtime(props: { tick: number }) {
  const build = useAsync(() => promGet<Record<string, string>>("/api/v1/status/buildinfo"), []);
  const runtime = useAsync(() => promGet<Record<string, unknown>>("/api/v1/status/runtimeinfo"), [props.tick]);
  return (
    <div class="row" style={{ alignItems: "flex-start" }}>
      <Card title="Build information" class="grow">
        {build.error ? <Callout kind="error">{build.error}</Callout> : build.data && <KV data={build.data} />}
      </Card>
      <Card title="Runtime information" class="grow">
        {runtime.error ? <Callout kind="error">{runtime.error}</Callout> : runtime.data && <KV data={runtime.data} />}
      </Card>
    </div>
  );
}

interface Stat {
  name: string;
  value: number;
}
interface TsdbStatus {
  headStats: { numSeries: number; numLabelPairs: number; chunkCount: number; minTime: number; maxTime: number };
  seriesCountByMetricName: Stat[];
  labelValueCountByLabelName: Stat[];
  memoryInBytesByLabelName: Stat[];
  seriesCountByLabelValuePair: Stat[];
}

function StatTable(props: { title: string; rows: Stat[]; unit?: string; total?: number }) {
  return (
    <Card title={props.title} bodyClass="">
      <DataTable
        columns={[
          { key: "name", title: "Name", render: (r) => <span class="mono">{r.name}</span>, sortValue: (r) => r.name },
          { key: "value", title: "Count", numeric: true, render: (r) => formatText(r.value, props.unit ?? "locale"), sortValue: (r) => r.value },
          ...(props.total ? [{ key: "pct", title: "Share", numeric: true, render: (r: Stat) => `${((r.value / props.total!) * 100).toFixed(1)}%` }] : []),
        ]}
        rows={props.rows ?? []}
        rowKey={(r) => r.name}
        initialSort={{ key: "value", desc: true }}
      />
    </Card>
  );
}

function Tsdb(props: { tick: number }) {
  const { data, error } = useAsync(() => promGet<TsdbStatus>("/api/v1/status/tsdb?limit=20"), [props.tick]);
  if (error) return <Callout kind="error">{error}</Callout>;
  if (!data) return null;
  const h = data.headStats;
  return (
    <div style={{ display: "flex", flexDirection: "column", gap: "16px" }} data-testid="tsdb-status">
      <Card title="Head block">
        <dl class="kv">
          <dt>Series</dt>
          <dd>{h.numSeries.toLocaleString()}</dd>
          <dt>Label pairs</dt>
          <dd>{h.numLabelPairs?.toLocaleString()}</dd>
          <dt>Chunks</dt>
          <dd>{h.chunkCount?.toLocaleString()}</dd>
          <dt>Time range</dt>
          <dd>{h.numSeries ? `${formatDateTime(h.minTime)} — ${formatDateTime(h.maxTime)}` : "empty"}</dd>
        </dl>
      </Card>
      <div style={{ display: "grid", gridTemplateColumns: "repeat(2, minmax(0, 1fr))", gap: "16px" }}>
        <StatTable title="Top series count by metric name" rows={data.seriesCountByMetricName} total={h.numSeries} />
        <StatTable title="Top label names with value count" rows={data.labelValueCountByLabelName} />
        <StatTable title="Top label names by memory" rows={data.memoryInBytesByLabelName} unit="bytes" />
        <StatTable title="Top series count by label value pair" rows={data.seriesCountByLabelValuePair} total={h.numSeries} />
      </div>
    </div>
  );
}

function Config() {
  const { data, error } = useAsync(() => promGet<{ yaml: string }>("/api/v1/status/config"), []);
  if (error) return <Callout kind="error">{error}</Callout>;
  return (
    <Card title="Loaded configuration" actions={data && <button class="btn sm" onClick={() => navigator.clipboard?.writeText(data.yaml)}>Copy</button>}>
      <pre class="config" data-testid="config-yaml">{data?.yaml}</pre>
    </Card>
  );
}

function Flags() {
  const { data, error } = useAsync(() => promGet<Record<string, string>>("/api/v1/status/flags"), []);
  const { query } = useLocation();
  const filter = query.get("filter") ?? "";
  if (error) return <Callout kind="error">{error}</Callout>;
  const rows = Object.entries(data ?? {}).filter(([k, v]) => !filter || k.includes(filter) || v.includes(filter));
  return (
    <Card title="Command-line flags" actions={<input class="input" placeholder="Filter" value={filter} onInput={(e) => setQuery({ filter: (e.target as HTMLInputElement).value || undefined })} />} bodyClass="">
      <DataTable columns={[{ key: "k", title: "Flag", render: (r) => <span class="mono">--{r[0]}</span>, sortValue: (r) => r[0] }, { key: "v", title: "Value", render: (r) => <span class="mono">{r[1]}</span> }]} rows={rows} rowKey={(r) => r[0]} initialSort={{ key: "k" }} />
    </Card>
  );
}
