/**
 * The software TLB's sets: which cached translations the fast paths see, and what an
 * sfence.vma, a satp write, a privilege change or an mstatus change takes away.
 *
 * The fast paths (hart.ts run(), compiled blocks) read nine fixed arrays on the hart
 * (`tlbFetchLo/Hi/Off`, `tlbLoad…`, `tlbStore…`: tag = virtual page, payload = RAM offset).
 * Those live arrays are a first level over *sets* of translations kept here:
 *   - M: machine mode (no translation; data entries only while mstatus.MPRV is 0);
 *   - S: supervisor mode, under whatever satp is current;
 *   - U: user mode, one set per satp value (ASID and root), a few kept, the least
 *     recently entered replaced first.
 * The live arrays hold only entries of the current set. A trap or xRET swaps sets instead
 * of flushing: it clears the live entries (those made live since the set was entered, so
 * the working set, not the table) and lets later misses refill from the new set's
 * backing — a lookup instead of a page walk. Every install writes through to the backing.
 *
 * What each set's entries depend on, and what drops them (privileged spec §4.2.1, §4.3):
 *   - satp: a U set belongs to one satp value, so switching address spaces keeps it for
 *     when that address space comes back. The S set keeps its global entries (PTE.G:
 *     Linux maps the kernel global) and drops the others; a mode change drops S and U.
 *   - sfence.vma rs1 = address: that page in S and every U set (a superpage entry as a
 *     whole: every 4 KiB entry cut from it); rs2 = ASID: only the non-global entries of
 *     that ASID (the S set only if it is the current ASID, and U sets with that ASID);
 *     both x0: S and U entirely. The M set holds no translations and stays.
 *   - mstatus.SUM 1 → 0: the S entries that only SUM allowed (noted when installed);
 *     MXR 1 → 0: S and U; MPRV 0 → 1: the M set.
 *   - PMP writes, reset: everything.
 */
import { Access, Priv, Csr64 } from "./constants.js";

export const TLB_SIZE = 1024;
export const TLB_MASK = TLB_SIZE - 1;
/** log2(TLB_SIZE): code >>> KIND_SHIFT is the kind (fetch, load, store). */
const KIND_SHIFT = 10;
const KINDS = 3;
const STORE_KIND = Access.Store;
const CODES = KINDS * TLB_SIZE;

/** Per-entry flags, as `install` takes them. */
export const TlbFlag = {
  /** Page level of the leaf: 0 = 4 KiB, 1 = 2 MiB, 2 = 1 GiB. */
  LEVEL: 3,
  /** The leaf PTE had G set (or no translation at all): an ASID switch keeps it. */
  GLOBAL: 4,
  /** An S-mode access to a U page: only mstatus.SUM allows it. */
  SUM: 8,
  /** Internal: the entry is valid (cleared when it is dropped, while it stays listed). */
  VALID: 0x40,
  /** Internal: the code is in its set's list. */
  LISTED: 0x80,
} as const;

export const TlbSet = { M: 0, S: 1, U: 2 } as const;
/** User sets kept (distinct satp values): a pipeline of a few processes keeps all of its own. */
const U_SETS = 4;
const SETS = TlbSet.U + U_SETS;

/** Which entries of a set a flush takes. */
const Drop = { ALL: 0, NON_GLOBAL: 1, SUM: 2 } as const;

/** Special-entry codes remembered per set before a filtered flush must scan the whole list. */
const SPECIAL_SLOTS = 64;

/** Pages an sfence of a range drops one by one; larger ranges flush the sets they concern. */
const RANGE_PAGES = 64;

/** The hart fields the sets work on (the Hart class, without importing it). */
export interface TlbOwner {
  readonly tlbFetchLo: Int32Array;
  readonly tlbFetchHi: Int32Array;
  readonly tlbFetchOff: Int32Array;
  readonly tlbLoadLo: Int32Array;
  readonly tlbLoadHi: Int32Array;
  readonly tlbLoadOff: Int32Array;
  readonly tlbStoreLo: Int32Array;
  readonly tlbStoreHi: Int32Array;
  readonly tlbStoreOff: Int32Array;
  readonly csr64: Int32Array;
  /** The loop's current fetch page: -1 makes it look the page up again. */
  fetchVpnLo: number;
}

