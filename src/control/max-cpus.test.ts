/**
 * `--cpus N --max-cpus M` and cpus=/max-cpus= in a --vm spec: M harts present, N online at
 * boot (pv), refused in one line where it cannot work.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseVmSpec } from "../hypervisor/vm-spec.js";
import { cpuCounts, UsageError } from "./args.js";

describe("--max-cpus", () => {
  test("max above cpus: that many harts present, cpus online at boot", () => {
    assert.deepEqual(cpuCounts(1, 4, "pv"), { cpus: 4, onlineCpus: 1 });
  });

  test("absent or equal: all harts online, as before", () => {
    assert.deepEqual(cpuCounts(2, undefined, "pv"), { cpus: 2 });
    assert.deepEqual(cpuCounts(2, 2, "full"), { cpus: 2 });
  });

  test("below cpus, or on a full VM (no agent), is a one-line usage error", () => {
    assert.throws(() => cpuCounts(3, 2, "pv"), (e: unknown) => e instanceof UsageError && e.message === "--max-cpus 2 is less than the 3 vCPUs online at boot");
    assert.throws(() => cpuCounts(1, 2, "full"), /--max-cpus 2: vCPUs come online live through the guest agent, which only pv guests have/);
  });

  test("a --vm spec takes max-cpus=", () => {
    assert.equal(parseVmSpec("name=a,cpus=1,max-cpus=2,exec=true").maxCpus, "2");
    assert.throws(() => parseVmSpec("name=a,maxcpus=2,exec=true"), /unknown key "maxcpus"/);
  });
});
