/**
 * `paravm vm snapshot` and `paravm vm restore` against a real `paravm serve` and a real
 * 64 MiB pv guest counting on its console: the snapshot is taken through the CLI (a
 * relative FILE, made absolute by the client), restored under a new name, and the new
 * VM's console goes on counting where the snapshot was taken, with no boot; the event
 * stream shows it created and running. A corrupt file is the API's 422 message through
 * the CLI, a taken name its 409, both with exit 1 and nothing created.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { until } from "../api/testkit.js";
import { defaultGuestDir } from "../args.js";
import { CLIENT_EXIT } from "./commands.js";
import { Daemon, type CliResult } from "./daemon-harness.js";
import type { SnapshotResult, VmView } from "./format.js";

const noGuest = defaultGuestDir() === null ? "guest images are not built (node scripts/build-guests.mjs)" : false;
const BOOT_TIMEOUT_MS = 120_000;
const COUNT_TIMEOUT_MS = 60_000;
const COUNTER = "i=0; while :; do i=$((i+1)); echo n=$i; usleep 200000; done";

/** The one line on stderr, which must be the API's message for the same request. */
function assertApiError(r: CliResult, apiMessage: unknown, status: number = CLIENT_EXIT.API_ERROR): void {
  assert.equal(r.status, status, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
  const lines = r.stderr.split("\n").filter((l) => l !== "" && !l.startsWith("  "));
  assert.equal(lines.length, 1, r.stderr);
  assert.equal(typeof apiMessage, "string");
  assert.equal(lines[0], `paravm: error: ${apiMessage as string}`);
}

const messageOf = (json: unknown): unknown => (json as { message?: unknown } | null)?.message;

describe("paravm vm snapshot / vm restore against paravm serve", { skip: noGuest }, () => {
  let d: Daemon;
  let file: string;
  /** The count the source had printed just before the snapshot, and just after it. */
  let before_ = 0;
  let atSave = 0;

  const counts = async (vm: string): Promise<number[]> => {
    const l = await d.cli(["vm", "logs", vm]);
    assert.equal(l.status, 0, l.stderr);
    return [...l.stdout.matchAll(/^n=(\d+)\r?$/gm)].map((m) => Number(m[1]));
  };
  const last = (xs: readonly number[]): number => xs.at(-1) ?? 0;

  before(async () => {
    d = await Daemon.start();
    file = join(d.dir, "c1.snap");
  });
  after(async () => {
    await d?.stop();
  });

  test("a running VM's snapshot through the CLI: one line with the file made absolute, and the VM goes on", async () => {
    const c = await d.cli(["vm", "create", "c1", "--mem", "64M", "--exec", COUNTER, "--start"]);
    assert.equal(c.status, 0, c.stderr);
    await until("c1's third count", BOOT_TIMEOUT_MS, async () => (await counts("c1")).length >= 3);
    before_ = last(await counts("c1"));
    // A relative FILE: the client resolves it against its own working directory.
    const s = await d.cli(["vm", "snapshot", "c1", "c1.snap"], { cwd: d.dir });
    assert.equal(s.status, 0, s.stderr);
    atSave = last(await counts("c1"));
    const esc = file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    assert.match(s.stdout, new RegExp(`^c1: snapshot written to ${esc} \\([\\d.]+ MiB, \\d+ of 16384 RAM pages, written in \\d+ ms, guest paused \\d+ ms\\)\\n$`));
    assert.equal(readFileSync(file).subarray(0, 8).toString("latin1"), "PARAVMSN");
    await until("c1 counting after its snapshot", COUNT_TIMEOUT_MS, async () => last(await counts("c1")) > atSave + 1);
    assert.equal((JSON.parse((await d.cli(["vm", "ls", "--json"])).stdout) as VmView[])[0]!.state, "running");
  });

  test("restore under a new name: running, and its console goes on counting from the snapshot with no boot", async () => {
    // The source stops first: the restored VM gets the host's cores to itself.
    assert.equal((await d.cli(["vm", "stop", "c1"])).status, 0);
    const r = await d.cli(["vm", "restore", file, "--name", "c2", "--json"]);
    assert.equal(r.status, 0, r.stderr);
    const v = JSON.parse(r.stdout) as VmView;
    assert.deepEqual([v.name, v.state, v.restoredFrom, v.entry.mem], ["c2", "running", file, 64 * 1024 * 1024]);
    const got = await until("three counts from c2", COUNT_TIMEOUT_MS, async () => {
      const xs = await counts("c2");
      return xs.length >= 3 ? xs : null;
    });
    const logs = (await d.cli(["vm", "logs", "c2"])).stdout;
    assert.doesNotMatch(logs, /Linux version/, "no boot");
    assert.ok(got[0]! >= before_ && got[0]! <= atSave + 2, `the count goes on: ${before_}..${atSave} around the snapshot, ${got[0]} first after restore`);
    for (let i = 1; i < got.length; i++) assert.equal(got[i], got[i - 1]! + 1, `counts in order: ${got.join(",")}`);
    // In the event stream as a created VM (naming its file) that started.
    const events = (await d.api("GET", "/events?since=0")).json as { type: string; vm: string; state?: string; restoredFrom?: string }[];
    const mine = events.filter((e) => e.vm === "c2");
    assert.equal(mine[0]?.type, "created", JSON.stringify(mine));
    assert.equal(mine[0]?.restoredFrom, file);
    assert.ok(mine.some((e) => e.type === "state" && e.state === "running"), JSON.stringify(mine));
  });

  test("a paused VM's snapshot replaces the old file and the VM stays paused (--json gives the figures)", async () => {
    assert.equal((await d.cli(["vm", "pause", "c2"])).status, 0);
    const s = await d.cli(["vm", "snapshot", "c2", file, "--json"]);
    assert.equal(s.status, 0, s.stderr);
    const r = JSON.parse(s.stdout) as SnapshotResult;
    assert.deepEqual([r.name, r.file, r.ramPages], ["c2", file, 16384]);
    assert.ok(r.bytes > 0 && r.ramPresent > 0 && r.ramPresent < r.ramPages, JSON.stringify(r));
    assert.equal((JSON.parse((await d.cli(["vm", "ls", "--json"])).stdout) as VmView[]).find((x) => x.name === "c2")!.state, "paused");
    assert.equal((await d.cli(["vm", "resume", "c2"])).status, 0);
  });

  test("a corrupt file: the API's 422 message through the CLI, exit 1, nothing created", async () => {
    const bad = join(d.dir, "bad.snap");
    const bytes = readFileSync(file);
    bytes[bytes.length - 100]! ^= 0x55; // in the RAM section, the last one
    writeFileSync(bad, bytes);
    const api = await d.api("POST", "/vms/restore", { file: bad, name: "c3" });
    assert.equal(api.status, 422, JSON.stringify(api.json));
    assert.match(String(messageOf(api.json)), /section ram is corrupt/);
    assertApiError(await d.cli(["vm", "restore", bad, "--name", "c3"]), messageOf(api.json));
    const names = (JSON.parse((await d.cli(["vm", "ls", "--json"])).stdout) as VmView[]).map((x) => x.name);
    assert.deepEqual(names.sort(), ["c1", "c2"]);
  });

  test("restoring onto a taken name: the API's 409 message through the CLI, exit 1", async () => {
    const api = await d.api("POST", "/vms/restore", { file, name: "c2" });
    assert.equal(api.status, 409, JSON.stringify(api.json));
    assertApiError(await d.cli(["vm", "restore", file, "--name", "c2"]), messageOf(api.json));
    // The name saved in the file is c2's now (the last snapshot was c2's): taken too.
    assertApiError(await d.cli(["vm", "restore", file]), messageOf(api.json));
    assertApiError(await d.cli(["vm", "snapshot", "nope", file]), messageOf((await d.api("POST", "/vms/nope/snapshot", { file })).json));
    assert.equal((await d.cli(["vm", "stop", "c2"])).status, 0);
  });
});
