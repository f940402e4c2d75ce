/**
 * A small client of the daemon's API (docs/api.md): JSON requests over HTTP or a Unix
 * socket, WebSockets for the streams, the bearer token from PARAVM_TOKEN, and errors that
 * carry the API's status and message.
 *
 * Requests go through node:http rather than the global fetch because fetch cannot reach a
 * Unix socket without an extra dispatcher package; node:http takes `socketPath` and a host
 * and port alike, so both kinds of endpoint share one code path.
 */
import http from "node:http";
import https from "node:https";
import WebSocket from "ws";
import { UsageError } from "../args.js";

export const CLIENT_DEFAULTS = {
  HOST: "http://127.0.0.1:8470",
  /** The API's path prefix. */
  PREFIX: "/api/v1",
  /** A daemon that takes longer than this to answer one request is treated as hung. */
  REQUEST_TIMEOUT_MS: 60_000,
  /** Error bodies longer than this are cut when shown (an HTML page from something else on the port). */
  MAX_SHOWN_BODY: 200,
} as const;

/** The socket errors that mean nothing is listening there. */
const NOT_LISTENING = new Set(["ECONNREFUSED", "ENOENT", "ENOTSOCK"]);

/** An answer of the API with a status of 400 or more: its status, class, message and problems. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: number,
    readonly error: string,
    message: string,
    readonly problems: readonly string[] = [],
    /** A container's command that does not exist: the API's 127. */
    readonly exitStatus?: number,
  ) {
    super(message);
  }
}

/** Nothing answers at the endpoint (refused, no socket file): the daemon is not running. */
export class NoDaemonError extends Error {
  override readonly name = "NoDaemonError";
  constructor(readonly endpoint: string) {
    super(`no paravm daemon at ${endpoint}: start one with \`paravm serve\``);
  }
}

/** Where the daemon is: a TCP URL or a Unix socket. */
export type Endpoint =
  | { readonly kind: "tcp"; readonly url: URL; readonly shown: string }
  | { readonly kind: "unix"; readonly socketPath: string; readonly shown: string };

/** `--host` / PARAVM_HOST: `http://HOST:PORT` (https too) or `unix:/path/to/socket`. */
export function parseEndpoint(text: string): Endpoint {
  if (text.startsWith("unix:")) {
    const socketPath = text.slice("unix:".length);
    if (socketPath === "") throw new UsageError(`--host '${text}': no socket path after unix:`);
    return { kind: "unix", socketPath, shown: text };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--host '${text}': expected http://HOST:PORT or unix:/path/to/socket`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`--host '${text}': expected an http:// or https:// URL, or unix:/path/to/socket`);
  }
  if (url.pathname !== "/" || url.search !== "" || url.hash !== "") {
    throw new UsageError(`--host '${text}': give only scheme, host and port (the API's paths are added)`);
  }
  return { kind: "tcp", url, shown: text.replace(/\/$/, "") };
}

/** The endpoint a command talks to: --host, else PARAVM_HOST, else the default. */
export function endpointFrom(host: string | undefined, env: NodeJS.ProcessEnv = process.env): Endpoint {
  const h = host ?? env.PARAVM_HOST;
  return parseEndpoint(h === undefined || h === "" ? CLIENT_DEFAULTS.HOST : h);
}

export interface ApiAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: Buffer;
}

export interface RequestOptions {
  readonly body?: unknown;
  /** The body as given (already text), with this content type; default: `body` as JSON. */
  readonly raw?: { readonly text: string; readonly contentType: string };
  /** For requests that take long by design (a container's run that boots its host, an exec, a long poll). */
  readonly timeoutMs?: number;
}

export class ApiClient {
  /** Keep-alive, so a series of requests (top, the benchmark) reuses one connection. */
  private readonly agent: http.Agent;

  constructor(
    readonly endpoint: Endpoint,
    private readonly token: string | undefined = process.env.PARAVM_TOKEN || undefined,
  ) {
    const secure = endpoint.kind === "tcp" && endpoint.url.protocol === "https:";
    this.agent = secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
  }

  /** Let the process exit: close idle keep-alive connections. */
  close(): void {
    this.agent.destroy();
  }

