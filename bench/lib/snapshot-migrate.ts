/**
 * The live-migration rows of bench:snapshot (issue 15), the parts that do not run
 * anything: the guest's workloads (the console counter, and a loop that rewrites tmpfs at
 * a stated rate), readers of what the emulators say (QEMU's `info migrate`, the console's
 * counts with their host arrival times, paravm's rounds), one sample's shape for both
 * emulators, and the table. The runners are snapshot-migrate-paravm.ts and
 * snapshot-migrate-qemu.ts.
 */
import { median } from "./iobench.js";
import { fixed } from "./common.js";
import type { Stamped } from "./console-proc.js";

/** The guest counts on its console every 200 ms (the snapshot rows' guest too). */
export const COUNTER = "i=0; while :; do i=$((i+1)); echo n=$i; usleep 200000; done";
/** The counter's period: what an interval between two counts is when nothing stops the guest. */
export const COUNT_PERIOD_MS = 200;
const COUNT_LINE = /(?:^|\n)n=(\d+)\r?\n/;

/**
 * The memory churn: a ring of RING_CHUNKS chunks in one tmpfs file, rewritten a chunk at a
 * time in place (conv=notrunc: the same page-cache pages each lap), so the pages it
 * dirties in an interval are distinct up to the ring's size and never more than it.
 */
export const CHURN = {
  FILE: "/dev/shm/churn",
  BLOCK_KIB: 64,
  /** 1 MiB per dd: few enough forks per second that the shell's own work stays small. */
  CHUNK_BLOCKS: 16,
  /** 16 MiB: fits next to the kernel and the shell in the 64 MiB guest (which has ~50 MiB free). */
  RING_CHUNKS: 16,
  /** Starts the line printed every LAP_CHUNKS chunks, followed by the guest's $EPOCHREALTIME. */
  LAP: "lap=",
  /** 2 MiB between lap lines: a line every half second at 4 MiB/s, so a rate is read within seconds. */
  LAP_CHUNKS: 2,
} as const;

/** The line a workload switch prints first (`load=dirty`): what the console shows after it is that workload's. */
export const LOAD_MARK = "load=";

export type MigrateLoad = "shell" | "dirty" | "dirty-max";
export const MIGRATE_LOADS: readonly MigrateLoad[] = ["shell", "dirty", "dirty-max"];

export interface ChurnPlan {
  readonly chunkBytes: number;
  readonly ringBytes: number;
  /** Bytes written between two lap lines. */
  readonly lapBytes: number;
  /** Microseconds from one chunk's start to the next's; 0: no pause (as fast as the guest can). */
  readonly periodUs: number;
  /** The rate the pacing aims at, MiB/s; null for as fast as it can. */
  readonly targetMiBps: number | null;
}

/** The churn's sizes and pace for a target rate in MiB/s (null: as fast as the guest can). */
export function churnPlan(targetMiBps: number | null): ChurnPlan {
  const chunkBytes = CHURN.BLOCK_KIB * 1024 * CHURN.CHUNK_BLOCKS;
  if (targetMiBps !== null && !(targetMiBps > 0 && Number.isFinite(targetMiBps))) throw new Error(`a churn rate must be a positive number of MiB/s, got ${targetMiBps}`);
  const periodUs = targetMiBps === null ? 0 : Math.max(1, Math.round((chunkBytes / (targetMiBps * 2 ** 20)) * 1e6));
  return { chunkBytes, ringBytes: chunkBytes * CHURN.RING_CHUNKS, lapBytes: chunkBytes * CHURN.LAP_CHUNKS, periodUs, targetMiBps };
}

/**
 * The churn as a busybox ash function, `c PERIOD_US` (0: no pause): the ring written in
 * full, then rewritten chunk by chunk. Paced, it keeps a deadline in microseconds of the
 * guest's $EPOCHREALTIME (no fork to read the clock) and sleeps until it; a chunk that
 * ends late moves the deadline to now instead of bursting to catch up. `1${frac}-1000000`
 * reads the 6-digit fraction without ash taking a leading zero for octal.
 */
