/**
 * bench:snapshot's migration rows as a whole: for each RAM size paravm's cells (one VM,
 * every workload in turn) then QEMU's (a fresh pair per run), so both see about the same
 * host load; then the table (paravm and QEMU side by side per size and workload), the
 * ratios and the notes of migrations that did not converge or failed.
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
      const opts = { runs: o.runs, dirtyMiBps: o.dirtyMiBps, log };
      try {
        cells.push(...(await paravmMigrations(pair, mib, o.loads, opts)));
      } catch (e) {
        log(`paravm ${mib} MiB: ${(e as Error).message}`);
        for (const load of o.loads) if (!cells.some((c) => c.who === "paravm" && c.mib === mib && c.load === load)) cells.push({ who: "paravm", mib, load, samples: [], failures: [(e as Error).message] });
      }
      for (const load of o.loads) cells.push(await qemuMigrations(g, mib, load, { ...opts, work: o.work }));
    }
  } finally {
    await pair.stop();
  }
  const order = (c: MigrationCell): number => o.sizes.indexOf(c.mib) * 100 + o.loads.indexOf(c.load) * 2 + (c.who === "qemu" ? 1 : 0);
  const lines = [table(MIGRATION_HEADER, [...cells].sort((x, y) => order(x) - order(y)).map(migrationRow)), ""];
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
