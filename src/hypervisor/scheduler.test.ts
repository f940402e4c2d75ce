/**
 * Credit scheduler tests. The first group drives the rules single-threaded with a fake
 * clock (exact, deterministic); the second runs real worker threads as vCPUs and checks
 * measured shares with tolerances loose enough for a loaded 2-core machine.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { CreditScheduler, waterFill } from "./scheduler.js";
import { LIMITS, TIMING } from "./sched-layout.js";
import { CTL, latencies, newCtl, ringWaker, startVcpuWorker, stopVcpuWorkers, type VcpuKind, type VcpuWorker } from "./sched-testkit.js";
import { VcpuSched } from "./vcpu-sched.js";

/** A scheduler and its vCPU clients on one fake clock. */
function fakeRig(pcpus: number) {
  const clock = { t: 1000 };
  const now = () => clock.t;
  const sched = new CreditScheduler({ pcpus, maxVcpus: 16, now });
  const vcpu = (vm: number) => new VcpuSched(sched.sab, sched.addVcpu(vm), now);
  return { clock, sched, vcpu };
}

describe("credit scheduler rules (one thread, fake clock)", () => {
  test("waterFill divides by weight, caps the saturated and gives the rest to others", () => {
    assert.deepEqual(waterFill(30, [512, 256], [30, 30]), [20, 10]);
    const capped = waterFill(30, [256, 256], [7.5, 30]);
    assert.ok(Math.abs(capped[0]! - 7.5) < 1e-9 && Math.abs(capped[1]! - 22.5) < 1e-9, String(capped));
    assert.deepEqual(waterFill(30, [256, 0], [30, 30]), [30, 0]);
    const both = waterFill(60, [1, 1], [10, 10]);
    assert.deepEqual(both, [10, 10]);
  });

  test("a grant goes to the best waiter: UNDER before OVER, BOOST first, timeslice among equals", () => {
    const { clock, sched, vcpu } = fakeRig(1);
    const a = vcpu(sched.addVm());
    const b = vcpu(sched.addVm());
    assert.equal(a.acquire(0), true);
    assert.equal(b.acquire(0), false, "one pcpu: the second waits");
    assert.equal(sched.vcpuStats(b.slot).state, "runnable");
    assert.equal(sched.running, 1);
    assert.equal(sched.waiting, 1);

    clock.t += 1;
    // a's credit went below zero (OVER) while b still has some (UNDER): b's turn.
    assert.equal(a.sliceEnd(1), false);
    assert.equal(b.holdsGrant, true);
    assert.equal(a.holdsGrant, false);
    assert.equal(sched.vcpuStats(b.slot).state, "running");

    // Both OVER now: b keeps the grant until its 30 ms timeslice is over.
    clock.t += 10;
    assert.equal(b.sliceEnd(10), true);
    clock.t += TIMING.timesliceMs;
    assert.equal(b.sliceEnd(20), false);
    assert.equal(a.holdsGrant, true);

    // A vCPU woken from idle with credit left gets BOOST and preempts at the next sliceEnd.
    const c = vcpu(sched.addVm());
    c.idle(0);
    assert.equal(c.acquire(0), false);
    assert.equal(sched.vcpuStats(c.slot).priority, "boost");
    clock.t += 1;
    assert.equal(a.sliceEnd(1), false);
    assert.equal(c.holdsGrant, true);
    // BOOST ends after boostMs of running; then c is OVER like the others.
    clock.t += TIMING.boostMs + 1;
    assert.equal(c.sliceEnd(1), true, "timeslice not over, nobody better waits");
    assert.equal(sched.vcpuStats(c.slot).priority, "over");
    assert.equal(sched.running, 1);
  });

  test("a vCPU woken from idle without credit (OVER) gets no BOOST", () => {
    const { clock, sched, vcpu } = fakeRig(1);
    const a = vcpu(sched.addVm());
    assert.equal(a.acquire(0), true);
    clock.t += 5;
    a.idle(0);
    assert.ok(sched.vcpuStats(a.slot).credit < 0);
    assert.equal(a.acquire(0), true);
    assert.equal(sched.vcpuStats(a.slot).priority, "over");
  });

  test("time is measured per state: run, runnable-wait (steal), idle", () => {
    const { clock, sched, vcpu } = fakeRig(1);
    const vm = sched.addVm();
    const a = vcpu(vm);
    const b = vcpu(vm);
    a.acquire(0);
    b.acquire(0);
    clock.t += 4;
    a.idle(0); // b gets the grant after waiting 4 ms
    clock.t += 6;
    b.offline();
    clock.t += 2;
    const sa = sched.vcpuStats(a.slot);
    const sb = sched.vcpuStats(b.slot);
    assert.deepEqual([sa.runMs, sa.waitMs, sa.idleMs, sa.state], [4, 0, 8, "idle"]);
    assert.deepEqual([sb.runMs, sb.waitMs, sb.idleMs, sb.state], [6, 4, 0, "offline"]);
    assert.equal(b.stealNs(), 4e6);
    const v = sched.vmStats(vm);
    assert.deepEqual([v.runMs, v.waitMs, v.idleMs, v.vcpus], [10, 4, 8, 2]);
    const all = sched.stats();
    assert.deepEqual([all.vms.length, all.vms[0]!.runMs, all.running, all.waiting, all.grants], [1, 10, 0, 0, 2]);
  });

  test("a capped VM is parked once its cap's share of the window is used, until the next window", () => {
    const { clock, sched, vcpu } = fakeRig(1);
    const vm = sched.addVm({ cap: 25 }); // 7.5 ms per 30 ms window
    const a = vcpu(vm);
    assert.equal(a.acquire(0), true);
    clock.t += 5;
    assert.equal(a.sliceEnd(5), true);
    clock.t += 3;
    assert.equal(a.sliceEnd(3), false, "8 ms > 7.5 ms: parked");
    assert.equal(a.acquire(0), false, "parked: no grant although the pcpu is free");
    clock.t += TIMING.periodMs;
    assert.equal(a.acquire(0), true, "next window");
    // The 0.5 ms overshoot is owed: 7 ms left in this window.
    clock.t += 7.2;
    assert.equal(a.sliceEnd(7.2), false);
  });

  test("accounting hands out credit by weight among active VMs, capped VMs at most their cap", () => {
    const { clock, sched, vcpu } = fakeRig(1);
    const heavy = vcpu(sched.addVm({ weight: 512 }));
    const light = vcpu(sched.addVm({ weight: 256 }));
    const capped = vcpu(sched.addVm({ cap: 10 }));
    const idle = vcpu(sched.addVm());
    for (const v of [heavy, light, capped]) v.acquire(0);
    idle.idle(0);
    const before = [heavy, light, capped, idle].map((v) => sched.vcpuStats(v.slot).credit);
    clock.t += TIMING.periodMs;
    sched.account();
    const got = [heavy, light, capped, idle].map((v, i) => sched.vcpuStats(v.slot).credit - before[i]!);
    // capped takes 3 ms (10 % of 30); heavy and light split the other 27 ms 2:1 (then clamped at 30).
    assert.ok(Math.abs(got[2]! - 3) < 1e-9, `capped got ${got[2]}`);
    assert.ok(Math.abs(got[0]! / got[1]! - 2) < 1e-9, `heavy:light = ${got[0]}:${got[1]}`);
    assert.equal(got[3], 0, "an idle vCPU earns nothing");
    const ent = [0, 1, 2, 3].map((vm) => sched.vmStats(vm).entitlement);
    assert.ok(Math.abs(ent[2]! - 0.1) < 1e-9 && Math.abs(ent[0]! - 0.6) < 1e-9 && Math.abs(ent[1]! - 0.3) < 1e-9, String(ent));
    assert.equal(ent[3], 0);
  });

  test("among OVER vCPUs the least in debt goes first, also against the runner at the end of its timeslice", () => {
    const { clock, sched, vcpu } = fakeRig(1);
    const a = vcpu(sched.addVm());
    const b = vcpu(sched.addVm());
    const c = vcpu(sched.addVm());
    a.acquire(0);
    clock.t += 20;
    assert.equal(a.sliceEnd(20), true, "alone");
    b.acquire(0); // UNDER (no debt yet): preempts a, which has 20 ms of debt
    clock.t += 1;
    assert.equal(a.sliceEnd(1), false);
    clock.t += 5;
    c.acquire(0);
    assert.equal(b.sliceEnd(5), false, "b is OVER (5 ms of debt) and c UNDER");
    clock.t += 10;
    assert.equal(c.sliceEnd(10), true, "c is OVER now, but its timeslice is not over");
    clock.t += TIMING.timesliceMs;
    assert.equal(c.sliceEnd(30), false, "timeslice over; b (5 ms debt) has more credit than c (40 ms)");
    assert.equal(b.holdsGrant, true, "b (5 ms debt) before a (21 ms) although a waited longer");
    clock.t += TIMING.timesliceMs;
    assert.equal(b.sliceEnd(30), false, "b's debt (35 ms) is now deeper than a's (21 ms)");
    assert.equal(a.holdsGrant, true);
  });

  test("accounting: credit a VM cannot bank goes to the others; busy vCPUs all in debt are lifted together", () => {
    const { clock, sched, vcpu } = fakeRig(1);
    const busy1 = vcpu(sched.addVm());
    const busy2 = vcpu(sched.addVm());
    const banker = vcpu(sched.addVm());
    // The banker runs a little each period until its credit reaches the clamp.
    for (let i = 0; i < 10; i++) {
      banker.acquire(0);
      clock.t += 0.1;
      banker.idle(0);
      clock.t += TIMING.periodMs;
      sched.account();
    }
    assert.ok(Math.abs(sched.vcpuStats(banker.slot).credit - TIMING.creditMaxMs) < 1, "banked up to the clamp");
    busy1.acquire(0);
    busy2.acquire(0);
    banker.acquire(0);
    clock.t += 0.1;
    banker.idle(0); // busy1 gets the grant
    clock.t += 40;
    busy1.sliceEnd(40); // both busy ones end up in debt: 40 ms and 0 ms after the refill
    const before = [busy1, busy2, banker].map((v) => sched.vcpuStats(v.slot).credit);
    clock.t += 1;
    sched.account();
    const after = [busy1, busy2, banker].map((v) => sched.vcpuStats(v.slot).credit);
    // The banker had room for 0.1 ms; the rest (~40.9 ms) went to the busy ones, 20.45 each.
    assert.ok(after[2]! <= TIMING.creditMaxMs && after[2]! - before[2]! < 0.2, `banker ${before[2]} → ${after[2]}`);
    const gain = (after[1]! - before[1]!) - (after[0]! - before[0]!);
    assert.ok(Math.abs(gain) < 1e-9, "busy ones gain alike");
    assert.ok(Math.max(after[0]!, after[1]!) >= 0, `the richest busy vCPU is lifted out of debt: ${after}`);
  });

  test("lowering pcpus makes surplus runners give up at sliceEnd; raising it hands grants out at once", () => {
    const { clock, sched, vcpu } = fakeRig(2);
    const vm = sched.addVm();
    const [a, b, c] = [vcpu(vm), vcpu(vm), vcpu(vm)];
    assert.deepEqual([a.acquire(0), b.acquire(0), c.acquire(0)], [true, true, false]);
    sched.setPcpus(1);
    clock.t += 1;
    assert.equal(a.sliceEnd(1), false);
    assert.equal(c.holdsGrant, false, "no grant for the waiter while over the new limit");
    assert.equal(sched.running, 1);
    sched.setPcpus(3);
    assert.equal(sched.running, 3);
    assert.equal(a.holdsGrant && c.holdsGrant, true);
  });

  test("the doorbell never loses a ring that comes between the decision and the wait", () => {
    const { sched, vcpu } = fakeRig(1);
    const vm = sched.addVm();
    const a = vcpu(vm);
    const b = vcpu(vm);
    a.acquire(0);
    let seen = b.bell();
    VcpuSched.ring(sched.sab, b.slot); // e.g. a device interrupt after b decided to wait
    assert.equal(b.acquire(60_000, seen), false, "returns at once, still runnable");
    assert.equal(sched.vcpuStats(b.slot).state, "runnable");
    seen = b.bell();
    VcpuSched.ring(sched.sab, b.slot);
    assert.equal(b.idle(60_000, seen), true);
    // A runner whose WFI raced with a ring keeps its grant: the wake-up is already there.
    seen = a.bell();
    VcpuSched.ring(sched.sab, a.slot);
    assert.equal(a.idle(60_000, seen), true);
    assert.equal(a.holdsGrant, true);
    seen = b.bell();
    VcpuSched.ring(sched.sab, b.slot);
    assert.equal(b.waitDoorbell(60_000, seen), true);
    assert.equal(b.waitDoorbell(0), false, "no ring: times out");
  });

  test("bad settings throw a RangeError naming the field and change nothing", () => {
    assert.throws(() => new CreditScheduler({ pcpus: 0 }), /pcpus: must be an integer from 1 to 256/);
    assert.throws(() => new CreditScheduler({ maxVcpus: 0 }), /maxVcpus/);
    const { sched } = fakeRig(1);
    const vm = sched.addVm({ weight: 300, cap: 50 });
    const cases: [() => unknown, RegExp][] = [
      [() => sched.setWeight(vm, 0), /^RangeError: weight: must be an integer from 1 to 65535 \(got 0\)$/],
      [() => sched.setWeight(vm, 65536), /weight: .*65535/],
      [() => sched.setWeight(vm, 1.5), /weight: /],
      [() => sched.setCap(vm, -1), /^RangeError: cap: must be an integer from 0 to 25600 \(% of one host core; 0 = no cap\) \(got -1\)$/],
      [() => sched.setCap(vm, LIMITS.capMax + 1), /cap: /],
      [() => sched.setPcpus(0), /pcpus: must be an integer from 1 to 256/],
      [() => sched.setPcpus(257), /pcpus: /],
      [() => sched.setWeight(vm + 7, 256), /vm: no VM with index/],
      [() => sched.addVcpu(-1), /vm: no VM/],
      // The valid weight must not be applied when the cap is bad, nor a VM added.
      [() => sched.addVm({ weight: 512, cap: 100_000 }), /cap: /],
      [() => sched.addVm({ weight: 0, cap: 10 }), /weight: /],
    ];
    for (const [fn, re] of cases) {
      assert.throws(fn, (e: unknown) => e instanceof RangeError && re.test(String(e)), String(re));
    }
    const s = sched.vmStats(vm);
    assert.deepEqual([s.weight, s.cap, sched.pcpus], [300, 50, 1]);
    assert.equal(sched.addVm(), vm + 1, "the failed addVm calls took no entry");
  });
});

