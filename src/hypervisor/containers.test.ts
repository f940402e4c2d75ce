/**
 * Containers (issue 14; docs/containers.md): the host's checks without a guest, then one
 * real pv Linux guest (256 MiB, 1 vCPU, booted once for this file) as the container host:
 * lifecycle, isolation (processes, files, network, hostname), OOM kills reported as events,
 * CPU weights 2:1 on the saturated vCPU, limits changed while running, bad input. Every
 * check would fail if the mechanism under it were broken.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test, type TestContext } from "node:test";
import { defaultGuestDir } from "../control/args.js";
import { PV_DEFAULTS } from "../machine/pv.js";
import { Hypervisor } from "./hypervisor.js";
import type { MachineSpec } from "./machine-spec.js";
import type { Vm } from "./vm.js";
import { checkRun, ContainerError, ContainerHost, parseCpuMax, parseMem, parseStatus, shQuote, type ContainerEvent, type ContainerVm } from "./containers.js";
import { EXTENDED } from "../test-tier.js";

const MIB = 1024 * 1024;
const HOST = { name: "h", memBytes: 256 * MIB, cpus: 1 };
const TEST_MS = 150_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("containers, host-side checks", () => {
  test("limits: ranges and forms, each with a message naming the field", () => {
    assert.equal(parseCpuMax("50%", HOST), "50000/100000");
    assert.equal(parseCpuMax(25, HOST), "25000/100000");
    assert.equal(parseCpuMax("20000/50000", HOST), "20000/50000");
    assert.equal(parseCpuMax("max", HOST), "max");
    assert.equal(parseMem("32M", HOST), 32 * MIB);
    assert.equal(parseMem("64MiB", HOST), 64 * MIB);
    assert.equal(parseMem(4 * MIB, HOST), 4 * MIB);
    const bad: [object, RegExp][] = [
      [{ cmd: ["sh"], cpuWeight: 0 }, /cpuWeight 0 must be a whole number in 1\.\.10000/],
      [{ cmd: ["sh"], cpuWeight: 10001 }, /cpuWeight 10001/],
      [{ cmd: ["sh"], cpuWeight: 1.5 }, /cpuWeight 1\.5/],
      [{ cmd: ["sh"], memMax: "1M" }, /memMax 1 MiB is below the minimum of 4 MiB/],
      [{ cmd: ["sh"], memMax: "512M" }, /memMax 512 MiB is more than VM h's RAM \(256 MiB\)/],
      [{ cmd: ["sh"], memMax: "lots" }, /memMax "lots" is not a size/],
      [{ cmd: ["sh"], cpuMax: "0%" }, /cpuMax 0% is not in 1\.\.100%/],
      [{ cmd: ["sh"], cpuMax: 150 }, /cpuMax 150% is not in 1\.\.100% \(100% = one vCPU; VM h has 1\)/],
      [{ cmd: ["sh"], cpuMax: "500/100000" }, /cpuMax quota 500 µs is not in 1000\.\.100000/],
      [{ cmd: ["sh"], cpuMax: "5000/10" }, /cpuMax period 10 µs is not in 1000\.\.1000000/],
      [{ cmd: ["sh"], cpuMax: "half" }, /cpuMax "half" is not a percent/],
      [{ cmd: ["sh"], pidsMax: 0 }, /pidsMax 0 must be a whole number in 1\.\.65536/],
      [{ cmd: ["sh"], net: "eth0" }, /net "eth0" must be one of bridge, loopback, none/],
      [{ cmd: ["sh"], name: "Web_1" }, /container name "Web_1" must be 1-32 characters of \[a-z0-9-\]/],
      [{ cmd: ["sh"], name: "-x" }, /container name "-x"/],
      [{ cmd: ["sh"], name: "a".repeat(33) }, /container name "a{33}"/],
      [{ cmd: [] }, /cmd must be a non-empty list of strings/],
      [{ cmd: "ls -l" }, /cmd must be a non-empty list/],
      [{ cmd: ["ls", 3] }, /cmd\[1\] must be a string, not number/],
      [{ cmd: ["a\0b"] }, /cmd\[0\] holds a NUL byte/],
      [{ cmd: ["sh"], memory: "32M" }, /run options: unknown option 'memory'/],
      [{ cmd: ["sh"], devices: "/dev/vda" }, /devices must be a list of guest block device paths/],
      [{ cmd: ["sh"], devices: ["vda"] }, /devices\[0\] "vda" must be a path \/dev\/NAME with NAME of 1-32 characters of \[a-z0-9\]/],
      [{ cmd: ["sh"], devices: ["/dev/../etc/passwd"] }, /devices\[0\] "\/dev\/\.\.\/etc\/passwd" must be a path/],
      [{ cmd: ["sh"], devices: ["/dev/mapper/x"] }, /devices\[0\] "\/dev\/mapper\/x"/],
      [{ cmd: ["sh"], devices: ["/dev/vda", "/dev/vda"] }, /devices\[1\] \/dev\/vda is listed twice/],
      [{ cmd: ["sh"], devices: Array.from({ length: 9 }, (_, i) => `/dev/vd${i}`) }, /devices lists 9 devices; at most 8/],
    ];
    for (const [o, re] of bad) {
      assert.throws(() => checkRun(o as never, HOST), (e: unknown) => e instanceof ContainerError && e.usage && re.test(e.message), JSON.stringify(o));
    }
    assert.deepEqual(checkRun({ cmd: ["sh"], devices: ["/dev/vda", "/dev/vdb"] }, HOST).devices, ["/dev/vda", "/dev/vdb"]);
    assert.deepEqual(checkRun({ cmd: ["sh"] }, HOST).devices, []);
  });

  test("quoting: a word comes back from sh exactly as given", () => {
    assert.equal(shQuote("it's $(reboot) `x` \"y\"\n"), `'it'\\''s $(reboot) \`x\` "y"\n'`);
  });

  test("status lines from the guest: hostile ones are refused, not trusted", () => {
    const s = parseStatus("id=c1 state=exited exit=137 pid=- oom_kill=2 cpu_usec=10 mem_bytes=4096 cpu.weight=200 cpu.max=max/100000 memory.max=33554432 pids.max=max");
    assert.deepEqual([s?.id, s?.state, s?.exitStatus, s?.pid, s?.oomKills, s?.memMax, s?.pidsMax], ["c1", "exited", 137, null, 2, 32 * MIB, "max"]);
    const n = parseStatus("id=c2 state=running net=bridge ip=10.88.0.17");
    assert.deepEqual([n?.net, n?.ip], ["bridge", "10.88.0.17"]);
    for (const [net, ip] of [["bridge", "10.88.0.1"], ["wifi", "10.88.0.255"], ["-", "8.8.8.8"], ["loopback", "10.88.0.2;reboot"]]) {
      const h = parseStatus(`id=c3 state=running net=${net} ip=${ip}`);
      assert.deepEqual([h?.net, h?.ip], [net === "wifi" || net === "-" ? null : net, null], `${net} ${ip}: not an address the runtime hands out`);
    }
    for (const junk of ["", "garbage", "id=../../etc state=running", "id=c1 state=owned", "state=running"]) assert.equal(parseStatus(junk), null, junk);
    assert.equal(parseStatus("id=c1 state=running oom_kill=99999999999999999999")?.oomKills, 0);
  });

  /** A stand-in Vm: which checks attach makes before it asks the guest anything. */
  function fakeVm(over: Partial<ContainerVm>, spec: Partial<ContainerVm["spec"]> = {}): ContainerVm {
    return {
      name: "f",
      spec: { profile: "pv", memBytes: 128 * MIB, cpus: 1, ...spec },
      state: "running",
      agentReady: async () => true,
      agentExec: async () => ({ status: 0, output: "" }),
      ...over,
    };
  }

  test("a container host must be a running pv VM whose agent and runtime answer", async () => {
    await assert.rejects(ContainerHost.forVm(fakeVm({}, { profile: "full" })), /VM f is a full VM; containers need a pv guest/);
    await assert.rejects(ContainerHost.forVm(fakeVm({ state: "created" })), /VM f is created, not running/);
    await assert.rejects(ContainerHost.forVm(fakeVm({ agentReady: async () => false }), { agentReadyMs: 10 }), /the guest agent did not answer in 0\.01 s/);
    await assert.rejects(ContainerHost.forVm(fakeVm({ agentExec: async () => ({ status: 127, output: "sh: not found\n" }) })), /the guest image has no \/sbin\/paravm-container/);
    const h = await ContainerHost.forVm(fakeVm({ agentExec: async () => ({ status: 0, output: "id=../x state=running\n" }) }));
    await assert.rejects(h.ls(), /not a status line/);
  });

  test("a long poll the guest misses once does not lose the container; a stopped VM does (regression)", async () => {
    // Seen at load 10 with a memory hog beside it: one `wait` went unanswered and the
    // container, still running, was reported lost.
    const vm = fakeVm({});
    let waits = 0;
    const running = "id=c1 state=running exit=- pid=50 oom_kill=0\n";
    (vm as { agentExec: ContainerVm["agentExec"] }).agentExec = async (cmd) => {
      if (!cmd.includes("'wait'")) return { status: 0, output: cmd.includes("'ls'") ? "" : running };
      waits++;
      if (waits === 1) throw new Error("the agent did not answer in 50 s");
      return { status: 0, output: "id=c1 state=exited exit=7 pid=- oom_kill=0\n" };
    };
    const host = await ContainerHost.forVm(vm);
    const events: ContainerEvent[] = [];
    host.on("event", (e: ContainerEvent) => events.push(e));
    const c = await host.get("c1");
    assert.equal(await c.wait(), 7, "the exit after the missed poll is the container's");
    assert.equal(waits, 2);
    assert.deepEqual(events.map((e) => e.kind), ["exit"]);

    const stopped = fakeVm({});
    (stopped as { agentExec: ContainerVm["agentExec"] }).agentExec = async (cmd) => {
      if (cmd.includes("'wait'")) {
        (stopped as { state: string }).state = "stopped";
        throw new Error("the VM stopped");
      }
      return { status: 0, output: cmd.includes("'ls'") ? "" : running };
    };
    const host2 = await ContainerHost.forVm(stopped);
    const lost: ContainerEvent[] = [];
    host2.on("event", (e: ContainerEvent) => lost.push(e));
    const c2 = await host2.get("c1");
    await assert.rejects(c2.wait(), /lost track of it: the VM stopped/);
    assert.deepEqual(lost.map((e) => e.kind), ["lost"]);
  });
});

