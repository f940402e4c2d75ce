/**
 * The slow path of every memory access: Sv39 translation with A/D updates
 * (privileged spec §4.3–4.4), PMP, MMIO through the bus, misaligned accesses, TLB
 * refills, the decoded-instruction cache, and the atomics.
 *
 * Misaligned loads and stores are emulated (split into byte accesses, each translated),
 * as QEMU does; LR/SC and AMOs require natural alignment and raise the misaligned trap.
 *
 * Several threads may run harts over the same RAM (docs/memory-model.md): AMOs and LR/SC
 * are host `Atomics` operations, aligned slow-path accesses are single accesses of their
 * width (never byte by byte), and the page walker sets A/D bits with a compare-and-swap.
 *
 * While dirty-page logging is on (mem/dirty-log.ts), every RAM write made here without a
 * live store TLB entry marks its page, and a store entry becomes live (installed, or
 * refilled from its set's backing) only with its page marked.
 *
 * Every function returns false after raising the architectural trap (pc already set to
 * the handler), never throws for anything the guest does.
 */
import { Access, Cause, MSTATUS, PTE, Priv, SatpMode, Csr64 } from "./constants.js";
import { Amo, Op, decodeInto } from "./decode.js";
import type { Hart } from "./hart.js";
import { pmpAllows } from "./pmp.js";
import { takeTrap } from "./trap.js";
import { TLB_MASK, TlbFlag } from "./tlb.js";

export { TLB_MASK, TLB_SIZE } from "./tlb.js";
const TWO32 = 4294967296;

const ACCESS_FAULT = [Cause.InsnAccessFault, Cause.LoadAccessFault, Cause.StoreAccessFault] as const;
const PAGE_FAULT = [Cause.InsnPageFault, Cause.LoadPageFault, Cause.StorePageFault] as const;

/** Privilege that loads and stores are checked with (MPRV makes M-mode act as MPP). */
export function dataPriv(h: Hart): number {
  if (h.priv === Priv.M && (h.mstatus & MSTATUS.MPRV) !== 0) return (h.mstatus >>> MSTATUS.MPP_SHIFT) & 3;
  return h.priv;
}

/** Privilege of the most recent successful translation, for the PMP check that follows it. */
let lastPriv = 0;
/**
 * TlbFlag bits of the most recent successful translation: the leaf's level, G, and whether
 * only mstatus.SUM allowed it. No translation at all counts as global (a satp mode change
 * drops those entries anyway).
 */
let lastFlags = 0;

/**
 * Translate virtual address (lo, hi) for `access`. Returns the physical address, or -1
 * after raising a page or access fault.
 */
export function translate(h: Hart, lo: number, hi: number, access: number): number {
  for (;;) {
    const pa = walk(h, lo, hi, access);
    // RETRY: another hart changed the PTE while this walk was setting its A/D bits.
    if (pa !== RETRY) return pa;
  }
}

const RETRY = -2;

