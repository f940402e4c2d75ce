/**
 * `paravm vm restore FILE --clones N` against a real `paravm serve` (1 GiB memory budget)
 * and a real 64 MiB pv guest that counts and pings 10.0.0.10 and 10.0.0.11 on its
 * console, so the clones show on their own consoles that they reach each other by the
 * addresses the daemon gave them. The CLI prints one line per clone as it comes up (before
 * the batch ends), then one for the batch. Refusals — a taken name, an address another
 * clone holds, a range leaving the subnet, too many clones, not enough memory — are the
 * API's message through the CLI with its exit status, and leave the VM list as it was.
 * Destroying a clone frees its address for the next batch.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { CloneBatch } from "../api/clones.js";
import { until } from "../api/testkit.js";
import { defaultGuestDir } from "../args.js";
import { CLIENT_EXIT } from "./commands.js";
import { Daemon, PARAVM_BIN, type CliResult } from "./daemon-harness.js";
import type { VmView } from "./format.js";

const noGuest = defaultGuestDir() === null ? "guest images are not built (node scripts/build-guests.mjs)" : false;
const BOOT_TIMEOUT_MS = 120_000;
const PING_TIMEOUT_MS = 60_000;
const CLONES_TIMEOUT_MS = 180_000;
/** Counts, and says which of the two clone addresses answer (the origin, on 10.0.2.0/24, reaches neither). */
const PINGER = "i=0; while :; do i=$((i+1)); echo n=$i; for a in 10.0.0.10 10.0.0.11; do ping -c 1 -W 1 $a >/dev/null 2>&1 && echo reached $a; done; usleep 200000; done";

