/**
 * The client's argument checks, without a daemon: where it connects, what `vm create`
 * and `vm set` send, how an error answer reads, and what the command line refuses (exit
 * status 2, one line) or reports when nothing listens (69, one line).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, describe, test } from "node:test";
import { UsageError } from "../args.js";
import { apiErrorOf, endpointFrom, parseEndpoint } from "./api-client.js";
import { readFleetFile, restoreBody, snapshotPath } from "./commands.js";
import { parseAutoscaleArg, patchFromFlags, vmEntryFromFlags } from "./vm-args.js";

const root = fileURLToPath(new URL("../../../../", import.meta.url));
const bin = join(root, "bin", "paravm.js");
const dir = mkdtempSync(join(tmpdir(), "paravm-client-args-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("endpoint", () => {
  test("--host wins over PARAVM_HOST, which wins over the default", () => {
    assert.equal(endpointFrom(undefined, {}).shown, "http://127.0.0.1:8470");
    assert.equal(endpointFrom(undefined, { PARAVM_HOST: "http://10.0.0.1:9000" }).shown, "http://10.0.0.1:9000");
    assert.equal(endpointFrom("unix:/run/p.sock", { PARAVM_HOST: "http://10.0.0.1:9000" }).shown, "unix:/run/p.sock");
  });
  test("unix:/path is a socket; http URLs keep host and port", () => {
    const u = parseEndpoint("unix:/tmp/paravm.sock");
    assert.deepEqual(u, { kind: "unix", socketPath: "/tmp/paravm.sock", shown: "unix:/tmp/paravm.sock" });
    const t = parseEndpoint("http://[::1]:8470/");
    assert.equal(t.kind, "tcp");
    assert.equal(t.kind === "tcp" && t.url.port, "8470");
    assert.equal(t.shown, "http://[::1]:8470");
  });
  for (const bad of ["unix:", "127.0.0.1:8470", "ftp://host", "http://host:8470/api/v1"]) {
    test(`refuses ${JSON.stringify(bad)} with a usage error naming it`, () => {
      assert.throws(() => parseEndpoint(bad), (e: unknown) => e instanceof UsageError && e.message.includes(`'${bad}'`));
    });
  }
});

describe("vm create flags → VmEntry", () => {
  test("only the flags given, with the fleet file's keys; disk paths absolute", () => {
    const e = vmEntryFromFlags(
      "web",
      { profile: "pv", cpus: 1, maxCpus: 2, mem: 64 << 20, memTarget: 48 << 20, disk: "data.img,snapshot", net: "lan,mac=52:54:00:00:00:07", exec: "uname -a", weight: 512, cap: 50, start: true },
      "/srv/vms",
    );
    assert.deepEqual(e, {
      name: "web",
      profile: "pv",
      cpus: 1,
      "max-cpus": 2,
      mem: 64 << 20,
      "mem-target": 48 << 20,
      weight: 512,
      cap: 50,
      disks: [{ path: "/srv/vms/data.img", snapshot: true }],
      nics: [{ network: "lan", mac: "52:54:00:00:00:07" }],
      exec: "uname -a",
      start: true,
    });
    assert.deepEqual(vmEntryFromFlags("a", {}), { name: "a" });
  });
  test("refuses what a VM entry cannot hold, and exec with workload", () => {
    const usage = (re: RegExp) => (e: unknown) => e instanceof UsageError && re.test(e.message);
    assert.throws(() => vmEntryFromFlags("a", { disk: "d.img,cache=none" }), usage(/cache= is not part of a VM entry/));
    assert.throws(() => vmEntryFromFlags("a", { disk: "d.img,readonly,snapshot" }), usage(/pick one/));
    assert.throws(() => vmEntryFromFlags("a", { net: "lan,rate=bw=1M" }), usage(/rate= is not part of a VM entry/));
    assert.throws(() => vmEntryFromFlags("a", { net: "bad name!" }), usage(/network name/));
    assert.throws(() => vmEntryFromFlags("a", { exec: "true", workload: "idle" }), usage(/--exec and --workload together/));
  });
});

describe("vm set flags → PATCH body", () => {
  test("the API's field names; memory target in bytes", () => {
    assert.deepEqual(patchFromFlags({ weight: 128, cap: 0, vcpus: 2, memTarget: 32 << 20 }), { weight: 128, cap: 0, vcpus: 2, memTargetBytes: 32 << 20 });
  });
  test("nothing to change is a usage error", () => {
    assert.throws(() => patchFromFlags({}), /nothing to change/);
  });
  test("--autoscale: off is null; JSON or YAML flow; memory sizes in bytes", () => {
    assert.equal(parseAutoscaleArg("off"), null);
    assert.deepEqual(parseAutoscaleArg('{"cpu":{"weight":{"min":128,"max":1024}}}'), { cpu: { weight: { min: 128, max: 1024 } } });
    assert.deepEqual(parseAutoscaleArg("{memory: {min: 32M, max: 64M}}"), { memory: { min: 32 << 20, max: 64 << 20 } });
    assert.throws(() => parseAutoscaleArg("[1,2]"), /expected off or a mapping/);
    assert.throws(() => parseAutoscaleArg("{memory: {min: 12Q, max: 64M}}"), /memory\.min: "12Q" is not a size/);
    assert.throws(() => parseAutoscaleArg("{cpu: "), /not JSON or YAML/);
  });
});

describe("error answers", () => {
  const answer = (status: number, body: string) => ({ status, contentType: "application/json", body: Buffer.from(body) });
  test("the API's message and problems are kept", () => {
    const e = apiErrorOf(answer(422, JSON.stringify({ error: "invalid", message: "weight 0 is out of range", problems: ["weight: must be 1..65535"] })), "PATCH", "/api/v1/vms/a");
    assert.equal(e.status, 422);
    assert.equal(e.error, "invalid");
    assert.equal(e.message, "weight 0 is out of range");
    assert.deepEqual(e.problems, ["weight: must be 1..65535"]);
  });
  test("something else on the port still reads as one line with the status", () => {
    const e = apiErrorOf(answer(502, "<html>\n<body>Bad gateway</body>\n</html>"), "GET", "/api/v1/vms");
    assert.equal(e.message, "GET /api/v1/vms: HTTP 502: <html> <body>Bad gateway</body> </html>");
  });
});

describe("vm snapshot / vm restore FILE", () => {
  test("a relative FILE is made absolute against here (the daemon's working directory is another); empty is a usage error", () => {
    assert.equal(snapshotPath("web.snap", "/home/u/vms"), "/home/u/vms/web.snap");
    assert.equal(snapshotPath("../s/web.snap", "/home/u/vms"), "/home/u/s/web.snap");
    assert.equal(snapshotPath("/srv/web.snap", "/home/u/vms"), "/srv/web.snap");
    assert.throws(() => snapshotPath("", "/home/u"), UsageError);
  });

  test("vm restore's body: the file absolute, --name as name, --net as network, nothing else", () => {
    assert.deepEqual(restoreBody("s/web.snap", {}, "/home/u"), { file: "/home/u/s/web.snap" });
    assert.deepEqual(restoreBody("/srv/web.snap", { name: "web2", net: "lan" }, "/home/u"), { file: "/srv/web.snap", name: "web2", network: "lan" });
  });

  test("vm restore --clones N [--ip CIDR]: clones and ip in the body as given (their ranges are the API's to judge)", () => {
    assert.deepEqual(restoreBody("w.snap", { name: "web", net: "lan", clones: 3, ip: "10.0.0.10/24" }, "/srv"), { file: "/srv/w.snap", name: "web", network: "lan", clones: 3, ip: "10.0.0.10/24" });
    assert.deepEqual(restoreBody("w.snap", { clones: 0 }, "/srv"), { file: "/srv/w.snap", clones: 0 });
  });
});

describe("fleet apply FILE", () => {
  test("disk paths are resolved against the file's directory, not the daemon's", () => {
    const f = join(dir, "fleet.yaml");
    writeFileSync(f, "vms:\n  - name: a\n    disks: [{ path: a.img, readonly: true }]\n  - name: b\n    disks: [{ path: /abs/b.img }]\n");
    const doc = readFleetFile(f) as { vms: { disks: { path: string }[] }[] };
    assert.equal(doc.vms[0]!.disks[0]!.path, join(dir, "a.img"));
    assert.equal(doc.vms[1]!.disks[0]!.path, "/abs/b.img");
  });
  test("a file that does not parse is a usage error naming it", () => {
    const f = join(dir, "broken.json");
    writeFileSync(f, "{ vms: ");
    assert.throws(() => readFleetFile(f), (e: unknown) => e instanceof UsageError && e.message.startsWith(`${f}: `));
  });
});

describe("the command line without a daemon", () => {
  const paravm = (args: string[], env: Record<string, string> = {}) => {
    const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", timeout: 30_000, env: { ...process.env, PARAVM_HOST: "", ...env } });
    return { status: r.status, stdout: r.stdout, lines: r.stderr.split("\n").filter((l) => l !== "") };
  };
  // A socket path nothing listens on: the daemon's absence, whatever runs on this host.
  const nowhere = `unix:${join(dir, "no-daemon.sock")}`;

  test("no daemon: one line naming where it looked, exit 69", () => {
    for (const args of [["vm", "ls"], ["vm", "start", "a"], ["vm", "console", "a"], ["vm", "logs", "a", "--follow"], ["vm", "top"], ["fleet", "apply", join(root, "examples", "fleet-small.yaml")]]) {
      const r = paravm([...args, "--host", nowhere]);
      assert.equal(r.status, 69, `${args.join(" ")}: ${r.lines.join("\n")}`);
      assert.deepEqual(r.lines, [`paravm: no paravm daemon at ${nowhere}: start one with \`paravm serve\``]);
    }
  });
  test("PARAVM_HOST is where it looks without --host", () => {
    const r = paravm(["vm", "ls"], { PARAVM_HOST: nowhere });
    assert.equal(r.status, 69);
    assert.match(r.lines[0]!, new RegExp(`no paravm daemon at ${nowhere}`));
  });
  const usage: [string[], RegExp][] = [
    [["vm", "create", "a", "--cpus", "0"], /--cpus.*must be from 1 to 8/],
    [["vm", "create", "a", "--mem", "12Q"], /--mem.*expected a size/],
    [["vm", "create", "a", "--weight", "heavy"], /--weight.*expected a whole number/],
    [["vm", "create", "a", "--disk", "x.img,cache=none"], /cache= is not part of a VM entry/],
    [["vm", "set", "a"], /nothing to change/],
    [["vm", "set", "a", "--autoscale", "[1]"], /--autoscale: expected off or a mapping/],
    [["vm", "logs", "a", "--follow", "--bytes", "10"], /--bytes and --follow together/],
    [["vm", "start"], /missing required argument 'name'/],
    [["vm", "restore", "w.snap", "--clones", "many"], /--clones.*expected a whole number/],
    [["vm", "ls", "--host", "localhost:8470"], /--host 'localhost:8470'/],
    [["fleet", "apply", join(dir, "missing.yaml")], /cannot read fleet file .*missing\.yaml': no such file/],
  ];
  for (const [args, re] of usage) {
    test(`usage: ${args.join(" ")} → exit 2, one line`, () => {
      const r = paravm([...args, ...(args.includes("--host") ? [] : ["--host", nowhere])]);
      assert.equal(r.status, 2, r.lines.join("\n"));
      assert.equal(r.lines.length, 1, r.lines.join("\n"));
      assert.match(r.lines[0]!, re);
    });
  }
});