// ---- real threads

interface Rig {
  sched: CreditScheduler;
  ctl: SharedArrayBuffer;
  workers: VcpuWorker[];
  spawn(kind: VcpuKind, vm: number, opts?: { burnMs?: number; idleMs?: number }): Promise<number>;
  maxInside(): number;
  close(): Promise<void>;
}

function rig(pcpus: number): Rig {
  const sched = new CreditScheduler({ pcpus, maxVcpus: 32 });
  sched.start();
  const ctl = newCtl();
  const workers: Rig["workers"] = [];
  return {
    sched,
    ctl,
    workers,
    async spawn(kind, vm, opts = {}) {
      const slot = sched.addVcpu(vm);
      workers.push(await startVcpuWorker({ kind, sched: sched.sab, slot, ctl, ...opts }));
      return slot;
    },
    maxInside: () => Atomics.load(new Int32Array(ctl), CTL.MAX_INSIDE),
    async close() {
      await stopVcpuWorkers(ctl, sched.sab, workers);
      sched.stop();
    },
  };
}

/** Run ms per VM received over `ms` of wall time (after the caller's warm-up). */
async function received(sched: CreditScheduler, vms: number[], ms: number): Promise<{ run: number[]; elapsed: number }> {
  const t0 = performance.now();
  const r0 = vms.map((vm) => sched.vmStats(vm).runMs);
  await sleep(ms);
  const elapsed = performance.now() - t0;
  return { run: vms.map((vm, i) => sched.vmStats(vm).runMs - r0[i]!), elapsed };
}

