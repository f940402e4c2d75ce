/**
 * bench:compare — what each way of sharing a machine costs, measured on the same work in
 * one run: a paravm pv VM, a paravm full VM, a container in a pv VM, and QEMU TCG running
 * the same kernel and initramfs with virtio devices and with emulated ones (e1000, AHCI).
 * Twelve rows (bench/lib/compare-rows.ts): start-up to a shell and to a command's output,
 * CPU, system calls, timers, disk write and read (direct I/O), TCP throughput and round
 * trip between two instances, host memory per instance, density in a memory budget and an
 * idle fleet's host CPU. Each column's module measures its cells (compare-paravm.ts,
 * compare-container.ts, compare-qemu.ts); a cell that could not be measured says why.
 *
 * Writes bench/results/compare-<date>.json and renders the report (README.md with the
 * tables, ratios against pv and the per-operation counters that explain them, SVG charts,
 * results.json) into docs/compare/ unless --out or --no-report says otherwise.
 *
 *   npm run bench:compare [-- options]      (or: node dist/bench/compare.js [options])
 *
 * Options:
 *   --runs N             timed runs per measurement, default 3
 *   --columns LIST       comma-separated columns to measure (pv,full,container,qemu-virtio,
 *                        qemu-emulated), default all; the others' cells say "not run"
 *   --rows LIST          comma-separated row ids, default all
 *   --cpu-mib N          MiB md5summed by the CPU row, default 4
 *   --syscall-bytes N    bytes of dd bs=1, default 20000
 *   --timer-iters N      usleep 2000 calls, default 200
 *   --disk-mib N         MiB per dd, default 16
 *   --net-mib N          MiB per TCP transfer, default 16
 *   --ping-count N       pings per round-trip run, default 20
 *   --mem-mib N          guest RAM of every instance, default 128
 *   --density-budget-mib N   host memory the density row fills, default 1024
 *   --density-cap N      stop the density row here, default 32
 *   --idle-instances N   idle instances side by side, default 4
 *   --idle-s N           seconds the idle row measures, default 20
 *   --timeout-s N        kill one instance after this long, default 300
 *   --guest-dir DIR      directory with Image and initramfs.cpio.gz
 *   --out DIR            where the report goes, default docs/compare
 *   --no-report          only the JSON under bench/results/
 */
import { mkdirSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import { fmtDuration, vsPvText, withUnit } from "./lib/compare-format.js";
import { explainRow, headline } from "./lib/compare-explain.js";
import { measureContainer } from "./lib/compare-container.js";
import { measureParavm } from "./lib/compare-paravm.js";
import { measureQemu } from "./lib/compare-qemu.js";
import { renderCompareReport } from "./lib/compare-report.js";
import { notMeasured, ROW_IDS, rowDefs, type ColumnCells, type ColumnMeasurer, type CompareOptions, type RowId } from "./lib/compare-rows.js";
import { COLUMN_TITLES, COMPARE_COLUMNS, type CompareCell, type CompareColumn, type CompareResults, type CompareRow } from "./lib/compare-types.js";
import { gitInfo, hostInfo, intOption, printHeaderHelp, ROOT, table, toolVersion, writeResults, runMain } from "./lib/common.js";
import { findGuest } from "./lib/iobench.js";
import { QEMU } from "./lib/boot-run.js";

const WORK_DIR = join(ROOT, "build", "bench", "compare");
const DEFAULT_OUT = join(ROOT, "docs", "compare");

/** A path relative to the repository when inside it, else whole. */
const shown = (p: string): string => (relative(ROOT, p).startsWith("..") ? p : relative(ROOT, p) || p);

const MEASURERS: Record<CompareColumn, ColumnMeasurer> = {
  pv: measureParavm,
  full: measureParavm,
  container: measureContainer,
  "qemu-virtio": measureQemu,
  "qemu-emulated": measureQemu,
};

/** A comma-separated list, each word one of `known`; an unknown one is an error naming it. */
function listOption<T extends string>(name: string, v: string | undefined, known: readonly T[]): T[] {
  if (v === undefined) return [...known];
  const want = v.split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const w of want) if (!(known as readonly string[]).includes(w)) throw new Error(`--${name}: unknown "${w}" (known: ${known.join(", ")})`);
  if (want.length === 0) throw new Error(`--${name} is empty`);
  return known.filter((k) => want.includes(k));
}