export function churnFunction(file: string = CHURN.FILE): string {
  const dd = `dd if=/dev/zero of=${file} bs=${CHURN.BLOCK_KIB}k`;
  const now = (v: string): string => `e=$EPOCHREALTIME;${v}=$((\${e%.*}*1000000+1\${e#*.}-1000000))`;
  // After every LAP_CHUNKS chunks the guest's clock goes to the console: the rate it really wrote at.
  const write = `${dd} count=${CHURN.CHUNK_BLOCKS} seek=$((j*${CHURN.CHUNK_BLOCKS})) conv=notrunc 2>/dev/null;j=$(((j+1)%${CHURN.RING_CHUNKS}));[ $((j%${CHURN.LAP_CHUNKS})) = 0 ]&&echo ${CHURN.LAP}$EPOCHREALTIME`;
  const pace = `if [ $1 -gt 0 ];then t=$((t+$1));${now("n")};[ $t -gt $n ]&&usleep $((t-n))||t=$n;fi`;
  return `c(){ ${dd} count=${CHURN.CHUNK_BLOCKS * CHURN.RING_CHUNKS} 2>/dev/null;j=0;${now("t")};while :;do ${write};${pace};done;}`;
}

/**
 * The guest's one command for every workload: the churn defined, the counter in the
 * background, and a shell reading lines from the console, so a workload starts without a
 * boot by typing switchCommand's line (the console echoes it; it is not a count).
 */
export function guestScript(): string {
  return `${churnFunction()};{ ${COUNTER}; }& while read -r l;do eval "$l";done`;
}

/** The line typed on the console to run `load`: the churn before stopped, the marker printed, the new churn started. */
export function switchCommand(load: MigrateLoad, dirtyMiBps: number): string {
  const stop = `kill $w 2>/dev/null;echo ${LOAD_MARK}${load}`;
  if (load === "shell") return stop;
  return `${stop};c ${churnPlan(load === "dirty" ? dirtyMiBps : null).periodUs}& w=$!`;
}

/** Lap lines the console shows before a move: two intervals to read the churn's rate from. */
export const READY_LAPS = 3;
/** Counts the console shows before a move (and after one, before the next). */
export const READY_COUNTS = 3;

/**
 * Whether the console text shows `load` running: after the last switch's marker line,
 * which must be this workload's (or all of it: a console that holds only what the guest
 * printed since it arrived has none), READY_COUNTS counts, and for the churn READY_LAPS
 * lap lines as well.
 */
export function workloadReady(load: MigrateLoad, text: string): boolean {
  const marks = [...text.matchAll(new RegExp(`^${LOAD_MARK}(\\S+?)\\r?$`, "gm"))];
  const last = marks[marks.length - 1];
  if (last !== undefined && last[1] !== load) return false;
  const since = last !== undefined ? text.slice(last.index) : text;
  const counts = countArrivals([{ atMs: 0, text: since }]).length;
  if (load === "shell") return counts >= READY_COUNTS;
  return counts >= READY_COUNTS && (since.match(new RegExp(`^${CHURN.LAP}\\d+\\.\\d{6}\\r?$`, "gm")) ?? []).length >= READY_LAPS;
}

/** Whether the counter has started: the guest's shell reads the console from then on. */
export function counting(text: string): boolean {
  return countArrivals([{ atMs: 0, text }]).length > 0;
}

/**
 * The rate the churn really wrote at, MiB/s of the guest's clock: the bytes of a lap
 * (LAP_CHUNKS chunks) over the median time between its lap lines (`lap=SECONDS.MICROS`).
 * Null with fewer than two lap lines.
 */
export function lapRateMiBps(chunks: readonly Stamped[], lapBytes: number): number | null {
  const text = chunks.map((c) => c.text).join("");
  const at = [...text.matchAll(new RegExp(`^${CHURN.LAP}(\\d+)\\.(\\d{6})\\r?$`, "gm"))].map((m) => Number(m[1]) + Number(m[2]) / 1e6);
  const laps: number[] = [];
  for (let i = 1; i < at.length; i++) if (at[i]! > at[i - 1]!) laps.push(at[i]! - at[i - 1]!);
  return laps.length > 0 ? lapBytes / 2 ** 20 / median(laps) : null;
}

