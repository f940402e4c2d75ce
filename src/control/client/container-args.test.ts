/**
 * `paravm container …` without a daemon: options into API bodies, the checks that name
 * the option (exit 2 before anything is asked), the ls table and the one-line view.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { InvalidArgumentError } from "commander";
import { CONTAINER, NET_DEFAULT } from "../../hypervisor/container-limits.js";
import { UsageError } from "../args.js";
import { mainAsync } from "../cli.js";
import { checkHostVm, collectDevice, parseCpus, parseCpuWeight, parseMemMax, parseName, parseNet, parsePidsMax, runBody, setBody } from "./container-args.js";
import { commandText, containerEventLine, containerLine, containerTable, cpusOf, type ContainerView } from "./container-format.js";

const MIB = 1024 * 1024;

function view(over: Partial<ContainerView> = {}): ContainerView {
  return {
    name: "web",
    host: "containers",
    state: "running",
    exitStatus: null,
    pid: 120,
    cmd: ["sh", "-c", "echo hi; sleep 9"],
    net: "loopback",
    devices: [],
    ip: null,
    limits: { cpuWeight: 200, cpuMax: "150000/100000", memMax: 32 * MIB, pidsMax: 64 },
    usage: { cpuSeconds: 1.24, memBytes: 300 * 1024 },
    oomKills: 0,
    oomMessage: null,
    lostReason: null,
    createdAt: 0,
    updatedAt: 0,
    ...over,
  };
}

describe("container options", () => {
  test("each value's form and the host-independent ranges, from the library's constants", () => {
    assert.equal(parseCpus("1.5"), "150%");
    assert.equal(parseCpus("0.07"), "7%");
    assert.equal(parseCpus("2"), "200%");
    assert.equal(parseCpuWeight(String(CONTAINER.WEIGHT_MAX)), CONTAINER.WEIGHT_MAX);
    assert.equal(parseMemMax("32M"), 32 * MIB);
    assert.equal(parseMemMax("64MiB"), 64 * MIB);
    assert.equal(parseMemMax("4194304"), CONTAINER.MEM_MIN_BYTES);
    assert.equal(parseMemMax("max"), "max");
    assert.equal(parsePidsMax("1"), 1);
    assert.equal(parseNet("none"), "none");
    assert.equal(parseName("web-1"), "web-1");
    const bad: [() => unknown, RegExp][] = [
      [() => parseCpus("0"), /at least 0\.01/],
      [() => parseCpus("1,5"), /expected a number of vCPUs/],
      [() => parseCpuWeight("0"), /whole number in 1\.\.10000/],
      [() => parseCpuWeight("10001"), /whole number in 1\.\.10000/],
      [() => parseCpuWeight("2.5"), /whole number/],
      [() => parseMemMax("1K"), /below the minimum of 4 MiB/],
      [() => parseMemMax("lots"), /expected a size/],
      [() => parsePidsMax("65537"), /1\.\.65536/],
      [() => parseNet("eth0"), /must be one of .*loopback/],
      [() => parseName("Web_1"), /\[a-z0-9-\]/],
      [() => collectDevice("dev/fuse", undefined), /absolute path/],
    ];
    for (const [f, re] of bad) assert.throws(f, (e: unknown) => e instanceof InvalidArgumentError && re.test(e.message), String(f));
  });

  test("run and set bodies carry only what was given", () => {
    assert.deepEqual(runBody(["sleep", "9"], {}), { cmd: ["sleep", "9"] });
    assert.deepEqual(runBody(["sh"], { host: "h1", name: "a", cpus: "50%", cpuWeight: 7, memMax: 8 * MIB, pidsMax: 9, net: "none", device: collectDevice("/dev/fuse", collectDevice("/dev/null", undefined)) }), {
      host: "h1",
      name: "a",
      cmd: ["sh"],
      cpuMax: "50%",
      cpuWeight: 7,
      memMax: 8 * MIB,
      pidsMax: 9,
      net: "none",
      devices: ["/dev/null", "/dev/fuse"],
    });
    assert.deepEqual(setBody({ memMax: "max" }), { memMax: "max" });
    assert.throws(() => setBody({}), (e: unknown) => e instanceof UsageError && /nothing to change/.test(e.message));
    assert.throws(() => runBody([], {}), UsageError);
    // --host is the VM here: a URL given out of habit is a usage error, not a VM name.
    assert.throws(() => checkHostVm("http://127.0.0.1:8470"), /--host names the container host VM; give the daemon with --daemon URL/);
    assert.throws(() => checkHostVm("unix:/run/p.sock"), UsageError);
    assert.equal(checkHostVm("vm-1"), "vm-1");
  });

  test("the command line refuses bad options with exit 2 before it looks for a daemon", async () => {
    const stderr: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => (stderr.push(String(s)), true)) as typeof process.stderr.write;
    const env = process.env.PARAVM_HOST;
    // Nothing listens here: a command that got as far as the daemon would exit 69.
    process.env.PARAVM_HOST = "http://127.0.0.1:9";
    try {
      for (const [args, re] of [
        [["--mem-max", "1K", "--", "true"], /option '--mem-max <size>' argument '1K' is invalid/],
        [["--cpu-weight", "0", "--", "true"], /option '--cpu-weight <w>' argument '0' is invalid/],
        [["--host", "http://x:1", "--", "true"], /--host 'http:\/\/x:1': in `paravm container` --host names the container host VM/],
        [["sh", "-c", "x"], /unknown option '-c'[\s\S]*goes after --/],
      ] as const) {
        stderr.length = 0;
        assert.equal(await mainAsync(["node", "paravm", "container", "run", ...args]), 2, args.join(" "));
        assert.match(stderr.join(""), re);
      }
      stderr.length = 0;
      assert.equal(await mainAsync(["node", "paravm", "container", "ls"]), 69, "a good command does reach for the daemon");
    } finally {
      process.stderr.write = write;
      if (env === undefined) delete process.env.PARAVM_HOST;
      else process.env.PARAVM_HOST = env;
    }
  });
});

describe("container output", () => {
  test("ls: a row per container, the IP column only when one has an address", () => {
    const rows = containerTable([view(), view({ name: "old", state: "exited", exitStatus: 137, pid: null, limits: { cpuWeight: 100, cpuMax: "max/100000", memMax: "max", pidsMax: 512 } })]);
    assert.match(rows[0]!, /^NAME\s+HOST\s+STATE\s+EXIT\s+CPUS\s+WEIGHT\s+MEM MAX\s+MEM USED\s+CPU TIME\s+COMMAND$/);
    assert.match(rows[1]!, /^web\s+containers\s+running\s+-\s+1\.5\s+200\s+32M\s+300K\s+1\.2s\s+sh -c 'echo hi; sleep 9'$/);
    assert.match(rows[2]!, /^old\s+containers\s+exited\s+137\s+-\s+100\s+-\s+-\s+1\.2s/);
    const withIp = containerTable([view({ ip: "10.88.0.2" }), view({ name: "b" })]);
    assert.match(withIp[0]!, /EXIT\s+IP\s+CPUS/);
    assert.match(withIp[1]!, /running\s+-\s+10\.88\.0\.2\s+1\.5/);
    assert.match(withIp[2]!, /running\s+-\s+-\s+1\.5/);
    assert.deepEqual(containerTable([]), ["no containers (run one with `paravm container run -- CMD…`)"]);
    const long = containerTable([view({ cmd: ["x".repeat(60)] })]);
    assert.match(long[1]!, /x{39}…$/);
  });

  test("one line, cpus as docker's, commands as a shell takes them back, event lines", () => {
    assert.equal(containerLine(view()), "web: running on containers, cpus 1.5, cpu weight 200, mem max 32M, pids max 64");
    assert.equal(containerLine(view({ state: "lost", lostReason: "its host VM h stopped" })).split(",")[0], "web: lost (its host VM h stopped) on containers");
    assert.equal(cpusOf("50000/100000"), "0.5");
    assert.equal(cpusOf("max/100000"), "-");
    assert.equal(cpusOf(null), "-");
    assert.equal(commandText(["sh", "-c", "it's"]), `sh -c 'it'\\''s'`);
    assert.equal(containerEventLine({ type: "container", kind: "oom", message: "container hog was killed" }), "container hog was killed");
    assert.equal(containerEventLine({ type: "state", vm: "containers", state: "running" }), "VM containers: running");
    assert.equal(containerEventLine({ type: "decision", vm: "x" }), null);
  });
});

test("container run --help names the network the library defaults to (regression: it said loopback)", async () => {
  const { spawnSync } = await import("node:child_process");
  const { fileURLToPath } = await import("node:url");
  const bin = fileURLToPath(new URL("../../../../bin/paravm.js", import.meta.url));
  const r = spawnSync(process.execPath, [bin, "container", "run", "--help"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout.replace(/\s+/g, " "), new RegExp(`--net <mode> its network: .*\\(default ${NET_DEFAULT}\\)`));
  assert.equal(NET_DEFAULT, "bridge");
});
