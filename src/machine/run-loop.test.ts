// The run loop's slice budget: a slice ends at the next timer deadline (at the measured
// speed) so the timer interrupt is raised on time; nothing armed, or the speed not yet
// known, leaves the slice as configured.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Bus } from "../mem/bus.js";
import { GuestRam } from "../mem/ram.js";
import { Hart } from "../cpu/hart.js";
import { IrqSources, RUN_DEFAULTS, RunLoop, type RunHooks } from "./run-loop.js";

const RAM = 0x8000_0000;
const JAL_SELF = 0x0000006f;

function loopWith(deadlineMs: () => number): { loop: RunLoop; hart: Hart } {
  const ram = new GuestRam(RAM, 1 << 16);
  ram.i32[0] = JAL_SELF;
  const bus = new Bus(ram);
  const hart = new Hart(bus, 0, null);
  hart.setPc(RAM);
  const hooks: RunHooks = {
    parked: () => false,
    woke: () => {},
    beforeSlice: () => {},
    updateTimers: () => {},
    msToNextDeadline: deadlineMs,
    stopRequest: () => null,
    deliverInput: () => {},
    hartExtras: () => {},
    sources: new IrqSources(),
  };
  const loop = new RunLoop([hart], bus, hooks, { slice: 200_000 });
  loop.devicesMapped();
  return { loop, hart };
}

test("run loop: a timer deadline inside the slice cuts it at the deadline (rate x time), never below MIN_SLICE", () => {
  let ms = 0.5;
  const { loop } = loopWith(() => ms);
  loop.rate = 10_000; // instructions per ms
  assert.equal(loop.budgetFor(200_000), 5_000);
  ms = 0.01;
  assert.equal(loop.budgetFor(200_000), RUN_DEFAULTS.MIN_SLICE);
  ms = 50;
  assert.equal(loop.budgetFor(200_000), 200_000, "a deadline beyond the slice leaves it whole");
  ms = Infinity;
  assert.equal(loop.budgetFor(200_000), 200_000);
  loop.rate = 0;
  ms = 0.5;
  assert.equal(loop.budgetFor(200_000), 200_000, "speed unknown: the configured slice");
});

test("run loop: a step runs the deadline-cut slice (the hart retires exactly that many instructions)", () => {
  const { loop, hart } = loopWith(() => 0.25);
  loop.begin();
  loop.rate = 40_000;
  loop.step(0);
  assert.equal(hart.instret, 10_000);
  assert.ok(loop.rate > 0, "the slice's speed was measured");
});
