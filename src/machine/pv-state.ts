/**
 * The pv machine's hypervisor side of the SBI in a snapshot (machine-state.ts): what
 * PvHost and the SBI extensions keep that is neither a hart register nor a device —
 * timer deadlines, harts parked by HSM and where a non-retentive suspend resumes, the HSM
 * state machine, steal-time records, console input waiting for SBI getchar, a pending
 * power request, and the hypercall/interrupt counters (so exit counts keep going).
 *
 * Most of it is per hart, and in a VM whose harts run on threads of their own each hart's
 * share lives on its own thread (remote-vcpu.ts has a PvHost and SbiDispatcher of its
 * own): `savePvHart`/`loadPvHart` are that share alone, which the thread hands over while
 * the VM is paused. The file keeps one array per field, indexed by hart, as a one-thread
 * machine saves it, so a state does not say which threads its harts ran on.
 *
 * Not saved: remote fences queued for a hart. A restored hart starts with its TLB and
 * decoded code flushed (loadHart), which is every fence at once.
 */
import { StateReader, toBase64 } from "../devices/state.js";
import type { GuestRam } from "../mem/ram.js";
import type { SbiDispatcher } from "../sbi/dispatch.js";
import { HartState as HsmState } from "../sbi/hsm.js";
import { STA_RECORD_SIZE } from "../sbi/sta.js";
import type { PvHost } from "./pv-host.js";
import type { PvMachine } from "./pv.js";

const U32 = 0xffff_ffff;
/** A deadline is an absolute mtime: at most 2^64 ticks (SBI's "no timer" is all ones). */
const MAX_DEADLINE = 2 ** 64;
/** Counter names kept per hart, and their length: this build has a few dozen of each. */
const MAX_COUNTERS = 1000;
const MAX_COUNTER_NAME = 100;

type Resume = { readonly addr: number; readonly opaque: readonly [number, number] } | null;

export interface PvSbiState {
  /** Per hart: the SBI set_timer deadline in mtime ticks, null when none is armed. */
  readonly deadlines: readonly (number | null)[];
  readonly parked: readonly boolean[];
  /** Per hart: where a non-retentive suspend resumes (opaque as its u32 halves), or null. */
  readonly resumeAt: readonly Resume[];
  readonly timerIrqs: readonly number[];
  readonly ipis: readonly number[];
  /** Console input waiting for SBI getchar (base64). */
  readonly input: string;
  readonly resetRequest: { readonly type: number; readonly reason: number } | null;
  /** HSM state of each hart (sbi/hsm.ts HartState). */
  readonly hsm: readonly number[];
  /** STA: each hart's record address (-1: none) and sequence number. */
  readonly sta: { readonly shmem: readonly number[]; readonly seq: readonly number[] };
  /** Hypercalls served per hart, by counter name. */
  readonly counts: readonly Record<string, number>[];
}

/** One hart's share of PvSbiState: what the thread that runs the hart keeps. */
export interface PvHartSbi {
  readonly deadline: number | null;
  readonly parked: boolean;
  readonly resumeAt: Resume;
  readonly timerIrqs: number;
  readonly ipis: number;
  readonly sta: { readonly shmem: number; readonly seq: number };
  readonly counts: Readonly<Record<string, number>>;
}

/** Hart `k`'s share as `host` and `sbi` (the thread's own, which serve hart k) hold it. */
export function savePvHart(host: PvHost, sbi: SbiDispatcher, k: number): PvHartSbi {
  const d = host.deadlines[k]!;
  const r = host.resumeAt[k]!;
  return {
    deadline: d === Infinity ? null : d,
    parked: host.parked[k]!,
    resumeAt: r === null ? null : { addr: r.addr, opaque: [Number(r.opaque & 0xffff_ffffn), Number((r.opaque >> 32n) & 0xffff_ffffn)] },
    timerIrqs: host.timerIrqs[k]!,
    ipis: host.ipis[k]!,
    sta: sbi.sta.recordOf(k),
    counts: sbi.countsOf(k),
  };
}