  /** GET/POST/… a path under /api/v1 and parse the JSON answer; ApiError for a status ≥ 400. */
  async json<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const a = await this.request(method, `${CLIENT_DEFAULTS.PREFIX}${path}`, opts);
    if (a.status === 204 || a.body.length === 0) return undefined as T;
    return JSON.parse(a.body.toString("utf8")) as T;
  }

  /** As `json`, for a text answer (the console's scroll-back). */
  async text(path: string, opts: RequestOptions = {}): Promise<string> {
    return (await this.request("GET", `${CLIENT_DEFAULTS.PREFIX}${path}`, opts)).body.toString("utf8");
  }

  /** One request to an absolute path (no prefix); throws ApiError for a status ≥ 400. */
  request(method: string, path: string, opts: RequestOptions): Promise<ApiAnswer> {
    const payload = opts.raw?.text ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
    const headers: Record<string, string> = { accept: "application/json", ...this.authHeader() };
    if (payload !== undefined) {
      headers["content-type"] = opts.raw?.contentType ?? "application/json";
      headers["content-length"] = String(Buffer.byteLength(payload));
    }
    const e = this.endpoint;
    const target =
      e.kind === "unix"
        ? { socketPath: e.socketPath, path }
        : { protocol: e.url.protocol, hostname: e.url.hostname.replace(/^\[|\]$/g, ""), port: e.url.port, path };
    const lib = e.kind === "tcp" && e.url.protocol === "https:" ? https : http;
    const timeoutMs = opts.timeoutMs ?? CLIENT_DEFAULTS.REQUEST_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const req = lib.request({ ...target, method, headers, agent: this.agent, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", (err) => reject(this.connectionError(err)));
        res.on("end", () => {
          const answer = { status: res.statusCode ?? 0, contentType: String(res.headers["content-type"] ?? ""), body: Buffer.concat(chunks) };
          if (answer.status >= 400) reject(apiErrorOf(answer, method, path));
          else resolve(answer);
        });
      });
      req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer from ${e.shown} within ${timeoutMs / 1000} s`)));
      req.on("error", (err) => reject(this.connectionError(err)));
      req.end(payload);
    });
  }

  /**
   * Open a WebSocket under /api/v1 (console, events, metrics) with `onMessage` listening
   * from the start: the daemon's first frames (the console's scroll-back) can arrive with
   * the upgrade's answer, in the same tick as "open", before an awaiting caller could
   * attach a listener. Resolves once it is open; a refused upgrade becomes the API's
   * error (401, 404), a closed port NoDaemonError.
   */
  openSocket(path: string, onMessage: (data: WebSocket.RawData) => void): Promise<WebSocket> {
    const e = this.endpoint;
    const full = `${CLIENT_DEFAULTS.PREFIX}${path}`;
    const url =
      e.kind === "unix"
        ? `ws+unix://${e.socketPath}:${full}`
        : `${e.url.protocol === "https:" ? "wss" : "ws"}://${e.url.host}${full}`;
    // Node can set headers on an upgrade (browsers cannot, hence ?token= there): the token stays out of URLs and logs.
    const ws = new WebSocket(url, { headers: this.authHeader() });
    ws.on("message", onMessage);
    return new Promise((resolve, reject) => {
      ws.once("open", () => {
        ws.removeAllListeners("error");
        ws.removeAllListeners("unexpected-response");
        resolve(ws);
      });
      ws.once("unexpected-response", (_req, res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          reject(apiErrorOf({ status: res.statusCode ?? 0, contentType: String(res.headers["content-type"] ?? ""), body: Buffer.concat(chunks) }, "GET", full));
          ws.terminate();
        });
      });
      ws.once("error", (err) => reject(this.connectionError(err)));
    });
  }

  private authHeader(): Record<string, string> {
    return this.token !== undefined ? { authorization: `Bearer ${this.token}` } : {};
  }

  private connectionError(err: Error): Error {
    const code = (err as NodeJS.ErrnoException).code ?? "";
    if (NOT_LISTENING.has(code)) return new NoDaemonError(this.endpoint.shown);
    if (code === "EACCES") return new Error(`cannot connect to ${this.endpoint.shown}: permission denied`);
    if (err instanceof ApiError) return err;
    return new Error(`${this.endpoint.shown}: ${err.message}`);
  }
}

/** The API's error body ({error, message, problems}) as an ApiError; something else on the port still gives one line. */
export function apiErrorOf(a: ApiAnswer, method: string, path: string): ApiError {
  const text = a.body.toString("utf8");
  try {
    const b = JSON.parse(text) as { error?: unknown; message?: unknown; problems?: unknown; exitStatus?: unknown };
    if (typeof b.message === "string") {
      const problems = Array.isArray(b.problems) ? b.problems.map(String) : [];
      const exitStatus = typeof b.exitStatus === "number" ? b.exitStatus : undefined;
      return new ApiError(a.status, typeof b.error === "string" ? b.error : "error", b.message, problems, exitStatus);
    }
  } catch {
    // not the API's JSON: shown below as text
  }
  const shown = text.replace(/\s+/g, " ").trim().slice(0, CLIENT_DEFAULTS.MAX_SHOWN_BODY);
  return new ApiError(a.status, "error", `${method} ${path}: HTTP ${a.status}${shown !== "" ? `: ${shown}` : ""}`);
}

/** A VM's name as one path segment. */
export const vmPath = (name: string, rest = ""): string => `/vms/${encodeURIComponent(name)}${rest}`;

/** A container's name as one path segment. */
export const containerPath = (name: string, rest = ""): string => `/containers/${encodeURIComponent(name)}${rest}`;
