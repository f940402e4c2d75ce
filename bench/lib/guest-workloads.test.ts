// bench:guest's guest script and its readers: the script disk's shape, the GB-END/GB-BEGIN
// line formats, and then the real thing on the built images — every workload on QEMU
// (the reference) with results the host can compute itself, and paravm's counting
// process, whose per-run instruction counts must grow with the work done.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { findGuest, type GuestImages } from "./iobench.js";
import { OPENSBI, QEMU, qemuArgs, runBoot } from "./boot-run.js";
import { countRun } from "./guest-report.js";
import { countOf, EXEC_COMMAND, GUEST_APPEND, guestScript, markerOf, parseGuestRuns, selectWorkloads, WORKLOADS, type Workload } from "./guest-workloads.js";

const work = mkdtempSync(join(tmpdir(), "paravm-bench-guest-"));
after(() => rmSync(work, { recursive: true, force: true }));

function guestOrNull(): GuestImages | null {
  try {
    return findGuest(null);
  } catch {
    return null;
  }
}
const qemuMissing = spawnSync(QEMU, ["--version"]).status !== 0 || !existsSync(OPENSBI);

describe("guest script disk (sh /dev/vda reads only the script)", () => {
  test("is whole 512-byte sectors, the script first, then only newlines after its final exit", () => {
    const { text, disk } = guestScript(WORKLOADS, 2, 0.5);
    assert.equal(disk.length % 512, 0);
    assert.ok(disk.length > text.length);
    assert.equal(Buffer.from(disk.subarray(0, text.length)).toString("utf8"), text);
    assert.ok(disk.subarray(text.length).every((b) => b === 0x0a));
    assert.match(text, /\nexit 0\n$/);
    for (const w of WORKLOADS) assert.ok(text.includes(`gb_run ${w.name} 2 `), w.name);
  });

  test("sizes scale with --scale and never reach 0", () => {
    const w = WORKLOADS[0]!;
    assert.equal(countOf(w, 1), w.size);
    assert.equal(countOf(w, 2), 2 * w.size);
    assert.equal(countOf(w, 1e-9), 1);
    assert.ok(guestScript([w], 1, 2).text.includes(String(2 * w.size)));
  });

  test("--only keeps the set's order and rejects unknown names", () => {
    assert.deepEqual(
      selectWorkloads("sort, ash-loop").map((w) => w.name),
      ["ash-loop", "sort"],
    );
    assert.equal(selectWorkloads(null).length, WORKLOADS.length);
    assert.throws(() => selectWorkloads("ash-loop,nope"), /unknown workload "nope"/);
  });
});

describe("console lines", () => {
  test("GB-END: realtime seconds to the microsecond, uptime to 10 ms, status and the rest of the line as the result", () => {
    const runs = parseGuestRuns("junk\r\nGB-END dd-md5 3 10.250000 11.750001 10.25 11.75 0 abc  -\r\nGB-END x 1 1 2 3.00 4.01 2 \n");
    assert.deepEqual(runs, [
      { name: "dd-md5", run: 3, seconds: 1.500001, uptimeSeconds: 1.5, status: 0, result: "abc  -" },
      { name: "x", run: 1, seconds: 1, uptimeSeconds: 1.01, status: 2, result: "" },
    ]);
  });

  test("a truncated GB-END line is not a run", () => {
    assert.deepEqual(parseGuestRuns("GB-END ash-loop 1 1.0 2.0 1.00\n"), []);
  });

  test("markers: BEGIN and END are told apart, other lines are none", () => {
    assert.deepEqual(markerOf("GB-BEGIN sort 2"), { kind: "begin", name: "sort", run: 2 });
    assert.deepEqual(markerOf("GB-END sort 2 1 2 1.00 2.00 0 x"), { kind: "end", name: "sort", run: 2 });
    assert.equal(markerOf("GB-READY"), null);
  });
});