/** Counters for --stats and the benchmarks (all cumulative). */
export interface TlbStats {
  /** Page walks that installed an entry, by kind. */
  readonly refills: { readonly fetch: number; readonly load: number; readonly store: number };
  /** Live-array misses served from the current set's backing instead of a walk. */
  readonly setHits: number;
  /** Set swaps (privilege changes that changed the set). */
  readonly swaps: number;
  /** Whole-set flushes, by cause. */
  readonly flushes: Record<string, number>;
  /** sfence.vma by form (local instructions and SBI remote fences applied here). */
  readonly sfence: { readonly all: number; readonly asid: number; readonly page: number; readonly pageAsid: number };
  readonly satpSwitches: number;
}

export class TlbSets {
  private readonly los: Int32Array[];
  private readonly his: Int32Array[];
  private readonly offs: Int32Array[];
  /** Backing per set: (code * 3) = tag lo, tag hi, offset. Written through on install. */
  private readonly back: Int32Array[] = [];
  private readonly list: Int16Array[] = [];
  private readonly count = new Int32Array(SETS);
  private readonly flags: Uint8Array[] = [];
  /** Highest page level installed in each set since it was last emptied (0: no superpage entries). */
  private readonly big = new Uint8Array(SETS);
  /** Codes of GLOBAL-less or SUM entries per set; past SPECIAL_SLOTS a filtered flush scans the list. */
  private readonly special: Int16Array[] = [];
  private readonly specialCount = new Int32Array(SETS);
  /** U sets: the satp value each belongs to, whether it has one, and when it was last entered. */
  private readonly keyLo = new Int32Array(SETS);
  private readonly keyHi = new Int32Array(SETS);
  private readonly keyed = new Uint8Array(SETS);
  private readonly lastUse = new Float64Array(SETS);
  private useClock = 0;
  /** Superpage regions per set (see regionKey): an sfence of an address outside all of them skips the scan. */
  private readonly regions: Set<number>[] = [];
  /** Codes made live since the current set was entered (cleared on a swap), and a mark per code. */
  private readonly live = new Int16Array(CODES);
  private liveCount = 0;
  private readonly liveMark = new Uint8Array(CODES);
  /** The set the live arrays hold entries of. */
  active: number = TlbSet.M;

  private readonly refills = new Float64Array(KINDS);
  private swaps = 0;
  private setHits = 0;
  private satpSwitches = 0;
  private readonly flushCount: Record<string, number> = {};
  private readonly sfenceCount = { all: 0, asid: 0, page: 0, pageAsid: 0 };

  constructor(private readonly h: TlbOwner) {
    this.los = [h.tlbFetchLo, h.tlbLoadLo, h.tlbStoreLo];
    this.his = [h.tlbFetchHi, h.tlbLoadHi, h.tlbStoreHi];
    this.offs = [h.tlbFetchOff, h.tlbLoadOff, h.tlbStoreOff];
    for (let s = 0; s < SETS; s++) {
      this.back.push(new Int32Array(CODES * 3).fill(-1));
      this.list.push(new Int16Array(CODES));
      this.flags.push(new Uint8Array(CODES));
      this.special.push(new Int16Array(SPECIAL_SLOTS));
      this.regions.push(new Set<number>());
    }
  }

  /** Host bytes held by the sets beyond the live arrays (for --stats). */
  hostBytes(): number {
    return SETS * (CODES * 12 + CODES * 2 + CODES + SPECIAL_SLOTS * 2) + CODES * 3;
  }

