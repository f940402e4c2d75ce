/**
 * A hart's architectural state as plain data, for snapshots and migration (issue 15).
 *
 * Saved: every register and CSR the guest can observe, the counters, and whether it sits
 * in WFI. Not saved, by design:
 *   - TLBs and the decoded/compiled code: caches, rebuilt from RAM and satp on first use
 *     (the loaded hart starts with them flushed, which is always correct);
 *   - the LR/SC reservation: the spec lets any trap or context switch drop it, and a
 *     restored SC simply fails once and the guest retries;
 *   - host bookkeeping (live counts, stop requests).
 * Integer registers and 64-bit CSRs travel as their int32 halves, so no value is rounded
 * by a double on the way through JSON.
 */
import type { Hart } from "./hart.js";
import { pmpRecompute } from "./pmp.js";

export const HART_STATE_VERSION = 1;

export interface HartState {
  readonly v: number;
  readonly hartId: number;
  readonly x: readonly number[];
  /** FP registers as int32 halves (NaN payloads survive). */
  readonly f: readonly number[];
  readonly fflags: number;
  readonly frm: number;
  readonly pc: readonly [number, number];
  readonly priv: number;
  readonly mstatus: number;
  readonly mie: number;
  readonly mip: number;
  readonly seipWire: boolean;
  readonly mideleg: number;
  readonly medeleg: number;
  readonly mcounteren: number;
  readonly scounteren: number;
  readonly mcountinhibit: number;
  readonly menvcfg: readonly [number, number];
  readonly senvcfg: number;
  readonly csr64: readonly number[];
  readonly pmpcfg: readonly number[];
  readonly pmpaddr: readonly number[];
  readonly instret: number;
  readonly instretByPriv: readonly number[];
  readonly mTraps: readonly number[];
  readonly cycleOffset: number;
  readonly instretOffset: number;
  readonly wfi: boolean;
  readonly hypercallCount: number;
}

export function saveHart(h: Hart): HartState {
  return {
    v: HART_STATE_VERSION,
    hartId: h.hartId,
    x: Array.from(h.x.subarray(0, 64)),
    f: Array.from(h.fi),
    fflags: h.fflags,
    frm: h.frm,
    pc: [h.pcLo, h.pcHi],
    priv: h.priv,
    mstatus: h.mstatus,
    mie: h.mie,
    mip: h.mip,
    seipWire: h.seipWire,
    mideleg: h.mideleg,
    medeleg: h.medeleg,
    mcounteren: h.mcounteren,
    scounteren: h.scounteren,
    mcountinhibit: h.mcountinhibit,
    menvcfg: [h.menvcfgLo, h.menvcfgHi],
    senvcfg: h.senvcfg,
    csr64: Array.from(h.csr64),
    pmpcfg: Array.from(h.pmpcfg),
    pmpaddr: Array.from(h.pmpaddr),
    instret: h.instret,
    instretByPriv: Array.from(h.instretByPriv),
    mTraps: Array.from(h.mTraps),
    cycleOffset: h.cycleOffset,
    instretOffset: h.instretOffset,
    wfi: h.wfi,
    hypercallCount: h.hypercallCount,
  };
}

/** Why `s` is not a hart state this code wrote, or null. Checked whole before anything is loaded. */
export function hartStateProblem(s: unknown, hartId: number): string | null {
  if (typeof s !== "object" || s === null) return "not an object";
  const o = s as Record<string, unknown>;
  if (o.v !== HART_STATE_VERSION) return `hart state version ${String(o.v)}, expected ${HART_STATE_VERSION}`;
  if (o.hartId !== hartId) return `state of hart ${String(o.hartId)} offered to hart ${hartId}`;
  const ints = (k: string, n: number, lo = -(2 ** 31), hi = 2 ** 31 - 1): string | null => {
    const a = o[k];
    if (!Array.isArray(a) || a.length !== n) return `${k}: expected ${n} numbers`;
    for (const e of a) if (!Number.isInteger(e) || e < lo || e > hi) return `${k}: ${String(e)} is out of range`;
    return null;
  };
  const counts = (k: string, n: number): string | null => {
    const a = o[k];
    if (!Array.isArray(a) || a.length !== n) return `${k}: expected ${n} numbers`;
    for (const e of a) if (typeof e !== "number" || !(e >= 0) || !Number.isFinite(e)) return `${k}: ${String(e)} is not a count`;
    return null;
  };
  const int = (k: string): string | null => (Number.isInteger(o[k]) && Math.abs(o[k] as number) <= 2 ** 53 ? null : `${k}: ${String(o[k])} is not an integer`);
  const bool = (k: string): string | null => (typeof o[k] === "boolean" ? null : `${k} is not a boolean`);
  const problems = [
    ints("x", 64),
    ints("f", 64),
    ints("pc", 2),
    ints("menvcfg", 2),
    ints("csr64", 22),
    ints("pmpcfg", 16, 0, 255),
    ints("pmpaddr", 32),
    counts("instretByPriv", 4),
    counts("mTraps", 64),
    ...["fflags", "frm", "priv", "mstatus", "mie", "mip", "mideleg", "medeleg", "mcounteren", "scounteren", "mcountinhibit", "senvcfg", "instret", "cycleOffset", "instretOffset", "hypercallCount"].map(int),
    bool("seipWire"),
    bool("wfi"),
  ];
  const first = problems.find((p) => p !== null);
  if (first) return first;
  if (![0, 1, 3].includes(o.priv as number)) return `priv ${String(o.priv)} is not U, S or M`;
  if ((o.frm as number) < 0 || (o.frm as number) > 7 || (o.fflags as number) < 0 || (o.fflags as number) > 31) return "fflags/frm out of range";
  return null;
}

/** Load `s` into `h` (checked first: a bad state throws and leaves `h` as it was). */
export function loadHart(h: Hart, s: HartState): void {
  const why = hartStateProblem(s, h.hartId);
  if (why !== null) throw new Error(`hart ${h.hartId}: ${why}`);
  h.reset();
  h.x.set(s.x, 0);
  h.fi.set(s.f, 0);
  h.fflags = s.fflags;
  h.frm = s.frm;
  h.pcLo = s.pc[0];
  h.pcHi = s.pc[1];
  h.mstatus = s.mstatus;
  h.mie = s.mie;
  h.mip = s.mip;
  h.seipWire = s.seipWire;
  h.mideleg = s.mideleg;
  h.medeleg = s.medeleg;
  h.mcounteren = s.mcounteren;
  h.scounteren = s.scounteren;
  h.mcountinhibit = s.mcountinhibit;
  h.menvcfgLo = s.menvcfg[0];
  h.menvcfgHi = s.menvcfg[1];
  h.senvcfg = s.senvcfg;
  h.csr64.set(s.csr64, 0);
  h.pmpcfg.set(s.pmpcfg, 0);
  h.pmpaddr.set(s.pmpaddr, 0);
  pmpRecompute(h);
  h.instret = s.instret;
  h.instretByPriv.set(s.instretByPriv, 0);
  h.mTraps.set(s.mTraps, 0);
  h.cycleOffset = s.cycleOffset;
  h.instretOffset = s.instretOffset;
  h.wfi = s.wfi;
  h.hypercallCount = s.hypercallCount;
  // Last: the privilege selects the TLB set for the satp just loaded; every set starts empty.
  h.priv = s.priv;
  h.flushTlb("restore");
  h.event = true;
}
