/**
 * The pv machine's hypervisor side of the SBI in a snapshot (machine-state.ts): what
 * PvHost and the SBI extensions keep that is neither a hart register nor a device —
 * timer deadlines, harts parked by HSM and where a non-retentive suspend resumes, the HSM
 * state machine, steal-time records, console input waiting for SBI getchar, a pending
 * power request, and the hypercall/interrupt counters (so exit counts keep going).
 *
 * Not saved: remote fences queued for a hart. A restored hart starts with its TLB and
 * decoded code flushed (loadHart), which is every fence at once.
 */
import { StateReader, toBase64 } from "../devices/state.js";
import { HartState as HsmState } from "../sbi/hsm.js";
import { STA_RECORD_SIZE } from "../sbi/sta.js";
import type { PvMachine } from "./pv.js";

const U32 = 0xffff_ffff;
/** A deadline is an absolute mtime: at most 2^64 ticks (SBI's "no timer" is all ones). */
const MAX_DEADLINE = 2 ** 64;

export interface PvSbiState {
  /** Per hart: the SBI set_timer deadline in mtime ticks, null when none is armed. */
  readonly deadlines: readonly (number | null)[];
  readonly parked: readonly boolean[];
  /** Per hart: where a non-retentive suspend resumes (opaque as its u32 halves), or null. */
  readonly resumeAt: readonly ({ readonly addr: number; readonly opaque: readonly [number, number] } | null)[];
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

export function savePvSbi(m: PvMachine): PvSbiState {
  const h = m.host;
  return {
    deadlines: h.deadlines.map((d) => (d === Infinity ? null : d)),
    parked: [...h.parked],
    resumeAt: h.resumeAt.map((r) =>
      r === null ? null : { addr: r.addr, opaque: [Number(r.opaque & 0xffff_ffffn), Number((r.opaque >> 32n) & 0xffff_ffffn)] as const },
    ),
    timerIrqs: [...h.timerIrqs],
    ipis: [...h.ipis],
    input: toBase64(h.savedInput()),
    resetRequest: h.resetRequest ? { ...h.resetRequest } : null,
    hsm: m.sbi.hsm.saveStates(),
    sta: m.sbi.sta.saveRecords(),
    counts: m.sbi.saveCounts(),
  };
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
  const at = (key: string, i: number, x: unknown): StateReader => StateReader.of({ x }, `${r.where}: ${key}[${i}]`);
  const deadlines = perHart("deadlines").map((d, i): number | null => {
    if (d === null) return null;
    if (typeof d !== "number" || !(d >= 0 && d <= MAX_DEADLINE)) return at("deadlines", i, d).fail("x", `${String(d)} is not a deadline`);
    return d;
  });
  const parked = perHart("parked").map((p, i) => at("parked", i, p).bool("x"));
  const ram = m.ram;
  const resumeAt = perHart("resumeAt").map((x, i) => {
    if (x === null) return null;
    const e: StateReader = StateReader.of(x, `${r.where}: resumeAt[${i}]`);
    const addr = e.int("addr", 0, Number.MAX_SAFE_INTEGER);
    if (addr % 2 !== 0 || !ram.contains(addr, 2)) e.fail("addr", `0x${addr.toString(16)} is not code in RAM`);
    const op = e.ints("opaque", 2, 0, U32, 2);
    return { addr, opaque: [op[0]!, op[1]!] as const };
  });
  const counters = (key: string): number[] => perHart(key).map((c, i) => at(key, i, c).count("x"));
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
  shmem.forEach((a) => {
    if (a !== -1 && (a % STA_RECORD_SIZE !== 0 || !ram.contains(a, STA_RECORD_SIZE))) sta.fail("shmem", `0x${a.toString(16)} is not a record in RAM`);
  });
  const seq = sta.ints("seq", n, 0, U32, n);
  const countsRaw = perHart("counts");
  const counts = countsRaw.map((row, i) => {
    const c: StateReader = StateReader.of(row, `${r.where}: counts[${i}]`);
    const out: Record<string, number> = {};
    for (const k of Object.keys(row as object).slice(0, 1000)) out[k.slice(0, 100)] = c.count(k);
    return out;
  });
  return { deadlines, parked, resumeAt, timerIrqs, ipis, input: "", inputBytes, resetRequest, hsm, sta: { shmem, seq }, counts };
}

/** Apply a state `readPvSbi` checked. */
export function loadPvSbi(m: PvMachine, s: ReturnType<typeof readPvSbi>): void {
  const h = m.host;
  s.deadlines.forEach((d, i) => (h.deadlines[i] = d === null ? Infinity : d));
  s.parked.forEach((p, i) => (h.parked[i] = p));
  s.resumeAt.forEach((r, i) => (h.resumeAt[i] = r === null ? null : { addr: r.addr, opaque: (BigInt(r.opaque[1]) << 32n) | BigInt(r.opaque[0]) }));
  s.timerIrqs.forEach((c, i) => (h.timerIrqs[i] = c));
  s.ipis.forEach((c, i) => (h.ipis[i] = c));
  h.restoreInput(s.inputBytes);
  h.resetRequest = s.resetRequest ? { ...s.resetRequest } : null;
  m.sbi.hsm.loadStates(s.hsm);
  m.sbi.sta.loadRecords(s.sta);
  m.sbi.loadCounts(s.counts);
  for (let i = 0; i < h.pendingFence.length; i++) h.pendingFence[i] = [];
}