const dir = defaultGuestDir();
const skip = dir === null ? "no guest images in ~/.cache/paravm" : false;

function spec(): MachineSpec {
  return {
    profile: "pv",
    cpus: 1,
    memBytes: 256 * MIB,
    kernel: readFileSync(join(dir!, "Image")),
    initrd: readFileSync(join(dir!, "initramfs.cpio.gz")),
    bootargs: `${PV_DEFAULTS.BOOTARGS} quiet`,
    // The pristine image, copy-on-write (writes stay in host memory): /dev/vda for the devices test.
    disk: { path: join(dir!, "disk.ext2"), readonly: false, snapshot: true, cache: "writeback" },
  };
}

describe("containers in a real pv guest", { skip }, () => {
  let hv: Hypervisor;
  let vm: Vm;
  let host: ContainerHost;
  const events: ContainerEvent[] = [];
  /** A shell command in the guest's root namespace (not a container). */
  const guest = async (cmd: string): Promise<string> => (await vm.agentExec(cmd, { timeoutMs: 60_000 })).output;
  /** What the runtime left in the guest: directories, cgroups, mounts. */
  const leftovers = async (): Promise<string> =>
    (
      await guest(
        "ls /run/containers 2>/dev/null; ls /run/containers/.net/leases 2>/dev/null; for g in /sys/fs/cgroup/paravm/*/; do [ -d \"$g\" ] && echo \"$g\"; done; " +
          "grep /run/containers /proc/mounts; ip -o link | grep -o 'cveth[0-9]*'; ip route | grep 10.88",
      )
    ).trim();

  /** A test body that fails (rather than hangs) after TEST_MS, and then says what the runtime was last asked. */
  const traced =
    (fn: (t: TestContext) => Promise<void>) =>
    async (t: TestContext): Promise<void> => {
      let timer: NodeJS.Timeout | undefined;
      const stuck = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`stuck for ${TEST_MS / 1000} s`)), TEST_MS)));
      try {
        await Promise.race([fn(t), stuck]);
      } catch (e) {
        (e as Error).message += `\nlast runtime calls:\n${host.recent.join("\n")}`;
        throw e;
      } finally {
        clearTimeout(timer);
      }
    };

  before(async () => {
    hv = new Hypervisor({ pcpus: 1 });
    vm = hv.create({ name: "ch", spec: spec() });
    await assert.rejects(ContainerHost.attach(hv, "nope"), /container host: no VM named "nope"/);
    await vm.start();
    host = await ContainerHost.attach(hv, "ch");
    host.on("event", (e: ContainerEvent) => events.push(e));
  });
  after(async () => {
    host?.close();
    await hv?.close();
  });

  test("lifecycle: run → logs → exit status; ls; rm leaves nothing in the guest", traced(async (t) => {
    const avail = async (): Promise<number> => Number(/MemAvailable:\s+(\d+)/.exec(await guest("cat /proc/meminfo"))![1]) * 1024;
    const a0 = await avail();
    const t0 = performance.now();
    const c = await host.run({ name: "life", cmd: ["sh", "-c", "echo out; echo err >&2; echo \"$1\"; exit 3", "sh", "it's $(x) *"] });
    t.diagnostic(`run() to a started container: ${(performance.now() - t0).toFixed(0)} ms`);
    assert.equal(await c.wait(), 3);
    assert.equal(c.state, "exited");
    assert.equal(await c.logs(), "out\nerr\nit's $(x) *\n", "arguments arrive unexpanded, stdout and stderr logged");
    const ls = await host.ls();
    assert.deepEqual(ls.map((s) => [s.id, s.state, s.exitStatus, s.net, s.ip]), [["life", "exited", 3, "bridge", null]], "the default network; its address freed at the exit");
    t.diagnostic(`guest memory per (exited) container, root copy + log: ${((a0 - (await avail())) / MIB).toFixed(1)} MiB`);
    await c.rm();
    assert.deepEqual(await host.ls(), []);
    assert.equal(await leftovers(), "", "no directory, cgroup or mount left");
    assert.deepEqual(events.filter((e) => e.container === "life").map((e) => e.kind), ["start", "exit", "remove"]);
    await assert.rejects(c.logs(), /container life was removed/);
  }));

  test("an idle container's long poll forks nothing per turn (regression: a tenth of a host core per idle container)", traced(async () => {
    const c = await host.run({ name: "idle", cmd: ["sleep", "3600"] });
    // Forks in the guest (the `processes` line of /proc/stat) over a wait of SECS, while
    // the host's own monitor long-polls the same container beside it.
    const forksDuring = async (secs: number): Promise<number> => {
      const out = await guest(
        "p0=$(awk '/^processes/{print $2}' /proc/stat); " +
          `/sbin/paravm-container wait idle ${secs} >/dev/null; ` +
          "p1=$(awk '/^processes/{print $2}' /proc/stat); echo forks=$((p1 - p0))",
      );
      return Number(/forks=(\d+)/.exec(out)![1]);
    };
    const quick = await forksDuring(0);
    const long = await forksDuring(3);
    // 3 s is 10 turns of this wait (0.25 s, then 0.5 s) and as many of the monitor's: forking ones cost ≥ 20.
    assert.ok(long - quick <= 4, `a 3 s wait forked ${long} times against ${quick} for an immediate one`);
    await c.stop();
    await c.rm();
  }));

  test("isolation: processes, files, network, hostname", traced(async () => {
    const a = await host.run({ name: "iso-a", net: "loopback", cmd: ["sh", "-c", "echo secret > /tmp/a-file; mkdir /www; echo pong > /www/index.html; exec httpd -f -p 127.0.0.1:8080 -h /www"] });
    const b = await host.run({ name: "iso-b", net: "loopback", cmd: ["sleep", "600"] });
    try {
      const inB = async (...cmd: string[]): Promise<{ status: number; output: string }> => b.exec(cmd, { timeoutMs: 30_000 });
      // Processes: the guest sees both; b's ps and /proc show only b's own.
      const all = await guest("ps");
      assert.match(all, /httpd -f -p 127\.0\.0\.1:8080/, "a's server runs (seen from the guest)");
      const ps = (await inB("ps")).output;
      assert.doesNotMatch(ps, /httpd/);
      assert.match(ps, /^\s*1 root .*sleep 600$/m, "b's command is its PID 1");
      const pids = (await inB("ls", "/proc")).output.split("\n").filter((l) => /^\d+$/.test(l));
      assert.ok(pids.length <= 3 && pids.includes("1"), `b's /proc lists only its own processes: ${pids.join(" ")}`);
      // Files: a's file exists in a's root, not in b's.
      await sleep(500);
      assert.equal((await a.exec(["cat", "/tmp/a-file"])).output, "secret\n");
      const cat = await inB("cat", "/tmp/a-file");
      assert.notEqual(cat.status, 0);
      assert.match(cat.output, /No such file/);
      assert.equal((await inB("ls", "/run/containers")).status, 1, "the guest's container directories are not in b's root");
      // Network: only lo; a's loopback service answers in a, not in b.
      assert.notEqual((await inB("ls", "/sys/class/net")).status, 0, "no sysfs: the guest's devices are not listed");
      assert.match((await inB("ip", "-o", "link")).output, /^1: lo: [^\n]*\n?$/);
      assert.equal((await a.exec(["wget", "-q", "-O", "-", "http://127.0.0.1:8080/"])).output, "pong\n");
      const w = await inB("wget", "-q", "-T", "3", "-O", "-", "http://127.0.0.1:8080/");
      assert.notEqual(w.status, 0);
      assert.match(w.output, /Connection refused/);
      // Hostname: each its own; the guest's unchanged.
      assert.equal((await inB("hostname")).output, "iso-b\n");
      assert.equal((await a.exec(["hostname"])).output, "iso-a\n");
      assert.equal((await guest("hostname")).trim(), "paravm");
      // exec of a command that does not exist: 127, as docker.
      assert.deepEqual(await inB("no-such-program"), { status: 127, output: "'no-such-program': no such command in the container's root\n" });
    } finally {
      await a.rm();
      await b.rm();
    }
    assert.equal(await leftovers(), "");
  }));

  test("memory: over memory.max is OOM-killed and reported; memory.max lowered while running → OOM", { skip: EXTENDED }, traced(async () => {
    const c = await host.run({ name: "hog", memMax: "32M", cmd: ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"] });
    assert.equal(await c.wait(), 137, "killed by SIGKILL");
    const oom = events.find((e) => e.kind === "oom" && e.container === "hog");
    assert.equal(oom?.message, "container hog was killed by the kernel's OOM killer: memory.max 32 MiB");
    await c.rm();

    // dd holds a 24 MiB buffer while it blocks writing into a pipe nobody reads.
    const h = await host.run({ name: "holder", memMax: "64M", cmd: ["sh", "-c", "dd if=/dev/zero bs=24M count=1 | sleep 600"] });
    let st = await h.status();
    for (let i = 0; i < 60 && st.memBytes < 24 * MIB; i++) st = (await sleep(500), await h.status());
    assert.ok(st.memBytes >= 24 * MIB, `holder uses ${st.memBytes} bytes`);
    assert.equal(st.oomKills, 0);
    const oomSeen = new Promise<ContainerEvent>((r) => host.on("oom", (e: ContainerEvent) => e.container === "holder" && r(e)));
    await h.set({ memMax: "8M" });
    const e = await oomSeen;
    assert.match(e.message, /killed by the kernel's OOM killer: memory\.max 8 MiB/);
    assert.ok((await h.status()).memBytes <= 8 * MIB);
    await h.rm();
    assert.equal(await leftovers(), "");
  }));

  test("CPU: weights 2:1 on the saturated vCPU share 2:1; cpu.max lowered while running → usage falls", { skip: EXTENDED }, traced(async (t) => {
    const busy = ["sh", "-c", "while :; do :; done"];
    const a = await host.run({ name: "cpu-a", cpuWeight: 200, cmd: busy });
    const b = await host.run({ name: "cpu-b", cpuWeight: 100, cmd: busy });
    try {
      const usage = async (): Promise<Map<string, number>> => new Map((await host.ls()).map((s) => [s.id, s.cpuUsec]));
      const window = async (ms: number): Promise<{ a: number; b: number }> => {
        const u0 = await usage();
        const t0 = performance.now();
        await sleep(ms);
        const u1 = await usage();
        const dt = (performance.now() - t0) * 1000;
        return { a: (u1.get("cpu-a")! - u0.get("cpu-a")!) / dt, b: (u1.get("cpu-b")! - u0.get("cpu-b")!) / dt };
      };
      await sleep(1000);
      const w = await window(8000);
      t.diagnostic(`weights 200:100 → a ${(w.a * 100).toFixed(0)}%, b ${(w.b * 100).toFixed(0)}% of the vCPU (ratio ${(w.a / w.b).toFixed(2)})`);
      assert.ok(w.a / w.b > 1.5 && w.a / w.b < 2.6, `ratio ${(w.a / w.b).toFixed(2)} not in 1.5..2.6`);
      // The cap is in guest time, which runs at wall-clock rate: 5% holds however much of
      // the host the VM gets; the share a/(a+b) is compared, as the VM's own share varies.
      await a.set({ cpuMax: "5%" });
      const capped = await window(6000);
      const share = (x: { a: number; b: number }): number => x.a / (x.a + x.b);
      t.diagnostic(`a capped at 5% → a ${(capped.a * 100).toFixed(0)}%, b ${(capped.b * 100).toFixed(0)}% (a's share ${share(w).toFixed(2)} → ${share(capped).toFixed(2)})`);
      assert.ok(capped.a < 0.08, `a used ${(capped.a * 100).toFixed(1)}% of the time under a 5% cap`);
      assert.ok(share(capped) < 0.45 && share(capped) < share(w) - 0.2, `a's share fell: ${share(w).toFixed(2)} → ${share(capped).toFixed(2)}`);
    } finally {
      await a.rm();
      await b.rm();
    }
  }));

  test("network: bridge containers reach each other by address and by name; a loopback container reaches neither; each sees only its own interfaces", traced(async (t) => {
    const t0 = performance.now();
    const a = await host.run({ name: "net-a", net: "bridge", cmd: ["sh", "-c", "mkdir /www; echo from-a > /www/index.html; exec httpd -f -p 8080 -h /www"] });
    const tA = performance.now() - t0;
    const b = await host.run({ name: "net-b", cmd: ["sleep", "600"] });
    const t1 = performance.now();
    const c = await host.run({ name: "net-c", net: "loopback", cmd: ["sleep", "600"] });
    t.diagnostic(`run() to a started container: bridge ${tA.toFixed(0)} ms, loopback ${(performance.now() - t1).toFixed(0)} ms`);
    try {
      const ipA = a.last.ip;
      const ipB = b.last.ip;
      assert.match(ipA ?? "", /^10\.88\.0\.\d+$/, "a has an address (status line)");
      assert.match(ipB ?? "", /^10\.88\.0\.\d+$/, "b, started with the default net, has one too");
      assert.notEqual(ipA, ipB);
      assert.equal(c.last.ip, null, "a loopback container has no address");
      const get = ["wget", "-q", "-T", "5", "-O", "-"];
      // b reaches a's server by a's address, and by its name (b's /etc/hosts).
      let byIp = await b.exec([...get, `http://${ipA}:8080/`]);
      for (let i = 0; i < 10 && byIp.status !== 0; i++) byIp = (await sleep(500), await b.exec([...get, `http://${ipA}:8080/`]));
      assert.deepEqual(byIp, { status: 0, output: "from-a\n" }, "b gets a's page by address");
      assert.equal((await b.exec([...get, "http://net-a:8080/"])).output, "from-a\n", "and by name");
      assert.match((await b.exec(["cat", "/etc/hosts"])).output, new RegExp(`^${ipA!.replace(/\./g, "\\.")} net-a$`, "m"));
      // c, on loopback only, reaches neither the address nor the name.
      const fromC = await c.exec([...get, `http://${ipA}:8080/`]);
      assert.notEqual(fromC.status, 0);
      assert.match(fromC.output, /Network is unreachable/);
      assert.notEqual((await c.exec([...get, "http://net-a:8080/"])).status, 0, "c cannot resolve or reach a by name");
      // Each container sees only its own lo and eth0: not b's veth, not the guest's cveth ends.
      const links = async (x: typeof a): Promise<string[]> =>
        (await x.exec(["ip", "-o", "link"])).output.split("\n").filter((l) => l !== "").map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1] ?? l).sort();
      assert.deepEqual(await links(a), ["eth0", "lo"]);
      assert.deepEqual(await links(b), ["eth0", "lo"]);
      assert.deepEqual(await links(c), ["lo"]);
      const addrs = (await a.exec(["ip", "-o", "addr"])).output.match(/inet \S+/g);
      assert.deepEqual(addrs, ["inet 127.0.0.1/8", `inet ${ipA}/32`]);
      // The guest holds one cveth end per bridge container (the positive control for the checks above).
      const guestLinks = (await guest("ip -o link")).match(/cveth\d+/g) ?? [];
      assert.deepEqual(guestLinks.sort(), [`cveth${ipA!.split(".")[3]}`, `cveth${ipB!.split(".")[3]}`].sort());
      // The guest forwards only what comes in on a cveth end (not on its own NICs: all/forwarding
      // stays 0), and drops what arrives on one with another container's source address.
      const conf = await guest("cat /proc/sys/net/ipv4/conf/all/forwarding; for c in /proc/sys/net/ipv4/conf/cveth*; do echo $(cat $c/forwarding $c/rp_filter); done");
      assert.equal(conf, "0\n1 1\n1 1\n");
    } finally {
      await a.rm();
      await b.rm();
      await c.rm();
    }
    assert.equal(await leftovers(), "", "no veth, route, address lease, directory, cgroup or mount left");
  }));

  test("devices: a container given /dev/vda reads the guest's disk; one without it cannot see it; a bad device starts nothing", { skip: EXTENDED }, traced(async () => {
    // 64 KiB from the start of the disk as the guest reads it (ext2: the superblock is in there).
    const sum = "dd if=/dev/vda bs=4096 count=16 2>/dev/null | md5sum";
    const inGuest = (await guest(sum)).trim();
    const zeros = (await guest("dd if=/dev/zero bs=4096 count=16 2>/dev/null | md5sum")).trim();
    assert.match(inGuest, /^[0-9a-f]{32} /);
    assert.notEqual(inGuest, zeros, "the guest's disk holds data (the comparison below means something)");
    const withDev = await host.run({ name: "dev-a", devices: ["/dev/vda"], cmd: ["sleep", "600"] });
    const without = await host.run({ name: "dev-b", cmd: ["sleep", "600"] });
    try {
      assert.equal((await withDev.exec(["sh", "-c", sum])).output.trim(), inGuest, "the container reads the same bytes");
      assert.match((await withDev.exec(["ls", "-l", "/dev/vda"])).output, /^b/, "a block device node");
      const no = await without.exec(["dd", "if=/dev/vda", "bs=4096", "count=1"]);
      assert.notEqual(no.status, 0);
      assert.match(no.output, /No such file or directory/);
      assert.doesNotMatch((await without.exec(["ls", "/dev"])).output, /vd/);
    } finally {
      await withDev.rm();
      await without.rm();
    }
    for (const [dev, re] of [
      ["/dev/nosuch", /device '\/dev\/nosuch' is not a block device in the guest/],
      ["/dev/null", /device '\/dev\/null' is not a block device in the guest/],
    ] as const) {
      await assert.rejects(host.run({ name: "dev-bad", devices: [dev], cmd: ["true"] }), (e: unknown) => e instanceof ContainerError && e.status === 2 && e.usage && re.test(e.message));
    }
    assert.deepEqual(await host.ls(), []);
    assert.equal(await leftovers(), "");
  }));

  test("bad input: clear messages, nothing left behind", traced(async () => {
    await assert.rejects(host.run({ cmd: ["no-such-program", "x"], name: "nope" }), (e: unknown) => e instanceof ContainerError && e.status === 127 && /container nope: 'no-such-program': no such command in the container's root \(exit status 127\)/.test(e.message));
    await assert.rejects(host.run({ cmd: ["sh"], memMax: "1G" }), /memMax 1024 MiB is more than VM ch's RAM \(256 MiB\)/);
    await assert.rejects(host.run({ cmd: ["sh"], cpuWeight: 20000 }), /cpuWeight 20000 must be a whole number in 1\.\.10000/);
    const c = await host.run({ name: "dup", cmd: ["sleep", "600"] });
    try {
      await assert.rejects(host.run({ name: "dup", cmd: ["true"] }), /container dup already exists/);
      await assert.rejects(c.set({ cpuWeight: 0 }), /cpuWeight 0/);
      await assert.rejects(c.set({ cmd: ["x"] } as never), /set\(\): unknown option 'cmd'/);
      assert.equal((await c.status()).cpuWeight, 100, "a refused set changed nothing");
      assert.equal(await c.stop(1), 137, "sleep as PID 1 ignores SIGTERM: killed after the grace");
      await assert.rejects(c.exec(["true"]), /container dup: exec: container 'dup' is not running/);
    } finally {
      await c.rm();
    }
    assert.deepEqual(await host.ls(), []);
    assert.equal(await leftovers(), "");
  }));
});
