// The small component library the pages are built from: buttons, badges, callouts, cards, tabs,
// dropdowns, modals, a sortable table, label chips and toasts. Styling lives in styles.css.

import type { ButtonHTMLAttributes, ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { linkClick } from "../lib/router";

export function Link(props: { href: string; class?: string; children: ComponentChildren; title?: string }) {
  return (
    <a href={props.href} class={props.class} title={props.title} onClick={(e) => linkClick(e as unknown as MouseEvent, props.href)}>
      {props.children}
    </a>
  );
}

type ButtonProps = ButtonHTMLAttributes<HTMLButtonElement> & { variant?: "primary" | "danger" | "ghost"; size?: "sm"; icon?: boolean; disabled?: boolean; type?: string };

export function Button({ variant, size, icon, class: cls, ...rest }: ButtonProps) {
  const classes = ["btn", variant, size, icon ? "icon" : "", cls as string].filter(Boolean).join(" ");
  return <button type="button" {...(rest as any)} class={classes} />;
}

export function Badge(props: { kind: string; children: ComponentChildren; title?: string }) {
  return (
    <span class={`badge ${props.kind}`} title={props.title}>
      {props.children}
    </span>
  );
}

export function Callout(props: { kind: "error" | "warning" | "info"; children: ComponentChildren; title?: string }) {
  return (
    <div class={`callout ${props.kind}`} role={props.kind === "error" ? "alert" : undefined}>
      <div>
        {props.title && <strong>{props.title} </strong>}
        {props.children}
      </div>
    </div>
  );
}

export function Card(props: { title?: ComponentChildren; actions?: ComponentChildren; children: ComponentChildren; class?: string; bodyClass?: string }) {
  return (
    <section class={`card ${props.class ?? ""}`}>
      {(props.title || props.actions) && (
        <div class="card-header">
          <h3 style={{ margin: 0, flex: 1 }}>{props.title}</h3>
          {props.actions}
        </div>
      )}
      <div class={props.bodyClass ?? "card-body"}>{props.children}</div>
    </section>
  );
}

export function Tabs<T extends string>(props: { value: T; options: { value: T; label: string }[]; onChange: (v: T) => void }) {
  return (
    <div class="tabs" role="tablist">
      {props.options.map((o) => (
        <button key={o.value} role="tab" aria-selected={o.value === props.value} class={o.value === props.value ? "active" : ""} onClick={() => props.onChange(o.value)}>
          {o.label}
        </button>
      ))}
    </div>
  );
}

export function ButtonGroup<T extends string>(props: { value: T; options: { value: T; label: string }[]; onChange: (v: T) => void }) {
  return (
    <div class="btn-group">
      {props.options.map((o) => (
        <button key={o.value} type="button" class={`btn ${o.value === props.value ? "active" : ""}`} onClick={() => props.onChange(o.value)}>
          {o.label}
        </button>
      ))}
    </div>
  );
}

/** A button that opens a floating menu; closes on outside click and Escape. */
export function Dropdown(props: { label: ComponentChildren; children: (close: () => void) => ComponentChildren; align?: "left" | "right"; buttonClass?: string; title?: string; testId?: string }) {
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    const onDoc = (e: MouseEvent) => {
      if (ref.current && !ref.current.contains(e.target as Node)) setOpen(false);
    };
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && setOpen(false);
    document.addEventListener("mousedown", onDoc);
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("mousedown", onDoc);
      document.removeEventListener("keydown", onKey);
    };
  }, [open]);
  return (
    <div class="dropdown" ref={ref}>
      <button type="button" class={`btn ${props.buttonClass ?? ""}`} title={props.title} data-testid={props.testId} onClick={() => setOpen(!open)}>
        {props.label}
      </button>
      {open && <div class={`dropdown-menu ${props.align === "left" ? "left" : ""}`}>{props.children(() => setOpen(false))}</div>}
    </div>
  );
}

export function Modal(props: { title: string; onClose: () => void; children: ComponentChildren; footer?: ComponentChildren; wide?: boolean }) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && props.onClose();
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);
  return (
    <div class="modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && props.onClose()}>
      <div class="modal" role="dialog" aria-label={props.title} style={props.wide ? { width: "min(1100px, 94vw)" } : undefined}>
        <div class="modal-head">
          <h2 style={{ margin: 0, flex: 1 }}>{props.title}</h2>
          <Button variant="ghost" icon onClick={props.onClose} aria-label="Close">
            ✕
          </Button>
        </div>
        <div class="modal-body">{props.children}</div>
        {props.footer && <div class="modal-foot">{props.footer}</div>}
      </div>
    </div>
  );
}

export function Spinner() {
  return <span class="spinner" aria-label="Loading" />;
}

