/**
 * The autoscaler's decisions on scripted measurements (fake VMs whose scheduler counters
 * and balloon statistics the test drives second by second): which resource moves, by how
 * much, when, with what reason — and that it does not flap. The same class on real guests
 * is in autoscaler-guest.test.ts.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { AUTOSCALE, Autoscaler, type AutoscaleDecision, type AutoscaleVm } from "./autoscaler.js";

const MiB = 1024 * 1024;

class FakeVm implements AutoscaleVm {
  state = "running";
  settings = { weight: 256, cap: 0 };
  cpuMs = 0;
  waitMs = 0;
  idleMs = 0;
  share = 0;
  online = 1;
  maxCpus = 2;
  ram = 256 * MiB;
  balloon = 0;
  available: number | undefined = undefined;
  majorFaults = 0;
  memoryTargetCalls: number[] = [];
  refuseMemory: string | null = null;
  constructor(readonly name: string) {}
  schedStats() {
    return { cpuMs: this.cpuMs, waitMs: this.waitMs, idleMs: this.idleMs, share: this.share };
  }
  setWeight(w: number): void {
    this.settings = { ...this.settings, weight: w };
  }
  setCap(c: number): void {
    this.settings = { ...this.settings, cap: c };
  }
  get vcpus() {
    return { online: this.online, max: this.maxCpus };
  }
  async setVcpus(n: number): Promise<void> {
    this.online = n;
  }
  memoryStats() {
    return { ramBytes: this.ram, balloonBytes: this.balloon, guest: this.available === undefined ? null : { available: this.available, majorFaults: this.majorFaults } };
  }
  setMemoryTarget(bytes: number): void {
    if (this.refuseMemory) throw new Error(this.refuseMemory);
    this.memoryTargetCalls.push(bytes);
    this.balloon = this.ram - bytes;
  }
  /** One second of this VM: ran `run` ms, waited `wait` ms, idle the rest, per online vCPU. */
  second(run: number, wait: number): void {
    const total = 1000 * this.online;
    this.cpuMs += run * this.online;
    this.waitMs += wait * this.online;
    this.idleMs += total - (run + wait) * this.online;
    this.share = (run * this.online) / 1000;
  }
}

function setup(...vms: FakeVm[]): { as: Autoscaler; decisions: AutoscaleDecision[]; tick: () => void } {
  const byName = new Map(vms.map((v) => [v.name, v]));
  const as = new Autoscaler({ get: (n) => byName.get(n) });
  const decisions: AutoscaleDecision[] = [];
  as.on("decision", (d: AutoscaleDecision) => decisions.push(d));
  let now = 0;
  return {
    as,
    decisions,
    tick: () => {
      now += 1000;
      as.tick(now);
    },
  };
}

test("a VM held at its cap while runnable all the time gets its cap doubled, within its limits, with the reason in words", () => {
  const a = new FakeVm("a");
  a.settings = { weight: 256, cap: 25 };
  const { as, decisions, tick } = setup(a);
  as.set("a", { cpu: { cap: { min: 25, max: 80 } } });
  tick(); // first sample: a baseline only
  for (let s = 0; s < AUTOSCALE.HOT_SAMPLES; s++) {
    a.second(250, 750); // runnable the whole second, received its 25%
    tick();
  }
  assert.equal(decisions.length, 1, JSON.stringify(decisions));
  const d = decisions[0]!;
  assert.deepEqual([d.vm, d.resource, d.from, d.to, d.applied], ["a", "cap", 25, 50, true]);
  assert.match(d.reason, /^cap 25%→50%: runnable 100%, steal 75% for 2 s, held at its cap/);
  assert.equal(a.settings.cap, 50);
  // Cooldown: still hot, but no new decision for COOLDOWN_MS.
  for (let s = 0; s < 2; s++) {
    a.second(500, 500);
    tick();
  }
  assert.equal(decisions.length, 1, "no decision inside the cooldown");
  a.second(500, 500);
  tick();
  a.second(500, 500);
  tick();
  assert.equal(decisions.at(-1)!.to, 80, "doubling stops at the limit");
  assert.equal(a.settings.cap, 80);
});