/** The result each workload must print at `count`, where the host can compute it (null: checked against paravm only). */
function expected(w: Workload, count: number): string | RegExp | null {
  switch (w.name) {
    case "ash-loop":
    case "fork-exec":
      return String(count);
    case "syscall":
      return `${count}+0`;
    case "dd-md5":
      return `${createHash("md5").update(Buffer.alloc(count * 65536)).digest("hex")}  -`;
    case "awk-fp": {
      let s = 0;
      for (let i = 1; i <= count; i++) s += Math.sqrt(i) / (i + 0.5) + Math.sin(i) * 1e-3;
      // printf "%.9e": ten significant digits; libm's sin and V8's may differ in the last bit.
      const mantissa = s.toExponential(9).split("e")[0]!.slice(0, -1);
      return new RegExp(`^${mantissa.replace(".", "\\.")}\\de\\+0\\d$`);
    }
    default:
      return null;
  }
}

describe("on the built guest images", () => {
  const g = guestOrNull();
  const scale = 0.05;

  test("QEMU runs every workload twice with status 0 and the results the host computes", { skip: g === null || qemuMissing ? "no guest images or no QEMU" : false, timeout: 300_000 }, async () => {
    const { disk } = guestScript(WORKLOADS, 2, scale);
    const path = join(work, "qemu.img");
    writeFileSync(path, disk);
    const r = await runBoot(QEMU, qemuArgs(g!, EXEC_COMMAND, { disk: path, append: GUEST_APPEND }), process.env, 240_000);
    assert.equal(r.guestStatus, 0, r.stdout.slice(-2000));
    const runs = parseGuestRuns(r.stdout);
    assert.equal(runs.length, 2 * WORKLOADS.length);
    for (const w of WORKLOADS) {
      const mine = runs.filter((x) => x.name === w.name);
      assert.deepEqual(mine.map((x) => x.run), [1, 2], w.name);
      for (const x of mine) {
        assert.equal(x.status, 0, w.name);
        assert.ok(x.seconds > 0 && x.seconds < 60, `${w.name}: ${x.seconds} s`);
        // The realtime window is read inside the uptime one: longer only by uptime's 10 ms step.
        assert.ok(x.seconds <= x.uptimeSeconds + 0.012 && x.seconds > x.uptimeSeconds - 0.5, `${w.name}: ${x.seconds} vs ${x.uptimeSeconds}`);
      }
      assert.equal(mine[0]!.result, mine[1]!.result, w.name);
      const want = expected(w, countOf(w, scale));
      if (typeof want === "string") assert.equal(mine[0]!.result, want, w.name);
      else if (want) assert.match(mine[0]!.result, want, w.name);
      else assert.match(mine[0]!.result, /^[0-9a-f]{32} {2}-$/, w.name);
    }
  });

  test("paravm's counting process: instructions per run grow with the iterations, and stay inside the boot's total", { skip: g === null ? "no guest images" : false, timeout: 600_000 }, async () => {
    const base = WORKLOADS.find((w) => w.name === "ash-loop")!;
    const small: Workload = { ...base, name: "small", size: 100 };
    const large: Workload = { ...base, name: "large", size: 400 };
    const { disk } = guestScript([small, large], 1, 1);
    const path = join(work, "count.img");
    writeFileSync(path, disk);
    const c = await countRun(g!, path, 540_000);
    assert.equal(c.error, null);
    const a = c.runs.find((r) => r.name === "small")!;
    const b = c.runs.find((r) => r.name === "large")!;
    assert.equal(a.result, "100");
    assert.equal(b.result, "400");
    // Each iteration costs the same; the bracket adds a fixed few thousand instructions.
    const ratio = b.instret / a.instret;
    assert.ok(ratio > 3.5 && ratio < 4.1, `large/small = ${ratio} (${b.instret} / ${a.instret})`);
    const total = c.stats?.["instructions"] as number;
    assert.ok(a.instret + b.instret < total, `${a.instret} + ${b.instret} < ${total}`);
  });
});
