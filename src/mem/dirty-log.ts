/**
 * Dirty-page logging for live migration (issue 15): which pages of guest RAM were written
 * since the migration last looked, by any writer — a hart's store, AMO or page-table A/D
 * update, or a device's DMA on the owner thread.
 *
 * One SharedArrayBuffer, seen by the main thread (the collector) and every vCPU thread:
 *
 *   word 0           ON: 1 while logging
 *   word 1           FLUSH: the collector's flush request, a counter
 *   word 8 + k       ACK[k]: the last FLUSH hart k obeyed
 *   word HEADER + i  the bitmap: page p is bit p & 31 of word HEADER + (p >>> 5)
 *
 * Harts log writes cheaply by logging only in their store slow path: a store TLB entry is
 * installed (or made live again) only after its page has been marked, so the fast path,
 * which writes through live entries, writes only to pages already marked. After the
 * collector takes the bitmap (take(): each word exchanged with 0) it asks every hart to
 * drop its live entries (requestFlush) and waits for their acknowledgements (flushedAll):
 * from then on a store to a page must pass the slow path again and mark it. A store made
 * through an old entry between the take and the acknowledgement went to a page that was
 * in the taken set (its entry was installed after the previous flush, so its mark came
 * after the previous take) — so as long as the collector copies the taken pages after the
 * acknowledgement, no write is lost (docs/snapshots.md, "Live migration").
 */

export const DIRTY_LOG = {
  ON: 0,
  FLUSH: 1,
  ACK_BASE: 8,
  /** Words before the bitmap: room for the acknowledgements of MAX_HARTS harts. */
  HEADER: 40,
  MAX_HARTS: 32,
  PAGE_SHIFT: 12,
} as const;

export class DirtyLog {
  readonly sab: SharedArrayBuffer;
  /** The whole buffer as words (header and bitmap). */
  readonly words: Int32Array;
  readonly pages: number;

  /** A new log for `pages` pages of RAM (not logging). */
  static create(pages: number): DirtyLog {
    if (!Number.isInteger(pages) || pages <= 0) throw new RangeError(`a dirty log needs a positive page count, got ${pages}`);
    return new DirtyLog(new SharedArrayBuffer((DIRTY_LOG.HEADER + Math.ceil(pages / 32)) * 4), pages);
  }

  /** Another thread's view of the log made by create(). */
  constructor(sab: SharedArrayBuffer, pages: number) {
    this.sab = sab;
    this.words = new Int32Array(sab);
    this.pages = pages;
    if (this.words.length < DIRTY_LOG.HEADER + Math.ceil(pages / 32)) throw new RangeError(`dirty log of ${this.words.length} words is too small for ${pages} pages`);
  }

  /** True while logging (a plain read: the flush handshake orders what matters). */
  get on(): boolean {
    return this.words[DIRTY_LOG.ON] !== 0;
  }

  /** Mark the page holding RAM byte offset `off` (callers check `on` first, or call markRange). */
  mark(off: number): void {
    const p = off >>> DIRTY_LOG.PAGE_SHIFT;
    const i = DIRTY_LOG.HEADER + (p >>> 5);
    const bit = 1 << (p & 31);
    if ((this.words[i]! & bit) === 0) Atomics.or(this.words, i, bit);
  }

  /** Mark every page of RAM bytes [off, off + len) when logging (pages past the log's end are not RAM: skipped). */
  markRange(off: number, len: number): void {
    if (this.words[DIRTY_LOG.ON] === 0 || len <= 0) return;
    const last = Math.min((off + len - 1) >>> DIRTY_LOG.PAGE_SHIFT, this.pages - 1);
    for (let p = off >>> DIRTY_LOG.PAGE_SHIFT; p <= last; p++) this.mark(p << DIRTY_LOG.PAGE_SHIFT);
  }

  // ---- the collector (main thread) ----

  /** Start logging with an empty bitmap; the caller then flushes and copies every page once. */
  start(): void {
    for (let i = DIRTY_LOG.HEADER; i < this.words.length; i++) Atomics.store(this.words, i, 0);
    Atomics.store(this.words, DIRTY_LOG.ON, 1);
  }

  stop(): void {
    Atomics.store(this.words, DIRTY_LOG.ON, 0);
  }

  /**
   * Take the pages marked since the last take: their numbers into `into` (which must hold
   * `pages` entries), the bitmap cleared as it is read. Returns how many.
   */
  take(into: Uint32Array): number {
    let n = 0;
    const w = this.words;
    for (let i = DIRTY_LOG.HEADER; i < w.length; i++) {
      if (w[i] === 0) continue;
      let bits = Atomics.exchange(w, i, 0);
      const base = (i - DIRTY_LOG.HEADER) << 5;
      while (bits !== 0) {
        const b = 31 - Math.clz32(bits & -bits);
        bits &= bits - 1;
        if (base + b < this.pages) into[n++] = base + b;
      }
    }
    return n;
  }

  /** Ask every hart to drop its live store entries; returns the request's number for flushedAll. */
  requestFlush(): number {
    // As the word wraps (int32): flushedAll compares the difference, also as an int32.
    return (Atomics.add(this.words, DIRTY_LOG.FLUSH, 1) + 1) | 0;
  }

  /** True once harts 0..harts-1 have all obeyed flush request `n` (or a later one). */
  flushedAll(n: number, harts: number): boolean {
    for (let k = 0; k < harts; k++) if (((Atomics.load(this.words, DIRTY_LOG.ACK_BASE + k) - n) | 0) < 0) return false;
    return true;
  }

  // ---- a hart's thread ----

  /** True when hart `k` has a flush to obey (checked once per turn of its loop). */
  flushWanted(k: number): boolean {
    return this.words[DIRTY_LOG.FLUSH] !== this.words[DIRTY_LOG.ACK_BASE + k];
  }

  /**
   * Hart `k` dropped its live store entries: acknowledge the latest request. The latest,
   * not the one seen when it dropped them, is right as long as the hart ran nothing in
   * between: it holds no live store entry at the acknowledgement, whichever takes came first.
   */
  ackFlush(k: number): void {
    Atomics.store(this.words, DIRTY_LOG.ACK_BASE + k, Atomics.load(this.words, DIRTY_LOG.FLUSH));
  }
}
