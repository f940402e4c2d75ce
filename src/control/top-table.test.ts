import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { VmSchedStats } from "../hypervisor/vm.js";
import { MetricsSampler, plainLine, renderTable, shortBytes, TOP, type VmProbe } from "./top-table.js";

const MiB = 1024 * 1024;

function sched(waitMs: number, share: number, entitlement: number): VmSchedStats {
  return { weight: 256, cap: 0, cpuMs: 0, waitMs, idleMs: 0, share, entitlement, vcpus: [] };
}

function probe(name: string, state: string, waitMs: number, rx: number | null, online = 2): VmProbe {
  return {
    name,
    state,
    sched: sched(waitMs, 0.75, 1),
    vcpus: { online, max: 4 },
    mem: { ramBytes: 128 * MiB, balloonBytes: null, guestAvailableBytes: null },
    port: rx === null ? null : { rxFrames: 0, rxBytes: rx, txFrames: 0, txBytes: 2 * rx, drops: { malformed: 0, noBuffer: 0, rateLimited: 0 } },
  };
}

describe("top table: metrics from two samples", () => {
  test("steal is waiting time per online vCPU over the interval; net is bytes per second", () => {
    const s = new MetricsSampler(1000);
    const first = s.sample([probe("a", "running", 100, 1000)], 2000);
    assert.equal(first[0]!.stealPct, null, "no interval yet");
    assert.deepEqual(first[0]!.net, { rxBytesPerS: 0, txBytesPerS: 0 });
    // 2 s later: 1000 ms more waiting over 2 vCPUs x 2 s = 25 %; 8000 bytes in = 4000/s.
    const [m] = s.sample([probe("a", "running", 1100, 9000)], 4000);
    assert.equal(m!.t, 3);
    assert.equal(m!.stealPct, 25);
    assert.equal(m!.cpuPct, 75);
    assert.equal(m!.entitlementPct, 100);
    assert.deepEqual(m!.net, { rxBytesPerS: 4000, txBytesPerS: 8000 });
  });

  test("exits per second by reason and MIPS from the live counters of two samples; the busiest reason in the table", () => {
    const s = new MetricsSampler(0);
    const at = (exits: Record<string, number>, instret: number, read = 0): VmProbe => ({ ...probe("a", "running", 0, null), counters: { exits, instret, disk: { read, written: read / 2 } } });
    const [first] = s.sample([at({ wfi: 10, "sbi.time": 5 }, 1_000_000)], 1000);
    assert.equal(first!.exitsPerS, null, "no interval yet");
    // 2 s later: wfi +800, sbi.time +200, a new reason +40; 60 M instructions = 30 MIPS.
    const [m] = s.sample([at({ wfi: 810, "sbi.time": 205, "mmio.virtio-blk0.write": 40 }, 61_000_000, 4 * MiB)], 3000);
    assert.deepEqual(m!.exitsPerS, { wfi: 400, "sbi.time": 100, "mmio.virtio-blk0.write": 20 });
    assert.equal(m!.mips, 30);
    assert.deepEqual(m!.disk, { readBytesPerS: 2 * MiB, writeBytesPerS: MiB });
    const screen = renderTable({ title: "t", metrics: [m!], selected: 0, events: [], keys: "", columns: 400 }).join("\n");
    assert.match(screen, /EXITS\/s +TOP EXIT/);
    assert.match(screen, / 2M +1M +520 +wfi 400/);
    assert.match(plainLine(m!), /exits 520\/s \(top: wfi 400\)/);
    // A new run (counters start over): no negative rates, no figure for that interval.
    const [again] = s.sample([at({ wfi: 3 }, 500)], 4000);
    assert.equal(again!.exitsPerS, null);
  });

  test("a VM that is not running has no CPU figures; no NIC, no net", () => {
    const s = new MetricsSampler(0);
    s.sample([probe("a", "running", 0, null)], 1000);
    const [m] = s.sample([probe("a", "stopped", 0, null)], 2000);
    assert.equal(m!.cpuPct, null);
    assert.equal(m!.stealPct, null);
    assert.equal(m!.net, null);
  });
});

describe("top table: the screen", () => {
  const s = new MetricsSampler(0);
  s.sample([probe("alpha", "running", 0, 0), probe("a-very-long-vm-name", "paused", 0, null)], 0);
  const metrics = s.sample([probe("alpha", "running", 0, 10), probe("a-very-long-vm-name", "paused", 0, null)], 1000);

  test("one row per VM, the selected one marked, unknown figures as '-'", () => {
    const lines = renderTable({ title: "T", metrics, selected: 1, events: ["e1", "e2"], keys: "KEYS", columns: 200 });
    const rows = lines.filter((l) => /^[ >] \d /.test(l));
    assert.equal(rows.length, 2);
    assert.match(rows[0]!, /^  1 +alpha +running +2\/4 +75\.0 +100\.0 +0\.0 +256 +128M +- +- +10B +20B +- +- +- +-\s*$/, "no disk or exit figures without live counters");
    assert.match(rows[1]!, /^> 2 +a-very-long~ +paused /, "long names cut to the column");
    assert.ok(lines.includes("  e2"));
    assert.equal(lines.at(-1), "KEYS");
    // The event area has a fixed height, so the keys line does not move as events come.
    assert.equal(lines.length, 3 + 2 + 2 + TOP.EVENT_LINES + 2);
  });

  test("lines are cut to the terminal width, and only the latest events are kept", () => {
    const events = Array.from({ length: 20 }, (_, i) => `event ${i}`);
    const lines = renderTable({ title: "x".repeat(300), metrics, selected: 0, events, keys: "K", columns: 40 });
    assert.ok(lines.every((l) => l.length <= 40));
    assert.ok(lines.includes("  event 19"));
    assert.ok(!lines.includes(`  event ${19 - TOP.EVENT_LINES}`));
  });

  test("plain progress lines carry the same figures and no control codes", () => {
    const line = plainLine(metrics[0]!);
    assert.match(line, /^\[1s\] alpha: running, vcpus 2\/4, cpu 75\.0% of 100\.0%, steal 0\.0%, ram 128M balloon - available -, net rx 10B\/s tx 20B\/s$/);
    assert.doesNotMatch(line, /\x1b/);
  });

  test("short byte figures", () => {
    assert.deepEqual([shortBytes(null), shortBytes(512), shortBytes(1536), shortBytes(64 * MiB), shortBytes(1.5 * 1024 * MiB)], ["-", "512B", "1.5K", "64M", "1.5G"]);
  });
});
