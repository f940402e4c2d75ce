/**
 * The balloon with real Linux guests (pv, 256 MiB): inflating and deflating as the guest
 * sees it (MemAvailable) and as the host sees it (this process's RSS, and the RAM pages
 * themselves), the guest's statistics, and free page reporting. The VMs run in this
 * process, so /proc/self/status is the process that holds the guest RAM.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { loadHostMemory } from "../mem/host-memory.js";
import { Hypervisor } from "./hypervisor.js";
import { NO_GUEST, pvExecSpec } from "../control/guest-testkit.js";
import type { MachineSpec } from "./machine-spec.js";
import type { Vm } from "./vm.js";
import { EXTENDED } from "../test-tier.js";

const MiB = 1 << 20;
const reclaim = loadHostMemory().reclaim;
const skip = NO_GUEST;
const skipRss = skip || (reclaim !== "madvise" ? "guest-RAM addon not built: host memory cannot fall" : false);

function spec(exec: string, extra: Partial<MachineSpec> = {}): MachineSpec {
  return pvExecSpec(exec, { memBytes: 256 * MiB, ...extra });
}

/**
 * Shell helpers: MemAvailable in kB, and `fill N`: an N MiB tmpfs file of 'x' (every page
 * touched, none zero). /dev/shm holds half of RAM by default: room for 200 MiB first.
 */
const HELPERS = [
  "avail() { awk '/MemAvailable/{print $2}' /proc/meminfo; }",
  "mount -o remount,size=210M /dev/shm",
  "fill() { dd if=/dev/zero bs=1M count=1 2>/dev/null | tr '\\0' x > /tmp/x; i=0; while [ $i -lt $1 ]; do cat /tmp/x; i=$((i+1)); done > /dev/shm/big; }",
].join("\n");

