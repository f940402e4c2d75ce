/**
 * The autoscaler on real guests (issue 12's demo as a test): two pv VMs, each capped at
 * 20% of a core, each running a shell that burns CPU on command and prints a TICK per unit
 * of work. The load starts on a; once the autoscaler is on, a's cap is raised and a's work
 * rate (TICKs per second, counted on the host) rises; then the load moves to b, and the
 * capacity follows: b's cap goes up, a's comes back down. Tolerances are loose (CI is a
 * noisy 2-core machine); `npm run bench:elastic` holds the figures.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { AutoscaleDecision } from "./autoscaler.js";
import { Hypervisor } from "./hypervisor.js";
import { NO_GUEST, pvExecSpec } from "../control/guest-testkit.js";
import type { MachineSpec } from "./machine-spec.js";
import type { Vm } from "./vm.js";

const skip = NO_GUEST;

/** A shell that burns CPU on "load" (a TICK per 200 loop turns) and stops on "idle". */
const BURNER = [
  "burn() { while :; do n=0; while [ $n -lt 200 ]; do n=$((n+1)); done; echo TICK; done; }",
  "stty -echo 2>/dev/null",
  "echo READY",
  'while read c; do case "$c" in load) burn & P=$!;; idle) kill $P;; quit) exit 0;; esac; done',
].join("\n");

function spec(): MachineSpec {
  return pvExecSpec(BURNER, { memBytes: 64 * 1024 * 1024 });
}

