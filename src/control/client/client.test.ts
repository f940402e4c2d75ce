/**
 * The client against a real `paravm serve` (a child on a free loopback port, with a
 * token and a temporary state directory) and a real 64 MiB pv guest: create, ls, start,
 * logs, console (a typed command and its output), set, pause, resume, top, stop, rm, fleet
 * apply; --json parses; every refusal prints the API's own message with a non-zero status.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { defaultGuestDir } from "../args.js";
import { CLIENT_EXIT } from "./commands.js";
import { Daemon, PARAVM_BIN, type CliResult } from "./daemon-harness.js";
import type { VmView } from "./format.js";

const noGuest = defaultGuestDir() === null ? "guest images are not built (node scripts/build-guests.mjs)" : false;
const noTmux = spawnSync("tmux", ["-V"]).error !== undefined ? "tmux is not installed (node scripts/setup.mjs installs it)" : false;
const BOOT_TIMEOUT_MS = 120_000;
const VM = "t1";

/** The one line on stderr, which must be the API's message for the same request. */
function assertApiError(r: CliResult, apiMessage: unknown, status: number = CLIENT_EXIT.API_ERROR): void {
  assert.equal(r.status, status, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
  const lines = r.stderr.split("\n").filter((l) => l !== "" && !l.startsWith("  "));
  assert.equal(lines.length, 1, r.stderr);
  assert.equal(typeof apiMessage, "string");
  assert.equal(lines[0], `paravm: error: ${apiMessage as string}`);
}

const messageOf = (json: unknown): unknown => (json as { message?: unknown } | null)?.message;

async function until<T>(what: string, ms: number, probe: () => Promise<T | null | undefined | false>): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe("paravm vm … against paravm serve", { skip: noGuest }, () => {
  let d: Daemon;
  before(async () => {
    d = await Daemon.start();
  });
  after(async () => {
    await d?.stop();
  });

  test("create (--json parses), ls as a table and as JSON", async () => {
    const c = await d.cli(["vm", "create", VM, "--mem", "64M", "--weight", "300", "--json"]);
    assert.equal(c.status, 0, c.stderr);
    const v = JSON.parse(c.stdout) as VmView;
    assert.equal(v.name, VM);
    assert.equal(v.settings.weight, 300);
    assert.equal(v.entry.mem, 64 * 1024 * 1024);
    const ls = await d.cli(["vm", "ls"]);
    assert.equal(ls.status, 0, ls.stderr);
    const [head, row] = ls.stdout.trimEnd().split("\n");
    assert.match(head!, /^NAME\s+STATE\s+PROFILE\s+VCPUS\s+MEM/);
    assert.match(row!, new RegExp(`^${VM}\\s+${v.state}\\s+pv\\s+1/1\\s+64M\\s+-\\s+300\\s`));
    const lsj = await d.cli(["vm", "ls", "--json"]);
    assert.deepEqual((JSON.parse(lsj.stdout) as VmView[]).map((x) => x.name), [VM]);
  });

  test("create refusals: a name in use (409), values out of range (422) with their problems", async () => {
    const again = { name: VM, mem: 64 * 1024 * 1024 };
    assertApiError(await d.cli(["vm", "create", VM, "--mem", "64M"]), messageOf((await d.api("POST", "/vms", again)).json));
    const bad = await d.cli(["vm", "create", "t2", "--mem", "64M", "--mem-target", "4M"]);
    const api = await d.api("POST", "/vms", { name: "t2", mem: 64 * 1024 * 1024, "mem-target": 4 * 1024 * 1024 });
    assert.equal(api.status, 422);
    assertApiError(bad, messageOf(api.json));
  });

  test("start, then logs shows the boot and console runs a typed command", async () => {
    const s = await d.cli(["vm", "start", VM]);
    assert.equal(s.status, 0, s.stderr);
    assert.match(s.stdout, new RegExp(`^${VM}: running`));
    // A shell prompt in the scroll-back: the guest is up.
    const boot = await until("the guest's shell prompt", BOOT_TIMEOUT_MS, async () => {
      const l = await d.cli(["vm", "logs", VM]);
      return l.status === 0 && /# $/m.test(l.stdout) ? l.stdout : null;
    });
    assert.match(boot, /Linux version/);
    const con = await d.cli(["vm", "console", VM], { input: "echo client-$((6*7))\n" });
    assert.equal(con.status, 0, con.stderr);
    assert.match(con.stdout, /client-42/);
    const tail = await d.cli(["vm", "logs", VM, "--bytes", "4096"]);
    assert.match(tail.stdout, /client-42/);
  });

  test("logs --follow streams what the console types", async () => {
    const follow = d.cli(["vm", "logs", VM, "--follow"], { timeoutMs: 30_000, stopWhen: /follow-25/ });
    await new Promise((r) => setTimeout(r, 1000));
    const con = await d.cli(["vm", "console", VM], { input: "echo follow-$((5*5))\n" });
    assert.equal(con.status, 0, con.stderr);
    const f = await follow;
    assert.match(f.stdout, /follow-25/);
    assert.equal(f.status, 0, `SIGTERM ends --follow cleanly: ${f.stderr}`);
  });

  test("set: applied and shown; out of range is the API's 422; an unknown VM its 404", async () => {
    const s = await d.cli(["vm", "set", VM, "--weight", "512", "--cap", "50"]);
    assert.equal(s.status, 0, s.stderr);
    assert.match(s.stdout, /weight 512, cap 50%/);
    assertApiError(await d.cli(["vm", "set", VM, "--weight", "0"]), messageOf((await d.api("PATCH", `/vms/${VM}`, { weight: 0 })).json));
    const after = JSON.parse((await d.cli(["vm", "ls", "--json"])).stdout) as VmView[];
    assert.equal(after[0]!.settings.weight, 512, "a refused set changed nothing");
    assertApiError(await d.cli(["vm", "set", "nope", "--weight", "10"]), messageOf((await d.api("PATCH", "/vms/nope", { weight: 10 })).json));
    assertApiError(await d.cli(["vm", "start", "nope"]), messageOf((await d.api("POST", "/vms/nope/start")).json));
    assertApiError(await d.cli(["vm", "console", "nope"]), messageOf((await d.api("GET", "/vms/nope")).json));
  });

  test("conflicts: start a running VM, remove a running VM (409)", async () => {
    assertApiError(await d.cli(["vm", "start", VM]), messageOf((await d.api("POST", `/vms/${VM}/start`)).json));
    assertApiError(await d.cli(["vm", "rm", VM]), messageOf((await d.api("DELETE", `/vms/${VM}`)).json));
  });

  test("pause and resume; top shows the VM once a second", async () => {
    const p = await d.cli(["vm", "pause", VM, "--json"]);
    assert.equal(p.status, 0, p.stderr);
    assert.equal((JSON.parse(p.stdout) as VmView).state, "paused");
    const r = await d.cli(["vm", "resume", VM]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^${VM}: running`));
    const top = await d.cli(["vm", "top", "--json", "--count", "2"], { timeoutMs: 15_000 });
    assert.equal(top.status, 0, top.stderr);
    const lines = top.stdout.trim().split("\n").map((l) => JSON.parse(l) as { vm: string; state: string });
    assert.equal(lines.length, 2);
    assert.ok(lines.every((m) => m.vm === VM && m.state === "running"), top.stdout);
    const plain = await d.cli(["vm", "top", "--count", "1"], { timeoutMs: 15_000 });
    assert.match(plain.stdout, new RegExp(`${VM}: running, vcpus 1/1, cpu`));
  });

  test("in a terminal (tmux): console in raw mode, Ctrl-A X detaches; top draws the table, q quits", { skip: noTmux }, async () => {
    // One tmux server per session: a new session on a server that kill-server is still
    // tearing down fails (exit 1, seen in CI), so the second session gets its own socket.
    let socket = `paravm-client-${process.pid}-console`;
    const sockets = [socket];
    const tmux = (...args: string[]) => spawnSync("tmux", ["-L", socket, ...args], { encoding: "utf8" });
    const pane = (): string => tmux("capture-pane", "-p", "-t", "c").stdout;
    const status = join(d.dir, "tmux-status");
    const run = (args: string): string => `PARAVM_TOKEN=${d.token} ${process.execPath} ${PARAVM_BIN} ${args} --host ${d.url}; echo $? > ${status}; sleep 60`;
    const exitStatus = (): Promise<string> => until("the command to exit", 20_000, async () => existsSync(status) && readFileSync(status, "utf8").trim());
    try {
      assert.equal(tmux("new-session", "-d", "-s", "c", "-x", "160", "-y", "30", run(`vm console ${VM}`)).status, 0, "tmux new-session for the console");
      // The scroll-back comes after the "attached" line and pushes it off the screen: wait for the prompt.
      await until("the prompt", 20_000, async () => /^t1:~#\s*$/m.test(pane())); // capture-pane drops trailing blanks
      tmux("send-keys", "-t", "c", "echo tty-$((3*3))", "Enter");
      await until("the command's output", 20_000, async () => /^tty-9\s*$/m.test(pane()));
      tmux("send-keys", "-t", "c", "C-a", "x");
      assert.equal(await exitStatus(), "0");
      assert.match(pane(), /detached from t1/);
      tmux("kill-server");
      rmSync(status, { force: true });
      socket = `paravm-client-${process.pid}-top`;
      sockets.push(socket);
      const top = tmux("new-session", "-d", "-s", "c", "-x", "160", "-y", "30", run("vm top"));
      assert.equal(top.status, 0, top.stderr);
      await until("the table", 20_000, async () => new RegExp(`^ +1 +${VM} +running +1/1 `, "m").test(pane()));
      assert.match(pane(), /#  NAME +STATE +VCPU +CPU% +ENT% +STEAL%/);
      tmux("send-keys", "-t", "c", "q");
      assert.equal(await exitStatus(), "0");
    } finally {
      for (const s of sockets) spawnSync("tmux", ["-L", s, "kill-server"]);
    }
  });

  test("a wrong or missing token: the API's 401 message, nothing else", async () => {
    const wrong = await d.cli(["vm", "ls"], { env: { PARAVM_TOKEN: "not-the-token" } });
    const api = await fetch(`${d.url}/api/v1/vms`, { headers: { authorization: "Bearer not-the-token" } });
    assert.equal(api.status, 401);
    assertApiError(wrong, messageOf(await api.json()));
    const none = await d.cli(["vm", "console", VM], { env: { PARAVM_TOKEN: "" } });
    assert.equal(none.status, CLIENT_EXIT.API_ERROR, none.stderr);
    assert.match(none.stderr, /^paravm: error: .+\n$/);
    assert.equal(wrong.stdout, "");
  });

  test("stop and rm; the list is empty again", async () => {
    const s = await d.cli(["vm", "stop", VM]);
    assert.equal(s.status, 0, s.stderr);
    assert.match(s.stdout, new RegExp(`^${VM}: stopped`));
    const rm = await d.cli(["vm", "rm", VM, "--json"]);
    assert.equal(rm.status, 0, rm.stderr);
    assert.deepEqual(JSON.parse(rm.stdout), { name: VM, removed: true });
    assert.deepEqual(JSON.parse((await d.cli(["vm", "ls", "--json"])).stdout), []);
    assert.match((await d.cli(["vm", "ls"])).stdout, /^no VMs/);
  });

  test("fleet apply: --no-start creates what is new; applied again, leaves it alone and starts it", async () => {
    const file = join(d.dir, "fleet.yaml");
    writeFileSync(file, 'vms:\n  - { name: f1, mem: 64M, exec: "echo fleet-ok" }\n');
    const a = await d.cli(["fleet", "apply", file, "--no-start", "--json"]);
    assert.equal(a.status, 0, a.stderr);
    const r = JSON.parse(a.stdout) as { created: string[]; started: string[] };
    assert.deepEqual([r.created, r.started], [["f1"], []]);
    assert.equal((JSON.parse((await d.cli(["vm", "ls", "--json"])).stdout) as VmView[])[0]!.state, "created");
    const b = await d.cli(["fleet", "apply", file]);
    assert.equal(b.status, 0, b.stderr);
    assert.equal(b.stdout, "created: none\nreplaced: none\nupdated: none\nunchanged: f1\nstarted: f1\n");
    await until("f1's command to run", BOOT_TIMEOUT_MS, async () => /fleet-ok/.test((await d.cli(["vm", "logs", "f1"])).stdout));
    // A fleet file that does not check: the API's own refusal, word for word.
    writeFileSync(file, "vms:\n  - { name: f2, mem: 12Q }\n");
    const api = await d.api("POST", "/fleet", { vms: [{ name: "f2", mem: "12Q" }] });
    assert.ok(api.status >= 400, JSON.stringify(api));
    assertApiError(await d.cli(["fleet", "apply", file]), messageOf(api.json));
  });
});

describe("paravm vm … over a Unix socket (paravm serve --socket, no token, a 128 MiB budget)", () => {
  let d: Daemon;
  before(async () => {
    d = await Daemon.start({ socket: true, extraArgs: ["--host-mem", "128M"] });
  });
  after(async () => {
    await d?.stop();
  });

  test("REST and the console WebSocket reach the daemon through unix:PATH", async () => {
    const c = await d.cli(["vm", "create", "s1", "--mem", "64M", "--host", d.url], { env: { PARAVM_HOST: "", PARAVM_TOKEN: "" } });
    assert.equal(c.status, 0, c.stderr);
    const ls = await d.cli(["vm", "ls", "--json"], { env: { PARAVM_TOKEN: "" } });
    assert.deepEqual((JSON.parse(ls.stdout) as VmView[]).map((v) => v.name), ["s1"]);
    // Attached and detached again (no input, nothing printed by a VM not started): exit 0.
    const con = await d.cli(["vm", "console", "s1"], { env: { PARAVM_TOKEN: "" } });
    assert.equal(con.status, 0, con.stderr);
    const gone = await d.cli(["vm", "console", "s2"], { env: { PARAVM_TOKEN: "" } });
    assert.equal(gone.status, CLIENT_EXIT.API_ERROR);
    assert.match(gone.stderr, /^paravm: error: no VM named "s2"\n$/);
    assert.equal((await d.cli(["vm", "rm", "s1"])).status, 0);
  });

  test("a VM the memory budget cannot admit: the API's 507 message, exit 3", async () => {
    const r = await d.cli(["vm", "create", "big", "--mem", "1G", "--start"], { env: { PARAVM_TOKEN: "" } });
    assert.equal(r.status, CLIENT_EXIT.NO_CAPACITY, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /^paravm: error: .*(budget|MiB).*\n$/);
  });
});
