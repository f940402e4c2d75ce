/**
 * The pure half of bench:compare's pv and full columns (compare-paravm.ts runs them): the
 * `paravm run` / `paravm multi` command lines, the guest scripts of the disk and ping rows
 * with the parsers of what they print, and the per-operation arithmetic on --stats
 * (run minus baseline, exit reasons under their --stats names). No processes here, so
 * compare-paravm.test.ts can check all of it without booting a guest.
 */
import { ADDR_A, ACK_PORT, tcpScripts, type GuestImages } from "./iobench.js";
import { ddRate, pingAvgUs } from "./compare-rows.js";
import { BOOTARGS, DISK_DEV, fwTraps, hvExits, MiB, PARAVM_BIN, timerParts, type Profile, type Sample } from "./pvfull.js";

export { DISK_DEV, PARAVM_BIN };

/** The guest's host name in a column's interactive boots (the prompt is `NAME:~# `). */
export const hostnameFor = (profile: Profile, i: number): string => `cmp-${profile}-${i}`;

// ---------------------------------------------------------------- command lines

export interface RunSpec {
  /** Words after the profile's default console arguments (kept: --append replaces the line). */
  readonly append?: string;
  /** A raw disk image (pv: virtio-blk /dev/vda, full: ATA /dev/sda). */
  readonly disk?: string;
  /** A command instead of the shell (`--exec`). */
  readonly exec?: string;
  readonly stats?: boolean;
}

/** `paravm run` for a profile with `--mem <memMib>M`, the column's images and `spec`. */
export function runArgs(profile: Profile, g: GuestImages, memMib: number, spec: RunSpec = {}): string[] {
  return [
    PARAVM_BIN, "run", "--profile", profile, "--mem", `${memMib}M`,
    "--kernel", g.kernel.path, "--initrd", g.initrd.path,
    ...(spec.disk !== undefined ? ["--disk", spec.disk] : []),
    ...(spec.append !== undefined ? ["--append", `${BOOTARGS[profile]} ${spec.append}`] : []),
    ...(spec.exec !== undefined ? ["--exec", spec.exec] : []),
    ...(spec.stats ? ["--stats"] : []),
  ];
}

/**
 * `paravm multi` with two VMs of one profile on one switch: "a" gets 10.0.2.2 (ADDR_A),
 * "b" 10.0.2.3; `exec=` is last in a --vm spec, so the commands may hold commas.
 */
export function multiArgs(profile: Profile, g: GuestImages, memMib: number, execA: string, execB: string): string[] {
  const vm = (name: string, exec: string): string[] => ["--vm", `name=${name},profile=${profile},net=cmp0,mem=${memMib}M,exec=${exec}`];
  return [PARAVM_BIN, "multi", "--kernel", g.kernel.path, "--initrd", g.initrd.path, ...vm("a", execA), ...vm("b", execB), "--stats"];
}

/** The TCP row's two scripts (bench:io's method): receiver a times `mib` MiB from sender b. */
export const tcpPair = (mib: number): { a: string; b: string } => tcpScripts(mib);

// ---------------------------------------------------------------- disk

/** Prefix of the lines the disk script prints: `CMPDD <run> <status> <a line of dd's stderr>`. */
const DD_TAG = "CMPDD";

/**
 * `runs` × dd with direct I/O on the raw device, `mib` MiB each (0 = the baseline: the
 * same boot and loop, no data). Reads drop the guest's caches before each dd. Every line
 * of dd's stderr comes back tagged with its run and status; the script fails if any dd did.
 */
export function diskScript(op: "write" | "read", dev: string, mib: number, runs: number): string {
  const dd =
    op === "read"
      ? `dd if=${dev} of=/dev/null bs=1M count=${mib} iflag=direct`
      : `dd if=/dev/zero of=${dev} bs=1M count=${mib} oflag=direct`;
  return [
    "f=0;k=1",
    `while [ $k -le ${runs} ];do`,
    op === "read" ? "sync;echo 3 >/proc/sys/vm/drop_caches" : "sync",
    `${dd} 2>/tmp/dd.log;s=$?;[ $s = 0 ]||f=1`,
    `sed "s/^/${DD_TAG} $k $s /" /tmp/dd.log`,
    "k=$((k+1));done",
    "exit $f",
  ].join("\n");
}

export interface DdRun {
  readonly run: number;
  readonly status: number;
  readonly text: string;
}

/** The dd runs of a disk script's console output, in run order (each run's stderr lines joined). */
export function parseDiskRuns(stdout: string): DdRun[] {
  const byRun = new Map<number, { status: number; lines: string[] }>();
  const re = new RegExp(`${DD_TAG} (\\d+) (\\d+) ([^\\r\\n]*)`, "g");
  for (const m of stdout.matchAll(re)) {
    const k = Number(m[1]);
    const r = byRun.get(k) ?? { status: Number(m[2]), lines: [] };
    r.lines.push(m[3]!);
    byRun.set(k, r);
  }
  return [...byRun.entries()].sort((a, b) => a[0] - b[0]).map(([run, r]) => ({ run, status: r.status, text: r.lines.join("\n") }));
}

