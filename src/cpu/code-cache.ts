/**
 * The hart's code cache: the decoded-instruction pages (and, hung on each, the block
 * compiler's JitPage) that guest code costs the host beyond guest RAM, bounded by a
 * per-hart byte budget (issue 11, "Memory"; docs/cpu.md, "Code cache bound").
 *
 * - Index: RAM page → CodePage through a two-level table, one leaf of LEAF_PAGES slots
 *   per 2 MiB of RAM that holds cached code, so the index grows with the code that ran,
 *   not with guest RAM (the flat RAM-sized tables before cost 28 bytes per RAM page per
 *   hart: 1.8 MB at 256 MiB, 29 MB at 4 GiB). A lookup is two array loads; a region
 *   without code reads the shared empty leaf, so every leaf has the same shape.
 * - Budget: adding a page, or growing its JitPage, first evicts pages until the new bytes
 *   fit. Victims are chosen by CLOCK (second chance): every entry into a page (a fetch
 *   refill, a compiled block chaining into it) sets its `used` bit; the hand clears set
 *   bits and evicts the first page found clear. The page being executed is never a victim.
 * - Eviction is what a store to a code page already does (mmu.invalidateCodePage): the
 *   decoded array, the RAM snapshot and the JitPage with its blocks go together. Nothing
 *   can use them afterwards: the loop takes its decoded array and JitPage from the cache
 *   on every fetch refill, Jit.follow looks pages up here on every crossing, and a page
 *   not in the cache may get store TLB entries again (storeSlow drops the decoded copy
 *   before installing one; a new decoded page drops them, tlb.dropStoresTo). Guest
 *   behaviour is unchanged: an evicted page is decoded afresh from RAM when next run.
 */
import type { JitPage } from "./jit.js";

/** Words of one decoded page: 2048 slots (one per 2-byte instruction start) of 3 words. */
export const PAGE_SLOTS = 2048 * 3;
/** Host bytes of one decoded page: its slot array plus the 4 KiB of RAM words it came from. */
export const DECODED_PAGE_BYTES = PAGE_SLOTS * 4 + 4096;
/** Log2 of the RAM pages one index leaf covers (2 MiB of RAM). */
const LEAF_SHIFT = 9;
const LEAF_PAGES = 1 << LEAF_SHIFT;
const LEAF_MASK = LEAF_PAGES - 1;
/** Host bytes of an array slot holding an object reference (64-bit V8, no pointer compression). */
const REF_BYTES = 8;
const MiB = 1024 * 1024;
/**
 * Default budget per hart. A pv boot holds about 22 MB (≈650 pages) and the bench:guest
 * workloads after it peak at about 24 MB (docs/cpu.md): 64 MiB leaves room, so no
 * ordinary run evicts, while a guest running through ever new code stops there.
 */
export const DEFAULT_CODE_CACHE_MIB = 64;
/** Environment override of the default, in MiB (tests; `paravm run --code-cache` sets it per VM). */
export const CODE_CACHE_ENV = "PARAVM_CODE_CACHE_MIB";

/** One RAM page's decoded instructions, while they are cached. */
export class CodePage {
  /** Decoded slots (decode.ts layout); 0 = not decoded yet. */
  readonly dp = new Int32Array(PAGE_SLOTS);
  /** The block compiler's page (jit.ts), made on the first fetch with the compiler on. */
  jit: JitPage | null = null;
  /** CLOCK reference bit: set on every entry into the page, cleared by the sweeping hand. */
  used = 1;
  /** Position in CodeCache.list; -1 once dropped. */
  index = -1;
  constructor(
    /** RAM page number (RAM byte offset >>> 12). */
    readonly page: number,
    /** The RAM words `dp` was decoded from (fence.i re-checks against them). */
    readonly snap: Int32Array,
    /** The fence.i epoch at which `snap` was last known to equal RAM. */
    public epoch: number,
  ) {}
}

/** The default budget in bytes: CODE_CACHE_ENV if it is a positive number of MiB, else the default. */
export function defaultCodeCacheBytes(): number {
  const env = typeof process !== "undefined" && process.env ? process.env : {};
  const mib = Number(env[CODE_CACHE_ENV]);
  return Math.round((Number.isFinite(mib) && mib > 0 ? mib : DEFAULT_CODE_CACHE_MIB) * MiB);
}

/** The leaf of every 2 MiB region without cached code (read, never written). */
const EMPTY_LEAF: (CodePage | null)[] = new Array<CodePage | null>(LEAF_PAGES).fill(null);

