/**
 * A real `paravm serve` child for the client's tests and bench:api: a free port on
 * loopback with a token (or a Unix socket), a temporary state directory, its output in a log file (never a pipe
 * nobody drains), and the `paravm` command line run against it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ApiClient, parseEndpoint } from "./api-client.js";

export const HARNESS = {
  /** How long the daemon may take to answer /healthz after it was started. */
  READY_TIMEOUT_MS: 30_000,
  POLL_MS: 100,
  /** How long a stopping daemon gets after SIGTERM before SIGKILL. */
  STOP_GRACE_MS: 10_000,
} as const;

export const REPO_ROOT = fileURLToPath(new URL("../../../../", import.meta.url));
export const PARAVM_BIN = join(REPO_ROOT, "bin", "paravm.js");

/** A TCP port nothing listens on right now (the kernel's pick). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      s.close(() => (typeof addr === "object" && addr !== null ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

export interface CliResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface DaemonStart {
  /** On a Unix socket in the state dir, without a token (else a loopback port with one). */
  readonly socket?: boolean;
  readonly extraArgs?: readonly string[];
  /** Added to the daemon's environment. */
  readonly env?: Record<string, string>;
  /** This port and token, and this dir (with its state) instead of fresh ones: a restart. */
  readonly again?: { readonly port: number; readonly token: string; readonly dir: string };
}

export class Daemon {
  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
    readonly token: string,
    readonly dir: string,
    readonly logFile: string,
    private readonly started: DaemonStart,
  ) {}

  /**
   * Start `paravm serve` with a fresh state dir, on a free loopback port with a token, or
   * (`socket`) on a Unix socket in that dir without one; resolves once it answers.
   */
  static async start(opts: DaemonStart = {}): Promise<Daemon> {
    const dir = opts.again?.dir ?? mkdtempSync(join(tmpdir(), "paravm-serve-"));
    let listen: string[];
    let url: string;
    let token = "";
    if (opts.socket === true) {
      const path = join(dir, "paravm.sock");
      listen = ["--socket", path];
      url = `unix:${path}`;
    } else {
      const port = opts.again?.port ?? (await freePort());
      token = opts.again?.token ?? `test-${process.pid}-${port}`;
      listen = ["--listen", `127.0.0.1:${port}`, "--token", token];
      url = `http://127.0.0.1:${port}`;
    }
    const logFile = join(dir, "serve.log");
    const log = openSync(logFile, "a");
    const child = spawn(process.execPath, [PARAVM_BIN, "serve", ...listen, "--state-dir", join(dir, "state"), ...(opts.extraArgs ?? [])], {
      stdio: ["ignore", log, log],
      env: { ...process.env, PARAVM_TOKEN: "", ...opts.env },
    });
    closeSync(log);
    const d = new Daemon(child, url, token, dir, logFile, opts);
    await d.ready();
    return d;
  }

  private async ready(): Promise<void> {
    const t0 = Date.now();
    while (Date.now() - t0 < HARNESS.READY_TIMEOUT_MS) {
      if (this.child.exitCode !== null) throw new Error(`paravm serve exited ${this.child.exitCode}:\n${this.log()}`);
      const probe = new ApiClient(parseEndpoint(this.url), this.token || undefined);
      try {
        await probe.request("GET", "/healthz", {});
        return;
      } catch {
        // not listening yet
      } finally {
        probe.close();
      }
      await new Promise((r) => setTimeout(r, HARNESS.POLL_MS));
    }
    await this.stop();
    throw new Error(`paravm serve did not answer /healthz within ${HARNESS.READY_TIMEOUT_MS} ms:\n${this.log()}`);
  }

  log(): string {
    try {
      return readFileSync(this.logFile, "utf8");
    } catch {
      return "";
    }
  }

  /** The API's own answer to a request (with the token; TCP daemons), for comparing what the CLI prints. */
  async api(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    const r = await fetch(`${this.url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await r.text();
    return { status: r.status, json: text === "" ? null : (JSON.parse(text) as unknown) };
  }

  /**
   * `paravm ARGS` against this daemon (PARAVM_HOST and PARAVM_TOKEN set; `env` overrides
   * them). `stopWhen`: SIGTERM once stdout matches (for commands that follow a stream);
   * `cwd`: where it runs (relative paths on its command line).
   */
  cli(args: readonly string[], opts: { env?: Record<string, string>; input?: string; timeoutMs?: number; stopWhen?: RegExp; cwd?: string } = {}): Promise<CliResult> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [PARAVM_BIN, ...args], {
        env: { ...process.env, PARAVM_HOST: this.url, PARAVM_TOKEN: this.token, ...opts.env },
        ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
        stdio: ["pipe", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      let stopped = false;
      child.stdout.setEncoding("utf8").on("data", (s: string) => {
        stdout += s;
        // Once: a second SIGTERM would find the command's handler gone and kill it outright.
        if (!stopped && opts.stopWhen?.test(stdout)) {
          stopped = true;
          child.kill("SIGTERM");
        }
      });
      child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
      const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
      child.on("close", (status) => {
        clearTimeout(timer);
        resolve({ status, stdout, stderr });
      });
      if (opts.input !== undefined) child.stdin.end(opts.input);
      else child.stdin.end();
    });
  }

  /** The loopback port (TCP daemons). */
  get port(): number {
    return Number(new URL(this.url).port);
  }

  /** Stop it and start it again on the same port, token and state dir (its VMs come back stopped). */
  async restart(): Promise<Daemon> {
    await this.stop({ keepDir: true });
    return Daemon.start({ ...this.started, again: { port: this.port, token: this.token, dir: this.dir } });
  }

  /** SIGTERM, then SIGKILL after a grace period; the state dir is removed unless `keepDir`. */
  async stop(opts: { keepDir?: boolean } = {}): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise<void>((r) => this.child.once("exit", () => r()));
      this.child.kill("SIGTERM");
      const t = setTimeout(() => this.child.kill("SIGKILL"), HARNESS.STOP_GRACE_MS);
      await exited;
      clearTimeout(t);
    }
    if (opts.keepDir !== true) rmSync(this.dir, { recursive: true, force: true });
  }
}
