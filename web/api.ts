/**
 * The daemon's API as the dashboard uses it (docs/api.md): REST under /api/v1 with a
 * bearer token, WebSockets with ?token= (a browser cannot set headers on them).
 */

/** One item of a fleet file's `vms:` list: what POST /vms takes. */
export interface VmEntry {
  name: string;
  profile?: "pv" | "full";
  cpus?: number;
  "max-cpus"?: number;
  mem?: number | string;
  "mem-target"?: number | string;
  weight?: number;
  cap?: number;
  exec?: string;
  workload?: string;
  [key: string]: unknown;
}

export interface VmSettings {
  weight: number;
  cap: number;
  vcpus: { online: number; max: number };
  memTargetBytes: number | null;
}

export interface VmView {
  name: string;
  state: string;
  reason?: string;
  profile: "pv" | "full";
  entry: VmEntry;
  settings: VmSettings;
  autoscale: unknown;
  createdAt: string | number;
}

export interface VmMetrics {
  vm: string;
  at: number | string;
  state: string;
  /** Percent of one host core; null when not running (or before a second sample). */
  cpuPct: number | null;
  entitlementPct: number | null;
  stealPct: number | null;
  weight: number | null;
  cap: number | null;
  vcpus: { online: number; max: number };
  ramBytes: number | null;
  balloonBytes: number | null;
  availableBytes: number | null;
  netRxBps?: number | null;
  netTxBps?: number | null;
  /** Exits per second by reason; null when the daemon cannot count them live. */
  exitsPerS: Record<string, number> | null;
}

export interface MetricsFrame {
  at: number | string;
  vms: VmMetrics[];
}

/** A container as GET /containers gives it (docs/api.md, `ContainerView`). */
export interface ContainerView {
  name: string;
  host: string;
  state: "creating" | "created" | "running" | "exited" | "lost";
  exitStatus: number | null;
  pid: number | null;
  cmd: string[];
  net: string;
  devices: string[];
  ip: string | null;
  limits: { cpuWeight: number | null; cpuMax: string | null; memMax: number | "max" | null; pidsMax: number | "max" | null };
  usage: { cpuSeconds: number | null; memBytes: number | null };
  oomKills: number;
  oomMessage: string | null;
  lostReason: string | null;
  createdAt: number;
  updatedAt: number | null;
}

export interface HostView {
  version: string;
  pcpus: number;
  memory: { budgetBytes: number; freeBytes: number; source: string };
  vms: number;
}

export interface ApiEvent {
  seq: number;
  at: number | string;
  type: string;
  vm?: string;
  [key: string]: unknown;
}

/** An error answer: `{error, message, problems?}` with its HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    message: string,
    readonly problems: readonly string[] = [],
  ) {
    super(message);
  }

  /** The message and every problem, as one text for the page. */
  describe(): string {
    return this.problems.length > 0 ? `${this.message}: ${this.problems.join("; ")}` : this.message;
  }
}

const TOKEN_KEY = "paravm.token";
const API_PREFIX = "/api/v1";

export class Api {
  /** Called on any 401, so the app can go back to the token page. */
  onUnauthorized: (e: ApiError) => void = () => {};

  get token(): string | null {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  set token(t: string | null) {
    if (t === null || t === "") sessionStorage.removeItem(TOKEN_KEY);
    else sessionStorage.setItem(TOKEN_KEY, t);
  }

  /** One request. Answers with the parsed JSON (or text for text/plain); throws ApiError. */
  async request<T>(method: string, path: string, body?: unknown, token = this.token): Promise<T> {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await fetch(API_PREFIX + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      throw new ApiError(0, "unreachable", `the daemon did not answer (${e instanceof Error ? e.message : String(e)})`);
    }
    const type = res.headers.get("content-type") ?? "";
    const payload: unknown = res.status === 204 ? null : type.includes("json") ? await res.json().catch(() => null) : await res.text();
    if (!res.ok) {
      const err = errorFrom(res.status, payload);
      if (res.status === 401 && token === this.token) this.onUnauthorized(err);
      throw err;
    }
    return payload as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }
  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("POST", path, body);
  }
  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("PATCH", path, body);
  }
  del(path: string): Promise<unknown> {
    return this.request("DELETE", path);
  }

  vmPath(name: string, rest = ""): string {
    return `/vms/${encodeURIComponent(name)}${rest}`;
  }

  containerPath(name: string, rest = ""): string {
    return `/containers/${encodeURIComponent(name)}${rest}`;
  }

  /** A WebSocket URL on this origin, with the token in the query. */
  wsUrl(path: string): string {
    const url = new URL(API_PREFIX + path, location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    const t = this.token;
    if (t) url.searchParams.set("token", t);
    return url.toString();
  }
}

function errorFrom(status: number, payload: unknown): ApiError {
  if (payload !== null && typeof payload === "object") {
    const p = payload as { error?: unknown; message?: unknown; problems?: unknown };
    const problems = Array.isArray(p.problems) ? p.problems.map(String) : [];
    return new ApiError(status, String(p.error ?? status), String(p.message ?? `HTTP ${status}`), problems);
  }
  const text = typeof payload === "string" && payload.trim() !== "" ? payload.trim() : `HTTP ${status}`;
  return new ApiError(status, String(status), text);
}
