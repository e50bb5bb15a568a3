// The shared time range picker (relative presets, absolute from/to, zoom out, shift) and the
// auto-refresh picker. Both write to the URL through lib/timecontext.

import { useState } from "preact/hooks";
import { describeRange, formatDateTime, parseTime, RANGE_PRESETS, resolveRange, type RawRange } from "../lib/time";
import { refreshNow, setRefresh, setTimeRange, type TimeState } from "../lib/timecontext";
import { Button, Dropdown } from "./ui";
import { Icon } from "./icons";

export function TimePicker(props: { time: TimeState }) {
  const { raw, range } = props.time;
  const shift = (dir: -1 | 1) => {
    const span = range.to - range.from;
    const d = Math.round(span / 2) * dir;
    setTimeRange({ from: String(range.from + d), to: String(range.to + d) });
  };
  const zoomOut = () => {
    const span = range.to - range.from;
    const to = Math.min(Date.now(), range.to + span / 2);
    setTimeRange({ from: String(Math.round(to - span * 2)), to: String(Math.round(to)) });
  };
  return (
    <div class="btn-group" data-testid="time-picker">
      <Button icon onClick={() => shift(-1)} title="Move the range back">
        <Icon name="chevronLeft" />
      </Button>
      <Dropdown label={<><Icon name="clock" /> {describeRange(raw)}</>} title="Time range" testId="time-picker-button">
        {(close) => <RangeMenu raw={raw} close={close} />}
      </Dropdown>
      <Button icon onClick={() => shift(1)} title="Move the range forward">
        <Icon name="chevronRight" />
      </Button>
      <Button icon onClick={zoomOut} title="Zoom out (time range × 2)">
        <Icon name="zoomOut" />
      </Button>
    </div>
  );
}

function RangeMenu(props: { raw: RawRange; close: () => void }) {
  const show = (s: string) => (/^\d{10,}$/.test(s) ? formatDateTime(parseInt(s, 10)) : s);
  const [from, setFrom] = useState(show(props.raw.from));
  const [to, setTo] = useState(show(props.raw.to));
  const [error, setError] = useState("");
  const apply = () => {
    const norm = (s: string) => {
      const t = s.trim();
      if (t.startsWith("now") || /^\d{10,}$/.test(t)) return t;
      const ms = parseTime(t, Date.now());
      return ms === null ? t : String(ms);
    };
    const next = { from: norm(from), to: norm(to) };
    try {
      resolveRange(next, Date.now());
    } catch (e) {
      setError((e as Error).message);
      return;
    }
    setTimeRange(next);
    props.close();
  };
  return (
    <div class="picker">
      <div class="abs">
        <h3>Absolute time range</h3>
        <div class="field">
          <label>From</label>
          <input class="input" value={from} onInput={(e) => setFrom((e.target as HTMLInputElement).value)} placeholder="now-6h or 2026-01-02 15:04:05" />
        </div>
        <div class="field">
          <label>To</label>
          <input class="input" value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} onKeyDown={(e) => e.key === "Enter" && apply()} />
        </div>
        {error && <div class="small" style={{ color: "var(--error-text)" }}>{error}</div>}
        <Button variant="primary" onClick={apply}>
          Apply time range
        </Button>
        <div class="small muted">Relative: now-6h, now/d, now-1d/d. Absolute: YYYY-MM-DD HH:mm:ss or epoch ms.</div>
      </div>
      <div>
        {RANGE_PRESETS.map((p) => (
          <button
            key={p.label}
            class={`item ${p.from === props.raw.from && p.to === props.raw.to ? "selected" : ""}`}
            onClick={() => {
              setTimeRange({ from: p.from, to: p.to });
              props.close();
            }}
          >
            {p.label}
          </button>
        ))}
      </div>
    </div>
  );
}

const REFRESH_OPTIONS = ["", "5s", "10s", "30s", "1m", "5m", "15m", "1h"];

export function RefreshPicker(props: { time: TimeState }) {
  return (
    <div class="btn-group">
      <Button onClick={refreshNow} title="Refresh now" data-testid="refresh-button">
        <Icon name="refresh" /> Refresh
      </Button>
      <Dropdown label={props.time.refresh || "Off"} title="Auto refresh">
        {(close) =>
          REFRESH_OPTIONS.map((r) => (
            <button
              key={r}
              class={`item ${r === props.time.refresh ? "selected" : ""}`}
              onClick={() => {
                setRefresh(r);
                close();
              }}
            >
              {r || "Off"}
            </button>
          ))
        }
      </Dropdown>
    </div>
  );
}