function rss(): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))![1]) * 1024;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A VM's console, with waits for a line. */
class Console {
  text = "";
  private waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  constructor(vm: Vm) {
    vm.on("output", (b: Uint8Array) => {
      this.text += Buffer.from(b).toString("latin1");
      this.waiters = this.waiters.filter((w) => {
        const m = this.text.match(w.re);
        if (m) w.resolve(m);
        return !m;
      });
    });
  }
  until(re: RegExp, ms = 180_000): Promise<RegExpMatchArray> {
    const m = this.text.match(re);
    if (m) return Promise.resolve(m);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for ${re}; console tail: ${this.text.slice(-500)}`)), ms);
      this.waiters.push({ re, resolve: (x) => (clearTimeout(t), resolve(x)) });
    });
  }
}

/** Pages of the guest's RAM that read all zero. */
function zeroPages(vm: Vm): number {
  const w = new Int32Array(vm.guestRam()!);
  let n = 0;
  for (let p = 0; p < w.length; p += 1024) {
    let z = true;
    for (let i = p; i < p + 1024; i++) {
      if (w[i] !== 0) {
        z = false;
        break;
      }
    }
    if (z) n++;
  }
  return n;
}

/** Poll `f` every 50 ms until it is true or `ms` passed; returns the time it took, or null. */
async function within(ms: number, f: () => boolean): Promise<number | null> {
  const t0 = performance.now();
  for (;;) {
    if (f()) return performance.now() - t0;
    if (performance.now() - t0 > ms) return null;
    await sleep(50);
  }
}

describe("virtio-balloon with Linux (pv, 256 MiB)", { skip, timeout: 600_000 }, () => {
  test("inflate by 128 MiB: MemAvailable and host RSS fall; deflate: memory comes back zero and usable", { skip: skipRss }, async () => {
    const script = [
      HELPERS,
      "fill 200 && rm /dev/shm/big && echo \"TOUCHED $(avail)\"",
      "while [ $(avail) -gt 160000 ]; do sleep 0.2; done; sleep 1; echo \"INFLATED $(avail)\"",
      "while [ $(avail) -lt 200000 ]; do sleep 0.2; done; echo \"DEFLATED $(avail)\"; sleep 4",
      "fill 180 && echo \"WROTE $(du -m /dev/shm/big | cut -f1) MiB\"",
    ].join("\n");
    const hv = new Hypervisor();
    try {
      // No free page reporting: the guest's freed pages stay resident, so the fall is the inflate's.
      const vm = hv.create({ name: "bal", spec: spec(script, { freePageReporting: false }) });
      const con = new Console(vm);
      await vm.start();
      const touched = Number((await con.until(/^TOUCHED (\d+)/m))[1]) * 1024;
      await sleep(1000);
      const zero0 = zeroPages(vm);
      const r0 = rss();
      assert.throws(() => vm.setMemoryTarget(1000), /multiple of 4096/);
      assert.throws(() => vm.setMemoryTarget(8 * MiB), /below the minimum 32 MiB/);
      assert.throws(() => vm.setMemoryTarget(512 * MiB), /more than the VM's RAM/);
      assert.equal(vm.memoryStats().targetBytes, 256 * MiB, "a refused target changes nothing");

      vm.setMemoryTarget(128 * MiB);
      assert.equal(vm.memoryStats().targetBytes, 128 * MiB);
      const trace: string[] = [];
      const t0 = performance.now();
      // A bound on the host's pace, not a figure (bench:elastic measures it): 10 s, as a
      // guest sharing the 2-core CI machine with two other test files inflates slower
      // (regression: 69.5 MiB within the 2 s this allowed before).
      const fell = await within(10_000, () => {
        trace.push(`${Math.round(performance.now() - t0)}ms rss-${((r0 - rss()) / MiB).toFixed(0)} infl ${(vm.memoryStats().inflatedBytes / MiB).toFixed(0)}`);
        return r0 - rss() >= 100 * MiB;
      });
      if (process.env["BALLOON_TRACE"]) {
        await within(4000, () => (trace.push(`${Math.round(performance.now() - t0)}ms rss-${((r0 - rss()) / MiB).toFixed(0)} infl ${(vm.memoryStats().inflatedBytes / MiB).toFixed(0)}`), false));
        console.log(trace.join("\n"));
      }
      assert.ok(fell !== null, `RSS fell by only ${((r0 - rss()) / MiB).toFixed(1)} MiB within 10 s (reclaim ${reclaim})`);
      const inflatedAvail = Number((await con.until(/^INFLATED (\d+)/m))[1]) * 1024;
      assert.ok(touched - inflatedAvail >= 100 * MiB, `guest MemAvailable ${touched / MiB} → ${inflatedAvail / MiB} MiB`);
      assert.ok((await within(3000, () => vm.memoryStats().balloonBytes === 128 * MiB)) !== null, JSON.stringify(vm.memoryStats()));
      const s = vm.memoryStats();
      assert.equal(s.inflatedBytes, 128 * MiB);
      assert.equal(s.reclaim, "madvise");
      assert.ok(zeroPages(vm) - zero0 >= (120 * MiB) / 4096, "the inflated pages read zero on the host");

      vm.setMemoryTarget(256 * MiB);
      await con.until(/^DEFLATED (\d+)/m);
      assert.ok((await within(3000, () => vm.memoryStats().inflatedBytes === 0)) !== null, JSON.stringify(vm.memoryStats()));
      // The guest sleeps before it writes again: the pages that came back still read zero.
      assert.ok(zeroPages(vm) - zero0 >= (120 * MiB) / 4096, "freshly deflated pages read zero");
      assert.match((await con.until(/^WROTE (\d+) MiB/m))[0], /WROTE 180 MiB/);
      const o = await vm.wait();
      assert.equal(o.kind, "stopped");
      const bad = vm.memoryStats().bad;
      assert.equal(Object.values(bad).reduce((a, b) => a + b, 0), 0, JSON.stringify(bad));
    } finally {
      await hv.close();
    }
  });

  test("free page reporting lowers RSS after the guest frees 180 MiB; statistics match /proc/meminfo", { skip: skipRss || EXTENDED }, async () => {
    const script = [
      HELPERS,
      "fill 180 && echo FILLED; sleep 3; rm /dev/shm/big; echo FREED",
      "while :; do echo \"MEM $(awk '/MemFree/{f=$2} /MemAvailable/{a=$2} END{print f, a}' /proc/meminfo)\"; sleep 1; done",
    ].join("\n");
    const hv = new Hypervisor();
    try {
      const vm = hv.create({ name: "rep", spec: spec(script) });
      const con = new Console(vm);
      await vm.start();
      await con.until(/^FILLED/m);
      await sleep(1500);
      const r0 = rss();
      const reported0 = vm.memoryStats().reportedBytes;
      await con.until(/^FREED/m);
      const fell = await within(20_000, () => r0 - rss() >= 100 * MiB);
      assert.ok(fell !== null, `RSS fell by only ${((r0 - rss()) / MiB).toFixed(1)} MiB in 20 s after the guest freed 180 MiB`);
      assert.ok((await within(3000, () => vm.memoryStats().reportedBytes - reported0 >= 100 * MiB)) !== null, JSON.stringify(vm.memoryStats()));

      // Statistics: reading memoryStats() keeps them polled; the guest is idle, so they stand still.
      const first = vm.memoryStats().statsUpdates;
      assert.ok((await within(8000, () => vm.memoryStats().statsUpdates >= first + 2)) !== null, "no fresh statistics");
      const g = vm.memoryStats().guest!;
      const lines = [...con.text.matchAll(/^MEM (\d+) (\d+)/gm)];
      const [, free, avail] = lines[lines.length - 1]!.map(Number) as [number, number, number];
      assert.ok(Math.abs(g.free! - free * 1024) <= 8 * MiB, `stats free ${g.free! / MiB} MiB vs MemFree ${free / 1024} MiB`);
      assert.ok(Math.abs(g.available! - avail * 1024) <= 8 * MiB, `stats available ${g.available! / MiB} vs MemAvailable ${avail / 1024} MiB`);
      assert.ok(g.total! >= 200 * MiB && g.total! <= 256 * MiB, `total ${g.total! / MiB} MiB`);
      assert.ok(vm.memoryStats().guestAgeMs! < 3000);
      await vm.stop();
    } finally {
      await hv.close();
    }
  });

  test("--mem-target boots with the balloon inflated; a full machine has none", async () => {
    const hv = new Hypervisor();
    try {
      const vm = hv.create({ name: "tgt", spec: spec("sleep 2; echo \"AVAIL $(awk '/MemAvailable/{print $2}' /proc/meminfo)\"", { memTargetBytes: 128 * MiB }) });
      const con = new Console(vm);
      await vm.start();
      const avail = Number((await con.until(/^AVAIL (\d+)/m))[1]) * 1024;
      assert.ok(avail <= 128 * MiB, `MemAvailable ${avail / MiB} MiB with a 128 MiB target`);
      const o = await vm.wait();
      assert.equal(o.kind, "stopped");
      assert.ok(o.kind === "stopped" && "balloon" in o.result && o.result.balloon && o.result.balloon.inflates > 0);
      const full = hv.create({ name: "full", spec: { ...spec("true"), profile: "full" } });
      assert.equal(full.memoryStats().device, "none");
      assert.throws(() => full.setMemoryTarget(128 * MiB), /full machine has no balloon/);
    } finally {
      await hv.close();
    }
  });
});