function options(argv: string[]): { o: CompareOptions; columns: CompareColumn[]; rows: RowId[]; out: string | null } {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: "string", default: "3" },
      columns: { type: "string" },
      rows: { type: "string" },
      "cpu-mib": { type: "string", default: "4" },
      "syscall-bytes": { type: "string", default: "20000" },
      "timer-iters": { type: "string", default: "200" },
      "disk-mib": { type: "string", default: "16" },
      "net-mib": { type: "string", default: "16" },
      "ping-count": { type: "string", default: "20" },
      "mem-mib": { type: "string", default: "128" },
      "density-budget-mib": { type: "string", default: "1024" },
      "density-cap": { type: "string", default: "32" },
      "idle-instances": { type: "string", default: "4" },
      "idle-s": { type: "string", default: "20" },
      "timeout-s": { type: "string", default: "300" },
      "guest-dir": { type: "string" },
      out: { type: "string" },
      "no-report": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) printHeaderHelp("compare.ts");
  const cpuMib = intOption("cpu-mib", values["cpu-mib"], 1);
  const workDir = WORK_DIR;
  const o: CompareOptions = {
    runs: intOption("runs", values.runs, 1),
    cpuMib,
    syscallBytes: intOption("syscall-bytes", values["syscall-bytes"], 1),
    timerIters: intOption("timer-iters", values["timer-iters"], 1),
    diskMib: intOption("disk-mib", values["disk-mib"], 1),
    netMib: intOption("net-mib", values["net-mib"], 1),
    pingCount: intOption("ping-count", values["ping-count"], 1),
    memMib: intOption("mem-mib", values["mem-mib"], 64),
    densityBudgetMib: intOption("density-budget-mib", values["density-budget-mib"], 64),
    densityCap: intOption("density-cap", values["density-cap"], 1),
    idleInstances: intOption("idle-instances", values["idle-instances"], 1),
    idleSeconds: intOption("idle-s", values["idle-s"], 1),
    timeoutS: intOption("timeout-s", values["timeout-s"], 10),
    guest: findGuest(values["guest-dir"] ?? null),
    workDir,
  };
  return {
    o,
    columns: listOption("columns", values.columns, COMPARE_COLUMNS),
    rows: listOption("rows", values.rows, ROW_IDS),
    out: values["no-report"] ? null : (values.out ?? DEFAULT_OUT),
  };
}

/** One column's cells, every asked row present: a measurer that throws or skips a row leaves a reason, not a hole. */
async function measureColumn(column: CompareColumn, rows: readonly RowId[], o: CompareOptions, log: (m: string) => void): Promise<ColumnCells> {
  const t0 = performance.now();
  log(`${column}: measuring ${rows.length} rows`);
  let cells: ColumnCells;
  try {
    // The columns' own lines may already start with the column's name.
    cells = await MEASURERS[column](column, new Set(rows), o, (m) => log(m.startsWith(`${column}:`) ? m : `${column}: ${m}`));
  } catch (e) {
    const why = `the ${column} column failed: ${(e as Error).message}`;
    log(why);
    cells = {};
    for (const r of rows) cells[r] = notMeasured(why);
  }
  for (const r of rows) cells[r] ??= notMeasured(`the ${column} measurement returned no figure for this row`);
  log(`${column}: done in ${fmtDuration((performance.now() - t0) / 1000)}`);
  return cells;
}