function walk(h: Hart, lo: number, hi: number, access: number): number {
  const priv = access === Access.Fetch ? h.priv : dataPriv(h);
  lastPriv = priv;
  lastFlags = TlbFlag.GLOBAL;
  const satpHi = h.csr64[Csr64.SATP + 1]!;
  if (priv === Priv.M || satpHi >>> 28 === SatpMode.Bare) {
    return (hi >>> 0) * TWO32 + (lo >>> 0);
  }
  // Sv39: bits 63..39 must all equal bit 38.
  if ((hi << 25) >> 25 !== hi) return pageFault(h, lo, hi, access);
  let sum = 0;
  let table = ((satpHi & 0xfff) * TWO32 + (h.csr64[Csr64.SATP]! >>> 0)) * 4096;
  const ram = h.bus.ram;
  const i32 = ram.i32;
  for (let level = 2; level >= 0; level--) {
    // VPN[level]: VA bits 20:12, 29:21, 38:30 (the last straddles the halves).
    const vpn = level === 0 ? (lo >>> 12) & 0x1ff : level === 1 ? (lo >>> 21) & 0x1ff : ((lo >>> 30) | (hi << 2)) & 0x1ff;
    const pteAddr = table + vpn * 8;
    if (!ram.contains(pteAddr, 8) || !pmpAllows(h, pteAddr, 8, Access.Load, Priv.S)) {
      takeTrap(h, ACCESS_FAULT[access]!, false, lo, hi);
      return -1;
    }
    // PTEs are 8-byte aligned (RAM starts on a page): each half is one single-copy-atomic read.
    const o = (pteAddr - ram.base) >> 2;
    const pteLo = i32[o]!;
    const pteHi = i32[o + 1]!;
    if ((pteLo & PTE.V) === 0 || (pteLo & (PTE.R | PTE.W)) === PTE.W || pteHi >>> 22 !== 0) {
      return pageFault(h, lo, hi, access);
    }
    const ppn = (pteHi & 0x3fffff) * 4194304 + (pteLo >>> 10);
    if ((pteLo & (PTE.R | PTE.X)) === 0) {
      if (level === 0) return pageFault(h, lo, hi, access);
      table = ppn * 4096;
      continue;
    }
    // Leaf: privilege, then permission for the access kind.
    if (priv === Priv.U) {
      if ((pteLo & PTE.U) === 0) return pageFault(h, lo, hi, access);
    } else if ((pteLo & PTE.U) !== 0) {
      if (access === Access.Fetch || (h.mstatus & MSTATUS.SUM) === 0) return pageFault(h, lo, hi, access);
      // An S-mode access to a U page, allowed by SUM: clearing SUM must drop what is cached.
      sum = TlbFlag.SUM;
    }
    if (access === Access.Fetch) {
      if ((pteLo & PTE.X) === 0) return pageFault(h, lo, hi, access);
    } else if (access === Access.Load) {
      const mxr = (h.mstatus & MSTATUS.MXR) !== 0;
      if ((pteLo & PTE.R) === 0 && !(mxr && (pteLo & PTE.X) !== 0)) return pageFault(h, lo, hi, access);
    } else if ((pteLo & PTE.W) === 0) {
      return pageFault(h, lo, hi, access);
    }
    // A superpage's low PPN fields must be zero.
    const lowPpn = (pteLo >>> 10) & (level === 2 ? 0x3ffff : level === 1 ? 0x1ff : 0);
    if (lowPpn !== 0) return pageFault(h, lo, hi, access);
    // Hardware A/D update, atomic with the checks above (privileged spec: it must not
    // overwrite a PTE that another hart changed meanwhile, e.g. cleared with amoswap.d):
    // a compare-and-swap of the low word (flags and PPN bits 0-21); if it changed, walk again.
    const want = PTE.A | (access === Access.Store ? PTE.D : 0);
    if ((pteLo & want) !== want) {
      if (Atomics.compareExchange(i32, o, pteLo, pteLo | want) !== pteLo) return RETRY;
      // The walker wrote the PTE's page outside any store TLB entry: log it (mem/dirty-log.ts).
      const d = ram.dirty;
      if (d !== null && d.on) d.mark(pteAddr - ram.base);
    }
    const span = level === 2 ? 0x40000000 : level === 1 ? 0x200000 : 0x1000;
    lastFlags = level | sum | ((pteLo & PTE.G) !== 0 ? TlbFlag.GLOBAL : 0);
    return ppn * 4096 + ((lo >>> 0) % span);
  }
  return pageFault(h, lo, hi, access);
}

function pageFault(h: Hart, lo: number, hi: number, access: number): number {
  takeTrap(h, PAGE_FAULT[access]!, false, lo, hi);
  return -1;
}

/**
 * True if the page at `pagePa` may be cached in a TLB for `access` at privilege `priv`.
 * M-mode data accesses under mstatus.MPRV are never cached: the M set holds only M-mode's
 * own untranslated view, so MPRV/MPP changes need not flush it (tlb.ts).
 */
function pageCacheable(h: Hart, pagePa: number, access: number, priv: number): boolean {
  if (access !== Access.Fetch && h.priv === Priv.M && (h.mstatus & MSTATUS.MPRV) !== 0) return false;
  return h.bus.isPlainRamPage(pagePa) && pmpAllows(h, pagePa, 4096, access, priv);
}

/** Translate + PMP for one data access; returns pa or -1 (trap raised). */
function dataAddress(h: Hart, lo: number, hi: number, width: number, access: number): number {
  const pa = translate(h, lo, hi, access);
  if (pa < 0) return -1;
  if (!pmpAllows(h, pa, width, access, lastPriv)) {
    takeTrap(h, ACCESS_FAULT[access]!, false, lo, hi);
    return -1;
  }
  return pa;
}