  /** Cache a translation in the live arrays (and its set's backing). `kind`: Access value. */
  install(kind: number, e: number, tagLo: number, tagHi: number, off: number, flags: number): void {
    this.los[kind]![e] = tagLo;
    this.his[kind]![e] = tagHi;
    this.offs[kind]![e] = off;
    const s = this.active;
    const code = (kind << KIND_SHIFT) | e;
    const b = this.back[s]!;
    b[code * 3] = tagLo;
    b[code * 3 + 1] = tagHi;
    b[code * 3 + 2] = off;
    const f = this.flags[s]!;
    if (f[code] === 0) this.list[s]![this.count[s]!++] = code;
    f[code] = (flags & (TlbFlag.LEVEL | TlbFlag.GLOBAL | TlbFlag.SUM)) | TlbFlag.VALID | TlbFlag.LISTED;
    this.makeLive(code);
    const level = flags & TlbFlag.LEVEL;
    if (level !== 0) {
      if (level > this.big[s]!) this.big[s] = level;
      this.regions[s]!.add(regionKey(tagLo, tagHi, level));
    }
    if ((flags & (TlbFlag.GLOBAL | TlbFlag.SUM)) !== TlbFlag.GLOBAL) {
      const n = this.specialCount[s]!;
      if (n < SPECIAL_SLOTS) this.special[s]![n] = code;
      if (n <= SPECIAL_SLOTS) this.specialCount[s] = n + 1;
    }
    this.refills[kind]++;
  }

  private makeLive(code: number): void {
    if (this.liveMark[code] === 0) {
      this.liveMark[code] = 1;
      this.live[this.liveCount++] = code;
    }
  }

  /**
   * A live-array miss: if the current set holds the page (tag lo, hi) for `kind` at slot
   * `e`, make the entry live and return its RAM offset; else -1 (walk the page tables).
   */
  refill(kind: number, e: number, tagLo: number, tagHi: number): number {
    const s = this.active;
    const code = (kind << KIND_SHIFT) | e;
    const b = this.back[s]!;
    if (b[code * 3] !== tagLo || b[code * 3 + 1] !== tagHi) return -1;
    const off = b[code * 3 + 2]!;
    this.los[kind]![e] = tagLo;
    this.his[kind]![e] = tagHi;
    this.offs[kind]![e] = off;
    this.makeLive(code);
    this.setHits++;
    return off;
  }

  /**
   * Take the store entries out of the live arrays (their sets' backing keeps them): the next
   * store to each page takes the slow path, which logs the page before the entry is live
   * again (a dirty-log flush, mem/dirty-log.ts). Fetch and load entries stay live.
   */
  dropLiveStores(): void {
    const L = this.live;
    const n = this.liveCount;
    const stLo = this.los[STORE_KIND]!;
    const mark = this.liveMark;
    let w = 0;
    for (let i = 0; i < n; i++) {
      const code = L[i]!;
      if (code >>> KIND_SHIFT === STORE_KIND) {
        stLo[code & TLB_MASK] = -1;
        mark[code] = 0;
      } else L[w++] = code;
    }
    this.liveCount = w;
  }

  /** The privilege changed (trap, xRET, or the host): the live arrays now serve its set. */
  select(priv: number): void {
    let next: number;
    if (priv === Priv.M) next = TlbSet.M;
    else if (priv === Priv.S) next = TlbSet.S;
    else next = this.userSet();
    this.lastUse[next] = ++this.useClock;
    if (next === this.active) return;
    this.swaps++;
    this.clearLive();
    this.active = next;
  }

  /** Empty the live arrays (the set's backing keeps every entry). */
  private clearLive(): void {
    const L = this.live;
    const n = this.liveCount;
    const los = this.los;
    const mark = this.liveMark;
    for (let i = 0; i < n; i++) {
      const code = L[i]!;
      los[code >>> KIND_SHIFT]![code & TLB_MASK] = -1;
      mark[code] = 0;
    }
    this.liveCount = 0;
    this.h.fetchVpnLo = -1;
  }