export function Empty(props: { children: ComponentChildren }) {
  return <div class="empty">{props.children}</div>;
}

export function LabelChips(props: { labels: Record<string, string>; omit?: string[] }) {
  const keys = Object.keys(props.labels)
    .filter((k) => !(props.omit ?? []).includes(k))
    .sort();
  return (
    <div class="labels">
      {keys.map((k) => (
        <span class="label-chip" key={k}>
          <b>{k}</b>={props.labels[k]}
        </span>
      ))}
    </div>
  );
}

export interface Column<T> {
  key: string;
  title: string;
  render: (row: T) => ComponentChildren;
  sortValue?: (row: T) => string | number;
  numeric?: boolean;
  width?: string;
}

/** A table whose columns sort on click (numbers numerically, text alphabetically). */
export function DataTable<T>(props: { columns: Column<T>[]; rows: T[]; rowKey: (row: T, i: number) => string; empty?: string; maxHeight?: string; initialSort?: { key: string; desc?: boolean } }) {
  const [sort, setSort] = useState<{ key: string; desc: boolean } | null>(props.initialSort ? { key: props.initialSort.key, desc: !!props.initialSort.desc } : null);
  let rows = props.rows;
  if (sort) {
    const col = props.columns.find((c) => c.key === sort.key);
    if (col?.sortValue) {
      const sv = col.sortValue;
      rows = [...rows].sort((a, b) => {
        const x = sv(a);
        const y = sv(b);
        const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
        return sort.desc ? -c : c;
      });
    }
  }
  return (
    <div class="table-wrap" style={props.maxHeight ? { maxHeight: props.maxHeight } : undefined}>
      <table class="table">
        <thead>
          <tr>
            {props.columns.map((c) => (
              <th
                key={c.key}
                class={`${c.sortValue ? "sortable" : ""} ${c.numeric ? "num" : ""}`}
                style={c.width ? { width: c.width } : undefined}
                onClick={() => c.sortValue && setSort({ key: c.key, desc: sort?.key === c.key ? !sort.desc : false })}
              >
                {c.title}
                {sort?.key === c.key ? (sort.desc ? " ↓" : " ↑") : ""}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={props.rowKey(r, i)}>
              {props.columns.map((c) => (
                <td key={c.key} class={c.numeric ? "num" : ""}>
                  {c.render(r)}
                </td>
              ))}
            </tr>
          ))}
          {rows.length === 0 && (
            <tr>
              <td colSpan={props.columns.length} class="muted" style={{ textAlign: "center", padding: "24px" }}>
                {props.empty ?? "No data"}
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}

type ToastItem = { id: number; text: string; kind: "ok" | "error" };
let toasts: ToastItem[] = [];
const toastListeners = new Set<() => void>();
let toastId = 0;

/** Shows a short message in the corner for five seconds. */
export function toast(text: string, kind: "ok" | "error" = "ok"): void {
  const id = ++toastId;
  toasts = [...toasts, { id, text, kind }];
  toastListeners.forEach((l) => l());
  setTimeout(() => {
    toasts = toasts.filter((t) => t.id !== id);
    toastListeners.forEach((l) => l());
  }, 5000);
}

export function Toasts() {
  const [, setTick] = useState(0);
  useEffect(() => {
    const l = () => setTick((t) => t + 1);
    toastListeners.add(l);
    return () => {
      toastListeners.delete(l);
    };
  }, []);
  return (
    <div class="toast" aria-live="polite">
      {toasts.map((t) => (
        <div key={t.id} class={t.kind === "error" ? "error" : ""}>
          {t.text}
        </div>
      ))}
    </div>
  );
}

/** Runs an async loader when its dependencies change; returns data, error and loading flag. */
export function useAsync<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): { data?: T; error?: string; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: true });
  const [nonce, setNonce] = useState(0);
  useEffect(() => {
    const ctrl = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    load(ctrl.signal).then(
      (data) => !ctrl.signal.aborted && setState({ data, loading: false }),
      (e) => !ctrl.signal.aborted && e?.name !== "AbortError" && setState((s) => ({ data: s.data, error: String(e?.message ?? e), loading: false })),
    );
    return () => ctrl.abort();
  }, [...deps, nonce]);
  return { ...state, reload: () => setNonce((n) => n + 1) };
}

/** Formats a past instant as "3m ago". */
export function ago(date: string | number | undefined): string {
  if (date === undefined || date === "" || date === "0001-01-01T00:00:00Z") return "never";
  const t = typeof date === "number" ? date : Date.parse(date);
  if (Number.isNaN(t)) return String(date);
  const s = Math.round((Date.now() - t) / 1000);
  if (s < 0) return `in ${fmtSecs(-s)}`;
  return `${fmtSecs(s)} ago`;
}

function fmtSecs(s: number): string {
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}