/** Load `width` bytes at virtual (lo, hi) into h.memLo/h.memHi (zero-extended). */
export function loadSlow(h: Hart, lo: number, hi: number, width: number): boolean {
  if ((lo & (width - 1)) !== 0) return loadMisaligned(h, lo, hi, width);
  // A live-TLB miss that the current set still holds (e.g. after a trap swapped sets).
  const cached = h.tlb.refill(Access.Load, (lo >>> 12) & TLB_MASK, lo >>> 12, hi);
  if (cached >= 0) {
    readRam(h, cached + (lo & 0xfff), width);
    return true;
  }
  const pa = dataAddress(h, lo, hi, width, Access.Load);
  if (pa < 0) return false;
  const bus = h.bus;
  const ram = bus.ram;
  if (bus.findRegion(pa) === null && ram.contains(pa, width)) {
    const off = pa - ram.base;
    const pagePa = pa - (off & 0xfff);
    if (pageCacheable(h, pagePa, Access.Load, lastPriv)) {
      h.tlb.install(Access.Load, (lo >>> 12) & TLB_MASK, lo >>> 12, hi, off & ~0xfff, lastFlags);
    }
    readRam(h, off, width);
    return true;
  }
  bus.fault = false;
  if (width === 8) {
    h.memLo = bus.read(pa, 4);
    h.memHi = bus.read(pa + 4, 4);
  } else {
    h.memLo = bus.read(pa, width as 1 | 2 | 4);
    h.memHi = 0;
  }
  if (bus.fault) {
    bus.fault = false;
    takeTrap(h, Cause.LoadAccessFault, false, lo, hi);
    return false;
  }
  return true;
}

/** Aligned RAM read, as the fast path reads: one access per 32 bits (never torn within a word). */
function readRam(h: Hart, off: number, width: number): void {
  const ram = h.bus.ram;
  switch (width) {
    case 1:
      h.memLo = ram.u8[off]!;
      h.memHi = 0;
      break;
    case 2:
      h.memLo = ram.u16[off >> 1]!;
      h.memHi = 0;
      break;
    case 4:
      h.memLo = ram.i32[off >> 2]!;
      h.memHi = 0;
      break;
    default:
      h.memLo = ram.i32[off >> 2]!;
      h.memHi = ram.i32[(off >> 2) + 1]!;
  }
}

/** Misaligned load: one byte at a time, each translated, so a page-crossing access faults correctly. */
function loadMisaligned(h: Hart, lo: number, hi: number, width: number): boolean {
  let vlo = 0;
  let vhi = 0;
  for (let i = 0; i < width; i++) {
    const alo = (lo + i) | 0;
    const ahi = (hi + (alo >>> 0 < lo >>> 0 ? 1 : 0)) | 0;
    if (!loadSlow(h, alo, ahi, 1)) return false;
    if (i < 4) vlo |= h.memLo << (8 * i);
    else vhi |= h.memLo << (8 * (i - 4));
  }
  h.memLo = vlo;
  h.memHi = vhi;
  return true;
}

