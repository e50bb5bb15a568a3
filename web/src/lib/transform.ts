// The table transformations dashboards commonly use: `merge` (join the series of several
// queries on equal labels, one "Value #refId" column per query), `organize` (hide, rename,
// reorder columns) and `seriesToRows`. Pure.

import type { Frame } from "./frames";

/** A table: column names and rows of cells (strings for labels, numbers for values). */
export interface Table {
  columns: string[];
  rows: (string | number | null)[][];
}

/**
 * Builds the table of instant (or last) values: one column per label, then a value column
 * named "Value" for one query or "Value #refId" when several queries are merged, as Grafana names
 * them. Rows with equal labels across queries are merged into one row.
 */
export function framesToTable(frames: Frame[], merge: boolean): Table {
  const refIds = [...new Set(frames.map((f) => f.refId))];
  const multi = refIds.length > 1 || merge;
  const labelNames = [...new Set(frames.flatMap((f) => Object.keys(f.labels).filter((k) => k !== "__name__")))].sort();
  const valueCol = (refId: string) => (multi ? `Value #${refId}` : "Value");
  const columns = ["Time", ...labelNames, ...refIds.map(valueCol)];
  const rows: { labels: Record<string, string>; cells: (string | number | null)[] }[] = [];
  for (const f of frames) {
    const labels = Object.fromEntries(Object.entries(f.labels).filter(([k]) => k !== "__name__"));
    const col = columns.indexOf(valueCol(f.refId));
    // Merging joins a series to the row whose labels agree on every label both have (as
    // Grafana's merge does with the fields queries share), if that row has no value for it yet.
    const row = merge
      ? rows.find((r) => {
          const shared = Object.keys(labels).filter((k) => k in r.labels);
          return r.cells[col] === null && shared.length > 0 && shared.every((k) => r.labels[k] === labels[k]) && (shared.length === Object.keys(labels).length || shared.length === Object.keys(r.labels).length);
        })
      : undefined;
    const target: { labels: Record<string, string>; cells: (string | number | null)[] } = row ?? { labels: {}, cells: new Array(columns.length).fill(null) };
    if (!row) rows.push(target);
    Object.assign(target.labels, labels);
    target.cells[0] = f.timestamps[f.timestamps.length - 1] ?? target.cells[0];
    labelNames.forEach((l, i) => (target.cells[i + 1] = target.labels[l] ?? ""));
    target.cells[col] = f.values[f.values.length - 1] ?? null;
  }
  return { columns, rows: rows.map((r) => r.cells) };
}

/** Applies `organize`: excludeByName, renameByName, indexByName. */
export function organize(table: Table, options: { excludeByName?: Record<string, boolean>; renameByName?: Record<string, string>; indexByName?: Record<string, number> }): Table {
  const keep = table.columns.map((c, i) => ({ c, i })).filter(({ c }) => !options.excludeByName?.[c]);
  const idx = options.indexByName ?? {};
  keep.sort((a, b) => (idx[a.c] ?? 1000 + a.i) - (idx[b.c] ?? 1000 + b.i));
  return {
    columns: keep.map(({ c }) => options.renameByName?.[c] || c),
    rows: table.rows.map((r) => keep.map(({ i }) => r[i])),
  };
}

/** Applies a panel's supported table transformations in order. */
export function applyTableTransformations(frames: Frame[], transformations: { id: string; options?: any; disabled?: boolean }[] | undefined): Table {
  const active = (transformations ?? []).filter((t) => !t.disabled);
  const merge = active.some((t) => t.id === "merge");
  let table = framesToTable(frames, merge);
  for (const t of active) {
    if (t.id === "organize") table = organize(table, t.options ?? {});
  }
  return table;
}
