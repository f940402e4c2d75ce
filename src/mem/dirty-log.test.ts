// The dirty-page log's own rules (dirty-log.ts): take hands out each page marked since the
// last take once, the flush handshake says when every hart has obeyed, and marks made by
// several threads at once, while the collector takes, are never lost.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Worker } from "node:worker_threads";
import { Bus } from "./bus.js";
import { DIRTY_LOG, DirtyLog } from "./dirty-log.js";
import { GuestRam } from "./ram.js";

const PAGE = 1 << DIRTY_LOG.PAGE_SHIFT;

function taken(log: DirtyLog): number[] {
  const into = new Uint32Array(log.pages);
  return Array.from(into.subarray(0, log.take(into)));
}

test("take returns each page marked since the last take once, in order, and clears them", () => {
  const log = DirtyLog.create(100);
  log.start();
  log.mark(5 * PAGE + 7);
  log.mark(0);
  log.mark(PAGE - 1); // page 0 again
  log.markRange(40 * PAGE - 1, 2); // the last byte of page 39 and the first of page 40
  log.markRange(70 * PAGE, 3 * PAGE); // 70, 71, 72
  assert.deepEqual(taken(log), [0, 5, 39, 40, 70, 71, 72]);
  assert.deepEqual(taken(log), [], "a second take finds nothing new");
  log.mark(99 * PAGE);
  assert.deepEqual(taken(log), [99]);
});

test("markRange logs only while on; start empties the bitmap; stop ends logging", () => {
  const log = DirtyLog.create(64);
  assert.equal(log.on, false);
  log.markRange(3 * PAGE, 1);
  assert.deepEqual(taken(log), [], "nothing is logged before start");
  log.mark(9 * PAGE); // a caller that did not check `on`
  log.start();
  assert.equal(log.on, true);
  assert.deepEqual(taken(log), [], "start drops what was marked before it");
  log.markRange(3 * PAGE, 0);
  assert.deepEqual(taken(log), [], "an empty range marks nothing");
  log.markRange(3 * PAGE, 1);
  log.stop();
  log.markRange(4 * PAGE, 1);
  assert.deepEqual(taken(log), [3], "marks made after stop are not logged");
});

test("bits beyond `pages` are ignored: the last bitmap word's spare bits, and ranges past the end", () => {
  const log = DirtyLog.create(40); // two words: bits 40..63 of the second are not RAM
  log.start();
  Atomics.or(log.words, DIRTY_LOG.HEADER + 1, ~0);
  assert.deepEqual(taken(log), [32, 33, 34, 35, 36, 37, 38, 39]);
  log.markRange(38 * PAGE, 10 * PAGE);
  assert.deepEqual(taken(log), [38, 39]);
  assert.throws(() => new DirtyLog(log.sab, 100), RangeError, "a view for more pages than the buffer holds is refused");
});

test("flush handshake: a request is done once every hart acknowledged it or a later one", () => {
  const log = DirtyLog.create(8);
  const other = new DirtyLog(log.sab, 8); // another thread's view
  assert.equal(other.flushWanted(0), false, "no request yet");
  const n = log.requestFlush();
  assert.equal(log.flushedAll(n, 2), false);
  assert.equal(other.flushWanted(0), true);
  assert.equal(other.flushWanted(1), true);
  other.ackFlush(0);
  assert.equal(other.flushWanted(0), false);
  assert.equal(log.flushedAll(n, 2), false, "hart 1 has not acknowledged");
  assert.equal(log.flushedAll(n, 1), true, "hart 0 alone has");
  const m = log.requestFlush();
  assert.equal(other.flushWanted(0), true, "a new request is wanted again");
  other.ackFlush(1); // hart 1 answers after the second request: it covers both
  assert.equal(log.flushedAll(n, 2), true);
  assert.equal(log.flushedAll(m, 2), false);
  other.ackFlush(0);
  assert.equal(log.flushedAll(m, 2), true);
});

test("flush handshake across the int32 wrap of the request counter", () => {
  const log = DirtyLog.create(8);
  Atomics.store(log.words, DIRTY_LOG.FLUSH, 0x7fff_ffff);
  Atomics.store(log.words, DIRTY_LOG.ACK_BASE, 0x7fff_ffff);
  const n = log.requestFlush();
  assert.equal(log.flushedAll(n, 1), false);
  log.ackFlush(0);
  assert.equal(log.flushedAll(n, 1), true, `acknowledged request ${n} after the wrap`);
});

test("host writers log through GuestRam: writeBytes, discard, markDirty and a bus write that lands in RAM", () => {
  const base = 0x8000_0000;
  const ram = new GuestRam(base, 64 * PAGE);
  const log = DirtyLog.create(64);
  ram.dirty = log;
  ram.writeBytes(base + 2 * PAGE, new Uint8Array(8));
  assert.deepEqual(taken(log), [], "not logging yet");
  log.start();
  ram.writeBytes(base + 3 * PAGE - 4, new Uint8Array(8)); // pages 2 and 3
  ram.discard(base + 10 * PAGE, 2 * PAGE);
  ram.markDirty(20 * PAGE + 5, 1);
  new Bus(ram).write(base + 30 * PAGE, 4, 0x1234);
  assert.deepEqual(taken(log), [2, 3, 10, 11, 20, 30]);
});

/**
 * The other marker thread: for each round r, once the main thread announces it (a spin, so
 * both threads start together), mark the even pages, then report r done.
 */
const MARKER = `
const { workerData } = require("node:worker_threads");
import(workerData.url).then(({ DirtyLog }) => {
  const { sab, ctl, pages, rounds } = workerData;
  const log = new DirtyLog(sab, pages);
  const c = new Int32Array(ctl);
  for (let r = 1; r <= rounds; r++) {
    while (Atomics.load(c, 0) < r);
    for (let p = 0; p < pages; p += 2) log.mark(p * ${PAGE});
    Atomics.store(c, 1, r);
  }
});
`;

test("two threads marking pages of the same words, one of them also taking, lose no mark and count none twice", async () => {
  // Two bitmap words, so both threads write the same words all the time.
  const pages = 64;
  const rounds = 20_000;
  const log = DirtyLog.create(pages);
  log.start();
  const ctl = new SharedArrayBuffer(8);
  const c = new Int32Array(ctl);
  const url = new URL("./dirty-log.js", import.meta.url).href;
  const worker = new Worker(MARKER, { eval: true, workerData: { url, sab: log.sab, ctl, pages, rounds } });
  const into = new Uint32Array(pages);
  const seen = new Uint8Array(pages);
  const collect = (): void => {
    const n = log.take(into);
    for (let i = 0; i < n; i++) seen[into[i]!]!++;
  };
  try {
    for (let r = 1; r <= rounds; r++) {
      seen.fill(0);
      Atomics.store(c, 0, r);
      // The odd pages, each followed by a take, while the worker marks the even ones.
      for (let p = 1; p < pages; p += 2) {
        log.mark(p * PAGE);
        collect();
      }
      while (Atomics.load(c, 1) < r) collect();
      collect();
      const bad = seen.findIndex((v) => v !== 1);
      assert.equal(bad, -1, `round ${r}: page ${bad} was taken ${seen[bad]} times for one mark`);
    }
  } finally {
    await worker.terminate();
  }
});