/** Store `width` bytes of (vlo, vhi) at virtual (lo, hi). */
export function storeSlow(h: Hart, lo: number, hi: number, width: number, vlo: number, vhi: number): boolean {
  if ((lo & (width - 1)) !== 0) {
    // Check every byte's translation before writing any, so a faulting store changes nothing.
    for (let i = 0; i < width; i++) {
      const alo = (lo + i) | 0;
      const ahi = (hi + (alo >>> 0 < lo >>> 0 ? 1 : 0)) | 0;
      if (dataAddress(h, alo, ahi, 1, Access.Store) < 0) return false;
    }
    for (let i = 0; i < width; i++) {
      const alo = (lo + i) | 0;
      const ahi = (hi + (alo >>> 0 < lo >>> 0 ? 1 : 0)) | 0;
      const b = i < 4 ? vlo >>> (8 * i) : vhi >>> (8 * (i - 4));
      if (!storeSlow(h, alo, ahi, 1, b & 0xff, 0)) return false;
    }
    return true;
  }
  // The set's entries exist only for pages without decoded code (dropStoresTo), as live ones.
  const cached = h.tlb.refill(Access.Store, (lo >>> 12) & TLB_MASK, lo >>> 12, hi);
  if (cached >= 0) {
    // Live again, so the fast path will store through it: its page must be logged since the
    // last flush (mem/dirty-log.ts). Nothing runs between the refill and this mark.
    const d = h.bus.ram.dirty;
    if (d !== null && d.on) d.mark(cached);
    writeRam(h, cached + (lo & 0xfff), width, vlo, vhi);
    return true;
  }
  const pa = dataAddress(h, lo, hi, width, Access.Store);
  if (pa < 0) return false;
  const bus = h.bus;
  const ram = bus.ram;
  if (bus.findRegion(pa) === null && ram.contains(pa, width)) {
    const off = pa - ram.base;
    const page = off >>> 12;
    if (h.code.find(page) !== null) invalidateCodePage(h, page);
    // Logged before the entry is installed: the fast path writes only to logged pages.
    const d = ram.dirty;
    if (d !== null && d.on) d.mark(off);
    if (pageCacheable(h, pa - (off & 0xfff), Access.Store, lastPriv)) {
      h.tlb.install(Access.Store, (lo >>> 12) & TLB_MASK, lo >>> 12, hi, off & ~0xfff, lastFlags);
    }
    writeRam(h, off, width, vlo, vhi);
    return true;
  }
  bus.fault = false;
  if (width === 8) {
    bus.write(pa, 4, vlo);
    bus.write(pa + 4, 4, vhi);
  } else {
    bus.write(pa, width as 1 | 2 | 4, vlo);
  }
  if (bus.fault) {
    bus.fault = false;
    takeTrap(h, Cause.StoreAccessFault, false, lo, hi);
    return false;
  }
  return true;
}

/** Aligned RAM write, as the fast path writes: one store per 32 bits. */
function writeRam(h: Hart, off: number, width: number, vlo: number, vhi: number): void {
  const ram = h.bus.ram;
  if (width === 1) ram.u8[off] = vlo;
  else if (width === 2) ram.u16[off >> 1] = vlo;
  else {
    ram.i32[off >> 2] = vlo;
    if (width === 8) ram.i32[(off >> 2) + 1] = vhi;
  }
}

/** A store hit a page with decoded instructions: drop them (and stop executing from the stale copy). */
export function invalidateCodePage(h: Hart, page: number): void {
  const cp = h.code.find(page);
  if (cp !== null) h.code.remove(cp);
  if (h.fetchRamOff >>> 12 === page) h.fetchVpnLo = -1;
  // The fetch TLB entry can stay: it maps to the page, and the decoded array is recreated on refill.
}

/**
 * Point the loop at the decoded page for pc: fetch TLB, else translate + PMP (execute).
 * Returns false after raising a fetch fault.
 */
export function refillFetch(h: Hart): boolean {
  const lo = h.pcLo;
  const hi = h.pcHi;
  const e = (lo >>> 12) & TLB_MASK;
  let off: number;
  let cacheable = true;
  if (h.tlbFetchLo[e] === lo >>> 12 && h.tlbFetchHi[e] === hi) {
    off = h.tlbFetchOff[e]!;
  } else if ((off = h.tlb.refill(Access.Fetch, e, lo >>> 12, hi)) >= 0) {
    // The current set still held it (after a trap swapped sets).
  } else {
    const pa = translate(h, lo, hi, Access.Fetch);
    if (pa < 0) return false;
    const ram = h.bus.ram;
    const pagePa = pa - (pa % 4096);
    if (!ram.contains(pagePa, 4096) || !pmpAllows(h, pa, 2, Access.Fetch, lastPriv)) {
      takeTrap(h, Cause.InsnAccessFault, false, lo, hi);
      return false;
    }
    off = pagePa - ram.base;
    if (pageCacheable(h, pagePa, Access.Fetch, lastPriv)) {
      h.tlb.install(Access.Fetch, e, lo >>> 12, hi, off, lastFlags);
    } else {
      cacheable = false;
    }
  }
  h.fetchRamOff = off;
  if (!cacheable) {
    // PMP splits this page: decode every instruction afresh and re-check on the next one.
    h.scratchPage[((lo & 0xfff) >>> 1) * 3] = 0;
    h.fetchPage = h.scratchPage;
    h.fetchCode = null;
    h.fetchVpnLo = -1;
    h.fetchVpnHi = hi;
    return true;
  }
  const page = off >>> 12;
  let cp = h.code.find(page);
  if (cp !== null && cp.epoch !== h.fenceEpoch) {
    // A fence.i happened since this page was last checked: keep it only if RAM still
    // holds the bytes it was decoded from.
    if (sameWords(cp.snap, h.bus.ram.i32, off >> 2)) cp.epoch = h.fenceEpoch;
    else {
      invalidateCodePage(h, page);
      cp = null;
    }
  }
  if (cp === null) {
    // May evict other pages (code-cache.ts): the loop holds none of theirs past this refill.
    cp = h.code.add(page, h.bus.ram.i32.slice(off >> 2, (off >> 2) + 1024), h.fenceEpoch);
    // Stores to this page must now take the slow path, which invalidates the decoded copy.
    h.tlb.dropStoresTo(off);
  }
  cp.used = 1;
  h.fetchCode = cp;
  h.fetchPage = cp.dp;
  h.fetchVpnLo = lo >>> 12;
  h.fetchVpnHi = hi;
  return true;
}

