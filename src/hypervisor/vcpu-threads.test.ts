/**
 * vCPU threads started ahead (vcpu-threads.ts). That a spare runs a real guest is checked
 * where it matters, by a restore (snapshot/vm-snapshot.test.ts); here the pool itself.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, test } from "node:test";
import { VCPU_THREADS, VcpuThreads } from "./vcpu-threads.js";

describe("spare vCPU threads", () => {
  test("a spare count outside 0..MAX_SPARES is refused", () => {
    for (const n of [-1, 1.5, VCPU_THREADS.MAX_SPARES + 1]) {
      assert.throws(() => new VcpuThreads(n), (e: unknown) => e instanceof RangeError && /spare vCPU threads: .*0\.\.8/.test((e as Error).message));
    }
  });

  test("the spares wait until close ends them; none are started after", async () => {
    const t = new VcpuThreads(2);
    assert.equal(t.ready, 2);
    await t.close();
    assert.equal(t.ready, 0);
  });

  test("an idle spare does not keep its process alive", () => {
    const url = new URL("./vcpu-threads.js", import.meta.url).href;
    // The child makes a spare and returns: it must exit by itself (the timeout only bounds a hang).
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", `const m = await import(${JSON.stringify(url)}); new m.VcpuThreads(1); console.log("made");`], {
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(r.signal, null, `the process was killed after 60 s: a spare kept it alive (stderr: ${r.stderr})`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "made");
  });
});
