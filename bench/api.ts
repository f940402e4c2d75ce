/**
 * API benchmark: a real `paravm serve` child (free loopback port, token, temporary state
 * dir) holding --vms running idle 64 MiB pv guests (each booted to its shell), measured
 * from outside as the CLI client sees it (src/control/client/api-client.ts, keep-alive):
 *
 *   idle     the daemon's own CPU (utime+stime from /proc/<pid>/stat, all threads: the
 *            guests' vCPU threads live in it; and its main thread, the API's event loop,
 *            from /proc/<pid>/task/<pid>/stat) and memory (VmRSS, VmHWM from
 *            /proc/<pid>/status) over --idle-s seconds with no requests
 *   list     GET /api/v1/vms latency, p50/p99 over --samples requests
 *   state    POST /vms/vm0/pause and /resume, alternately: latency p50/p99 over --samples
 *   console  a keystroke in over the console WebSocket, its echo out: round trip p50/p99
 *            over --samples keystrokes (a letter, then DEL, so the shell's line stays short;
 *            the guest is idle, so the first output after a keystroke is its echo)
 *
 *   npm run bench:api [-- options]      (or: node dist/bench/api.js [options])
 *
 * Options:
 *   --vms N        idle VMs held by the daemon (default 10)
 *   --samples N    requests (and keystrokes) per measurement (default 200)
 *   --idle-s S     the idle window (default 10)
 *   --no-json      do not write bench/results/api-<date>.json
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type WebSocket from "ws";
import { fixed, gitInfo, hostInfo, intOption, printHeaderHelp, runMain, table, writeResults } from "./lib/common.js";
import { ApiClient, parseEndpoint, vmPath } from "../src/control/client/api-client.js";
import { Daemon } from "../src/control/client/daemon-harness.js";
import { defaultGuestDir } from "../src/control/args.js";

const MiB = 1024 * 1024;
const BENCH = {
  VM_MEM: 64 * MiB,
  BOOT_TIMEOUT_MS: 600_000,
  /** After the last guest's prompt: let boot-time work (timers, the agent's hello) die down. */
  SETTLE_MS: 3000,
  POLL_MS: 500,
  /** A keystroke whose echo has not come back within this is a failed sample. */
  ECHO_TIMEOUT_MS: 5000,
  /** Requests before measuring (connection set up, code warm). */
  WARMUP: 10,
  /** The guest shell's prompt at the end of its console. */
  PROMPT: /# $/,
  /** DEL: the shell's line editor answers it by redrawing (its bytes vary: any output counts). */
  DEL: "\x7f",
  ANY_OUTPUT: "",
} as const;

