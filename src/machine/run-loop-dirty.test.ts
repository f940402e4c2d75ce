// The run loop obeys dirty-log flushes (mem/dirty-log.ts) at every turn: the harts it runs
// drop their live store entries and acknowledge, whether they run, wait in WFI or are
// parked; a vCPU thread's loop (`self`) answers for its own hart only, since the other
// harts in its list run on other threads.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Access } from "../cpu/constants.js";
import { Hart } from "../cpu/hart.js";
import { Bus } from "../mem/bus.js";
import { DirtyLog } from "../mem/dirty-log.js";
import { GuestRam } from "../mem/ram.js";
import { IrqSources, RunLoop, type RunHooks } from "./run-loop.js";

const RAM = 0x8000_0000;
const RAM_SIZE = 1 << 16;
const WFI = 0x10500073;
/** The store TLB slot and page the tests make live on each hart. */
const SLOT = 5;

function rig(self?: number): { loop: RunLoop; harts: Hart[]; log: DirtyLog } {
  const ram = new GuestRam(RAM, RAM_SIZE);
  ram.i32[0] = WFI;
  const log = DirtyLog.create(RAM_SIZE / 4096);
  ram.dirty = log;
  const bus = new Bus(ram);
  const harts = [new Hart(bus, 0, null), new Hart(bus, 1, null)];
  for (const h of harts) {
    h.setPc(RAM);
    h.tlb.install(Access.Store, SLOT, SLOT, 0, 0x1000, 0);
  }
  const hooks: RunHooks = {
    parked: (i) => i === 1, // hart 1: stopped by HSM
    woke: () => {},
    beforeSlice: () => {},
    updateTimers: () => {},
    msToNextDeadline: () => Infinity,
    stopRequest: () => null,
    deliverInput: () => {},
    hartExtras: () => {},
    sources: new IrqSources(),
  };
  const loop = new RunLoop(harts, bus, hooks, { slice: 1000, ...(self !== undefined ? { self } : {}) });
  loop.devicesMapped();
  loop.begin();
  return { loop, harts, log };
}

const storeLive = (h: Hart): boolean => h.tlbStoreLo[SLOT] === SLOT;

test("a flush is obeyed at the loop's next turn by every hart it runs: one in WFI and a parked one", () => {
  const { loop, harts, log } = rig();
  loop.step(0); // hart 0 reaches WFI; hart 1 is parked
  assert.ok(harts[0]!.wfi);
  assert.ok(harts.every(storeLive), "no flush asked: the store entries stay live");
  const n = log.requestFlush();
  const step = loop.step(0);
  assert.equal(step.kind, "idle", "every hart waits");
  assert.equal(log.flushedAll(n, 2), true, "both acknowledged");
  assert.ok(!harts.some(storeLive), "both dropped their live store entries");
  assert.equal(harts[0]!.tlb.refill(Access.Store, SLOT, SLOT, 0), 0x1000, "the backing kept the entry: a store refills it (and logs the page)");
});

test("a vCPU thread's loop (self) answers for its own hart only", () => {
  const { loop, harts, log } = rig(1);
  const n = log.requestFlush();
  loop.obeyDirtyFlush();
  assert.equal(log.flushWanted(1), false);
  assert.equal(log.flushWanted(0), true, "hart 0 runs on another thread: not acknowledged from here");
  assert.equal(log.flushedAll(n, 2), false);
  assert.deepEqual(harts.map(storeLive), [true, false]);
});