const WARM_MS = 300;
const THREADED = { timeout: 60_000 };

describe("credit scheduler with worker threads as vCPUs", () => {
  test("weights 512:256 on one pcpu: the heavier VM gets about twice the time", THREADED, async (t) => {
    const r = rig(1);
    try {
      const heavy = r.sched.addVm({ weight: 512 });
      const light = r.sched.addVm({ weight: 256 });
      await r.spawn("burn", heavy);
      await r.spawn("burn", light);
      await sleep(WARM_MS);
      const { run } = await received(r.sched, [heavy, light], 2000);
      const ratio = run[0]! / run[1]!;
      t.diagnostic(`ratio ${ratio.toFixed(2)}`);
      assert.ok(ratio > 1.5 && ratio < 2.7, `ratio ${ratio.toFixed(2)} (${run.map((x) => x.toFixed(0)).join(":")} ms)`);
      assert.ok(r.maxInside() <= 1, `${r.maxInside()} vCPUs ran at once on 1 pcpu`);
    } finally {
      await r.close();
    }
  });

  test("cap 25 % on one pcpu: about a quarter of a core, with a competitor and alone", THREADED, async (t) => {
    const r = rig(1);
    try {
      const capped = r.sched.addVm({ cap: 25 });
      const other = r.sched.addVm();
      await r.spawn("burn", capped);
      const competitor = await r.spawn("burn", other);
      await sleep(WARM_MS);
      let { run, elapsed } = await received(r.sched, [capped, other], 1500);
      const shared = run[0]! / elapsed;
      t.diagnostic(`capped share with a competitor ${shared.toFixed(3)}`);
      assert.ok(shared > 0.15 && shared < 0.35, `capped share with a competitor ${shared.toFixed(3)}`);
      assert.ok(run[1]! / elapsed > 0.5, `the competitor takes the rest: ${(run[1]! / elapsed).toFixed(3)}`);
      const st = r.sched.vmStats(capped);
      assert.ok(st.share > 0.1 && st.share < 0.4, `vmStats share ${st.share.toFixed(3)}`);

      // Alone: the cap binds although the core is free.
      await stopVcpuWorkers(r.ctl, r.sched.sab, r.workers.splice(r.workers.findIndex((w) => w.slot === competitor), 1));
      await sleep(WARM_MS);
      ({ run, elapsed } = await received(r.sched, [capped], 1500));
      const alone = run[0]! / elapsed;
      t.diagnostic(`capped share alone ${alone.toFixed(3)}`);
      assert.ok(alone > 0.15 && alone < 0.35, `capped share alone ${alone.toFixed(3)}`);
    } finally {
      await r.close();
    }
  });

  test("idle vCPUs accumulate idle time, almost no run time and almost no host CPU", THREADED, async (t) => {
    const r = rig(2);
    try {
      const vm = r.sched.addVm();
      const slots: number[] = [];
      for (let i = 0; i < 10; i++) slots.push(await r.spawn("idle", vm, { idleMs: 250 }));
      await sleep(WARM_MS);
      const before = slots.map((s) => r.sched.vcpuStats(s));
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await sleep(1000);
      const cpu = process.cpuUsage(cpu0);
      const elapsed = performance.now() - t0;
      for (const [i, s] of slots.entries()) {
        const st = r.sched.vcpuStats(s);
        const idle = st.idleMs - before[i]!.idleMs;
        const run = st.runMs - before[i]!.runMs;
        assert.ok(idle > 0.8 * elapsed, `slot ${s}: idle ${idle.toFixed(0)} of ${elapsed.toFixed(0)} ms`);
        assert.ok(run < 0.05 * elapsed, `slot ${s}: ran ${run.toFixed(1)} ms`);
      }
      // The whole process (main thread's accounting included): well under a tenth of a core.
      const coreShare = (cpu.user + cpu.system) / 1000 / elapsed;
      t.diagnostic(`host CPU ${(coreShare * 100).toFixed(2)} % of a core`);
      assert.ok(coreShare < 0.1, `10 idle vCPUs cost ${(coreShare * 100).toFixed(1)} % of a core`);
    } finally {
      await r.close();
    }
  });

  test("a vCPU rung out of idle gets a grant quickly while two CPU-bound vCPUs share one pcpu", THREADED, async (t) => {
    const r = rig(1);
    try {
      const heavy = r.sched.addVm({ weight: 512 });
      const light = r.sched.addVm({ weight: 256 });
      await r.spawn("burn", heavy);
      await r.spawn("burn", light);
      const waker = await r.spawn("waker", r.sched.addVm(), { idleMs: 1000 });
      await sleep(WARM_MS);
      const run0 = [heavy, light].map((vm) => r.sched.vmStats(vm).runMs);
      for (let i = 0; i < 80; i++) {
        ringWaker(r.ctl, r.sched.sab, waker);
        await sleep(20 + (i % 7));
      }
      // The waker's VM is active but uses a sliver of its credit: the busy VMs keep their 2:1.
      const ratio = (r.sched.vmStats(heavy).runMs - run0[0]!) / (r.sched.vmStats(light).runMs - run0[1]!);
      t.diagnostic(`busy VMs 512:256 beside the waker: ratio ${ratio.toFixed(2)}`);
      assert.ok(ratio > 1.4 && ratio < 2.9, `busy VMs 512:256 beside the waker: ratio ${ratio.toFixed(2)}`);
      const lat = latencies(r.ctl).sort((x, y) => x - y);
      assert.ok(lat.length >= 30, `only ${lat.length} wake-ups recorded`);
      const median = lat[lat.length >> 1]!;
      t.diagnostic(`${lat.length} wake-ups: median ${median.toFixed(2)} ms, p90 ${lat[Math.floor(lat.length * 0.9)]!.toFixed(2)} ms, max ${lat[lat.length - 1]!.toFixed(2)} ms`);
      assert.ok(median < 20, `median ring-to-grant ${median.toFixed(2)} ms (p90 ${lat[Math.floor(lat.length * 0.9)]!.toFixed(2)})`);
      assert.ok(r.maxInside() <= 1);
    } finally {
      await r.close();
    }
  });

  test("setWeight while running changes the ratio", THREADED, async (t) => {
    const r = rig(1);
    try {
      const a = r.sched.addVm();
      const b = r.sched.addVm();
      await r.spawn("burn", a);
      await r.spawn("burn", b);
      await sleep(WARM_MS);
      let { run } = await received(r.sched, [a, b], 1200);
      const even = run[0]! / run[1]!;
      t.diagnostic(`256:256 ratio ${even.toFixed(2)}`);
      assert.ok(even > 0.6 && even < 1.6, `equal weights: ratio ${even.toFixed(2)}`);
      r.sched.setWeight(a, 1024);
      await sleep(WARM_MS);
      ({ run } = await received(r.sched, [a, b], 1500));
      const skewed = run[0]! / run[1]!;
      t.diagnostic(`1024:256 ratio ${skewed.toFixed(2)}`);
      assert.ok(skewed > 2.2 && skewed > even * 1.8, `1024:256: ratio ${skewed.toFixed(2)} (was ${even.toFixed(2)})`);
    } finally {
      await r.close();
    }
  });

  test("setPcpus(2) lets two vCPUs run at once; back to 1 and surplus grants are given up", THREADED, async (t) => {
    const r = rig(1);
    try {
      const vm = r.sched.addVm();
      await r.spawn("burn", vm);
      await r.spawn("burn", vm);
      await sleep(WARM_MS);
      let { run, elapsed } = await received(r.sched, [vm], 800);
      assert.ok(run[0]! / elapsed < 1.2, `pcpus=1: ${(run[0]! / elapsed).toFixed(2)} cores`);
      assert.equal(r.maxInside(), 1);
      r.sched.setPcpus(2);
      await sleep(WARM_MS);
      ({ run, elapsed } = await received(r.sched, [vm], 800));
      assert.ok(run[0]! / elapsed > 1.5, `pcpus=2: ${(run[0]! / elapsed).toFixed(2)} cores`);
      assert.equal(r.maxInside(), 2);
      r.sched.setPcpus(1);
      for (let i = 0; i < 100 && r.sched.running > 1; i++) await sleep(10);
      assert.equal(r.sched.running, 1);
      await sleep(WARM_MS);
      ({ run, elapsed } = await received(r.sched, [vm], 800));
      assert.ok(run[0]! / elapsed < 1.2, `back to pcpus=1: ${(run[0]! / elapsed).toFixed(2)} cores`);
    } finally {
      await r.close();
    }
  });
});