function sameWords(snap: Int32Array, ram: Int32Array, at: number): boolean {
  for (let i = 0; i < 1024; i++) if (snap[i] !== ram[at + i]) return false;
  return true;
}

/**
 * Decode the instruction at pc into slot `s` of `dp`. An instruction whose second half is
 * on the next page is decoded into the scratch page (it cannot be cached with either page).
 * Returns the array holding the decoded instruction, or null after a fetch fault.
 */
export function decodeMiss(h: Hart, dp: Int32Array, s: number): Int32Array | null {
  const lo = h.pcLo;
  const m = h.bus.ram.u8;
  const off = h.fetchRamOff + (lo & 0xfff);
  const half = m[off]! | (m[off + 1]! << 8);
  if ((half & 3) !== 3) {
    decodeInto(half, dp, s);
    return dp;
  }
  if ((lo & 0xfff) !== 0xffe) {
    decodeInto(half | (m[off + 2]! << 16) | (m[off + 3]! << 24), dp, s);
    return dp;
  }
  const nlo = (lo + 2) | 0;
  const nhi = (h.pcHi + (nlo === 0 ? 1 : 0)) | 0;
  const pa = translate(h, nlo, nhi, Access.Fetch);
  if (pa < 0) return null;
  const ram = h.bus.ram;
  if (!ram.contains(pa, 2) || !pmpAllows(h, pa, 2, Access.Fetch, lastPriv)) {
    takeTrap(h, Cause.InsnAccessFault, false, nlo, nhi);
    return null;
  }
  const o2 = pa - ram.base;
  decodeInto(half | (m[o2]! << 16) | (m[o2 + 1]! << 24), h.scratchPage, s);
  return h.scratchPage;
}

/** Physical address for an AMO / LR / SC: aligned, translated, PMP-checked, in RAM. */
function atomicAddress(h: Hart, lo: number, hi: number, width: number, access: number): number {
  if ((lo & (width - 1)) !== 0) {
    takeTrap(h, access === Access.Load ? Cause.LoadMisaligned : Cause.StoreMisaligned, false, lo, hi);
    return -1;
  }
  const pa = dataAddress(h, lo, hi, width, access);
  if (pa < 0) return -1;
  const ram = h.bus.ram;
  if (h.bus.findRegion(pa) !== null || !ram.contains(pa, width)) {
    takeTrap(h, access === Access.Load ? Cause.LoadAccessFault : Cause.StoreAccessFault, false, lo, hi);
    return -1;
  }
  const page = (pa - ram.base) >>> 12;
  if (access === Access.Store) {
    if (h.code.find(page) !== null) invalidateCodePage(h, page);
    // AMOs and SC write RAM without a store TLB entry: log the page (mem/dirty-log.ts).
    const d = ram.dirty;
    if (d !== null && d.on) d.mark(pa - ram.base);
  }
  return pa - ram.base;
}

/*
 * 64-bit compare-and-swap and exchange need a BigInt (Atomics on a BigInt64Array view of
 * RAM): amoswap.d, amomin/max[u].d, lr.d and sc.d cross into BigInt here, through an
 * 8-byte scratch buffer seen both as two int32 halves and as one BigInt. Each such
 * instruction allocates two or three BigInts (about 20-40 ns in all); a Linux boot runs
 * about 25,000 of them in 87 M instructions. Nothing else in the hart touches BigInt.
 */
const scratch = new ArrayBuffer(8);
const s32 = new Int32Array(scratch);
const s64 = new BigInt64Array(scratch);