interface Options {
  vms: number;
  samples: number;
  idleS: number;
  json: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      vms: { type: "string" },
      samples: { type: "string" },
      "idle-s": { type: "string" },
      "no-json": { type: "boolean" },
      help: { type: "boolean" },
    },
  });
  if (values.help) printHeaderHelp("api.ts");
  return {
    vms: values.vms !== undefined ? intOption("vms", values.vms, 1) : 10,
    samples: values.samples !== undefined ? intOption("samples", values.samples, 2) : 200,
    idleS: values["idle-s"] !== undefined ? intOption("idle-s", values["idle-s"], 1) : 10,
    json: values["no-json"] !== true,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Percentiles {
  n: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Nearest-rank percentiles of samples in ms. */
export function percentiles(xs: readonly number[]): Percentiles {
  const s = [...xs].sort((a, b) => a - b);
  const rank = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
  const r3 = (x: number): number => Math.round(x * 1000) / 1000;
  return { n: s.length, p50Ms: r3(rank(50)), p99Ms: r3(rank(99)), maxMs: r3(s[s.length - 1]!) };
}

/** Clock ticks per second of /proc's CPU times. */
function clockTicks(): number {
  const r = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
  const n = Number(r.stdout?.trim());
  return r.status === 0 && n > 0 ? n : 100;
}

/** utime + stime in ticks from a /proc/…/stat line (fields 14 and 15; the name in parentheses may hold spaces). */
function cpuTicks(statFile: string): number {
  const s = readFileSync(statFile, "utf8");
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
}

function statusKb(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : 0;
}

interface Idle {
  seconds: number;
  cpuPctOfCore: number;
  mainThreadCpuPctOfCore: number;
  rssMiB: number;
  hwmMiB: number;
  threads: number;
  guestRamMiB: number;
  rssBeyondGuestRamMiBPerVm: number;
}

async function measureIdle(pid: number, seconds: number, vms: number): Promise<Idle> {
  const hz = clockTicks();
  const all0 = cpuTicks(`/proc/${pid}/stat`);
  const main0 = cpuTicks(`/proc/${pid}/task/${pid}/stat`);
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const dt = (performance.now() - t0) / 1000;
  const pct = (ticks: number): number => Math.round((ticks / hz / dt) * 1000) / 10;
  const rssMiB = statusKb(pid, "VmRSS") / 1024;
  const guestRamMiB = (vms * BENCH.VM_MEM) / MiB;
  return {
    seconds: Math.round(dt * 10) / 10,
    cpuPctOfCore: pct(cpuTicks(`/proc/${pid}/stat`) - all0),
    mainThreadCpuPctOfCore: pct(cpuTicks(`/proc/${pid}/task/${pid}/stat`) - main0),
    rssMiB: Math.round(rssMiB),
    hwmMiB: Math.round(statusKb(pid, "VmHWM") / 1024),
    threads: Number(/^Threads:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0),
    guestRamMiB,
    // Guest RAM is only resident where the guest touched it, so this is an upper bound of the overhead.
    rssBeyondGuestRamMiBPerVm: Math.round(((rssMiB - guestRamMiB) / vms) * 10) / 10,
  };
}

async function timed(n: number, f: () => Promise<unknown>): Promise<Percentiles> {
  for (let i = 0; i < BENCH.WARMUP; i++) await f();
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await f();
    xs.push(performance.now() - t);
  }
  return percentiles(xs);
}

/** Keystrokes over the console socket, each timed until its echo is back. */
async function consoleRoundTrip(client: ApiClient, name: string, n: number): Promise<Percentiles> {
  let seen = "";
  let waiter: (() => void) | null = null;
  let want = "";
  const ws = await client.openSocket(vmPath(name, "/console"), (data: WebSocket.RawData) => {
    seen += (Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer)).toString("latin1");
    if (waiter && seen.includes(want)) waiter();
  });
  const key = async (k: string, echo: string): Promise<number> => {
    seen = "";
    want = echo;
    const t = performance.now();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no echo of ${JSON.stringify(k)} within ${BENCH.ECHO_TIMEOUT_MS} ms`)), BENCH.ECHO_TIMEOUT_MS);
      waiter = () => {
        clearTimeout(timer);
        waiter = null;
        resolve();
      };
      ws.send(Buffer.from(k, "latin1"));
    });
    return performance.now() - t;
  };
  await sleep(BENCH.SETTLE_MS); // the scroll-back arrives first; let it pass
  const xs: number[] = [];
  for (let i = 0; i < n + BENCH.WARMUP; i++) {
    const ms = i % 2 === 0 ? await key("a", "a") : await key(BENCH.DEL, BENCH.ANY_OUTPUT);
    if (i >= BENCH.WARMUP) xs.push(ms);
  }
  if (n % 2 !== 0) await key(BENCH.DEL, BENCH.ANY_OUTPUT); // leave the shell's line empty
  ws.close();
  return percentiles(xs);
}

async function main(): Promise<number> {
  const opts = parseOptions();
  if (defaultGuestDir() === null) throw new Error("guest images are not built (node scripts/build-guests.mjs)");
  const host = hostInfo();
  console.log(`bench:api: ${opts.vms} idle ${BENCH.VM_MEM / MiB} MiB pv VMs under paravm serve, ${opts.samples} samples each (${host.cpuCount} host cores)`);
  const daemon = await Daemon.start();
  const client = new ApiClient(parseEndpoint(daemon.url), daemon.token);
  try {
    const names = Array.from({ length: opts.vms }, (_, i) => `vm${i}`);
    const tBoot = performance.now();
    for (const name of names) await client.json("POST", "/vms", { body: { name, mem: BENCH.VM_MEM, start: true } });
    for (const name of names) {
      const t0 = Date.now();
      while (!BENCH.PROMPT.test(await client.text(vmPath(name, "/console?bytes=256")))) {
        if (Date.now() - t0 > BENCH.BOOT_TIMEOUT_MS) throw new Error(`${name}: no shell prompt within ${BENCH.BOOT_TIMEOUT_MS / 1000} s`);
        await sleep(BENCH.POLL_MS);
      }
    }
    const bootS = Math.round((performance.now() - tBoot) / 100) / 10;
    console.log(`  ${opts.vms} VMs at their shell prompt after ${bootS} s; idle for ${opts.idleS} s`);
    await sleep(BENCH.SETTLE_MS);
    const idle = await measureIdle(daemon.child.pid!, opts.idleS, opts.vms);

    const list = await timed(opts.samples, () => client.json("GET", "/vms"));
    let paused = false;
    const state = await timed(opts.samples, async () => {
      await client.json("POST", vmPath(names[0]!, paused ? "/resume" : "/pause"));
      paused = !paused;
    });
    if (paused) await client.json("POST", vmPath(names[0]!, "/resume"));
    const consoleRtt = await consoleRoundTrip(client, names[0]!, opts.samples);

    const ms = (p: Percentiles): string[] => [fixed(p.p50Ms, 2), fixed(p.p99Ms, 2), fixed(p.maxMs, 2), String(p.n)];
    console.log();
    console.log(
      table(
        ["latency (ms)", "p50", "p99", "max", "n"],
        [
          ["GET /vms", ...ms(list)],
          ["pause/resume", ...ms(state)],
          ["console keystroke echo", ...ms(consoleRtt)],
        ],
      ),
    );
    console.log();
    console.log(
      table(
        [`daemon idle, ${opts.vms} VMs (${idle.seconds} s)`, "value"],
        [
          ["CPU, whole process (% of a core)", fixed(idle.cpuPctOfCore, 1)],
          ["CPU, main thread: the API (% of a core)", fixed(idle.mainThreadCpuPctOfCore, 1)],
          ["RSS (MiB)", String(idle.rssMiB)],
          ["peak RSS (MiB)", String(idle.hwmMiB)],
          ["RSS beyond guest RAM, per VM (MiB)", fixed(idle.rssBeyondGuestRamMiBPerVm, 1)],
          ["threads", String(idle.threads)],
        ],
      ),
    );
    if (opts.json) {
      const file = writeResults("api", {
        bench: "api",
        date: new Date().toISOString(),
        host,
        git: gitInfo(),
        options: opts,
        vmMemBytes: BENCH.VM_MEM,
        bootAllS: bootS,
        latency: { listVms: list, pauseResume: state, consoleEcho: consoleRtt },
        idle,
      });
      console.log(`\nresults: ${file}`);
    }
    return 0;
  } catch (e) {
    console.log(`bench:api: the daemon's log ends:\n${daemon.log().split("\n").slice(-20).join("\n")}`);
    throw e;
  } finally {
    client.close();
    await daemon.stop();
  }
}

runMain("bench:api", main);