/** The one line on stderr, which must be the API's message for the same request, and the exit status. */
function assertApiError(r: CliResult, api: { status: number; json: unknown }, exit: number = CLIENT_EXIT.API_ERROR): void {
  assert.equal(r.status, exit, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
  const lines = r.stderr.split("\n").filter((l) => l !== "" && !l.startsWith("  "));
  const message = (api.json as { message?: unknown }).message;
  assert.equal(typeof message, "string");
  assert.deepEqual(lines, [`paravm: error: ${message as string}`]);
}

describe("paravm vm restore --clones against paravm serve", { skip: noGuest, timeout: 600_000 }, () => {
  let d: Daemon;
  let file: string;
  const names = async (): Promise<string[]> => (JSON.parse((await d.cli(["vm", "ls", "--json"])).stdout) as VmView[]).map((v) => v.name).sort();
  const logs = async (vm: string): Promise<string> => (await d.cli(["vm", "logs", vm])).stdout;

  before(async () => {
    d = await Daemon.start({ extraArgs: ["--host-mem", "1G"] });
    file = join(d.dir, "origin.snap");
    const c = await d.cli(["vm", "create", "origin", "--mem", "64M", "--net", "lan", "--exec", PINGER, "--start"]);
    assert.equal(c.status, 0, c.stderr);
    await until("origin counting", BOOT_TIMEOUT_MS, async () => /n=2\r?\n/.test(await logs("origin")));
    const s = await d.cli(["vm", "snapshot", "origin", file]);
    assert.equal(s.status, 0, s.stderr);
    assert.equal((await d.cli(["vm", "stop", "origin"])).status, 0);
  });
  after(async () => {
    await d?.stop();
  });

  test("two clones: one line each as it comes up, then the batch; both run and reach each other by their addresses", async () => {
    // Spawned here rather than through the harness, to see when each line arrives.
    const t0 = Date.now();
    const lines: { at: number; text: string }[] = [];
    const args = ["vm", "restore", file, "--clones", "2", "--name", "web", "--net", "lan", "--ip", "10.0.0.10/24"];
    const child = spawn(process.execPath, [PARAVM_BIN, ...args], { env: { ...process.env, PARAVM_HOST: d.url, PARAVM_TOKEN: d.token }, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    let buf = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => {
      buf += s;
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        lines.push({ at: Date.now() - t0, text: buf.slice(0, i) });
        buf = buf.slice(i + 1);
      }
    });
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    const status = await new Promise<number | null>((r) => child.on("close", r));
    const endedAt = Date.now() - t0;
    assert.equal(status, 0, stderr);
    const texts = lines.map((l) => l.text);
    assert.equal(texts.length, 3, texts.join("\n"));
    assert.match(texts[0]!, /^web-1: clone 1 of 2 running, 10\.0\.0\.10\/24 on lan, MAC [0-9a-f:]{17}, running after \d+\.\d\d s, ready after \d+\.\d\d s$/);
    assert.match(texts[1]!, /^web-2: clone 2 of 2 running, 10\.0\.0\.11\/24 on lan, MAC [0-9a-f:]{17}, running after/);
    assert.match(texts[2]!, new RegExp(`^2 clones of ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} running and ready in \\d+\\.\\d\\d s$`));
    // The first clone's line came while the second was still being made (each takes seconds to take its identity).
    assert.ok(lines[0]!.at < endedAt - 500, `web-1's line at ${lines[0]!.at} ms, the command ended at ${endedAt} ms`);

    const vms = JSON.parse((await d.cli(["vm", "ls", "--json"])).stdout) as VmView[];
    for (const n of ["web-1", "web-2"]) assert.equal(vms.find((v) => v.name === n)?.state, "running", n);
    await until("web-1 reaching web-2", PING_TIMEOUT_MS, async () => /reached 10\.0\.0\.11/.test(await logs("web-1")));
    await until("web-2 reaching web-1", PING_TIMEOUT_MS, async () => /reached 10\.0\.0\.10/.test(await logs("web-2")));
    assert.doesNotMatch(await logs("web-1"), /Linux version/, "it went on from the snapshot, no boot");
  });

  test("refusals: the API's message through the CLI with its status, and the VM list unchanged", async () => {
    const before_ = await names();
    const cases: { args: string[]; body: Record<string, unknown>; status: number; exit?: number; re: RegExp }[] = [
      { args: ["--clones", "2", "--name", "web"], body: { clones: 2, name: "web" }, status: 409, re: /"web-1", "web-2" already exist/ },
      { args: ["--clones", "2", "--name", "db", "--net", "lan", "--ip", "10.0.0.11/24"], body: { clones: 2, name: "db", network: "lan", ip: "10.0.0.11/24" }, status: 409, re: /10\.0\.0\.11 is held by VM web-2 on network lan/ },
      { args: ["--clones", "10", "--name", "db", "--net", "lan", "--ip", "10.0.0.250/24"], body: { clones: 10, name: "db", network: "lan", ip: "10.0.0.250/24" }, status: 422, re: /run past the subnet 10\.0\.0\.0\/24/ },
      { args: ["--clones", "65", "--name", "db"], body: { clones: 65, name: "db" }, status: 422, re: /clones: 65 is more than 64/ },
      { args: ["--clones", "20", "--name", "db", "--net", "lan", "--ip", "10.0.1.10/24"], body: { clones: 20, name: "db", network: "lan", ip: "10.0.1.10/24" }, status: 507, exit: CLIENT_EXIT.NO_CAPACITY, re: /the VMs need 2560 MiB of host memory/ },
    ];
    for (const c of cases) {
      const api = await d.api("POST", "/vms/restore", { file, ...c.body });
      assert.equal(api.status, c.status, JSON.stringify(api.json));
      assert.match(String((api.json as { message: string }).message), c.re);
      assertApiError(await d.cli(["vm", "restore", file, ...c.args]), api, c.exit);
    }
    assert.deepEqual(await names(), before_);
  });

  test("destroying a clone frees its address: the next batch is given it (--json: the API's answer)", async () => {
    assert.equal((await d.cli(["vm", "stop", "web-2"])).status, 0);
    assert.equal((await d.cli(["vm", "rm", "web-2"])).status, 0);
    const r = await d.cli(["vm", "restore", file, "--clones", "1", "--name", "db", "--net", "lan", "--ip", "10.0.0.11/24", "--json"], { timeoutMs: CLONES_TIMEOUT_MS });
    assert.equal(r.status, 0, r.stderr);
    const b = JSON.parse(r.stdout) as CloneBatch;
    assert.deepEqual(b.clones.map((c) => [c.name, c.ip]), [["db-1", "10.0.0.11/24"]]);
    await until("db-1 reaching web-1", PING_TIMEOUT_MS, async () => /reached 10\.0\.0\.10/.test(await logs("db-1")));
  });
});