/** Apply a share `readPvHart` (or readPvSbi) checked to hart `k` of `host` and `sbi`. */
export function loadPvHart(host: PvHost, sbi: SbiDispatcher, k: number, s: PvHartSbi): void {
  host.deadlines[k] = s.deadline === null ? Infinity : s.deadline;
  host.parked[k] = s.parked;
  host.resumeAt[k] = s.resumeAt === null ? null : { addr: s.resumeAt.addr, opaque: (BigInt(s.resumeAt.opaque[1]) << 32n) | BigInt(s.resumeAt.opaque[0]) };
  host.timerIrqs[k] = s.timerIrqs;
  host.ipis[k] = s.ipis;
  host.pendingFence[k] = [];
  sbi.sta.loadRecord(k, s.sta);
  sbi.loadCountsOf(k, s.counts);
}

export function savePvSbi(m: PvMachine): PvSbiState {
  const h = m.host;
  const harts = m.harts.map((_, k) => savePvHart(h, m.sbi, k));
  return withPvHarts(
    {
      deadlines: [],
      parked: [],
      resumeAt: [],
      timerIrqs: [],
      ipis: [],
      input: toBase64(h.savedInput()),
      resetRequest: h.resetRequest ? { ...h.resetRequest } : null,
      hsm: m.sbi.hsm.saveStates(),
      sta: { shmem: [], seq: [] },
      counts: [],
    },
    harts,
  );
}

/** `s` with hart k's share replaced by `harts[k]` wherever one is given (a threaded VM's harts, merged into one state). */
export function withPvHarts(s: PvSbiState, harts: readonly (PvHartSbi | null | undefined)[]): PvSbiState {
  const pick = <T>(a: readonly T[], f: (p: PvHartSbi) => T): T[] => {
    const out = [...a];
    harts.forEach((p, k) => {
      if (p) out[k] = f(p);
    });
    return out;
  };
  return {
    ...s,
    deadlines: pick(s.deadlines, (p) => p.deadline),
    parked: pick(s.parked, (p) => p.parked),
    resumeAt: pick(s.resumeAt, (p) => p.resumeAt),
    timerIrqs: pick(s.timerIrqs, (p) => p.timerIrqs),
    ipis: pick(s.ipis, (p) => p.ipis),
    sta: { shmem: pick(s.sta.shmem, (p) => p.sta.shmem), seq: pick(s.sta.seq, (p) => p.sta.seq) },
    counts: pick(s.counts, (p) => p.counts),
  };
}

/** Hart k's share of a state readPvSbi checked. */
export function pvHartOf(s: PvSbiState, k: number): PvHartSbi {
  return {
    deadline: s.deadlines[k]!,
    parked: s.parked[k]!,
    resumeAt: s.resumeAt[k]!,
    timerIrqs: s.timerIrqs[k]!,
    ipis: s.ipis[k]!,
    sta: { shmem: s.sta.shmem[k]!, seq: s.sta.seq[k]! },
    counts: s.counts[k]!,
  };
}

// ---- checks: a state from a file or another host is hostile until read through these ----

function deadlineOf(r: StateReader, key: string, d: unknown): number | null {
  if (d === null) return null;
  if (typeof d !== "number" || !(d >= 0 && d <= MAX_DEADLINE)) return r.fail(key, `${String(d)} is not a deadline`);
  return d;
}

function resumeOf(x: unknown, where: string, ram: GuestRam): Resume {
  if (x === null) return null;
  const e: StateReader = StateReader.of(x, where);
  const addr = e.int("addr", 0, Number.MAX_SAFE_INTEGER);
  if (addr % 2 !== 0 || !ram.contains(addr, 2)) e.fail("addr", `0x${addr.toString(16)} is not code in RAM`);
  const op = e.ints("opaque", 2, 0, U32, 2);
  return { addr, opaque: [op[0]!, op[1]!] };
}

function checkShmem(r: StateReader, key: string, a: number, ram: GuestRam): void {
  if (a !== -1 && (a % STA_RECORD_SIZE !== 0 || !ram.contains(a, STA_RECORD_SIZE))) r.fail(key, `0x${a.toString(16)} is not a record in RAM`);
}

function countsOf(row: unknown, where: string): Record<string, number> {
  const c: StateReader = StateReader.of(row, where);
  const out: Record<string, number> = {};
  for (const k of Object.keys(row as object).slice(0, MAX_COUNTERS)) out[k.slice(0, MAX_COUNTER_NAME)] = c.count(k);
  return out;
}

