/**
 * `paravm serve` as a user runs it, with a real pv guest: created and started over REST,
 * its console read and typed into over WebSockets (a late viewer gets the scroll-back),
 * 409s on a running VM, paused/resumed/stopped, /metrics with its series; then the daemon
 * is killed with SIGKILL and started again on the same state directory: the same VMs are
 * listed, stopped, their disk files intact; SIGTERM then ends it with status 0.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, test } from "node:test";
import WebSocket from "ws";
import { diskFile, noGuest, tempDir, until } from "./testkit.js";

const root = fileURLToPath(new URL("../../../../", import.meta.url));
const bin = join(root, "bin", "paravm.js");
const tmp = tempDir("paravm-daemon-");
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  tmp.done();
});
const BOOT_MS = 120_000;

async function serve(stateDir: string): Promise<{ child: ChildProcess; base: string; stderr: () => string }> {
  const child = spawn(process.execPath, [bin, "serve", "--listen", "127.0.0.1:0", "--state-dir", stateDir, "--host-mem", "512M", "--pcpus", "2"], { stdio: ["ignore", "ignore", "pipe"] });
  children.push(child);
  let err = "";
  child.stderr!.on("data", (b: Buffer) => (err += b.toString()));
  const port = await until("the daemon to listen", 30_000, () => /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(err)?.[1]);
  return { child, base: `127.0.0.1:${port}`, stderr: () => err };
}

async function call(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const r = await fetch(`http://${base}/api/v1${path}`, { method, ...(body !== undefined ? { headers: { "content-type": "application/json" }, body: JSON.stringify(body) } : {}) });
  const text = await r.text();
  return { status: r.status, body: text === "" ? null : r.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text };
}

/** A console viewer: everything it received, as text. */
function viewer(base: string, name: string): Promise<{ ws: WebSocket; text: () => string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${base}/api/v1/vms/${name}/console`);
    let got = "";
    ws.on("message", (d: Buffer) => (got += d.toString("latin1")));
    ws.on("open", () => resolve({ ws, text: () => got }));
    ws.on("error", reject);
  });
}

test("a real guest through the daemon, then SIGKILL and a restart with the state kept", { skip: noGuest, timeout: 300_000 }, async () => {
  const stateDir = join(tmp.dir, "state");
  const disk = diskFile(tmp.dir, "data.img", 2048, 0x3c);
  const diskBefore = readFileSync(disk);
  const d1 = await serve(stateDir);

  let r = await call(d1.base, "POST", "/vms", { name: "keep", mem: "64M", disks: [{ path: disk }] });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  r = await call(d1.base, "POST", "/vms", { name: "g", mem: "64M", start: true });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.state, "running");

  const early = await viewer(d1.base, "g");
  await until("the guest's shell prompt", BOOT_MS, () => /g:[^\n]*# $/.test(early.text()));
  early.ws.send("echo pa$((40+2))vm\n");
  await until("the command's output", 30_000, () => /\npa42vm\r?\n/.test(early.text()));
  assert.match(early.text(), /echo pa\$\(\(40\+2\)\)vm/, "the typed command is echoed");

  const late = await viewer(d1.base, "g");
  await until("the scroll-back for a late viewer", 10_000, () => late.text().includes("pa42vm"));
  assert.match(late.text(), /Linux version 6\./, "the scroll-back starts with the boot");
  const text = await call(d1.base, "GET", "/vms/g/console?bytes=200");
  assert.ok(String(text.body).includes("pa42vm"), String(text.body));

  assert.equal((await call(d1.base, "POST", "/vms/g/start")).status, 409);
  assert.equal((await call(d1.base, "DELETE", "/vms/g")).status, 409);
  r = await call(d1.base, "POST", "/vms/g/pause");
  assert.equal(r.body.state, "paused");
  r = await call(d1.base, "POST", "/vms/g/resume");
  assert.equal(r.body.state, "running");
  const metrics = await (await fetch(`http://${d1.base}/metrics`)).text();
  assert.match(metrics, /^paravm_vm_cpu_seconds_total\{vm="g"\} [0-9.e+-]+$/m);
  assert.match(metrics, /^paravm_vcpu_cpu_seconds_total\{vm="g",vcpu="0"\} /m);
  assert.match(metrics, /^paravm_vm_state\{vm="g",state="running"\} 1$/m);
  r = await call(d1.base, "POST", "/vms/g/stop");
  assert.equal(r.body.state, "stopped");
  const events = (await call(d1.base, "GET", "/events")).body as { type: string; vm: string; state?: string }[];
  assert.deepEqual(events.filter((e) => e.vm === "g" && e.type === "state").map((e) => e.state), ["running", "paused", "running", "stopped"]);
  early.ws.close();
  late.ws.close();

  // Start it again and kill the daemon under it.
  assert.equal((await call(d1.base, "POST", "/vms/g/start")).body.state, "running");
  d1.child.kill("SIGKILL");
  await new Promise((res) => d1.child.once("exit", res));

  const d2 = await serve(stateDir);
  const list = (await call(d2.base, "GET", "/vms")).body as { name: string; state: string }[];
  assert.deepEqual(list.map((v) => [v.name, v.state]), [["keep", "stopped"], ["g", "stopped"]]);
  assert.ok(readFileSync(disk).equals(diskBefore), "the disk file is intact");
  d2.child.kill("SIGTERM");
  const code = await new Promise((res) => d2.child.once("exit", res));
  assert.equal(code, 0, d2.stderr());
  assert.match(d2.stderr(), /paravm: stopped/);
});