function printTable(rows: readonly CompareRow[]): void {
  const header = ["row", ...COMPARE_COLUMNS.map((c) => COLUMN_TITLES[c])];
  const body = rows.map((r) => [
    `${r.title} (${r.unit})`,
    ...COMPARE_COLUMNS.map((c) => {
      const cell = r.cells[c];
      if (cell.value === null) return "—";
      const vs = c === "pv" ? "" : ` (${vsPvText(r, c)})`;
      return `${withUnit(cell.value, r.unit)}${vs}`;
    }),
  ]);
  console.log(table(header, body));
}

async function main(): Promise<number> {
  const { o, columns, rows, out } = options(process.argv.slice(2));
  const started = new Date();
  // What is measured is the tree as it is now: read before anything runs (a commit made meanwhile is not it).
  const git = gitInfo();
  const t0 = performance.now();
  rmSync(o.workDir, { recursive: true, force: true });
  mkdirSync(o.workDir, { recursive: true });
  const log = (m: string): void => console.log(`[${String(Math.round((performance.now() - t0) / 1000)).padStart(5)} s] ${m}`);
  log(`guest: ${shown(o.guest.dir)} (${o.guest.how}); columns ${columns.join(", ")}; ${rows.length} rows, ${o.runs} run${o.runs === 1 ? "" : "s"} each`);

  const byColumn = {} as Record<CompareColumn, ColumnCells>;
  for (const c of COMPARE_COLUMNS) {
    if (columns.includes(c)) byColumn[c] = await measureColumn(c, rows, o, log);
    else byColumn[c] = Object.fromEntries(rows.map((r) => [r, notMeasured(`not run in this run (--columns ${columns.join(",")})`)]));
  }

  const defs = rowDefs(o);
  const result: CompareRow[] = rows.map((id) => {
    const cells = Object.fromEntries(COMPARE_COLUMNS.map((c) => [c, byColumn[c][id]!])) as Record<CompareColumn, CompareCell>;
    return { id, ...defs[id], cells, explain: explainRow({ cells }) };
  });
  const results: CompareResults = {
    bench: "compare",
    date: started.toISOString(),
    durationS: Math.round((performance.now() - t0) / 100) / 10,
    host: hostInfo(),
    versions: { qemu: toolVersion(QEMU), node: process.version },
    git,
    guest: {
      kernel: `${shown(o.guest.kernel.path)} (sha256 ${o.guest.kernel.sha256.slice(0, 16)}…, ${o.guest.kernel.bytes} bytes)`,
      initramfs: `${shown(o.guest.initrd.path)} (sha256 ${o.guest.initrd.sha256.slice(0, 16)}…, ${o.guest.initrd.bytes} bytes)`,
    },
    options: {
      runs: o.runs,
      cpuMib: o.cpuMib,
      syscallBytes: o.syscallBytes,
      timerIters: o.timerIters,
      diskMib: o.diskMib,
      netMib: o.netMib,
      pingCount: o.pingCount,
      memMib: o.memMib,
      densityBudgetMib: o.densityBudgetMib,
      densityCap: o.densityCap,
      idleInstances: o.idleInstances,
      idleS: o.idleSeconds,
    },
    rows: result,
    headline: headline(result),
  };

  console.log("");
  printTable(result);
  console.log(`\n${results.headline}\n`);
  const file = writeResults("compare", results, started);
  log(`results: ${shown(file)}`);
  if (out !== null) {
    const { files } = renderCompareReport(results, out);
    log(`report: ${shown(files[0]!)} (${files.length} files in ${shown(out)})`);
  }
  const missing = result.reduce((n, r) => n + COMPARE_COLUMNS.filter((c) => columns.includes(c) && r.cells[c].value === null).length, 0);
  if (missing > 0) log(`${missing} cell(s) of the columns run could not be measured: each says why in the report`);
  return 0;
}

runMain("bench:compare", main);