/** `v` as one hart's share, checked against RAM `ram`; throws StateError naming the field. */
export function readPvHart(v: unknown, where: string, ram: GuestRam): PvHartSbi {
  const r: StateReader = StateReader.of(v, where);
  const deadline = deadlineOf(r, "deadline", r.raw("deadline"));
  const parked = r.bool("parked");
  const resumeAt = resumeOf(r.raw("resumeAt") ?? null, `${where}: resumeAt`, ram);
  const timerIrqs = r.count("timerIrqs");
  const ipis = r.count("ipis");
  const sta: StateReader = r.obj("sta");
  const shmem = sta.int("shmem", -1, Number.MAX_SAFE_INTEGER);
  checkShmem(sta, "shmem", shmem, ram);
  const seq = sta.int("seq", 0, U32);
  const counts = countsOf(r.raw("counts"), `${where}: counts`);
  return { deadline, parked, resumeAt, timerIrqs, ipis, sta: { shmem, seq }, counts };
}

/** `v` checked against machine `m` (harts, RAM); throws StateError naming the field. */
export function readPvSbi(v: unknown, m: PvMachine): PvSbiState & { inputBytes: Uint8Array } {
  const r: StateReader = StateReader.of(v, "pv sbi");
  const n = m.harts.length;
  const perHart = (key: string): unknown[] => {
    const a = r.array(key, n);
    if (a.length !== n) r.fail(key, `${a.length} entries for ${n} harts`);
    return a;
  };
  const at = (key: string, i: number): StateReader => StateReader.of({}, `${r.where}: ${key}[${i}]`);
  const deadlines = perHart("deadlines").map((d, i) => deadlineOf(at("deadlines", i), "x", d));
  const parked = perHart("parked").map((p, i) => StateReader.of({ x: p }, `${r.where}: parked[${i}]`).bool("x"));
  const ram = m.ram;
  const resumeAt = perHart("resumeAt").map((x, i) => resumeOf(x, `${r.where}: resumeAt[${i}]`, ram));
  const counters = (key: string): number[] => perHart(key).map((c, i) => StateReader.of({ x: c }, `${r.where}: ${key}[${i}]`).count("x"));
  const timerIrqs = counters("timerIrqs");
  const ipis = counters("ipis");
  const inputBytes = r.bytes("input", 1 << 20);
  let resetRequest: PvSbiState["resetRequest"] = null;
  if (r.has("resetRequest")) {
    const q: StateReader = r.obj("resetRequest");
    resetRequest = { type: q.int("type", 0, U32), reason: q.int("reason", 0, U32) };
  }
  const hsm = r.ints("hsm", n, 0, HsmState.RESUME_PENDING, n);
  const sta: StateReader = r.obj("sta");
  const shmem = sta.ints("shmem", n, -1, Number.MAX_SAFE_INTEGER, n);
  shmem.forEach((a) => checkShmem(sta, "shmem", a, ram));
  const seq = sta.ints("seq", n, 0, U32, n);
  const counts = perHart("counts").map((row, i) => countsOf(row, `${r.where}: counts[${i}]`));
  return { deadlines, parked, resumeAt, timerIrqs, ipis, input: "", inputBytes, resetRequest, hsm, sta: { shmem, seq }, counts };
}

/**
 * Apply a state `readPvSbi` checked: the VM-wide parts, and the share of each hart this
 * machine runs on its own thread — every hart, or hart 0 alone on a threaded VM's owner
 * (its other harts' shares go to their threads: machine-state.ts loadMachine).
 */
export function loadPvSbi(m: PvMachine, s: ReturnType<typeof readPvSbi>): void {
  const h = m.host;
  h.restoreInput(s.inputBytes);
  h.resetRequest = s.resetRequest ? { ...s.resetRequest } : null;
  // Threaded, this is the array every thread's SBI shares (the link's).
  m.sbi.hsm.loadStates(s.hsm);
  const mine = m.threaded ? 1 : m.harts.length;
  for (let k = 0; k < mine; k++) loadPvHart(h, m.sbi, k, pvHartOf(s, k));
}