function toBig(lo: number, hi: number): bigint {
  s32[0] = lo;
  s32[1] = hi;
  return s64[0]!;
}

/** v's halves into s32[0] (low) and s32[1] (high). */
function fromBig(v: bigint): void {
  s64[0] = v;
}

/** True when the 64-bit value (aLo, aHi) is below (bLo, bHi), signed or unsigned. */
function less64(aLo: number, aHi: number, bLo: number, bHi: number, signed: boolean): boolean {
  const ah = signed ? aHi : aHi >>> 0;
  const bh = signed ? bHi : bHi >>> 0;
  return ah < bh || (ah === bh && aLo >>> 0 < bLo >>> 0);
}

/**
 * AMO*.W / AMO*.D: rd = old value; memory = op(old, rs2), atomic against every other
 * thread's AMOs, LR/SC and plain accesses (docs/memory-model.md, "AMOs"). All of them are
 * sequentially consistent host operations, which covers any aq/rl bits.
 */
export function amo(h: Hart, width: number, funct5: number, rd: number, r1: number, r2: number): boolean {
  const x = h.x;
  const off = atomicAddress(h, x[r1]!, x[r1 + 1]!, width, Access.Store);
  if (off < 0) return false;
  const bLo = x[r2]!;
  const bHi = x[r2 + 1]!;
  if (width === 4) {
    const old = amo32(h.bus.ram.i32, off >> 2, funct5, bLo);
    x[rd] = old;
    x[rd + 1] = old >> 31;
  } else {
    amo64(h, off >> 2, funct5, bLo, bHi);
    x[rd] = h.memLo;
    x[rd + 1] = h.memHi;
  }
  return true;
}

/** One 32-bit AMO on word `a` of RAM; returns the old value. */
function amo32(i32: Int32Array, a: number, funct5: number, b: number): number {
  switch (funct5) {
    case Amo.Swap:
      return Atomics.exchange(i32, a, b);
    case Amo.Add:
      return Atomics.add(i32, a, b);
    case Amo.Xor:
      return Atomics.xor(i32, a, b);
    case Amo.Or:
      return Atomics.or(i32, a, b);
    case Amo.And:
      return Atomics.and(i32, a, b);
  }
  // min/max: compare-and-swap until no other thread wrote in between. The swap happens
  // even when the old value stays (a locked RMW, as ordered as the other AMOs).
  const signed = funct5 === Amo.Min || funct5 === Amo.Max;
  const wantMin = funct5 === Amo.Min || funct5 === Amo.Minu;
  const bk = signed ? b : b >>> 0;
  let old = i32[a]!;
  for (;;) {
    const n = ((signed ? old : old >>> 0) < bk) === wantMin ? old : b;
    const seen = Atomics.compareExchange(i32, a, old, n);
    if (seen === old) return old;
    old = seen;
  }
}

/**
 * One 64-bit AMO on words a, a+1 of RAM; the old value goes to h.memLo/h.memHi.
 *
 * and/or/xor: one 32-bit atomic per half, skipping a half where rs2 is the identity (so a
 * single-bit operation, as Linux's bitops, is one atomic instruction). add: an atomic add
 * on the low half, then one of (high + carry) on the high half, skipped when that is 0.
 * The final memory value is exact against any mix of these (they commute); the returned
 * old value, and a 64-bit CAS (sc.d, amoswap.d) landing between the two halves, see the
 * halves at two moments. swap, min, max: one 64-bit exchange / compare-and-swap.
 */