  /** The U set for the current satp: the one keyed to it, else the least recently entered, emptied. */
  private userSet(): number {
    const c = this.h.csr64;
    const lo = c[Csr64.SATP]!;
    const hi = c[Csr64.SATP + 1]!;
    let victim = -1;
    for (let s = TlbSet.U; s < SETS; s++) {
      if (this.keyed[s] === 1) {
        if (this.keyLo[s] === lo && this.keyHi[s] === hi) return s;
        if (victim === -1 || (this.keyed[victim] === 1 && this.lastUse[s]! < this.lastUse[victim]!)) victim = s;
      } else if (victim === -1 || this.keyed[victim] === 1) {
        victim = s;
      }
    }
    this.dropSet(victim, Drop.ALL);
    this.keyed[victim] = 1;
    this.keyLo[victim] = lo;
    this.keyHi[victim] = hi;
    this.count1("uSetReplaced");
    return victim;
  }

  private count1(reason: string): void {
    this.flushCount[reason] = (this.flushCount[reason] ?? 0) + 1;
  }

  /** Invalidate entry `code` of set `s` (live arrays too if `s` is active); it stays listed (as invalid) until its set is emptied. */
  private drop(s: number, code: number): void {
    this.back[s]![code * 3] = -1;
    if (s === this.active) this.los[code >>> KIND_SHIFT]![code & TLB_MASK] = -1;
    this.flags[s]![code] = TlbFlag.LISTED;
  }

  /** Drop the entries of set `s` that `what` names. */
  private dropSet(s: number, what: number): void {
    const f = this.flags[s]!;
    const sp = this.special[s]!;
    if (what === Drop.ALL) {
      const L = this.list[s]!;
      const n = this.count[s]!;
      const b = this.back[s]!;
      const live = s === this.active;
      const los = this.los;
      for (let i = 0; i < n; i++) {
        const code = L[i]!;
        f[code] = 0;
        b[code * 3] = -1;
        if (live) los[code >>> KIND_SHIFT]![code & TLB_MASK] = -1;
      }
      this.count[s] = 0;
      this.big[s] = 0;
      this.specialCount[s] = 0;
      this.regions[s]!.clear();
      return;
    }
    const m = this.specialCount[s]!;
    if (m <= SPECIAL_SLOTS) {
      // Only entries noted as special can match: visit just those, keep the others noted.
      let w = 0;
      for (let i = 0; i < m; i++) {
        const code = sp[i]!;
        const fl = f[code]!;
        if ((fl & TlbFlag.VALID) === 0) continue;
        if (matches(fl, what)) this.drop(s, code);
        else sp[w++] = code;
      }
      this.specialCount[s] = w;
      return;
    }
    // The notes overflowed: scan the whole set, and note again what stays special.
    const L = this.list[s]!;
    const n = this.count[s]!;
    let w = 0;
    for (let i = 0; i < n; i++) {
      const code = L[i]!;
      const fl = f[code]!;
      if ((fl & TlbFlag.VALID) === 0 || (fl & (TlbFlag.GLOBAL | TlbFlag.SUM)) === TlbFlag.GLOBAL) continue;
      if (matches(fl, what)) this.drop(s, code);
      else {
        if (w < SPECIAL_SLOTS) sp[w] = code;
        if (w <= SPECIAL_SLOTS) w++;
      }
    }
    this.specialCount[s] = w;
  }

