/**
 * `paravm up FILE`: check a fleet file whole (fleet-file.ts), boot every VM in it on one
 * hypervisor, and watch them: a live table on a terminal (top-table.ts), one JSON line
 * per VM per second with --json, plain progress lines otherwise. Each VM's console goes
 * to a log file; on a terminal a VM's console can be attached and detached (Ctrl-A X).
 *
 * Quitting (q, Ctrl-C, SIGTERM) stops every VM — each owner thread closes its disk, which
 * syncs it — and exits 0. When every VM has ended by itself, the status is the first
 * failing VM's (vmExitStatus), else 0.
 */
import { createWriteStream, mkdirSync, readFileSync, type WriteStream } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { FULL_DEFAULTS } from "../machine/full.js";
import type { FullResult } from "../machine/full.js";
import type { PvResult } from "../machine/pv.js";
import { Hypervisor } from "../hypervisor/hypervisor.js";
import { createFleet, ExecStatusReader, planFleet, vmExitStatus } from "../hypervisor/fleet-run.js";
import { defaultBudget, mib } from "../hypervisor/memory-pool.js";
import type { AutoscaleDecision } from "../hypervisor/autoscaler.js";
import { VmBuildError, type Vm, type VmEvent } from "../hypervisor/vm.js";
import { checkDisk, EXIT, loadGuest, readProgram, UsageError } from "./args.js";
import { parseFleet, toFleetVm, type Fleet } from "./fleet-file.js";
import { EscapeFilter } from "./run-command.js";
import { MetricsSampler, plainLine, renderTable, type VmMetrics, type VmProbe } from "./top-table.js";

export interface UpOptions {
  json?: boolean;
  hostMem?: number;
  pcpus?: number;
  logDir?: string;
  kernel?: string;
  initrd?: string;
  firmware?: string;
}

export const UP = {
  REFRESH_MS: 1000,
  /** Plain mode: a progress line per VM this often. */
  PLAIN_EVERY_MS: 5000,
  /** Console kept per VM for an attach to show what came before. */
  CONSOLE_TAIL_BYTES: 16 * 1024,
  KEYS: "keys: 1-9/j/k select · c or Enter: console (Ctrl-A X: back) · p: pause/resume · q: quit",
} as const;

const ESC = {
  ALT_ON: "\x1b[?1049h",
  ALT_OFF: "\x1b[?1049l",
  HOME: "\x1b[H",
  CLEAR: "\x1b[2J",
  CLEAR_EOL: "\x1b[K",
  CLEAR_BELOW: "\x1b[J",
  HIDE_CURSOR: "\x1b[?25l",
  SHOW_CURSOR: "\x1b[?25h",
} as const;

const KEY = { CTRL_C: 0x03, ENTER: 0x0d, NEWLINE: 0x0a } as const;

/** Every problem in a fleet file: printed as a list, exit status 2. */
export class FleetFileError extends UsageError {
  constructor(file: string, problems: readonly string[]) {
    super(`${file}: ${problems.length} problem${problems.length === 1 ? "" : "s"}, nothing was started:\n${problems.map((p) => `  ${p}`).join("\n")}`);
  }
}

/** The default log directory: ~/.cache/paravm/logs/<fleet>-<time>. */
function defaultLogDir(file: string): string {
  const root = process.env.PARAVM_CACHE ?? join(homedir(), ".cache", "paravm");
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
  return join(root, "logs", `${basename(file).replace(/\.[^.]*$/, "")}-${stamp}`);
}


