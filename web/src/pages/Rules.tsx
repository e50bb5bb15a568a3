// Rules: the rule groups with each recording and alerting rule, its health, last evaluation and
// evaluation time; expressions link to Explore.

import { promGet } from "../lib/api";
import { Badge, Callout, Link, Spinner, ago, useAsync } from "../components/ui";
import { setQuery, useLocation } from "../lib/router";

interface Rule {
  type: "alerting" | "recording";
  name: string;
  query: string;
  health: string;
  lastError?: string;
  state?: string;
  duration?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  evaluationTime: number;
  lastEvaluation: string;
  alerts?: unknown[];
}
interface Group {
  name: string;
  file: string;
  interval: number;
  rules: Rule[];
  evaluationTime: number;
  lastEvaluation: string;
}

export function exploreLink(expr: string): string {
  return `/explore?g0.expr=${encodeURIComponent(expr)}&g0.tab=graph`;
}

export function Rules(props: { tick: number }) {
  const { query } = useLocation();
  const search = query.get("search") ?? "";
  const { data, error, loading } = useAsync(() => promGet<{ groups: Group[] }>("/api/v1/rules"), [props.tick]);
  const groups = (data?.groups ?? []).map((g) => ({ ...g, rules: g.rules.filter((r) => !search || r.name.includes(search) || r.query.includes(search)) })).filter((g) => g.rules.length || !search);
  return (
    <div class="page">
      <div class="row">
        <input class="input" style={{ width: "320px" }} placeholder="Filter by rule name or expression" value={search} onInput={(e) => setQuery({ search: (e.target as HTMLInputElement).value || undefined })} />
        {loading && <Spinner />}
      </div>
      {error && <Callout kind="error">{error}</Callout>}
      {data && groups.length === 0 && <div class="card empty">No rule groups are loaded. Add rule_files to the configuration.</div>}
      {groups.map((g) => (
        <section class="card" key={g.file + g.name} data-testid="rule-group">
          <div class="card-header">
            <h3 style={{ margin: 0 }}>{g.name}</h3>
            <span class="muted small mono">{g.file}</span>
            <span class="grow" />
            <span class="small muted">
              every {g.interval}s · last {ago(g.lastEvaluation)} · took {(g.evaluationTime * 1000).toFixed(1)} ms
            </span>
          </div>
          <div class="list">
            {g.rules.map((r) => (
              <div class="list-item" key={r.name + r.query} style={{ alignItems: "flex-start" }}>
                <div class="grow" style={{ display: "flex", flexDirection: "column", gap: "4px" }}>
                  <div class="row">
                    <Badge kind="neutral">{r.type === "alerting" ? "alert" : "record"}</Badge>
                    <strong>{r.name}</strong>
                    {r.type === "alerting" && <Badge kind={r.state ?? "inactive"}>{r.state}</Badge>}
                  </div>
                  <Link href={exploreLink(r.query)} class="mono small">
                    {r.query}
                  </Link>
                  {r.duration ? <span class="small muted">for {r.duration}s</span> : null}
                  {r.lastError && <span class="small" style={{ color: "var(--error-text)" }}>{r.lastError}</span>}
                </div>
                <div class="small muted" style={{ textAlign: "right", whiteSpace: "nowrap" }}>
                  <Badge kind={r.health === "ok" ? "ok" : r.health === "err" ? "err" : "unknown"}>{r.health}</Badge>
                  <div>{ago(r.lastEvaluation)}</div>
                  <div>{(r.evaluationTime * 1000).toFixed(2)} ms</div>
                </div>
              </div>
            ))}
          </div>
        </section>
      ))}
    </div>
  );
}