  /** Drop set `s`'s entries for the page of (vLo, vHi), superpage entries covering it included. */
  private dropPage(s: number, vLo: number, vHi: number, nonGlobalOnly: boolean): void {
    const vpn = vLo >>> 12;
    const e = vpn & TLB_MASK;
    const f = this.flags[s]!;
    const b = this.back[s]!;
    for (let k = 0; k < KINDS; k++) {
      const code = (k << KIND_SHIFT) | e;
      const fl = f[code]!;
      if ((fl & TlbFlag.VALID) === 0 || (nonGlobalOnly && (fl & TlbFlag.GLOBAL) !== 0)) continue;
      if (b[code * 3] === vpn && b[code * 3 + 1] === vHi) this.drop(s, code);
    }
    if (this.big[s] === 0) return;
    const rg = this.regions[s]!;
    if (!rg.has(regionKey(vLo >>> 12, vHi, 1)) && !rg.has(regionKey(vLo >>> 12, vHi, 2))) return;
    // 4 KiB entries cut from a superpage: the fence names the leaf PTE, so all of them go.
    const L = this.list[s]!;
    const n = this.count[s]!;
    for (let i = 0; i < n; i++) {
      const code = L[i]!;
      const fl = f[code]!;
      const level = fl & TlbFlag.LEVEL;
      if (level === 0 || (fl & TlbFlag.VALID) === 0 || (nonGlobalOnly && (fl & TlbFlag.GLOBAL) !== 0)) continue;
      const shift = 9 * level;
      if (b[code * 3 + 1] === vHi && b[code * 3]! >>> shift === vpn >>> shift) this.drop(s, code);
    }
  }

  /** Every set, M included (PMP change, reset, a remote fence of unknown scope). */
  flushAll(reason: string): void {
    for (let s = 0; s < SETS; s++) {
      this.dropSet(s, Drop.ALL);
      if (s >= TlbSet.U && s !== this.active) this.keyed[s] = 0;
    }
    this.count1(reason);
    this.h.fetchVpnLo = -1;
  }

  /** Every translated set: S and all U sets (M holds no translations). */
  flushTranslated(reason: string): void {
    for (let s = TlbSet.S; s < SETS; s++) this.dropSet(s, Drop.ALL);
    this.count1(reason);
    this.h.fetchVpnLo = -1;
  }

  /** mstatus.MPRV 0 → 1: M-mode data entries were cached for M's own privilege. */
  flushMachine(): void {
    this.dropSet(TlbSet.M, Drop.ALL);
    this.count1("mprv");
    this.h.fetchVpnLo = -1;
  }

  /** mstatus.SUM 1 → 0: drop the S entries that only SUM allowed. */
  revokeSum(): void {
    if (this.specialCount[TlbSet.S] === 0) return;
    this.dropSet(TlbSet.S, Drop.SUM);
    this.count1("sum");
  }

  /**
   * satp changed from (oldLo, oldHi). U sets are keyed by satp and stay; the S set keeps
   * its global entries; a change of translation mode drops every translated set.
   */
  satpWritten(oldLo: number, oldHi: number): void {
    const c = this.h.csr64;
    const lo = c[Csr64.SATP]!;
    const hi = c[Csr64.SATP + 1]!;
    if (lo === oldLo && hi === oldHi) return;
    this.satpSwitches++;
    if (hi >>> 28 !== oldHi >>> 28) {
      this.flushTranslated("satpMode");
      return;
    }
    if (this.specialCount[TlbSet.S] !== 0) this.dropSet(TlbSet.S, Drop.NON_GLOBAL);
    // The U set of the old satp may be live (M-mode wrote satp while U's set was active): re-key.
    if (this.active >= TlbSet.U) {
      this.keyLo[this.active] = lo;
      this.keyHi[this.active] = hi;
      this.dropSet(this.active, Drop.ALL);
    }
    this.h.fetchVpnLo = -1;
  }