/** TICK arrival times (host ms) and a READY flag for one VM. */
class Ticks {
  times: number[] = [];
  text = "";
  constructor(vm: Vm) {
    vm.on("output", (b: Uint8Array) => {
      const now = performance.now();
      const s = Buffer.from(b).toString("latin1");
      this.text += s;
      for (const _ of s.matchAll(/TICK/g)) this.times.push(now);
    });
  }
  /** TICKs per second over the next `ms`. */
  async rate(ms: number): Promise<number> {
    const from = performance.now();
    await sleep(ms);
    return (this.times.filter((t) => t >= from).length * 1000) / (performance.now() - from);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}

describe("the autoscaler moves CPU to the loaded VM (real Linux)", { skip, timeout: 400_000 }, () => {
  test("a capped VM under load gets its cap raised and its work rate rises; when the load moves, the capacity follows", async (t) => {
    const hv = new Hypervisor();
    const decisions: AutoscaleDecision[] = [];
    hv.on("decision", (d: AutoscaleDecision) => decisions.push(d));
    try {
      const a = hv.create({ name: "a", spec: spec(), cap: 20 });
      const b = hv.create({ name: "b", spec: spec(), cap: 20 });
      const ta = new Ticks(a);
      const tb = new Ticks(b);
      await Promise.all([a.start(), b.start()]);
      await until("both guests READY", () => /READY/.test(ta.text) && /READY/.test(tb.text), 240_000);

      a.input(new TextEncoder().encode("load\n"));
      await sleep(2000);
      const before = await ta.rate(5000);
      assert.ok(before > 0, `a works at its 20% cap: ${ta.text.slice(-200)}`);

      const limits = { cpu: { cap: { min: 20, max: 80 } } };
      hv.setAutoscale("a", limits);
      hv.setAutoscale("b", limits);
      await until("a's cap raised to 80%", () => a.settings.cap === 80, 60_000);
      const raised = decisions.filter((d) => d.vm === "a" && d.resource === "cap");
      assert.deepEqual(raised.map((d) => d.to), [40, 80], JSON.stringify(decisions));
      for (const d of raised) assert.match(d.reason, /^cap \d+%→\d+%: runnable \d+%, steal \d+% for \d+ s, held at its cap/);
      await sleep(1000);
      const after = await ta.rate(5000);
      t.diagnostic(`a's work rate: ${before.toFixed(1)} TICK/s at cap 20%, ${after.toFixed(1)} TICK/s after the autoscaler (${raised.map((d) => d.reason).join("; ")})`);
      assert.ok(after >= 1.5 * before, `a's work rate rose from ${before.toFixed(1)} to ${after.toFixed(1)} TICK/s (expected ≥ 1.5×; cap 20% → 80%)`);

      // The load moves from a to b: b's cap goes up, a's comes back down.
      a.input(new TextEncoder().encode("idle\n"));
      b.input(new TextEncoder().encode("load\n"));
      await until("b's cap raised and a's lowered", () => b.settings.cap === 80 && a.settings.cap === 20, 90_000);
      const lowered = decisions.filter((d) => d.vm === "a" && d.resource === "cap" && d.to < d.from);
      assert.ok(lowered.length >= 1 && /runnable \d+% for \d+ s/.test(lowered[0]!.reason), JSON.stringify(lowered));
      assert.ok(decisions.every((d) => d.applied), JSON.stringify(decisions.filter((d) => !d.applied)));
    } finally {
      await hv.close();
    }
  });
});

describe("the autoscaler moves memory to the VM that allocates (real Linux)", { skip, timeout: 400_000 }, () => {
  test("a squeezed guest that fills its memory gets memory back from the balloon; an idle one with plenty gives memory up", async (t) => {
    const hv = new Hypervisor();
    const decisions: AutoscaleDecision[] = [];
    hv.on("decision", (d: AutoscaleDecision) => decisions.push(d));
    const MiB = 1024 * 1024;
    try {
      const filler = [
        "stty -echo 2>/dev/null",
        "echo READY",
        'while read c a; do case "$c" in fill) dd if=/dev/zero of=/dev/shm/f bs=1M count=$a 2>/dev/null; echo FILLED;; esac; done',
      ].join("\n");
      const base = spec();
      const mk = (name: string, target: number): Vm =>
        hv.create({
          name,
          spec: { ...base, memBytes: 256 * MiB, memTargetBytes: target, bootargs: base.bootargs.replace(/paravm\.exec=\S+/, `paravm.exec=${Buffer.from(filler).toString("base64")}`) },
        });
      const a = mk("a", 96 * MiB);
      const b = mk("b", 256 * MiB);
      const ta = new Ticks(a);
      const tb = new Ticks(b);
      await Promise.all([a.start(), b.start()]);
      await until("both guests READY", () => /READY/.test(ta.text) && /READY/.test(tb.text), 240_000);
      const limits = { memory: { min: 64 * MiB, max: 256 * MiB } };
      hv.setAutoscale("a", limits);
      hv.setAutoscale("b", limits);
      // b is idle with most of 256 MiB available: the autoscaler takes memory from it.
      await until("b squeezed", () => decisions.some((d) => d.vm === "b" && d.resource === "memory" && d.to < d.from), 90_000);
      // a fills most of what it has: under pressure, it gets memory back.
      const usable = a.memoryStats().ramBytes - a.memoryStats().balloonBytes;
      a.input(new TextEncoder().encode(`fill ${Math.round(usable / MiB) - 40}\n`));
      await until("a grown", () => decisions.some((d) => d.vm === "a" && d.resource === "memory" && d.to > d.from), 120_000);
      const grown = decisions.find((d) => d.vm === "a" && d.to > d.from)!;
      t.diagnostic(decisions.map((d) => `${d.vm}: ${d.reason}`).join(" | "));
      assert.match(grown.reason, /^memory \d+ MiB→\d+ MiB: (available \d+ MiB of \d+ MiB \(\d+%\)|\d+ major faults\/s)/);
      assert.ok(grown.applied, grown.reason);
      await until("a's balloon deflated to the new target", () => a.memoryStats().ramBytes - a.memoryStats().balloonBytes >= grown.to, 60_000);
      assert.ok(decisions.every((d) => d.resource === "memory"), "only memory limits were given");
    } finally {
      await hv.close();
    }
  });
});
