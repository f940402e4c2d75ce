/**
 * Live counts on a real guest: while a 2-vCPU pv VM runs, Vm.liveCounters() reports exits
 * by reason, instructions and the disk's bytes at most a second old, growing, and never
 * more than the final result counts for the same run (same merge of the owner's and each
 * thread's view).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { GUEST_DIR, NO_GUEST, pvExecSpec } from "../control/guest-testkit.js";
import { Hypervisor } from "./hypervisor.js";

const skip = NO_GUEST;

describe("live exit counters (real Linux)", { skip, timeout: 300_000 }, () => {
  test("exits by reason and instructions are reported while the VM runs, grow, and stay within the final counts", async () => {
    const hv = new Hypervisor();
    try {
      // Each second a different 1 MiB of the disk (never in the page cache yet), then a tick.
      const exec = "i=0; while [ $i -lt 6 ]; do dd if=/dev/vda of=/dev/null bs=64k count=16 skip=$((i*16)) 2>/dev/null; sleep 1; echo tick; i=$((i+1)); done";
      const vm = hv.create({
        name: "live",
        spec: pvExecSpec(exec, { cpus: 2, memBytes: 64 * 1024 * 1024, disk: { path: join(GUEST_DIR!, "disk.ext2"), readonly: true, snapshot: false, cache: "writeback" } }, "paravm.nodisk"),
      });
      await vm.start();
      const seen: { instret: number; total: number; exits: Record<string, number>; read: number }[] = [];
      while (vm.state === "running") {
        const c = vm.liveCounters();
        if (c) seen.push({ instret: c.instret, total: Object.values(c.exits).reduce((a, b) => a + b, 0), exits: c.exits, read: c.disk?.read ?? -1 });
        await new Promise((r) => setTimeout(r, 500));
      }
      const o = await vm.wait();
      assert.equal(o.kind, "stopped");
      const final = o.kind === "stopped" ? o.result : null;
      assert.ok(seen.length >= 4, `live reports while running: ${seen.length}`);
      for (let i = 1; i < seen.length; i++) {
        assert.ok(seen[i]!.instret >= seen[i - 1]!.instret && seen[i]!.total >= seen[i - 1]!.total, "counts only grow");
      }
      assert.ok(seen.at(-1)!.instret > seen[0]!.instret, "instructions moved between reports");
      assert.ok(seen[0]!.read >= 0, "the owner reports the disk's bytes");
      assert.ok(seen.at(-1)!.read - seen[0]!.read >= 1024 * 1024, `the disk's read bytes grew while it ran: ${seen[0]!.read} → ${seen.at(-1)!.read}`);
      const blk = (final as { blk?: { bytesRead: number } }).blk;
      assert.ok(blk && seen.at(-1)!.read <= blk.bytesRead, "live disk bytes within the final count");
      const last = seen.at(-1)!;
      assert.ok(last.instret <= final!.instret, `${last.instret} ≤ ${final!.instret}`);
      assert.ok(Object.keys(last.exits).length > 0);
      for (const [reason, n] of Object.entries(last.exits)) {
        assert.ok((final!.exits[reason] ?? 0) >= n, `${reason}: live ${n} ≤ final ${final!.exits[reason]}`);
      }
    } finally {
      await hv.close();
    }
  });
});