  /**
   * SFENCE.VMA (privileged spec §4.2.1). `hasAddr`: rs1 ≠ x0, the page of (vLo, vHi);
   * `hasAsid`: rs2 ≠ x0, ASID `asid` (only its low ASIDLEN = 16 bits count).
   */
  sfence(hasAddr: boolean, vLo: number, vHi: number, hasAsid: boolean, asid: number): void {
    const sf = this.sfenceCount;
    if (hasAddr) {
      if (hasAsid) sf.pageAsid++;
      else sf.page++;
    } else if (hasAsid) sf.asid++;
    else sf.all++;
    asid &= 0xffff;
    const curAsid = (this.h.csr64[Csr64.SATP + 1]! >>> 12) & 0xffff;
    for (let s = TlbSet.S; s < SETS; s++) {
      if (this.count[s] === 0) continue;
      if (s === TlbSet.S) {
        if (hasAsid && asid !== curAsid) continue;
      } else {
        if (this.keyed[s] === 0) continue;
        if (hasAsid && ((this.keyHi[s]! >>> 12) & 0xffff) !== asid) continue;
      }
      // With an ASID, global entries stay (spec); a U set is dropped whole either way.
      const nonGlobalOnly = hasAsid && s === TlbSet.S;
      if (hasAddr) this.dropPage(s, vLo, vHi, nonGlobalOnly);
      else this.dropSet(s, nonGlobalOnly ? Drop.NON_GLOBAL : Drop.ALL);
    }
    this.h.fetchVpnLo = -1;
  }

  /**
   * A remote fence (SBI RFENCE v2.0 §8): [start, start + size) in ASID `asid` (-1: every
   * ASID). `start` is the address's low 39 bits (Sv39: the rest is bit 38's sign
   * extension). Start 0 with size 0, or a size of 2^64 - 1 (any size ≥ 2^53 here), means
   * everything; so does a range of more than RANGE_PAGES pages.
   */
  sfenceRange(start: number, size: number, asid: number): void {
    const hasAsid = asid >= 0;
    const a = hasAsid ? asid & 0xffff : 0;
    if (fenceRangeIsWhole(start, size)) {
      this.sfence(false, 0, 0, hasAsid, a);
      return;
    }
    const first = Math.floor(start / 4096);
    const last = Math.floor((start + Math.max(size, 1) - 1) / 4096);
    for (let p = first; p <= last; p++) {
      const va = (p * 4096) % 2 ** 39;
      const hi = ((Math.floor(va / 4294967296) << 25) >> 25) | 0;
      this.sfence(true, va % 4294967296 | 0, hi, hasAsid, a);
    }
  }

  /** A page at RAM offset `off` now holds decoded code: stores to it must take the slow path, in every set. */
  dropStoresTo(off: number): void {
    for (let s = 0; s < SETS; s++) {
      const L = this.list[s]!;
      const b = this.back[s]!;
      const n = this.count[s]!;
      for (let i = 0; i < n; i++) {
        const code = L[i]!;
        if (code >>> KIND_SHIFT === 2 && b[code * 3 + 2] === off && (this.flags[s]![code]! & TlbFlag.VALID) !== 0) this.drop(s, code);
      }
    }
  }

  /** Entries listed per set now (M, S, U…): what a swap into that set costs. */
  sizes(): number[] {
    return Array.from(this.count);
  }

  stats(): TlbStats {
    return {
      refills: { fetch: this.refills[0]!, load: this.refills[1]!, store: this.refills[2]! },
      setHits: this.setHits,
      swaps: this.swaps,
      flushes: { ...this.flushCount },
      sfence: { ...this.sfenceCount },
      satpSwitches: this.satpSwitches,
    };
  }
}

/** Whether an RFENCE range means the whole address space here (see sfenceRange). */
export function fenceRangeIsWhole(start: number, size: number): boolean {
  return (start === 0 && size === 0) || !(size < 2 ** 53) || size / 4096 > RANGE_PAGES;
}

/**
 * A superpage region as one number: the leaf's level and the VPN bits above it (27-bit
 * Sv39 VPN: the high half's bits 0-6 and the tag; canonical addresses only ever get here).
 */
function regionKey(tagLo: number, tagHi: number, level: number): number {
  const vpn = (tagHi & 0x7f) * 1048576 + tagLo;
  return Math.floor(vpn / (level === 1 ? 512 : 262144)) * 4 + level;
}

/** Whether a valid entry with flags `fl` is one that `what` (SUM or NON_GLOBAL) drops. */
function matches(fl: number, what: number): boolean {
  return what === Drop.SUM ? (fl & TlbFlag.SUM) !== 0 : (fl & TlbFlag.GLOBAL) === 0;
}
