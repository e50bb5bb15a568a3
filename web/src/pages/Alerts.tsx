// Alerts: the alerting rules grouped by state (firing, pending, inactive), each with its active
// alerts, labels, annotations and value; a silence can be started from an alert.

import { promGet } from "../lib/api";
import { Badge, Button, ButtonGroup, Callout, LabelChips, Link, Spinner, ago, useAsync } from "../components/ui";
import { navigate, setQuery, useLocation } from "../lib/router";
import { exploreLink } from "./Rules";
import { useState } from "preact/hooks";

interface Alert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: string;
  activeAt?: string;
  value: string;
}
interface AlertRule {
  type: string;
  name: string;
  query: string;
  state: string;
  alerts: Alert[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  duration: number;
}

export function Alerts(props: { tick: number }) {
  const { query } = useLocation();
  const filter = query.get("state") ?? "all";
  const { data, error, loading } = useAsync(() => promGet<{ groups: { name: string; file: string; rules: AlertRule[] }[] }>("/api/v1/rules?type=alert"), [props.tick]);
  const [open, setOpen] = useState<Set<string>>(new Set());
  const rules = (data?.groups ?? []).flatMap((g) => g.rules.filter((r) => r.type === "alerting").map((r) => ({ ...r, group: g.name })));
  const counts = { firing: 0, pending: 0, inactive: 0 } as Record<string, number>;
  rules.forEach((r) => (counts[r.state] = (counts[r.state] ?? 0) + 1));
  const order = { firing: 0, pending: 1, inactive: 2 } as Record<string, number>;
  const shown = rules.filter((r) => filter === "all" || r.state === filter).sort((a, b) => (order[a.state] ?? 3) - (order[b.state] ?? 3) || a.name.localeCompare(b.name));
  return (
    <div class="page">
      <div class="row">
        <ButtonGroup
          value={filter}
          options={[
            { value: "all", label: `All (${rules.length})` },
            { value: "firing", label: `Firing (${counts.firing})` },
            { value: "pending", label: `Pending (${counts.pending})` },
            { value: "inactive", label: `Inactive (${counts.inactive})` },
          ]}
          onChange={(v) => setQuery({ state: v === "all" ? undefined : v })}
        />
        {loading && <Spinner />}
        <span class="grow" />
        <Link href="/silences" class="btn">
          Silences
        </Link>
      </div>
      {error && <Callout kind="error">{error}</Callout>}
      {data && rules.length === 0 && <div class="card empty">No alerting rules are loaded.</div>}
      <div class="card" data-testid="alert-rules">
        {shown.map((r) => {
          const key = r.group + "/" + r.name;
          const isOpen = open.has(key) || (r.state !== "inactive" && !open.has("!" + key));
          return (
            <div key={key} style={{ borderBottom: "1px solid var(--border)" }}>
              <div
                class="collapsible-head"
                onClick={() => {
                  const n = new Set(open);
                  if (isOpen) {
                    n.delete(key);
                    n.add("!" + key);
                  } else {
                    n.add(key);
                    n.delete("!" + key);
                  }
                  setOpen(n);
                }}
              >
                <span class="muted">{isOpen ? "▾" : "▸"}</span>
                <Badge kind={r.state}>{r.state}</Badge>
                <strong>{r.name}</strong>
                <span class="muted small">({r.alerts.length} active)</span>
                <span class="grow" />
                <span class="small muted">{r.group}</span>
              </div>
              {isOpen && (
                <div style={{ padding: "0 12px 12px 36px", display: "flex", flexDirection: "column", gap: "8px" }}>
                  <Link href={exploreLink(r.query)} class="mono small">
                    {r.query}
                  </Link>
                  {r.duration > 0 && <span class="small muted">for {r.duration}s</span>}
                  <LabelChips labels={r.labels ?? {}} />
                  {Object.entries(r.annotations ?? {}).map(([k, v]) => (
                    <div class="small" key={k}>
                      <span class="muted">{k}:</span> {v}
                    </div>
                  ))}
                  {r.alerts.map((a, i) => (
                    <div key={i} class="card" style={{ padding: "8px 10px", display: "flex", gap: "10px", alignItems: "center" }}>
                      <Badge kind={a.state}>{a.state}</Badge>
                      <div class="grow">
                        <LabelChips labels={a.labels} omit={["alertname"]} />
                        {a.annotations?.summary && <div class="small">{a.annotations.summary}</div>}
                      </div>
                      <span class="small muted mono">value {a.value}</span>
                      <span class="small muted">since {ago(a.activeAt)}</span>
                      <Button size="sm" onClick={() => navigate(`/silences?new=1&${Object.entries(a.labels).map(([k, v]) => `matcher=${encodeURIComponent(`${k}="${v}"`)}`).join("&")}`)}>
                        Silence
                      </Button>
                    </div>
                  ))}
                </div>
              )}
            </div>
          );
        })}
        {data && shown.length === 0 && rules.length > 0 && <div class="empty">No alerts in this state</div>}
      </div>
    </div>
  );
}