/** `paravm up FILE`: resolves to the exit status. */
export async function runUp(file: string, opts: UpOptions): Promise<number> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    readProgram(file, "fleet file"); // the usual one-line message for a missing or unreadable file
    throw new UsageError(`cannot read fleet file '${file}'`);
  }
  const budget = opts.hostMem !== undefined ? { bytes: opts.hostMem, source: "--host-mem" } : defaultBudget();
  const diskProblem = (path: string): string | null => {
    try {
      checkDisk(path);
      return null;
    } catch (e) {
      return (e as Error).message.replace(/^--disk /, "");
    }
  };
  const parsed = parseFleet(text, file, { budgetBytes: budget.bytes, baseDir: dirname(resolve(file)), diskProblem });
  if (!parsed.ok) throw new FleetFileError(file, parsed.problems);
  const fleet = parsed.fleet;

  const { kernel, initrd } = loadGuest(opts);
  const firmware = fleet.vms.some((v) => v.profile === "full") ? readProgram(opts.firmware ?? FULL_DEFAULTS.FIRMWARE, "firmware") : undefined;
  const plans = planFleet(fleet.vms.map(toFleetVm), { kernel, ...(initrd ? { initrd } : {}), ...(firmware ? { firmware } : {}), subnets: fleet.networks });
  const hv = new Hypervisor({ hostMemBytes: budget.bytes, ...(opts.pcpus !== undefined ? { pcpus: opts.pcpus } : {}) });
  let vms: Vm[];
  try {
    vms = createFleet(hv, plans, (p) => p.vm.exec === undefined);
    for (const e of fleet.vms) if (e.autoscale) hv.setAutoscale(e.name, e.autoscale);
  } catch (e) {
    await hv.close();
    throw e;
  }
  const logDir = resolve(opts.logDir ?? defaultLogDir(file));
  try {
    mkdirSync(logDir, { recursive: true });
  } catch (e) {
    await hv.close();
    throw new UsageError(`--log-dir '${logDir}': ${(e as Error).message}`);
  }
  process.stderr.write(
    `paravm: host memory budget ${mib(budget.bytes)} (${budget.source}); the fleet is charged ${mib(fleet.chargeBytes)}; ` +
      `${hv.scheduler.pcpus} host core${hv.scheduler.pcpus === 1 ? "" : "s"}; consoles logged in ${logDir}\n`,
  );
  return new Fleetwatch(hv, vms, fleet, file, logDir, opts).run();
}

/** A running fleet and the screen (or stream) that shows it. */
class Fleetwatch {
  private readonly logs = new Map<string, WriteStream>();
  private readonly tails = new Map<string, Buffer>();
  private readonly readers = new Map<string, ExecStatusReader>();
  private readonly events: string[] = [];
  private readonly sampler = new MetricsSampler(performance.now());
  private readonly tty: boolean;
  private selected = 0;
  private screenOpen = false;
  private attached: Vm | null = null;
  private escape: EscapeFilter | null = null;
  private quitting = false;
  private lastPlainMs = -Infinity;
  private metrics: VmMetrics[] = [];
  private endFleet: (() => void) | null = null;

  constructor(
    private readonly hv: Hypervisor,
    private readonly vms: Vm[],
    private readonly fleet: Fleet,
    private readonly file: string,
    private readonly logDir: string,
    private readonly opts: UpOptions,
  ) {
    this.tty = opts.json !== true && process.stdout.isTTY === true && process.stdin.isTTY === true;
  }

  private event(text: string): void {
    const line = `${new Date().toTimeString().slice(0, 8)} ${text}`;
    this.events.push(line);
    if (this.events.length > 100) this.events.shift();
    if (!this.tty) process.stderr.write(`paravm: ${text}\n`);
  }

