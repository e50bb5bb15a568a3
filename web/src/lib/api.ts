// HTTP clients of the APIs the UI reads: Prometheus v1 (query, metadata, targets, rules,
// alerts, status), Alertmanager v2 (silences) and Grafana's dashboard API. Every error becomes
// an `ApiError` carrying the server's own message.

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly errorType?: string,
  ) {
    super(message);
  }
}

async function request<T>(method: string, path: string, body?: unknown, form?: URLSearchParams, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  let payload: BodyInit | undefined;
  if (form) {
    headers["Content-Type"] = "application/x-www-form-urlencoded";
    payload = form;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let response: Response;
  try {
    response = await fetch(path, { method, headers, body: payload, signal });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(`cannot reach the server: ${(e as Error).message}`, 0);
  }
  const text = await response.text();
  let json: any = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    // Not JSON: keep the text for the error message below.
  }
  if (!response.ok || (json && json.status === "error")) {
    const message = json?.error ?? json?.message ?? (text.trim() || response.statusText);
    throw new ApiError(message, response.status, json?.errorType);
  }
  return json as T;
}

/** Prometheus' success envelope. */
interface PromEnvelope<T> {
  status: "success";
  data: T;
  warnings?: string[];
  infos?: string[];
}

export type Labels = Record<string, string>;
export interface MatrixSeries {
  metric: Labels;
  values: [number, string][];
}
export interface VectorSample {
  metric: Labels;
  value: [number, string];
}
export type QueryData =
  | { resultType: "matrix"; result: MatrixSeries[] }
  | { resultType: "vector"; result: VectorSample[] }
  | { resultType: "scalar"; result: [number, string] }
  | { resultType: "string"; result: [number, string] };

export interface QueryResult {
  data: QueryData;
  warnings: string[];
}

async function prom<T>(path: string, params: Record<string, string | string[] | undefined>, signal?: AbortSignal): Promise<{ data: T; warnings: string[] }> {
  const form = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) v.forEach((x) => form.append(k, x));
    else form.append(k, v);
  }
  const env = await request<PromEnvelope<T>>("POST", path, undefined, form, signal);
  return { data: env.data, warnings: [...(env.warnings ?? []), ...(env.infos ?? [])] };
}

/** Evaluates an instant query at `timeMs` (now when omitted). */
export function instantQuery(query: string, timeMs?: number, signal?: AbortSignal): Promise<QueryResult> {
  return prom<QueryData>("/api/v1/query", { query, time: timeMs === undefined ? undefined : String(timeMs / 1000) }, signal);
}

/** Evaluates a range query. */
export function rangeQuery(query: string, startMs: number, endMs: number, stepMs: number, signal?: AbortSignal): Promise<QueryResult> {
  // Align the range to the step, as Grafana does, so that refreshes reuse the same points.
  const start = Math.floor(startMs / stepMs) * stepMs;
  const end = Math.ceil(endMs / stepMs) * stepMs;
  return prom<QueryData>("/api/v1/query_range", { query, start: String(start / 1000), end: String(end / 1000), step: String(stepMs / 1000) }, signal);
}

export async function labelNames(match?: string[], startMs?: number, endMs?: number): Promise<string[]> {
  return (await prom<string[]>("/api/v1/labels", { "match[]": match, start: sec(startMs), end: sec(endMs) })).data;
}

export async function labelValues(name: string, match?: string[], startMs?: number, endMs?: number): Promise<string[]> {
  const q = new URLSearchParams();
  (match ?? []).forEach((m) => q.append("match[]", m));
  if (startMs !== undefined) q.set("start", String(startMs / 1000));
  if (endMs !== undefined) q.set("end", String(endMs / 1000));
  const env = await request<PromEnvelope<string[]>>("GET", `/api/v1/label/${encodeURIComponent(name)}/values?${q}`);
  return env.data;
}

export async function series(match: string[], startMs?: number, endMs?: number): Promise<Labels[]> {
  return (await prom<Labels[]>("/api/v1/series", { "match[]": match, start: sec(startMs), end: sec(endMs) })).data;
}

function sec(ms?: number): string | undefined {
  return ms === undefined ? undefined : String(ms / 1000);
}

export async function promGet<T>(path: string): Promise<T> {
  return (await request<PromEnvelope<T>>("GET", path)).data;
}

// Alertmanager API v2.

export interface Matcher {
  name: string;
  value: string;
  isRegex: boolean;
  isEqual?: boolean;
}
export interface Silence {
  id: string;
  matchers: Matcher[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
  status: { state: "active" | "pending" | "expired" };
  updatedAt?: string;
}

export function listSilences(): Promise<Silence[]> {
  return request<Silence[]>("GET", "/api/v2/silences");
}
export function createSilence(s: Omit<Silence, "id" | "status">): Promise<{ silenceID: string }> {
  return request("POST", "/api/v2/silences", s);
}
export function expireSilence(id: string): Promise<unknown> {
  return request("DELETE", `/api/v2/silence/${encodeURIComponent(id)}`);
}

// Grafana's dashboard HTTP API.

export interface SearchHit {
  id?: number;
  uid: string;
  title: string;
  uri?: string;
  url: string;
  type: string;
  tags: string[];
  folderTitle?: string;
  folderUid?: string;
  isStarred?: boolean;
}
export interface DashboardEnvelope {
  dashboard: any;
  meta: { slug?: string; version?: number; provisioned?: boolean; canSave?: boolean; canEdit?: boolean; url?: string; updated?: string; created?: string; folderTitle?: string };
}
export interface DashboardVersion {
  id: number;
  version: number;
  created: string;
  createdBy: string;
  message: string;
}

export function searchDashboards(query = ""): Promise<SearchHit[]> {
  const q = new URLSearchParams({ type: "dash-db" });
  if (query) q.set("query", query);
  return request<SearchHit[]>("GET", `/api/search?${q}`);
}
export function getDashboard(uid: string): Promise<DashboardEnvelope> {
  return request<DashboardEnvelope>("GET", `/api/dashboards/uid/${encodeURIComponent(uid)}`);
}
export function saveDashboard(dashboard: any, message: string, overwrite = false): Promise<{ id?: number; uid: string; url: string; version: number; status: string }> {
  return request("POST", "/api/dashboards/db", { dashboard, message, overwrite });
}
export function importDashboard(dashboard: any, overwrite: boolean): Promise<{ uid: string; importedUrl?: string; title?: string }> {
  return request("POST", "/api/dashboards/import", { dashboard, overwrite, inputs: [] });
}
export function deleteDashboard(uid: string): Promise<unknown> {
  return request("DELETE", `/api/dashboards/uid/${encodeURIComponent(uid)}`);
}
export function restoreDashboardVersion(uid: string, version: number): Promise<{ uid: string; version: number }> {
  return request("POST", `/api/dashboards/uid/${encodeURIComponent(uid)}/restore`, { version });
}
export async function dashboardVersions(uid: string): Promise<DashboardVersion[]> {
  const r = await request<any>("GET", `/api/dashboards/uid/${encodeURIComponent(uid)}/versions`);
  // Grafana 11 wraps the list as {versions: [...]}; older versions return the array.
  return Array.isArray(r) ? r : (r?.versions ?? []);
}
