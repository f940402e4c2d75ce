/**
 * bench:snapshot's migration rows as a whole: for each RAM size and workload, paravm's
 * cell then QEMU's (one after the other, so both see about the same host load), then the
 * table, the ratios and the notes of migrations that did not converge.
 */
import os from "node:os";
import { table } from "./common.js";
import type { GuestImages } from "./iobench.js";
import { DaemonPair, paravmMigrations } from "./snapshot-migrate-paravm.js";
import { QEMU_MIGRATE, qemuMigrations } from "./snapshot-migrate-qemu.js";
import { churnPlan, MIGRATION_HEADER, migrationRow, ratioLine, type MigrateLoad, type MigrationCell } from "./snapshot-migrate.js";

export interface MigrateOptions {
  readonly sizes: readonly number[];
  readonly loads: readonly MigrateLoad[];
  readonly runs: number;
  readonly dirtyMiBps: number;
  readonly work: string;
}

export interface MigrationReport {
  readonly options: MigrateOptions & { readonly churn: ReturnType<typeof churnPlan>; readonly qemu: typeof QEMU_MIGRATE };
  readonly loadAvgAtStart: number[];
  readonly cells: readonly MigrationCell[];
  readonly text: string;
}

export async function runMigrations(g: GuestImages, o: MigrateOptions, log: (line: string) => void): Promise<MigrationReport> {
  const loadAvgAtStart = os.loadavg();
  const cells: MigrationCell[] = [];
  const pair = await DaemonPair.start();
  try {
    for (const mib of o.sizes) {
      for (const load of o.loads) {
        const opts = { runs: o.runs, dirtyMiBps: o.dirtyMiBps, log };
        try {
          cells.push(await paravmMigrations(pair, mib, load, opts));
        } catch (e) {
          log(`paravm ${mib} MiB ${load}: ${(e as Error).message}`);
          cells.push({ who: "paravm", mib, load, samples: [], failures: [(e as Error).message] });
        }
        cells.push(await qemuMigrations(g, mib, load, { ...opts, work: o.work }));
      }
    }
  } finally {
    await pair.stop();
  }
  const lines = [table(MIGRATION_HEADER, cells.map(migrationRow)), ""];
  for (const p of cells.filter((c) => c.who === "paravm")) {
    const q = cells.find((c) => c.who === "qemu" && c.mib === p.mib && c.load === p.load);
    if (q && p.samples.length > 0 && q.samples.length > 0) lines.push(ratioLine(p, q));
  }
  for (const c of cells) {
    const notes = [...new Set(c.samples.filter((s) => !s.converged).map((s) => s.note))];
    for (const n of notes) lines.push(`${c.who} ${c.mib} MiB ${c.load}: ${n}`);
    for (const f of c.failures) lines.push(`${c.who} ${c.mib} MiB ${c.load}: FAILED: ${f}`);
  }
  return { options: { ...o, churn: churnPlan(o.dirtyMiBps), qemu: QEMU_MIGRATE }, loadAvgAtStart, cells, text: lines.join("\n") };
}