/** What QEMU's `info migrate` (HMP) says; a field it did not print is null. */
export interface QemuMigrateInfo {
  readonly status: string | null;
  readonly totalMs: number | null;
  readonly downtimeMs: number | null;
  readonly expectedDowntimeMs: number | null;
  readonly setupMs: number | null;
  readonly transferredKiB: number | null;
  /** Megabits (10^6) per second QEMU measured its stream at. */
  readonly throughputMbps: number | null;
  readonly totalRamKiB: number | null;
  readonly dirtySyncCount: number | null;
  /** Pages per second the guest dirtied, as QEMU last measured it (printed while active only). */
  readonly dirtyPagesRate: number | null;
}

export function parseInfoMigrate(text: string): QemuMigrateInfo {
  const num = (re: RegExp): number | null => {
    const m = re.exec(text);
    return m ? Number(m[1]) : null;
  };
  return {
    status: /^Migration status: (\S+)/m.exec(text)?.[1] ?? null,
    totalMs: num(/^total time: (\d+) ms/m),
    downtimeMs: num(/^downtime: (\d+) ms/m),
    expectedDowntimeMs: num(/^expected downtime: (\d+) ms/m),
    setupMs: num(/^setup: (\d+) ms/m),
    transferredKiB: num(/^transferred ram: (\d+) kbytes/m),
    throughputMbps: num(/^throughput: ([\d.]+) mbps/m),
    totalRamKiB: num(/^total ram: (\d+) kbytes/m),
    dirtySyncCount: num(/^dirty sync count: (\d+)/m),
    dirtyPagesRate: num(/^dirty pages rate: (\d+) pages/m),
  };
}

/** Each complete `n=K` line of a console stream with the host time its last byte arrived. */
export function countArrivals(chunks: readonly Stamped[]): { n: number; atMs: number }[] {
  const out: { n: number; atMs: number }[] = [];
  // A line may be split across chunks: keep the unfinished tail, starting with a newline so
  // the first line is matched like the others (a stream starts at a line's beginning).
  let pending = "\n";
  for (const c of chunks) {
    pending += c.text;
    for (;;) {
      const m = COUNT_LINE.exec(pending);
      if (!m) break;
      out.push({ n: Number(m[1]), atMs: c.atMs });
      // Keep the newline that ended this line: it starts the next.
      pending = pending.slice(m.index + m[0].length - 1);
    }
    const nl = pending.lastIndexOf("\n");
    if (nl > 0) pending = pending.slice(nl);
  }
  return out;
}

/** The counter as the guest's console showed it around a move, from the source's and the destination's streams. */
export interface ConsoleGap {
  /** Counts seen at the source, and at the destination after the move. */
  readonly atSource: number;
  readonly atDest: number;
  /** From the last count at the source to the first at the destination, ms; null without a count on both sides. */
  readonly crossMs: number | null;
  /** The largest interval between consecutive counts on either side or across, and the count it came after. */
  readonly gapMs: number | null;
  readonly gapAfter: number | null;
  /** Median interval between counts at the source and at the destination: the counter's pace before and after. */
  readonly paceBeforeMs: number | null;
  readonly paceAfterMs: number | null;
  /** Counts that never appeared or appeared twice (a console line lost or repeated by the move). */
  readonly missing: number;
  readonly repeated: number;
  readonly problem: string | null;
}

/** Median of the intervals between consecutive arrivals, or null with fewer than two. */
function pace(xs: readonly { atMs: number }[]): number | null {
  const d: number[] = [];
  for (let i = 1; i < xs.length; i++) d.push(xs[i]!.atMs - xs[i - 1]!.atMs);
  return d.length > 0 ? median(d) : null;
}

