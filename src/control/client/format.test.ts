/** The client's tables and lines from the API's shapes (docs/api.md). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { renderTable } from "../top-table.js";
import { eventLine, fleetLines, snapshotLine, textTable, topMetrics, vmLine, vmTable, type ApiVmMetrics, type VmView } from "./format.js";

const MiB = 1024 * 1024;

function view(over: Partial<VmView> & { name: string }): VmView {
  return {
    state: "running",
    profile: "pv",
    entry: { name: over.name, mem: 64 * MiB },
    settings: { weight: 256, cap: 0, vcpus: { online: 1, max: 2 }, memTargetBytes: null },
    autoscale: null,
    ...over,
  };
}

test("vm ls: a header and one aligned row per VM", () => {
  const lines = vmTable([
    view({ name: "web", settings: { weight: 512, cap: 50, vcpus: { online: 2, max: 4 }, memTargetBytes: 48 * MiB }, autoscale: { cpu: {} } }),
    view({ name: "a-much-longer-name", state: "stopped", reason: "powered off", profile: "full", entry: { name: "x", mem: "128M" } }),
    view({ name: "c", state: "stopped", reason: "stopped", settings: { weight: 256, cap: 0, vcpus: { online: 1, max: 1 }, memTargetBytes: 64 * MiB } }),
  ]);
  assert.equal(lines.length, 4);
  assert.match(lines[0]!, /^NAME\s+STATE\s+PROFILE\s+VCPUS\s+MEM\s+TARGET\s+WEIGHT\s+CAP\s+AUTOSCALE\s+REASON$/);
  assert.match(lines[1]!, /^web\s+running\s+pv\s+2\/4\s+64M\s+48M\s+512\s+50%\s+on\s+-$/);
  assert.match(lines[2]!, /^a-much-longer-name\s+stopped\s+full\s+1\/2\s+128M\s+-\s+256\s+-\s+off\s+powered off$/);
  // A target equal to the RAM is no balloon; a reason that repeats the state says nothing.
  assert.match(lines[3]!, /^c\s+stopped\s+pv\s+1\/1\s+64M\s+-\s+256\s+-\s+off\s+-$/);
  // Columns line up: STATE starts at the same offset in every line.
  const col = lines.map((l) => l.search(/running|stopped|STATE/));
  assert.ok(col.every((c) => c === col[0]), col.join(","));
});

test("vm ls with no VMs says how to make one", () => {
  assert.deepEqual(vmTable([]), ["no VMs (create one with `paravm vm create NAME`)"]);
});

test("textTable pads to the widest cell and trims the end", () => {
  assert.deepEqual(textTable(["A", "B"], [["xyz", "1"], ["x", ""]]), ["A    B", "xyz  1", "x"]);
});

test("a VM in one line", () => {
  assert.equal(vmLine(view({ name: "web", state: "paused" })), "web: paused, vcpus 1/2, weight 256, no cap, autoscale off");
  assert.equal(
    vmLine(view({ name: "db", state: "stopped", reason: "stopped by the API", settings: { weight: 8, cap: 25, vcpus: { online: 1, max: 1 }, memTargetBytes: 32 * MiB } })),
    "db: stopped (stopped by the API), vcpus 1/1, weight 8, cap 25%, mem target 32M, autoscale off",
  );
});

test("fleet apply's outcome", () => {
  assert.deepEqual(fleetLines({ created: ["a", "b"], replaced: [], updated: ["c"], unchanged: [], started: ["a"] }), [
    "created: a, b",
    "replaced: none",
    "updated: c",
    "unchanged: none",
    "started: a",
  ]);
});

test("a metrics sample renders in up's top table", () => {
  const m: ApiVmMetrics = {
    vm: "web", at: 10_500, state: "running", cpuPct: 12.5, entitlementPct: 50, stealPct: 1.2, weight: 256, cap: 0,
    vcpus: { online: 1, max: 1 }, ramBytes: 64 * MiB, balloonBytes: 16 * MiB, availableBytes: 40 * MiB, netRxBps: null, netTxBps: null,
  };
  const t = topMetrics(m, 0);
  assert.equal(t.t, 10.5);
  assert.deepEqual(t.mem, { ramBytes: 64 * MiB, balloonBytes: 16 * MiB, guestAvailableBytes: 40 * MiB });
  assert.equal(t.net, null);
  assert.deepEqual(topMetrics({ ...m, netRxBps: 2048, netTxBps: 0 }, 0).net, { rxBytesPerS: 2048, txBytesPerS: 0 });
  const lines = renderTable({ title: "t", metrics: [t], selected: -1, events: [], keys: "q quits", columns: 200 });
  const row = lines.find((l) => l.includes("web"))!;
  assert.match(row, /web\s+running\s+1\/1\s+12\.5\s+50\.0\s+1\.2\s+256\s+64M\s+16M\s+40M/);
});

test("events as lines: state changes and autoscaler decisions with their reasons", () => {
  const at = Date.UTC(2025, 0, 1, 12, 34, 56);
  assert.equal(eventLine({ seq: 1, at, type: "state", vm: "web", state: "paused", reason: "api" }), "12:34:56 web: paused (api)");
  assert.equal(
    eventLine({ seq: 2, at, type: "decision", vm: "web", resource: "weight", from: 256, to: 512, applied: true, reason: "busy 95%" }),
    "12:34:56 web: weight 256 -> 512: busy 95%",
  );
  assert.equal(eventLine({ seq: 3, at, type: "created", vm: "db" }), "12:34:56 db: created");
  assert.equal(
    eventLine({ seq: 4, at, type: "container", vm: "containers", container: "hog", kind: "oom", message: "container hog was killed by the kernel's OOM killer: memory.max 8 MiB" }),
    "12:34:56 containers: container hog was killed by the kernel's OOM killer: memory.max 8 MiB",
  );
});

test("vm snapshot: the file, its size, the RAM pages written and the guest's pause in one line", () => {
  const line = snapshotLine({ name: "web", file: "/srv/web.snap", bytes: 12.34 * MiB, ramPages: 16384, ramPresent: 3071, writeMs: 140.4, pausedMs: 152.6 });
  assert.equal(line, "web: snapshot written to /srv/web.snap (12.3 MiB, 3071 of 16384 RAM pages, written in 140 ms, guest paused 153 ms)");
});

test("vm restore: a restored VM's line names its file", () => {
  assert.equal(vmLine(view({ name: "r", restoredFrom: "/srv/web.snap" })), "r: running, vcpus 1/2, weight 256, no cap, autoscale off, restored from /srv/web.snap");
});

test("top's event lines: a snapshot names its file, a restored VM's creation its source, a clone its place in its batch", () => {
  const at = Date.UTC(2026, 0, 1, 12, 30, 5);
  assert.equal(eventLine({ type: "snapshot", vm: "web", at, file: "/srv/web.snap", bytes: 1 }), "12:30:05 web: snapshot written to /srv/web.snap");
  assert.equal(eventLine({ type: "created", vm: "r", at, restoredFrom: "/srv/web.snap" }), "12:30:05 r: created (restored from /srv/web.snap)");
  assert.equal(eventLine({ type: "clone", vm: "web-2", at, file: "/srv/web.snap", index: 2, of: 3, ip: "10.0.0.11/24" }), "12:30:05 web-2: clone 2 of 3 of /srv/web.snap ready as 10.0.0.11/24");
  assert.equal(eventLine({ type: "clone", vm: "web-2", at, file: "/srv/web.snap", index: 2, of: 3, ip: null }), "12:30:05 web-2: clone 2 of 3 of /srv/web.snap ready");
  assert.equal(eventLine({ type: "created", vm: "n", at }), "12:30:05 n: created");
});
