/**
 * The guest program of the multi-vCPU snapshot and migration tests (vm-snapshot-smp.test.ts,
 * migration/migration-smp.test.ts): two shell loops, A and B, each busy for a while between
 * lines, so Linux runs them on both CPUs. Each line says which loop, its count, the CPU the
 * loop last ran on (field 39 of /proc/self/stat, read by the shell itself: no process in
 * between), the online CPUs and nproc:
 *
 *   A n=12 cpu=1 on=0-1 np=2
 *
 * A restored or migrated guest must go on counting in both loops, with the same CPUs online.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FULL_DEFAULTS } from "../../machine/full.js";
import { PV_DEFAULTS } from "../../machine/pv.js";
import type { MachineSpec } from "../machine-spec.js";
import type { Vm } from "../vm.js";

/** Shell arithmetic steps between two lines of a loop: about a second of a guest vCPU on a busy 2-core host. */
export const SMP_BUSY_STEPS = 200;
/** How long the tests wait for lines: a 2-vCPU full guest boots in minutes when the host is loaded. */
export const SMP_WAIT_MS = 480_000;

const MiB = 1 << 20;

/** One counting loop: its name, then busy steps, then its line. */
function loop(name: string): string {
  return (
    `(i=0; while :; do i=$((i+1)); w=0; while [ $w -lt ${SMP_BUSY_STEPS} ]; do w=$((w+1)); done; ` +
    `read -r s < /proc/self/stat; set -- $s; read -r on < /sys/devices/system/cpu/online; ` +
    `echo "${name} n=$i cpu=\${39} on=$on np=$(nproc)"; done) &`
  );
}

/** The two loops; the shell waits for them (the console stays theirs). */
export const SMP_COUNTERS = `${loop("A")} ${loop("B")} wait`;

/** A VM of `cpus` harts (`onlineCpus` of them online at boot, pv) running SMP_COUNTERS; the pv guest keeps its agent. */
export function smpSpec(guestDir: string, profile: "pv" | "full", opts: { cpus?: number; onlineCpus?: number; ip?: string; mac?: number } = {}): MachineSpec {
  const exec = Buffer.from(SMP_COUNTERS).toString("base64");
  const base = profile === "pv" ? PV_DEFAULTS.BOOTARGS : FULL_DEFAULTS.BOOTARGS;
  const ip = opts.ip !== undefined ? ` ip=${opts.ip}::10.0.4.1:255.255.255.0::eth0:off` : "";
  return {
    profile,
    cpus: opts.cpus ?? 2,
    ...(opts.onlineCpus !== undefined ? { onlineCpus: opts.onlineCpus } : {}),
    memBytes: 64 * MiB,
    kernel: readFileSync(join(guestDir, "Image")),
    initrd: readFileSync(join(guestDir, "initramfs.cpio.gz")),
    ...(profile === "full" ? { firmware: readFileSync(FULL_DEFAULTS.FIRMWARE) } : {}),
    bootargs: `${base} quiet paravm.nodisk${profile === "full" ? " paravm.noagent" : ""}${ip} paravm.exec=${exec}`,
    ...(opts.mac !== undefined ? { net: { mac: Uint8Array.from([2, 0, 0, 0, 4, opts.mac]) } } : {}),
  };
}

export interface SmpLine {
  readonly loop: "A" | "B";
  readonly n: number;
  readonly cpu: number;
  readonly online: string;
  readonly nproc: number;
}

/** Every complete line of a console transcript. */
export function smpLines(text: string): SmpLine[] {
  return [...text.matchAll(/([AB]) n=(\d+) cpu=(\d+) on=(\S+) np=(\d+)\r?\n/g)].map((x) => ({
    loop: x[1] as "A" | "B",
    n: Number(x[2]),
    cpu: Number(x[3]),
    online: x[4]!,
    nproc: Number(x[5]),
  }));
}

/** A VM's console, parsed as it comes. */
export class SmpConsole {
  text = "";
  constructor(vm: Vm) {
    vm.on("output", (b: Uint8Array) => (this.text += Buffer.from(b).toString("latin1")));
  }

  lines(loop?: "A" | "B"): SmpLine[] {
    const all = smpLines(this.text);
    return loop === undefined ? all : all.filter((l) => l.loop === loop);
  }

  /** Resolves once each loop has printed at least `n` lines on this console. */
  async each(n: number, what: string): Promise<void> {
    const t0 = Date.now();
    while (this.lines("A").length < n || this.lines("B").length < n) {
      if (Date.now() - t0 > SMP_WAIT_MS) throw new Error(`no ${what} within ${SMP_WAIT_MS / 1000} s; console ends:\n${this.text.slice(-600)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/**
 * Both loops went on from `before` (the lines seen up to the pause) on `after` (a new
 * console): no reboot (counts carry on, at most one line lost mid-write), one count after
 * another, and the same CPUs online. Returns the problems, empty when all is well.
 */
export function continued(before: readonly SmpLine[], after: SmpConsole): string[] {
  const problems: string[] = [];
  for (const loop of ["A", "B"] as const) {
    const was = before.filter((l) => l.loop === loop);
    const now = after.lines(loop);
    const last = was[was.length - 1];
    if (last === undefined || now.length === 0) {
      problems.push(`loop ${loop}: ${was.length} lines before, ${now.length} after`);
      continue;
    }
    if (!(now[0]!.n > 1 && now[0]!.n <= last.n + 2)) problems.push(`loop ${loop}: ${last.n} before, ${now[0]!.n} first after (a reboot starts from 1)`);
    for (let i = 1; i < now.length; i++) if (now[i]!.n !== now[i - 1]!.n + 1) problems.push(`loop ${loop}: ${now[i - 1]!.n} then ${now[i]!.n}`);
    for (const l of now) if (l.online !== last.online || l.nproc !== last.nproc) problems.push(`loop ${loop}: CPUs online ${last.online} (${last.nproc}) before, ${l.online} (${l.nproc}) after`);
  }
  return problems;
}
