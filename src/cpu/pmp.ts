/**
 * Physical memory protection (privileged spec §3.7): 16 entries, TOR / NA4 / NAPOT,
 * enforced for S and U, and for M when an entry is locked.
 *
 * Regions are recomputed into [start, end) byte ranges whenever a pmpcfg/pmpaddr CSR
 * changes, so a check is a short loop over doubles (physical addresses fit in 56 bits,
 * and every region that matters to RAM is far below 2^53).
 */
import { Access, PMPCFG, PMP_ENTRIES, PmpMode, Priv } from "./constants.js";
import type { Hart } from "./hart.js";

const TWO32 = 4294967296;

/** Region bounds per hart, kept beside the CSRs. */
export class PmpRegions {
  readonly start = new Float64Array(PMP_ENTRIES);
  readonly end = new Float64Array(PMP_ENTRIES);
  /** Number of entries that are not OFF (0 means the fast "nothing configured" answer). */
  active = 0;
}

/** pmpaddr i as a number (it holds address bits 55:2). */
function pmpaddrValue(h: Hart, i: number): number {
  return (h.pmpaddr[2 * i + 1]! & 0x3fffff) * TWO32 + (h.pmpaddr[2 * i]! >>> 0);
}

/** Recompute region bounds and the lock summary after a PMP CSR write. */
export function pmpRecompute(h: Hart): void {
  const r = h.pmp;
  r.active = 0;
  let locked = false;
  for (let i = 0; i < PMP_ENTRIES; i++) {
    const cfg = h.pmpcfg[i]!;
    const mode = (cfg & PMPCFG.A) >>> PMPCFG.A_SHIFT;
    if ((cfg & PMPCFG.L) !== 0) locked = true;
    const a = pmpaddrValue(h, i);
    let start = 0;
    let end = 0;
    if (mode === PmpMode.Tor) {
      start = i === 0 ? 0 : pmpaddrValue(h, i - 1) * 4;
      end = a * 4;
    } else if (mode === PmpMode.Na4) {
      start = a * 4;
      end = start + 4;
    } else if (mode === PmpMode.Napot) {
      // Trailing ones of pmpaddr encode the size: t ones → 2^(t+3) bytes. Work on the
      // int32 halves: a 54-bit pmpaddr is not always exact as a double.
      let lo = h.pmpaddr[2 * i]!;
      let hi = h.pmpaddr[2 * i + 1]! & 0x3fffff;
      let t = 0;
      while (t < 32 && ((lo >>> t) & 1) === 1) t++;
      if (t === 32) while (t < 54 && ((hi >>> (t - 32)) & 1) === 1) t++;
      if (t >= 32) {
        lo = 0;
        hi = t >= 54 ? 0 : hi & ~((1 << (t - 32)) - 1);
      } else {
        lo = t === 0 ? lo : lo & ~((1 << t) - 1);
      }
      start = (hi * TWO32 + (lo >>> 0)) * 4;
      end = start + Math.pow(2, t + 3);
    }
    if (mode !== PmpMode.Off) r.active++;
    r.start[i] = start;
    r.end[i] = end;
  }
  h.pmpLocked = locked;
}

/**
 * May an access of `len` bytes at `pa` of kind `access` from privilege `priv` proceed?
 * The first entry that matches any byte decides; a partial match fails.
 */
export function pmpAllows(h: Hart, pa: number, len: number, access: number, priv: number): boolean {
  if (priv === Priv.M && !h.pmpLocked) return true;
  const r = h.pmp;
  // With no entry configured, an S/U access matches nothing and fails (spec §3.7.1; QEMU
  // instead makes the xRET into S/U illegal). Firmware, or the pv machine, configures PMP.
  if (r.active === 0) return false;
  const last = pa + len;
  for (let i = 0; i < PMP_ENTRIES; i++) {
    const cfg = h.pmpcfg[i]!;
    if ((cfg & PMPCFG.A) === 0) continue;
    const s = r.start[i]!;
    const e = r.end[i]!;
    if (last <= s || pa >= e) continue;
    if (pa < s || last > e) return false;
    if (priv === Priv.M && (cfg & PMPCFG.L) === 0) return true;
    const need = access === Access.Fetch ? PMPCFG.X : access === Access.Load ? PMPCFG.R : PMPCFG.W;
    return (cfg & need) !== 0;
  }
  return priv === Priv.M;
}

/** pmpcfgN write (N even, 8 entries per register on RV64): locked bytes keep their value. */
export function pmpWriteCfg(h: Hart, reg: number, lo: number, hi: number): void {
  const first = reg * 4;
  for (let k = 0; k < 8; k++) {
    const i = first + k;
    if (i >= PMP_ENTRIES) break;
    if ((h.pmpcfg[i]! & PMPCFG.L) !== 0) continue;
    // R=0, W=1 is reserved; kept as written, as QEMU does (the bits are checked literally).
    const b = (k < 4 ? lo >>> (8 * k) : hi >>> (8 * (k - 4))) & 0xff;
    h.pmpcfg[i] = b & (PMPCFG.R | PMPCFG.W | PMPCFG.X | PMPCFG.A | PMPCFG.L);
  }
  pmpRecompute(h);
}

/** pmpaddrI write: ignored when entry I is locked, or when entry I+1 is a locked TOR entry. */
export function pmpWriteAddr(h: Hart, i: number, lo: number, hi: number): void {
  if (i >= PMP_ENTRIES) return;
  if ((h.pmpcfg[i]! & PMPCFG.L) !== 0) return;
  if (i + 1 < PMP_ENTRIES) {
    const next = h.pmpcfg[i + 1]!;
    if ((next & PMPCFG.L) !== 0 && (next & PMPCFG.A) >>> PMPCFG.A_SHIFT === PmpMode.Tor) return;
  }
  h.pmpaddr[2 * i] = lo;
  h.pmpaddr[2 * i + 1] = hi & 0x3fffff;
  pmpRecompute(h);
}

export function pmpReadCfg(h: Hart, reg: number): [number, number] {
  const first = reg * 4;
  let lo = 0;
  let hi = 0;
  for (let k = 0; k < 4; k++) lo |= (h.pmpcfg[first + k] ?? 0) << (8 * k);
  for (let k = 0; k < 4; k++) hi |= (h.pmpcfg[first + 4 + k] ?? 0) << (8 * k);
  return [lo, hi];
}

/**
 * Open all of memory to S and U with the last PMP entry (NAPOT over the whole address
 * space, RWX, unlocked), as firmware does before entering S-mode. Lower entries, which
 * take priority, stay free.
 */
export function pmpAllowAll(h: Hart): void {
  const last = PMP_ENTRIES - 1;
  h.pmpaddr[2 * last] = -1;
  h.pmpaddr[2 * last + 1] = 0x3fffff;
  h.pmpcfg[last] = (PmpMode.Napot << PMPCFG.A_SHIFT) | PMPCFG.R | PMPCFG.W | PMPCFG.X;
  pmpRecompute(h);
  // Cached entries were checked against the old regions (a CSR write flushes in csr.ts).
  h.flushTlb("pmp");
}
