// The code cache's bound on a real guest (cpu/code-cache.ts, issue 11 "Memory"): Linux boots
// and runs commands under a 4 MiB per-hart budget, evicting as it goes, with the results
// the commands must give; --stats reports the evictions and the budget it kept to.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { defaultGuestDir } from "../control/cli.js";

const MiB = 1024 * 1024;

describe("code cache bound on a pv Linux boot (skipped without built guest images)", () => {
  const dir = defaultGuestDir();
  const N = 2000;
  const word = "paravm-code-cache";
  const script = `dmesg -n 1; uname -sm; echo ${word} | md5sum; seq 1 ${N} | awk '{ s += $1 } END { print s }'; exit 5`;
  test(
    "paravm run --code-cache 4 boots, runs the command right and stays within 4 MiB of code per hart, evicting",
    { skip: dir === null ? "no guest images in ~/.cache/paravm" : false, timeout: 240_000 },
    () => {
      const bin = fileURLToPath(new URL("../../../bin/paravm.js", import.meta.url));
      const r = spawnSync(process.execPath, [bin, "run", "--code-cache", "4", "--exec", script, "--stats"], { encoding: "utf8", timeout: 200_000 });
      assert.equal(r.status, 5, `stderr: ${r.stderr.slice(-800)}\nstdout tail: ${r.stdout.slice(-500)}`);
      const lines = r.stdout.split(/\r?\n/);
      const i = lines.findIndex((l) => /^Linux riscv64/.test(l));
      assert.ok(i >= 0, r.stdout.slice(-800));
      const md5 = createHash("md5").update(`${word}\n`).digest("hex");
      assert.deepEqual(lines.slice(i, i + 4), ["Linux riscv64", `${md5}  -`, String((N * (N + 1)) / 2), "PARAVM-EXIT-STATUS=5"], r.stdout.slice(-800));
      const stats = JSON.parse(r.stderr.trim().split("\n").pop()!) as { harts: { code: { evictions: number; budgetBytes: number; peakBytes: number; decodedPages: number; decodedBytes: number; jitTableBytes: number } }[] };
      for (const h of stats.harts) {
        const c = h.code;
        assert.equal(c.budgetBytes, 4 * MiB, JSON.stringify(c));
        assert.ok(c.evictions > 0, `no evictions: ${JSON.stringify(c)}`);
        assert.ok(c.peakBytes <= 4 * MiB, JSON.stringify(c));
        assert.ok(c.decodedBytes + c.jitTableBytes <= 4 * MiB, JSON.stringify(c));
      }
    },
  );
});