export function consoleGap(source: readonly Stamped[], dest: readonly Stamped[]): ConsoleGap {
  const a = countArrivals(source);
  const b = countArrivals(dest);
  const all = [...a, ...b];
  let missing = 0;
  let repeated = 0;
  let gapMs: number | null = null;
  let gapAfter: number | null = null;
  for (let i = 1; i < all.length; i++) {
    const prev = all[i - 1]!;
    const cur = all[i]!;
    if (cur.n <= prev.n) repeated++;
    else missing += cur.n - prev.n - 1;
    const dt = cur.atMs - prev.atMs;
    if (gapMs === null || dt > gapMs) {
      gapMs = dt;
      gapAfter = prev.n;
    }
  }
  const problem = a.length === 0 ? "no count at the source" : b.length === 0 ? "no count at the destination after the move" : null;
  const ok = problem === null;
  return {
    atSource: a.length,
    atDest: b.length,
    crossMs: ok ? b[0]!.atMs - a[a.length - 1]!.atMs : null,
    gapMs: ok ? gapMs : null,
    gapAfter: ok ? gapAfter : null,
    paceBeforeMs: pace(a),
    paceAfterMs: pace(b),
    missing,
    repeated,
    problem,
  };
}

/** One pre-copy round as paravm's MigrationResult gives it. */
export interface RoundFigures {
  readonly round: number | "final";
  readonly pages: number;
  readonly ms: number;
}

export const PAGE_BYTES = 4096;

/**
 * The rate the guest dirtied memory during a migration, MiB/s: each round after the first
 * sends the pages dirtied while the round before it ran, so the pages of rounds 1..final
 * over the time of rounds 0..last-before-final. The final round also holds what was
 * dirtied between the last round and the pause (a few ms). Null with one round only.
 */
export function dirtyRateMiBps(rounds: readonly RoundFigures[]): number | null {
  if (rounds.length < 2) return null;
  let pages = 0;
  let ms = 0;
  for (let i = 1; i < rounds.length; i++) {
    pages += rounds[i]!.pages;
    ms += rounds[i - 1]!.ms;
  }
  return ms > 0 ? (pages * PAGE_BYTES) / 2 ** 20 / (ms / 1000) : null;
}

/** One migration as either emulator measured it. */
export interface MigrationSample {
  readonly run: number;
  /** From the request to the end: paravm's totalMs, QEMU's `total time`. */
  readonly totalMs: number;
  /** paravm: from the pause at the source to the destination's "running"; QEMU: its `downtime` (source side, see the bench's header). */
  readonly downtimeMs: number;
  /** Passes over RAM including the one with the VM paused: paravm's rounds, QEMU's dirty sync count. */
  readonly rounds: number;
  readonly mibSent: number;
  /** The first pass alone (the pages in use): paravm's round 0; QEMU's figure is not split so (null). */
  readonly round0MiB: number | null;
  /** The rate the stream carried RAM: paravm's round 0 (bytes over its ms); QEMU's `throughput`. */
  readonly linkMiBps: number | null;
  readonly converged: boolean;
  readonly note: string;
  /** paravm: from the rounds (dirtyRateMiBps); QEMU: its last `dirty pages rate`. Null when nothing says. */
  readonly dirtyMiBps: number | null;
  /** What the churn wrote, by the guest's clock (lapRateMiBps); null for the shell workload. */
  readonly wroteMiBps: number | null;
  readonly gap: ConsoleGap;
  readonly loadAvg: number;
  /** What the emulator said, for the results file: paravm's rounds, QEMU's last `info migrate`. */
  readonly detail: unknown;
}

export interface MigrationCell {
  readonly who: "paravm" | "qemu";
  readonly mib: number;
  readonly load: MigrateLoad;
  readonly samples: readonly MigrationSample[];
  readonly failures: readonly string[];
}

const med = (xs: readonly (number | null)[]): number => {
  const ok = xs.filter((x): x is number => x !== null && Number.isFinite(x));
  return ok.length > 0 ? median(ok) : NaN;
};