test("weight follows steal up and idleness back down, never past the limits, and does not flap", () => {
  const a = new FakeVm("a");
  const { as, decisions, tick } = setup(a);
  as.set("a", { cpu: { weight: { min: 128, max: 1024 } } });
  tick();
  for (let s = 0; s < 12; s++) {
    a.second(590, 410); // runnable 100%, steal 41%
    tick();
  }
  const ups = decisions.filter((d) => d.resource === "weight");
  assert.deepEqual(ups.map((d) => d.to), [512, 1024], "256 → 512 → 1024, then the limit");
  assert.match(ups[0]!.reason, /^weight 256→512: runnable 100%, steal 41% for 2 s$/);
  decisions.length = 0;
  for (let s = 0; s < 20; s++) {
    a.second(50, 0); // 5% runnable
    tick();
  }
  assert.deepEqual(decisions.map((d) => d.to), [512, 256, 128], "back down one halving per cold streak, to the minimum");
  // A VM in between (50% runnable) is neither hot nor cold: nothing moves.
  decisions.length = 0;
  for (let s = 0; s < 10; s++) {
    a.second(500, 0);
    tick();
  }
  assert.equal(decisions.length, 0);
});

test("a hot VM with no steal gets one more vCPU at a time up to its limit; a cold one gives them back", async () => {
  const a = new FakeVm("a");
  a.maxCpus = 4;
  const { as, decisions, tick } = setup(a);
  as.set("a", { cpu: { vcpus: { min: 1, max: 3 } } });
  tick();
  for (let s = 0; s < 12; s++) {
    a.second(1000, 0);
    tick();
    await new Promise((r) => setImmediate(r)); // setVcpus resolves
  }
  assert.deepEqual(decisions.map((d) => `${d.resource} ${d.from}→${d.to}`), ["vcpus 1→2", "vcpus 2→3"]);
  assert.equal(a.online, 3);
  for (let s = 0; s < 20; s++) {
    a.second(10, 0);
    tick();
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(a.online, 1);
});

test("memory follows pressure up and plenty down, within limits; a refusal is reported and changes nothing", () => {
  const a = new FakeVm("a");
  a.balloon = 128 * MiB; // usable 128 MiB
  a.available = 100 * MiB;
  const { as, decisions, tick } = setup(a);
  as.set("a", { memory: { min: 64 * MiB, max: 256 * MiB } });
  tick();
  // Plenty (100 of 128 available) for COLD_SAMPLES seconds: shrink to keep 30% available.
  for (let s = 0; s < AUTOSCALE.COLD_SAMPLES; s++) {
    a.second(10, 0);
    tick();
  }
  assert.equal(decisions.length, 1, JSON.stringify(decisions));
  assert.equal(decisions[0]!.resource, "memory");
  assert.equal(decisions[0]!.to, 66 * MiB, "128 − (100 − 30% of 128) = 66.4, to whole MiB");
  assert.match(decisions[0]!.reason, /^memory 128 MiB→\d+ MiB: available 100 MiB of 128 MiB \(78%\) for 4 s$/);
  // Pressure: available 4 MiB of 66 → grow by max(64 MiB, 25%).
  const quiet = (n: number): void => {
    for (let s = 0; s < n; s++) {
      a.second(10, 0);
      tick();
    }
  };
  quiet(3); // the cooldown
  a.available = 4 * MiB;
  quiet(1);
  const up = decisions.at(-1)!;
  assert.equal(up.to, 130 * MiB);
  assert.match(up.reason, /available 4 MiB of 66 MiB \(6%\)/);
  // Refused growth (no room in the budget): reported, target unchanged.
  a.refuseMemory = "VM a would grow from 152 MiB to 216 MiB of host memory, but only 10 MiB of the 600 MiB budget is free";
  const calls = a.memoryTargetCalls.length;
  quiet(3);
  a.available = 2 * MiB;
  quiet(1);
  const refused = decisions.at(-1)!;
  assert.equal(refused.applied, false);
  assert.match(refused.reason, /not applied: VM a would grow/);
  assert.equal(a.memoryTargetCalls.length, calls);
});

test("VMs not running, not opted in or opted out are left alone", () => {
  const a = new FakeVm("a");
  const b = new FakeVm("b");
  a.settings = { weight: 256, cap: 25 };
  b.settings = { weight: 256, cap: 25 };
  const { as, decisions, tick } = setup(a, b);
  as.set("a", { cpu: { cap: { min: 25, max: 100 } } });
  a.state = "paused";
  for (let s = 0; s < 6; s++) {
    a.second(250, 750);
    b.second(250, 750);
    tick();
  }
  assert.equal(decisions.length, 0);
  a.state = "running";
  as.set("a", null);
  for (let s = 0; s < 6; s++) {
    a.second(250, 750);
    tick();
  }
  assert.equal(decisions.length, 0);
  assert.equal(as.limits("a"), null);
});