  async run(): Promise<number> {
    for (const vm of this.vms) {
      const log = createWriteStream(join(this.logDir, `${vm.name}.log`));
      log.on("error", (e) => this.event(`${vm.name}: console log: ${e.message}`));
      this.logs.set(vm.name, log);
      const reader = new ExecStatusReader();
      this.readers.set(vm.name, reader);
      vm.on("output", (b: Uint8Array) => {
        log.write(b);
        reader.push(b);
        const tail = Buffer.concat([this.tails.get(vm.name) ?? Buffer.alloc(0), b]);
        this.tails.set(vm.name, tail.length > UP.CONSOLE_TAIL_BYTES ? tail.subarray(tail.length - UP.CONSOLE_TAIL_BYTES) : tail);
        if (this.attached === vm) process.stdout.write(b);
      });
    }
    const onEvent = (e: VmEvent): void => this.event(`${e.vm}: ${e.state}${e.reason !== undefined ? ` (${e.reason})` : ""}`);
    this.hv.on("event", onEvent);
    // The autoscaler's decisions, with its reason in words.
    const onDecision = (d: AutoscaleDecision): void => this.event(`${d.vm}: ${d.reason}${d.applied ? "" : " (not applied)"}`);
    this.hv.on("decision", onDecision);
    const quit = (): void => void this.quit();
    process.on("SIGINT", quit);
    process.on("SIGTERM", quit);
    process.stdout.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code !== "EPIPE" && e.code !== "ERR_STREAM_DESTROYED") throw e;
    });

    let status: number = EXIT.OK;
    const ended = new Promise<void>((r) => (this.endFleet = r));
    let timer: NodeJS.Timeout | undefined;
    try {
      try {
        await Promise.all(this.vms.map((vm) => vm.start()));
      } catch (e) {
        await this.stopAll();
        if (e instanceof VmBuildError && e.usage) throw new UsageError(e.message);
        throw e;
      }
      if (this.tty) this.openScreen();
      const outcomes = Promise.all(
        this.vms.map(async (vm) => {
          const o = await vm.wait();
          const result = o.kind === "stopped" ? (o.result as PvResult | FullResult) : null;
          const entry = this.fleet.vms.find((v) => v.name === vm.name)!;
          const code = vmExitStatus(result, this.readers.get(vm.name)!.status, entry.exec !== undefined);
          if (!this.quitting && code !== 0) this.event(`${vm.name}: ended with status ${code}${o.kind === "crashed" ? `: ${o.reason}` : ""}`);
          return this.quitting ? 0 : code;
        }),
      );
      void outcomes.then(() => this.endFleet?.());
      this.tick();
      timer = setInterval(() => this.tick(), UP.REFRESH_MS);
      await ended;
      status = this.quitting ? EXIT.OK : (await outcomes).find((c) => c !== 0) ?? EXIT.OK;
      if (!this.quitting && !this.tty) this.tick();
    } finally {
      clearInterval(timer);
      process.off("SIGINT", quit);
      process.off("SIGTERM", quit);
      this.hv.off("event", onEvent);
      this.hv.off("decision", onDecision);
      this.closeScreen();
      await this.stopAll();
      await this.hv.close();
      await Promise.all([...this.logs.values()].map((l) => new Promise<void>((r) => l.end(() => r()))));
    }
    process.stderr.write(`paravm: fleet ${this.quitting ? "stopped" : "ended"}; consoles in ${this.logDir}\n`);
    return status;
  }

  private async stopAll(): Promise<void> {
    await Promise.all(this.vms.filter((vm) => vm.state === "running" || vm.state === "paused").map((vm) => vm.stop().catch(() => undefined)));
  }

  private async quit(): Promise<void> {
    if (this.quitting) return;
    this.quitting = true;
    this.event("stopping every VM");
    await this.stopAll();
    this.endFleet?.();
  }

  private probe(vm: Vm): VmProbe {
    const port = this.hv.port(vm.name);
    return {
      name: vm.name,
      state: vm.state,
      sched: vm.schedStats(),
      vcpus: vm.vcpus,
      mem: this.memory(vm),
      port: port ? port.port.stats : null,
      counters: vm.liveCounters(),
    };
  }

  /** RAM, balloon and the guest's available memory (pv; a full machine has no balloon: "-"). */
  private memory(vm: Vm): VmProbe["mem"] {
    const live = vm.state === "running" || vm.state === "paused";
    if (vm.spec.profile !== "pv" || !live) return { ramBytes: vm.spec.memBytes, balloonBytes: null, guestAvailableBytes: null };
    const m = vm.memoryStats();
    return { ramBytes: m.ramBytes, balloonBytes: m.balloonBytes, guestAvailableBytes: m.guest?.available ?? null };
  }

  private tick(): void {
    const now = performance.now();
    this.metrics = this.sampler.sample(this.vms.map((vm) => this.probe(vm)), now);
    if (this.opts.json === true) {
      for (const m of this.metrics) process.stdout.write(`${JSON.stringify(m)}\n`);
    } else if (this.tty) {
      this.draw();
    } else if (now - this.lastPlainMs >= UP.PLAIN_EVERY_MS) {
      this.lastPlainMs = now;
      for (const m of this.metrics) process.stdout.write(`${plainLine(m)}\n`);
    }
  }

  private draw(): void {
    if (this.attached) return;
    const snap = this.hv.memory.snapshot();
    const title =
      `paravm up ${basename(this.file)}: ${this.vms.length} VMs, memory ${mib(snap.chargedBytes)} of ${mib(snap.budgetBytes)} charged, ` +
      `${this.hv.scheduler.pcpus} host core${this.hv.scheduler.pcpus === 1 ? "" : "s"}, logs ${this.logDir}`;
    const lines = renderTable({ title, metrics: this.metrics, selected: this.selected, events: this.events, keys: UP.KEYS, columns: process.stdout.columns ?? 120 });
    process.stdout.write(ESC.HOME + lines.map((l) => l + ESC.CLEAR_EOL).join("\r\n") + ESC.CLEAR_BELOW);
  }

  private openScreen(): void {
    this.screenOpen = true;
    process.stdout.write(ESC.ALT_ON + ESC.HIDE_CURSOR + ESC.CLEAR);
    process.stdin.setRawMode(true);
    process.stdin.on("data", this.onKeys);
    process.stdin.resume();
  }

  private closeScreen(): void {
    if (!this.screenOpen) return;
    this.screenOpen = false;
    process.stdin.off("data", this.onKeys);
    if (process.stdin.isTTY) process.stdin.setRawMode(false);
    process.stdin.pause();
    process.stdout.write(ESC.SHOW_CURSOR + ESC.ALT_OFF);
  }

  private readonly onKeys = (chunk: Buffer): void => {
    if (this.attached) {
      const bytes = this.escape!.filter(chunk);
      if (bytes.length > 0) this.attached?.input(bytes);
      return;
    }
    for (const b of chunk) this.key(b);
    this.draw();
  };

  private key(b: number): void {
    const ch = String.fromCharCode(b);
    const vm = this.vms[this.selected];
    if (ch === "q" || b === KEY.CTRL_C) void this.quit();
    else if (ch >= "1" && ch <= "9" && Number(ch) <= this.vms.length) this.selected = Number(ch) - 1;
    else if (ch === "j" || ch === "B") this.selected = Math.min(this.vms.length - 1, this.selected + 1); // "B": the down arrow's last byte
    else if (ch === "k" || ch === "A") this.selected = Math.max(0, this.selected - 1);
    else if ((ch === "c" || b === KEY.ENTER || b === KEY.NEWLINE) && vm) this.attach(vm);
    else if (ch === "p" && vm) {
      if (vm.state === "running") vm.pause().catch((e: Error) => this.event(`${vm.name}: pause: ${e.message}`));
      else if (vm.state === "paused") vm.resume();
      else this.event(`${vm.name} is ${vm.state}: nothing to pause`);
    }
  }

  private attach(vm: Vm): void {
    if (vm.state !== "running" && vm.state !== "paused") {
      this.event(`${vm.name} is ${vm.state}: its console is in ${join(this.logDir, `${vm.name}.log`)}`);
      return;
    }
    this.attached = vm;
    this.escape = new EscapeFilter(() => this.detach());
    process.stdout.write(ESC.CLEAR + ESC.HOME + ESC.SHOW_CURSOR + `[console of ${vm.name}: Ctrl-A X to go back to the table]\r\n`);
    process.stdout.write(this.tails.get(vm.name) ?? Buffer.alloc(0));
  }

  private detach(): void {
    this.attached = null;
    this.escape = null;
    process.stdout.write(ESC.HIDE_CURSOR + ESC.CLEAR);
    this.draw();
  }
}