/** A cell's medians (NaN where no run gave the figure). */
export function cellMedians(c: MigrationCell): {
  totalMs: number;
  downtimeMs: number;
  rounds: number;
  mibSent: number;
  linkMiBps: number;
  dirtyMiBps: number;
  wroteMiBps: number;
  crossMs: number;
  gapMs: number;
  paceBeforeMs: number;
  paceAfterMs: number;
  converged: string;
} {
  const s = c.samples;
  return {
    totalMs: med(s.map((x) => x.totalMs)),
    downtimeMs: med(s.map((x) => x.downtimeMs)),
    rounds: med(s.map((x) => x.rounds)),
    mibSent: med(s.map((x) => x.mibSent)),
    linkMiBps: med(s.map((x) => x.linkMiBps)),
    dirtyMiBps: med(s.map((x) => x.dirtyMiBps)),
    wroteMiBps: med(s.map((x) => x.wroteMiBps)),
    crossMs: med(s.map((x) => x.gap.crossMs)),
    gapMs: med(s.map((x) => x.gap.gapMs)),
    paceBeforeMs: med(s.map((x) => x.gap.paceBeforeMs)),
    paceAfterMs: med(s.map((x) => x.gap.paceAfterMs)),
    converged: `${s.filter((x) => x.converged).length}/${s.length}`,
  };
}

export const MIGRATION_HEADER = [
  "", "RAM", "workload", "guest wrote MiB/s", "dirtied MiB/s", "total ms", "downtime ms", "rounds", "MiB sent", "stream MiB/s", "converged",
  "count gap across the move ms", "largest count gap ms", "count pace before → after ms",
] as const;

/** One table row per cell (medians over its runs); where no run saw counts on both sides, why. */
export function migrationRow(c: MigrationCell): string[] {
  const m = cellMedians(c);
  if (c.samples.length === 0) return [c.who, `${c.mib} MiB`, c.load, "-", "-", "-", "-", "-", "-", "-", `0/${c.failures.length}`, "-", "-", "-"];
  const seen = c.samples.filter((x) => x.gap.crossMs !== null).length;
  const cross = seen === 0 ? "none at the destination" : `${fixed(m.crossMs, 0)}${seen < c.samples.length ? ` (${seen} of ${c.samples.length} runs)` : ""}`;
  return [
    c.who, `${c.mib} MiB`, c.load, fixed(m.wroteMiBps, 1), fixed(m.dirtyMiBps, 1), fixed(m.totalMs, 0), fixed(m.downtimeMs, 0), fixed(m.rounds, 0), fixed(m.mibSent, 1), fixed(m.linkMiBps, 0), m.converged,
    cross, fixed(m.gapMs, 0), `${fixed(m.paceBeforeMs, 0)} → ${fixed(m.paceAfterMs, 0)}`,
  ];
}

/** paravm / QEMU for the figures that mean the same on both: the whole move and the bytes it sent. */
export function ratioLine(p: MigrationCell, q: MigrationCell): string {
  const a = cellMedians(p);
  const b = cellMedians(q);
  return `${p.mib} MiB ${p.load}: paravm/QEMU total time ${fixed(a.totalMs / b.totalMs, 2)}×, MiB sent ${fixed(a.mibSent / b.mibSent, 2)}×`;
}

/** One run's line in the log. */
export function describeSample(s: MigrationSample): string {
  const f = (x: number | null, d: number): string => (x === null || !Number.isFinite(x) ? "-" : x.toFixed(d));
  const g = s.gap;
  const gap =
    g.crossMs !== null
      ? `counts ${f(g.crossMs, 0)} ms apart across the move (largest gap ${f(g.gapMs, 0)} ms), pace ${f(g.paceBeforeMs, 0)} → ${f(g.paceAfterMs, 0)} ms`
      : `console: ${g.problem}`;
  return (
    `${f(s.totalMs, 0)} ms, downtime ${f(s.downtimeMs, 0)} ms, ${s.rounds} rounds, ${f(s.mibSent, 1)} MiB sent at ${f(s.linkMiBps, 0)} MiB/s, ` +
    `guest wrote ${f(s.wroteMiBps, 1)} MiB/s, dirtied ${f(s.dirtyMiBps, 1)} MiB/s, ${gap}${s.gap.missing + s.gap.repeated > 0 ? `, ${s.gap.missing} counts missing, ${s.gap.repeated} repeated` : ""}; ${s.note}`
  );
}