function amo64(h: Hart, a: number, funct5: number, bLo: number, bHi: number): void {
  const i32 = h.bus.ram.i32;
  switch (funct5) {
    case Amo.Add: {
      const oldLo = Atomics.add(i32, a, bLo);
      const dHi = (bHi + ((oldLo >>> 0) + (bLo >>> 0) > 0xffffffff ? 1 : 0)) | 0;
      h.memLo = oldLo;
      h.memHi = dHi !== 0 ? Atomics.add(i32, a + 1, dHi) : Atomics.load(i32, a + 1);
      return;
    }
    case Amo.Xor:
      h.memLo = bLo !== 0 ? Atomics.xor(i32, a, bLo) : Atomics.load(i32, a);
      h.memHi = bHi !== 0 ? Atomics.xor(i32, a + 1, bHi) : Atomics.load(i32, a + 1);
      return;
    case Amo.Or:
      h.memLo = bLo !== 0 ? Atomics.or(i32, a, bLo) : Atomics.load(i32, a);
      h.memHi = bHi !== 0 ? Atomics.or(i32, a + 1, bHi) : Atomics.load(i32, a + 1);
      return;
    case Amo.And:
      h.memLo = bLo !== -1 ? Atomics.and(i32, a, bLo) : Atomics.load(i32, a);
      h.memHi = bHi !== -1 ? Atomics.and(i32, a + 1, bHi) : Atomics.load(i32, a + 1);
      return;
    case Amo.Swap:
      fromBig(Atomics.exchange(h.ram64, a >> 1, toBig(bLo, bHi)));
      h.memLo = s32[0]!;
      h.memHi = s32[1]!;
      return;
  }
  const signed = funct5 === Amo.Min || funct5 === Amo.Max;
  const wantMin = funct5 === Amo.Min || funct5 === Amo.Minu;
  const r64 = h.ram64;
  const q = a >> 1;
  let old = Atomics.load(r64, q);
  for (;;) {
    fromBig(old);
    const lo = s32[0]!;
    const hi = s32[1]!;
    const n = less64(lo, hi, bLo, bHi, signed) === wantMin ? old : toBig(bLo, bHi);
    const seen = Atomics.compareExchange(r64, q, old, n);
    if (seen === old) {
      h.memLo = lo;
      h.memHi = hi;
      return;
    }
    old = seen;
  }
}

/**
 * LR.W/D loads atomically and sets the reservation: the address and the value loaded.
 * SC.W/D succeeds (rd = 0) only at the reserved address and only if a compare-and-swap of
 * the value LR loaded with the new value succeeds, as QEMU's multi-threaded TCG does: a
 * store of another hart in between makes it fail unless that store left the same value
 * (ABA, see docs/memory-model.md). An SC to another address fails without touching
 * memory, and every SC ends the reservation.
 */
export function lrsc(h: Hart, op: number, rd: number, r1: number, r2: number): boolean {
  const x = h.x;
  const width = op === Op.LrD || op === Op.ScD ? 8 : 4;
  const isLr = op === Op.LrW || op === Op.LrD;
  const vaLo = x[r1]!;
  const vaHi = x[r1 + 1]!;
  if (!isLr && (h.resv === -1 || h.resvVaLo !== vaLo || h.resvVaHi !== vaHi)) {
    // Not the reserved address: the SC fails without touching memory, so it cannot fault
    // (as QEMU), and like every SC it ends the reservation.
    h.resv = -1;
    x[rd] = 1;
    x[rd + 1] = 0;
    return true;
  }
  const off = atomicAddress(h, vaLo, vaHi, width, isLr ? Access.Load : Access.Store);
  if (off < 0) return false;
  const i32 = h.bus.ram.i32;
  const a = off >> 2;
  if (isLr) {
    let lo: number;
    let hi: number;
    if (width === 8) {
      fromBig(Atomics.load(h.ram64, a >> 1));
      lo = s32[0]!;
      hi = s32[1]!;
    } else {
      lo = Atomics.load(i32, a);
      hi = lo >> 31;
    }
    x[rd] = lo;
    x[rd + 1] = hi;
    h.resv = off;
    h.resvVaLo = vaLo;
    h.resvVaHi = vaHi;
    h.resvLo = lo;
    h.resvHi = hi;
    return true;
  }
  let ok = h.resv === off;
  h.resv = -1;
  if (ok) {
    // The expected value is what LR wrote to rd (LR.W: sign-extended), compared at the
    // SC's width: LR.W then SC.D succeeds only if the doubleword equals the sign-extended
    // word, as on QEMU (test/isa rv64a-lrsc). (LR.D then SC.W compares the low word; QEMU
    // 7.2 there writes the word yet returns rd = 1, which paravm does not copy.)
    if (width === 8) {
      const expected = toBig(h.resvLo, h.resvHi);
      ok = Atomics.compareExchange(h.ram64, a >> 1, expected, toBig(x[r2]!, x[r2 + 1]!)) === expected;
    } else {
      ok = Atomics.compareExchange(i32, a, h.resvLo, x[r2]!) === h.resvLo;
    }
  }
  x[rd] = ok ? 0 : 1;
  x[rd + 1] = 0;
  return true;
}