export class CodeCache {
  /** Index leaves per 2 MiB of RAM: EMPTY_LEAF where no page of the region is cached. */
  private readonly dir: (CodePage | null)[][];
  /** Cached pages per leaf, so an emptied leaf goes back to EMPTY_LEAF. */
  private readonly leafCount: Uint16Array;
  private leaves = 0;
  /** Every cached page (order: insertion, shuffled by swap-removal); the CLOCK hand walks it. */
  readonly list: CodePage[] = [];
  private hand = 0;
  /** Host bytes held now (decoded pages and JitPage tables; the index is `indexBytes()`). */
  bytes = 0;
  /** Of which JitPage tables. */
  jitBytes = 0;
  jitPages = 0;
  /** Most bytes held at once. */
  peakBytes = 0;
  /** Pages dropped to stay within the budget (not counting invalidations by stores or fence.i). */
  evictions = 0;
  /** Bound on `bytes`; the page being executed is kept even if it alone exceeds it. */
  budgetBytes: number;

  constructor(ramPages: number, budgetBytes = defaultCodeCacheBytes()) {
    const n = Math.ceil(ramPages / LEAF_PAGES);
    this.dir = new Array<(CodePage | null)[]>(n).fill(EMPTY_LEAF);
    this.leafCount = new Uint16Array(n);
    this.budgetBytes = budgetBytes;
  }

  /** The cached page for RAM page `page` (in range), or null. */
  find(page: number): CodePage | null {
    return this.dir[page >>> LEAF_SHIFT]![page & LEAF_MASK]!;
  }

  /** A new (empty) decoded page for RAM page `page`, after making room for it. */
  add(page: number, snap: Int32Array, epoch: number): CodePage {
    this.makeRoom(DECODED_PAGE_BYTES, null);
    const cp = new CodePage(page, snap, epoch);
    const d = page >>> LEAF_SHIFT;
    let leaf = this.dir[d]!;
    if (leaf === EMPTY_LEAF) {
      leaf = new Array<CodePage | null>(LEAF_PAGES).fill(null);
      this.dir[d] = leaf;
      this.leaves++;
    }
    leaf[page & LEAF_MASK] = cp;
    this.leafCount[d]!++;
    cp.index = this.list.length;
    this.list.push(cp);
    this.grow(DECODED_PAGE_BYTES);
    return cp;
  }

  /** Count `n` more host bytes for `cp`'s JitPage (made room for by the caller). */
  growJit(cp: CodePage, n: number, newPage: boolean): void {
    if (cp.index < 0) return;
    this.jitBytes += n;
    if (newPage) this.jitPages++;
    this.grow(n);
  }

  private grow(n: number): void {
    this.bytes += n;
    if (this.bytes > this.peakBytes) this.peakBytes = this.bytes;
  }

  /** Drop `cp` (a store to it, fence.i found it changed, eviction): its JitPage goes with it. */
  remove(cp: CodePage): void {
    const i = cp.index;
    if (i < 0) return;
    const d = cp.page >>> LEAF_SHIFT;
    const leaf = this.dir[d]!;
    leaf[cp.page & LEAF_MASK] = null;
    if (--this.leafCount[d]! === 0) {
      this.dir[d] = EMPTY_LEAF;
      this.leaves--;
    }
    const last = this.list.pop()!;
    if (last !== cp) {
      this.list[i] = last;
      last.index = i;
    }
    cp.index = -1;
    this.bytes -= DECODED_PAGE_BYTES;
    const jp = cp.jit;
    if (jp !== null) {
      const jb = jp.hostBytes();
      this.bytes -= jb;
      this.jitBytes -= jb;
      this.jitPages--;
      cp.jit = null;
    }
  }

  /**
   * Evict pages (CLOCK) until `need` more bytes fit in the budget, never `keep` (the page
   * being executed). Stops when nothing else is left to evict.
   */
  makeRoom(need: number, keep: CodePage | null): void {
    const list = this.list;
    // Two sweeps clear every used bit, so each victim is found within 2·length steps.
    while (this.bytes + need > this.budgetBytes && list.length > (keep !== null && keep.index >= 0 ? 1 : 0)) {
      if (this.hand >= list.length) this.hand = 0;
      const cp = list[this.hand]!;
      if (cp === keep) this.hand++;
      else if (cp.used !== 0) {
        cp.used = 0;
        this.hand++;
      } else {
        // The last page moves into the victim's place: the hand looks at it next.
        this.remove(cp);
        this.evictions++;
      }
    }
  }

  /** Drop every JitPage (a new compiler for the hart: blocks belong to the one that made them). */
  dropJit(): void {
    for (const cp of this.list) {
      const jp = cp.jit;
      if (jp === null) continue;
      const jb = jp.hostBytes();
      this.bytes -= jb;
      this.jitBytes -= jb;
      this.jitPages--;
      cp.jit = null;
    }
  }

  /** Drop everything (reset). */
  clear(): void {
    while (this.list.length > 0) this.remove(this.list[this.list.length - 1]!);
    this.hand = 0;
  }

  /** A new bound; pages over it are evicted when the next page or table is made. */
  setBudget(bytes: number): void {
    this.budgetBytes = bytes;
  }

  /** Host bytes of the index: the directory and its leaves. */
  indexBytes(): number {
    return (this.dir.length + this.leaves * LEAF_PAGES) * REF_BYTES + this.leafCount.byteLength;
  }
}
