/**
 * What the dashboard's browser tests run against: a real `paravm serve` child process on
 * a free loopback port with a temporary state directory, and Debian's chromium driven by
 * playwright-core (never a browser that playwright downloads).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext } from "playwright-core";

/** dist/test/web → the repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const DAEMON_READY_MS = 30_000;
const POLL_MS = 200;
/** How long a daemon gets to stop on SIGTERM before SIGKILL. */
const DAEMON_STOP_MS = 15_000;

/** Why the browser tests cannot run here, or null. */
export function skipReason(): string | null {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is missing (Debian's chromium; node scripts/setup.mjs installs it)`;
  if (!existsSync(join(ROOT, "dist", "web", "index.html"))) return "dist/web/ is not built (node scripts/build-web.mjs)";
  return null;
}

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr !== null ? ok(addr.port) : fail(new Error("no port"))));
    });
  });
}

export class Daemon {
  private constructor(
    readonly url: string,
    readonly token: string,
    readonly stateDir: string,
    private readonly child: ChildProcess,
    readonly output: () => string,
  ) {}

  static async start(token: string, extra: string[] = []): Promise<Daemon> {
    const port = await freePort();
    const stateDir = mkdtempSync(join(tmpdir(), "paravm-dash-state-"));
    const args = [join(ROOT, "bin", "paravm.js"), "serve", "--listen", `127.0.0.1:${port}`, "--token", token, "--state-dir", stateDir, ...extra];
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout!.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr!.on("data", (b: Buffer) => (out += b.toString()));
    const d = new Daemon(`http://127.0.0.1:${port}`, token, stateDir, child, () => out);
    const deadline = Date.now() + DAEMON_READY_MS;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`paravm serve exited with ${child.exitCode}:\n${out}`);
      try {
        const r = await fetch(`${d.url}/healthz`);
        if (r.ok) return d;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) throw new Error(`paravm serve did not answer /healthz in ${DAEMON_READY_MS} ms:\n${out}`);
      await sleep(POLL_MS);
    }
  }

  /** A REST call with the token; throws with the API's message on an error status. */
  async api<T>(method: string, path: string, body?: unknown): Promise<T> {
    const r = await fetch(`${this.url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
    return (text === "" ? null : JSON.parse(text)) as T;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise((ok) => this.child.once("exit", ok));
      this.child.kill("SIGTERM");
      const timer = setTimeout(() => this.child.kill("SIGKILL"), DAEMON_STOP_MS);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.stateDir, { recursive: true, force: true });
  }
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Chromium with a fresh profile directory of its own, removed at close. */
export async function launchBrowser(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), "paravm-dash-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1440, height: 900 },
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((ok) => setTimeout(ok, ms));
