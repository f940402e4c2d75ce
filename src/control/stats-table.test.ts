import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { exitGroups, parseStatsDoc, sideBySide, totalExits } from "./stats-table.js";

const pv = {
  profile: "pv",
  stop: "shutdown",
  bootMs: 2000,
  wallMs: 3000,
  instructions: 100,
  instructionsByPrivilege: { M: 0, S: 90, U: 10 },
  exits: { "sbi.time.set_timer": 7, "mmio.virtio-blk0.write": 3, "mmio.virtio-blk0.read": 1, wfi: 2 },
  interrupts: { timer: 5 },
};
const full = {
  profile: "full",
  stop: "shutdown",
  bootMs: 3000,
  wallMs: 5000,
  instructions: 200,
  instructionsByPrivilege: { M: 20, S: 170, U: 10 },
  exits: { "mmio.ata0.read": 500, "mmio.ata0.data.read": 480, "mmio.ata0.status.read": 20, "firmware.ecall-s": 9, wfi: 1 },
  interrupts: { timer: 6, "irq.ata0": 4 },
};

describe("stats table", () => {
  test("exits group by kind; per-register rows and firmware traps are not counted as exits", () => {
    assert.deepEqual([...exitGroups(full.exits)], [["mmio ata0", 500], ["wfi", 1]]);
    assert.equal(totalExits(pv.exits), 13);
    assert.equal(totalExits(full.exits), 501);
  });

  test("one column per run; rows for groups, firmware traps, busiest registers, interrupts", () => {
    const t = sideBySide(["pv", "full"], [pv, full]);
    const line = (label: string): string[] => {
      const l = t.split("\n").find((x) => x.trim().startsWith(label));
      assert.ok(l, `no row "${label}" in\n${t}`);
      return l.trim().split(/\s{2,}/);
    };
    assert.deepEqual(line("M-mode (firmware)"), ["M-mode (firmware)", "0", "20"]);
    assert.deepEqual(line("hypercalls (SBI)"), ["hypercalls (SBI)", "7", "0"]);
    assert.deepEqual(line("mmio ata0"), ["mmio ata0", "0", "500"]);
    assert.deepEqual(line("ecall-s"), ["ecall-s", "0", "9"]);
    assert.deepEqual(line("ata0.data.read"), ["ata0.data.read", "0", "480"]);
    assert.deepEqual(line("irq.ata0"), ["irq.ata0", "0", "4"]);
    assert.deepEqual(line("wall, ms"), ["wall, ms", "3,000", "5,000"]);
  });

  test("parseStatsDoc takes the last JSON line and names what is wrong", () => {
    assert.equal(parseStatsDoc(`noise\n{"x":1}\n${JSON.stringify(pv)}\n`, "a").profile, "pv");
    assert.throws(() => parseStatsDoc("no json here", "f.json"), /f\.json: no --stats JSON line/);
    assert.throws(() => parseStatsDoc("{oops", "f.json"), /f\.json: not JSON/);
    assert.throws(() => parseStatsDoc('{"a":1}', "f.json"), /not a paravm --stats document/);
  });
});
