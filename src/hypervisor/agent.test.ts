/**
 * The guest agent (docs/agent.md): the host's line parser against a scripted (and a
 * hostile) agent, then a real pv Linux guest with max 2 / current 1 vCPUs whose CPUs are
 * brought online and offline through /sbin/paravm-agent, seen by the guest's `nproc` and
 * by the scheduler's figures for the second vCPU's thread.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { defaultGuestDir } from "../control/args.js";
import { PV_DEFAULTS } from "../machine/pv.js";
import { AgentClient, AgentError, AGENT, changeVcpus } from "./agent.js";
import { Hypervisor } from "./hypervisor.js";
import type { MachineSpec } from "./machine-spec.js";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const b64 = (s: string): string => Buffer.from(s).toString("base64");
const text = (b: Uint8Array): string => Buffer.from(b).toString("utf8");

/** A client wired to a list of the lines it sent. */
function client() {
  const sent: string[] = [];
  const c = new AgentClient((bytes) => sent.push(text(bytes)));
  return { c, sent };
}

describe("agent protocol, host side", () => {
  test("a request is `<id> <verb> <arg>`; `<id> ok <status> <base64>` answers it", async () => {
    const { c, sent } = client();
    const p = c.request("exec", b64("echo hi"));
    assert.equal(sent[0], `1 exec ${b64("echo hi")}\n`);
    c.receive(enc(`1 ok 3 ${b64("hi\n")}\n`));
    const a = await p;
    assert.equal(a.status, 3);
    assert.equal(text(a.output), "hi\n");
  });

  test("answers split across messages and several in one message, in any order", async () => {
    const { c } = client();
    const p1 = c.request("ping");
    const p2 = c.request("info");
    const whole = `2 ok 0 ${b64("online=1")}\n1 ok 0 ${b64("pong")}\n`;
    for (let i = 0; i < whole.length; i += 3) c.receive(enc(whole.slice(i, i + 3)));
    assert.equal(text((await p1).output), "pong");
    assert.equal(text((await p2).output), "online=1");
  });

  test("`<id> err <base64>` rejects that request with the agent's message", async () => {
    const { c } = client();
    const p = c.request("cpus", "9");
    c.receive(enc(`1 err ${b64("cpus: 9 is not in 1..2\n")}\n`));
    await assert.rejects(p, (e: unknown) => e instanceof AgentError && /cpus: 9 is not in 1\.\.2/.test(e.message));
  });

  test("no answer: the request fails after its timeout with a message that says what to check", async () => {
    const { c } = client();
    await assert.rejects(c.request("ping", undefined, 30), /did not answer 'ping' in 30 ms: is this the project's pv image/);
    assert.equal(c.stats.timeouts, 1);
    c.receive(enc(`1 ok 0 ${b64("late")}\n`));
    assert.equal(c.stats.unknownIds, 1, "a late answer is counted, not delivered");
  });

  test("hostile lines are counted and dropped; a pending request still gets its real answer", async () => {
    const { c } = client();
    const p = c.request("ping");
    const junk = ["", "garbage", "1", "1 ok", "1 ok x Zm9v", "1 ok 0 not*base64", "1 ok 0 Zm9", "1 maybe 0 Zm9v", "-1 ok 0 Zm9v", "99999999999 ok 0", "1 ok 1234 Zm9v", "\u0000\u00ff\u0001"];
    for (const j of junk) c.receive(enc(`${j}\n`));
    c.receive(new Uint8Array([0xff, 0xfe, 0x0a, 0x00, 0x0a]));
    assert.equal(c.stats.badLines, junk.length + 2);
    c.receive(enc("7 ok 0 Zm9v\n"));
    assert.equal(c.stats.unknownIds, 1);
    c.receive(enc(`1 ok 0 ${b64("pong")}\n`));
    assert.equal(text((await p).output), "pong");
  });

  test("a line longer than LINE_LIMIT is dropped without being held, and fails its request", async () => {
    const { c } = client();
    const p = c.request("exec", b64("yes"));
    const chunk = enc("A".repeat(1 << 16));
    c.receive(enc("1 ok 0 "));
    for (let sent = 0; sent <= AGENT.LINE_LIMIT; sent += chunk.length) c.receive(chunk);
    c.receive(enc("AAAA\n"));
    await assert.rejects(p, /longer than/);
    assert.equal(c.stats.overlong, 1);
    // The next line parses normally.
    const q = c.request("ping");
    c.receive(enc(`2 ok 0 ${b64("pong")}\n`));
    assert.equal(text((await q).output), "pong");
  });

  test("the hello (id 0) marks the agent ready; bad verbs and arguments never reach the guest", async () => {
    const { c, sent } = client();
    const ready = c.ready(1000);
    c.receive(enc(`0 ok 0 ${b64("paravm-agent 1")}\n`));
    assert.equal(await ready, true);
    assert.equal(c.hello, "paravm-agent 1");
    await assert.rejects(c.request("exec", "a b\nc"), AgentError);
    await assert.rejects(c.request("Exec; reboot"), AgentError);
    assert.equal(sent.length, 0);
  });

  test("close() fails every pending request with the reason", async () => {
    const { c } = client();
    const p = c.request("ping");
    c.close("the VM stopped");
    await assert.rejects(p, /ping': the VM stopped/);
  });

  test("changeVcpus rolls back when the guest reports another count, and says so", async () => {
    const { c, sent } = client();
    const hsm = [0, 1];
    const p = changeVcpus({ name: "t", agent: c, hsm: () => hsm }, 1, 2, 1000);
    assert.equal(sent[0], "1 cpus 2\n");
    c.receive(enc(`1 ok 0 ${b64("1")}\n`));
    await new Promise((r) => setImmediate(r));
    assert.equal(sent[1], "2 cpus 1\n");
    c.receive(enc(`2 ok 0 ${b64("1")}\n`));
    await assert.rejects(p, /vCPUs 1 → 2 failed: the guest reported 1 online; rolled back to 1/);
  });
});

const dir = defaultGuestDir();
const skip = dir === null ? "no guest images in ~/.cache/paravm" : false;

/** An interactive pv guest (the agent runs beside the console shell): `max` harts, `online` online. */
function spec(online: number, max: number): MachineSpec {
  return {
    profile: "pv",
    cpus: max,
    onlineCpus: online,
    memBytes: 128 * 1024 * 1024,
    kernel: readFileSync(join(dir!, "Image")),
    initrd: readFileSync(join(dir!, "initramfs.cpio.gz")),
    bootargs: `${PV_DEFAULTS.BOOTARGS} quiet`,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("guest agent on real Linux (pv)", { skip }, () => {
  test("vCPUs 1 of 2 → 2 → 1 live: nproc follows, the offlined vCPU's thread goes idle; bad input changes nothing; exec", async (t) => {
    const hv = new Hypervisor({ pcpus: 1 });
    try {
      const vm = hv.create({ name: "ag", spec: spec(1, 2) });
      await assert.rejects(vm.setVcpus(2), /setVcpus\(2\): VM ag is created, not running/);
      await vm.start();
      assert.equal(await vm.agentReady(180_000), true, "the agent said hello");
      assert.deepEqual(vm.vcpus, { online: 1, max: 2 });
      const nproc = async (): Promise<string> => (await vm.agentExec("nproc", { timeoutMs: 30_000 })).output.trim();
      assert.equal(await nproc(), "1");

      // The second vCPU was never started: its thread has used (almost) no host CPU.
      const idle0 = hv.schedStats("ag")!.vcpus[1]!;
      assert.ok(idle0.cpuMs < 50, `vCPU 1 before it was online: ${idle0.cpuMs} ms of host CPU`);

      let t0 = performance.now();
      await vm.agentExec("true", { timeoutMs: 30_000 });
      t.diagnostic(`agentExec("true") round trip: ${(performance.now() - t0).toFixed(0)} ms`);
      t0 = performance.now();
      await vm.setVcpus(2, { timeoutMs: 60_000 });
      t.diagnostic(`setVcpus(1 → 2): ${(performance.now() - t0).toFixed(0)} ms`);
      assert.deepEqual(vm.vcpus, { online: 2, max: 2 });
      assert.equal(await nproc(), "2");
      // A busy loop pinned to CPU 1 makes the second vCPU retire instructions.
      await vm.agentExec("taskset 2 sh -c 'i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done'", { timeoutMs: 60_000 });
      const busy = hv.schedStats("ag")!.vcpus[1]!;
      assert.ok(busy.cpuMs - idle0.cpuMs > 20, `vCPU 1 ran once online: ${busy.cpuMs} ms of host CPU`);

      // Bad input: a clear error, nothing changed.
      for (const bad of [0, 3, 1.5, Number.NaN, "2" as unknown as number]) {
        await assert.rejects(vm.setVcpus(bad), /takes a whole number of vCPUs from 1 to 2/);
      }
      assert.deepEqual(vm.vcpus, { online: 2, max: 2 });
      assert.equal(await nproc(), "2");

      t0 = performance.now();
      await vm.setVcpus(1, { timeoutMs: 60_000 });
      t.diagnostic(`setVcpus(2 → 1): ${(performance.now() - t0).toFixed(0)} ms`);
      assert.deepEqual(vm.vcpus, { online: 1, max: 2 });
      assert.equal(await nproc(), "1");
      // Offline: its thread is parked, the scheduler sees it idle, it takes no host CPU.
      const off0 = hv.schedStats("ag")!.vcpus[1]!;
      await sleep(1500);
      const off1 = hv.schedStats("ag")!.vcpus[1]!;
      assert.ok(off1.cpuMs - off0.cpuMs < 15, `offline vCPU 1 used ${(off1.cpuMs - off0.cpuMs).toFixed(1)} ms of host CPU in 1.5 s`);
      assert.equal(off1.state, "idle", "the scheduler does not count the offline vCPU as runnable");
      assert.ok(off1.idleMs - off0.idleMs > 1000, `offline vCPU 1 idle ${(off1.idleMs - off0.idleMs).toFixed(0)} ms of 1.5 s`);

      const r = await vm.agentExec("echo hi; exit 3", { timeoutMs: 30_000 });
      assert.deepEqual(r, { status: 3, output: "hi\n" });
      await vm.pause();
      await assert.rejects(vm.setVcpus(2), /VM ag is paused, not running/);
      assert.deepEqual(vm.vcpus, { online: 1, max: 2 });
      vm.resume();
    } finally {
      await hv.close();
    }
  });
});