/** MiB/s of one dd run, or why it does not count (it must have moved exactly `mib` MiB). */
export function ddRunValue(r: DdRun, mib: number): number | string {
  if (r.status !== 0) return `dd run ${r.run} exited ${r.status}: ${r.text.split("\n")[0] ?? ""}`;
  const rate = ddRate(r.text);
  if (rate === null) return `dd run ${r.run}: no rate in "${r.text.split("\n").pop() ?? ""}"`;
  if (rate.bytes !== mib * MiB) return `dd run ${r.run} copied ${rate.bytes} bytes, not ${mib * MiB}`;
  return rate.mibPerS;
}

// ---------------------------------------------------------------- ping

const PING_TAG = "CMPPING";
const PING_DONE_PORT = ACK_PORT;

/**
 * The round-trip row on two VMs. b waits until a answers one ping (boot skew and the ARP
 * exchange stay out of the timed runs), then runs `ping -c count` `runs` times, each
 * one's output tagged with its run and status, then tells a (which only listens) that it
 * is done. A failed ping fails b, and multi then stops a.
 */
export function pingScripts(count: number, runs: number): { a: string; b: string } {
  const a = `nc -l -p ${PING_DONE_PORT} </dev/null >/dev/null`;
  const b = [
    `w=0;until ping -c 1 -W 1 ${ADDR_A} >/dev/null 2>&1;do w=$((w+1));[ $w -lt 60 ]||exit 3;sleep 1;done`,
    "f=0;k=1",
    `while [ $k -le ${runs} ];do ping -c ${count} ${ADDR_A} >/tmp/p.log 2>&1;s=$?;[ $s = 0 ]||f=1`,
    `sed "s/^/${PING_TAG} $k $s /" /tmp/p.log;k=$((k+1));done`,
    `for i in $(seq 60);do echo done|nc -w 1 ${ADDR_A} ${PING_DONE_PORT}&&break;sleep 1;done`,
    "exit $f",
  ].join("\n");
  return { a, b };
}

/** Average round trip of every ping run in the output, µs (a string where a run does not count). */
export function parsePingRuns(stdout: string): (number | string)[] {
  const byRun = new Map<number, { status: number; text: string }>();
  for (const m of stdout.matchAll(new RegExp(`${PING_TAG} (\\d+) (\\d+) ([^\\r\\n]*)`, "g"))) {
    const k = Number(m[1]);
    const r = byRun.get(k) ?? { status: Number(m[2]), text: "" };
    r.text += `${m[3]!}\n`;
    byRun.set(k, r);
  }
  return [...byRun.entries()]
    .sort((x, y) => x[0] - y[0])
    .map(([k, r]) => {
      if (r.status !== 0) return `ping run ${k} exited ${r.status}`;
      return pingAvgUs(r.text) ?? `ping run ${k}: no round-trip summary`;
    });
}

// ---------------------------------------------------------------- per operation

/** True for a write or read counter of an MMIO window or register ("mmio.ata0.data.write"). */
const MMIO_ACCESS = /^mmio\..+\.(read|write)$/;

/**
 * The exit counters that are not sums of others, under their --stats names: every
 * hypercall (sbi.*), wfi, and for MMIO the deepest counters (a window's total
 * "mmio.ata0.write" gives way to its registers "mmio.ata0.data.write" when --stats breaks
 * it down; virtio windows are not broken down, so "mmio.virtio-blk0.write" stays).
 * Firmware traps (full) are not exits and are left out.
 */
export function leafExits(exits: Readonly<Record<string, number>>): Record<string, number> {
  const keys = Object.keys(exits);
  const out: Record<string, number> = {};
  for (const k of keys) {
    if (k.startsWith("sbi.") || k === "wfi") out[k] = exits[k]!;
    if (!MMIO_ACCESS.test(k)) continue;
    const dot = k.lastIndexOf(".");
    const stem = k.slice(0, dot);
    const op = k.slice(dot);
    const brokenDown = keys.some((o) => o !== k && o.endsWith(op) && o.startsWith(`${stem}.`));
    if (!brokenDown) out[k] = exits[k]!;
  }
  return out;
}

/** (run − base) / units for every key of either. */
export function perUnitRecord(run: Readonly<Record<string, number>>, base: Readonly<Record<string, number>>, units: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of new Set([...Object.keys(run), ...Object.keys(base)])) out[k] = ((run[k] ?? 0) - (base[k] ?? 0)) / units;
  return out;
}

