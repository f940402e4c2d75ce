/**
 * One result for a VM from its vCPU threads' results and live reports (vm.ts gathers them).
 */
import type { FullResult } from "../machine/full.js";
import type { PvResult } from "../machine/pv.js";
import type { HartResult, PrivCounts, RunResult } from "../machine/run-loop.js";
import type { VcpuMessage } from "./vm-control.js";

/** Exits by reason and instructions retired so far in a run (Vm.liveCounters). */
export interface LiveCounters {
  readonly exits: Record<string, number>;
  readonly instret: number;
  readonly disk: { read: number; written: number } | null;
}

/**
 * The threads' latest "live" reports as one VM's counts, merged as mergeResults merges the
 * final results: hart k's figures from thread k plus what the owner counted for it. Null
 * before the owner's first report.
 */
export function mergeLive(live: readonly (Extract<VcpuMessage, { t: "live" }> | null)[]): LiveCounters | null {
  const owner = live[0];
  if (!owner) return null;
  const exits: Record<string, number> = {};
  const add = (from: Record<string, number> | undefined): void => {
    if (from) for (const [key, v] of Object.entries(from)) if (v !== 0) exits[key] = (exits[key] ?? 0) + v;
  };
  let instret = 0;
  for (let k = 0; k < owner.exits.length; k++) {
    add(owner.exits[k]);
    const mine = live[k];
    if (k !== 0) add(mine?.exits[k]);
    instret += mine?.instret[k] ?? 0;
  }
  return { exits, instret, disk: owner.disk };
}

/**
 * One result for the VM from its threads' results: hart k's figures come from thread k
 * (the owner adds what it counted for hart k: PLIC/CLINT edges, per-register exits).
 */
export function mergeResults(parts: readonly RunResult[]): RunResult & Partial<PvResult & FullResult> {
  const owner = parts[0]!;
  const add = (into: Record<string, number>, from: Record<string, number>): void => {
    for (const [key, v] of Object.entries(from)) if (v !== 0) into[key] = (into[key] ?? 0) + v;
  };
  const harts: HartResult[] = owner.harts.map((_, k) => {
    const exits: Record<string, number> = {};
    const interrupts: Record<string, number> = {};
    add(exits, owner.harts[k]!.exits);
    add(interrupts, owner.harts[k]!.interrupts);
    const mine = parts[k]!.harts[k]!;
    if (k !== 0) {
      add(exits, mine.exits);
      add(interrupts, mine.interrupts);
    }
    return { hart: k, instret: mine.instret, instretByPriv: mine.instretByPriv, exits, interrupts, ...(mine.tlb ? { tlb: mine.tlb } : {}), ...(mine.code ? { code: mine.code } : {}) };
  });
  const exits: Record<string, number> = {};
  const interrupts: Record<string, number> = {};
  const byPriv = { M: 0, S: 0, U: 0 };
  let instret = 0;
  for (const h of harts) {
    add(exits, h.exits);
    add(interrupts, h.interrupts);
    byPriv.M += h.instretByPriv.M;
    byPriv.S += h.instretByPriv.S;
    byPriv.U += h.instretByPriv.U;
    instret += h.instret;
  }
  // Device interrupt sources ("irq.<device>") are counted by the owner only.
  for (const [key, v] of Object.entries(owner.interrupts)) if (key.startsWith("irq.")) interrupts[key] = v;
  // A stop the guest asked for wins over "stopped" on threads that only followed it.
  const stop = parts.find((p) => p.stop !== "stopped")?.stop ?? owner.stop;
  const resetReason = parts.find((p) => p.resetReason !== undefined)?.resetReason;
  return {
    ...owner,
    stop,
    ...(resetReason !== undefined ? { resetReason } : {}),
    instret,
    instretByPriv: byPriv as PrivCounts,
    exits,
    interrupts,
    harts,
    wallMs: Math.max(...parts.map((p) => p.wallMs)),
    sleptMs: parts.reduce((s, p) => s + p.sleptMs, 0),
    sleeps: parts.reduce((s, p) => s + p.sleeps, 0),
  };
}