/** The `n` largest positive entries, largest first. */
export function topEntries(rec: Readonly<Record<string, number>>, n: number): [string, number][] {
  return Object.entries(rec)
    .filter(([, v]) => v > 0)
    .sort((a, b) => b[1] - a[1])
    .slice(0, n);
}

/** How many exit reasons a perOp names besides the total. */
export const TOP_REASONS = 3;

/**
 * The exit counters of the devices the disk and network rows move data through: pv's
 * virtio-blk and virtio-net windows, full's ATA registers and e1000 (behind PCI). Their
 * per-MiB counts go into perOp even when the boot-to-boot noise of the timer and the
 * console (a few hundred exits either way) outweighs them, as pv's do.
 */
export const DATA_DEVICES = /^mmio\.(virtio-blk\d*|virtio-net\d*|ata\d*|ahci\d*|[^.]+\.e1000|e1000\d*)\./;

/**
 * What one operation costs, from a counting run minus its baseline: "exits" (to the
 * hypervisor), the `TOP_REASONS` biggest exit reasons and as many of those matching `always` as
 * "exits.<--stats name>", "instructions", and on full "firmware traps" (OpenSBI entries,
 * which pv never makes).
 */
export function opCost(profile: Profile, run: Sample, base: Sample, units: number, always?: RegExp): Record<string, number> {
  const out: Record<string, number> = { exits: (hvExits(run.exits) - hvExits(base.exits)) / units };
  const reasons = perUnitRecord(leafExits(run.exits), leafExits(base.exits), units);
  for (const [k, v] of topEntries(reasons, TOP_REASONS)) out[`exits.${k}`] = v;
  if (always) {
    const device = Object.fromEntries(Object.entries(reasons).filter(([k]) => always.test(k)));
    for (const [k, v] of topEntries(device, TOP_REASONS)) out[`exits.${k}`] = v;
  }
  out["instructions"] = (run.instructions - base.instructions) / units;
  if (profile === "full") out["firmware traps"] = (fwTraps(run.exits) - fwTraps(base.exits)) / units;
  return out;
}

/** Per sleep of the timer row: "exits" and the timer's own events (timerParts: pv set_timer; full OpenSBI ecalls, M-mode timer interrupts, CLINT writes). */
export function timerCost(profile: Profile, run: Sample, base: Sample, sleeps: number): Record<string, number> {
  const out: Record<string, number> = { exits: (hvExits(run.exits) - hvExits(base.exits)) / sleeps };
  const r = timerParts(profile, run.exits);
  const b = timerParts(profile, base.exits);
  for (const k of Object.keys(r)) out[k] = ((r[k] ?? 0) - (b[k] ?? 0)) / sleeps;
  return out;
}

/** One boot's counters as they are (opUnit "boot"): exits, instructions; full also firmware traps and M-mode instructions. */
export function bootCost(profile: Profile, s: Sample): Record<string, number> {
  const out: Record<string, number> = { exits: hvExits(s.exits), instructions: s.instructions };
  if (profile === "full") {
    out["firmware traps"] = fwTraps(s.exits);
    out["m-mode instructions"] = s.priv.M;
  }
  return out;
}

/** The median of each key over several per-op records (keys missing from one count as absent, not 0). */
export function medianRecord(recs: readonly Readonly<Record<string, number>>[]): Record<string, number> {
  const out: Record<string, number> = {};
  const keys = new Set(recs.flatMap((r) => Object.keys(r)));
  for (const k of keys) {
    const xs = recs.map((r) => r[k]).filter((x): x is number => x !== undefined && Number.isFinite(x)).sort((a, b) => a - b);
    if (xs.length === 0) continue;
    const mid = xs.length >> 1;
    out[k] = xs.length % 2 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
  }
  return out;
}

/** Rounds every value to four significant digits (the report does not need more). */
export const roundRecord = (rec: Readonly<Record<string, number>>): Record<string, number> =>
  Object.fromEntries(Object.entries(rec).map(([k, v]) => [k, v === 0 || !Number.isFinite(v) ? v : Number(v.toPrecision(4))]));

// ---------------------------------------------------------------- host readings

/** Percent of one core that `cpuSeconds` over `wallSeconds` is, per instance. */
export const idlePercent = (cpuSeconds: number, wallSeconds: number, instances: number): number =>
  (100 * cpuSeconds) / wallSeconds / instances;

/**
 * The density count: instances are added one at a time and `sumsMiB[i]` is the host
 * memory of the first i+1 after the last one reached its prompt. The count is how many
 * fit before the sum passes the budget; `passed` says whether it did (if not, the count
 * is every instance started: the cap, or where starting one more failed).
 */
export function densityCount(sumsMiB: readonly number[], budgetMiB: number): { count: number; passed: boolean } {
  const over = sumsMiB.findIndex((s) => s > budgetMiB);
  return over === -1 ? { count: sumsMiB.length, passed: false } : { count: over, passed: true };
}
