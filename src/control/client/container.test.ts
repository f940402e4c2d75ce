/**
 * `paravm container …` against a real `paravm serve` child and ONE real container host for
 * the whole file: the default host VM, created and booted on demand by the first run (pv,
 * 256 MiB, 2 vCPUs). Subtests run in order and build on each other: bad input refused
 * before anything exists; a foreground run; the lifecycle run -d → ls → exec → logs → set →
 * stop → rm, checked against the host guest's own cgroup files (read on its console, in the
 * guest's root namespace, not through the container runtime); a command that does not
 * exist; an OOM kill and its event; the host VM stopped under a container.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { DEFAULT_HOST } from "../api/containers.js";
import { defaultGuestDir } from "../args.js";
import { ApiClient, parseEndpoint } from "./api-client.js";
import { CONTAINER_EXIT } from "./container-args.js";
import type { ContainerView } from "./container-format.js";
import { Daemon, type CliResult } from "./daemon-harness.js";

const noGuest = defaultGuestDir() === null ? "guest images are not built (node scripts/build-guests.mjs)" : false;
const HOST = DEFAULT_HOST.NAME;
/** The first run boots the host VM (20-60 s on a loaded host; the daemon waits up to 180 s for its agent). */
const FIRST_RUN_MS = 300_000;
/** Any other command: a few guest round trips (each 0.4-9 s on a loaded host). */
const CMD_MS = 120_000;
const GUEST_READ_MS = 60_000;
const MIB = 1024 * 1024;

const show = (r: CliResult): string => `status ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

describe("paravm container … against paravm serve and one container host", { skip: noGuest }, () => {
  let d: Daemon;
  let reads = 0;
  const cli = (args: readonly string[], timeoutMs = CMD_MS): Promise<CliResult> => d.cli(["container", ...args], { timeoutMs });
  const listed = async (): Promise<ContainerView[]> => (await d.api("GET", "/containers")).json as ContainerView[];

  /**
   * A shell command typed on the host VM's console (its root shell: the guest's own view,
   * not the runtime's), its output as one line. The marker is split in the typed line, so
   * only the command's answer matches.
   */
  async function guest(cmd: string): Promise<string> {
    const tag = `G${++reads}`;
    const re = new RegExp(`${tag}<([^>]*)>`);
    const client = new ApiClient(parseEndpoint(d.url), d.token);
    let seen = "";
    let found: (s: string) => void = () => undefined;
    const answer = new Promise<string>((r) => (found = r));
    const ws = await client.openSocket(`/vms/${HOST}/console`, (data) => {
      seen += data.toString();
      const m = re.exec(seen);
      if (m) found(m[1]!.trim());
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      ws.send(`echo "${tag}""<$(${cmd} | tr '\\n' ' ')>"\n`);
      const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`the guest did not answer ${cmd} in ${GUEST_READ_MS} ms:\n${seen.slice(-2000)}`)), GUEST_READ_MS)));
      return await Promise.race([answer, late]);
    } finally {
      clearTimeout(timer);
      ws.close();
      client.close();
    }
  }
  const cgroup = (name: string, file: string): Promise<string> => guest(`cat /sys/fs/cgroup/paravm/${name}/${file}`);
  /** What the runtime left in the guest: container directories and cgroups. */
  const leftovers = (): Promise<string> => guest(`for g in /sys/fs/cgroup/paravm/*/ /run/containers/*/; do [ -d "$g" ] && echo "$g"; done`);

  before(async () => {
    d = await Daemon.start();
  });
  after(async () => {
    await d?.stop();
  });

  test("bad input is refused before anything is created, naming the option or the VM", async () => {
    for (const [args, option] of [
      [["--mem-max", "1K"], "--mem-max"],
      [["--cpu-weight", "0"], "--cpu-weight"],
      [["--cpus", "-1"], "--cpus"],
      [["--net", "carrier-pigeon"], "--net"],
    ] as const) {
      const r = await cli(["run", ...args, "--", "true"]);
      assert.equal(r.status, 2, show(r));
      assert.match(r.stderr, new RegExp(`^paravm: error: option '${option} <[a-z]+>' argument '${args[1]}' is invalid`), show(r));
    }
    const r = await cli(["run", "--host", "nosuch", "--", "true"]);
    assert.equal(r.status, CONTAINER_EXIT.REFUSED, show(r));
    assert.match(r.stderr, /^paravm: error: no VM named "nosuch" to run the container on/, show(r));
    assert.deepEqual(await listed(), []);
    assert.deepEqual((await d.api("GET", "/vms")).json, [], "not even the default host VM was made");
  });

  test("a foreground run boots the default host, prints the output and exits with the command's status", async () => {
    const r = await cli(["run", "--name", "fg", "--", "sh", "-c", "echo out-$((6*7)) on $(hostname); echo to-stderr >&2; exit 3"], FIRST_RUN_MS);
    assert.equal(r.status, 3, show(r));
    assert.match(r.stdout, /^out-42 on fg$/m, show(r));
    assert.match(r.stdout, /^to-stderr$/m, "stderr is in the container's output too");
    // The host's boot, as the daemon's events told it.
    assert.match(r.stderr, new RegExp(`paravm: creating and starting VM ${HOST} as the default container host`), show(r));
    assert.match(r.stderr, new RegExp(`paravm: container host ${HOST} is ready`), show(r));
    const vms = (await d.api("GET", "/vms")).json as { name: string; state: string; profile: string }[];
    assert.deepEqual(vms.map((v) => [v.name, v.state, v.profile]), [[HOST, "running", "pv"]]);
    const [fg] = await listed();
    assert.deepEqual([fg?.name, fg?.host, fg?.state, fg?.exitStatus], ["fg", HOST, "exited", 3]);
    assert.equal((await cli(["rm", "fg"])).status, 0);
  });

  test("lifecycle: run -d, ls, exec, logs, set, stop, rm, each checked in the host guest", async () => {
    const run = await cli(["run", "-d", "--name", "web", "--mem-max", "32M", "--cpus", "0.5", "--cpu-weight", "200", "--pids-max", "64", "--", "sh", "-c", "echo ready; while :; do sleep 1; done"]);
    assert.equal(run.status, 0, show(run));
    assert.equal(run.stdout, "web\n");
    // The guest's own cgroup files (not the runtime's report of them).
    assert.equal(await cgroup("web", "memory.max"), String(32 * MIB));
    assert.equal(await cgroup("web", "cpu.max"), "50000 100000");
    assert.equal(await cgroup("web", "cpu.weight"), "200");
    assert.equal(await cgroup("web", "pids.max"), "64");

    const ls = await cli(["ls"]);
    assert.equal(ls.status, 0, show(ls));
    const [head, row, extra] = ls.stdout.trimEnd().split("\n");
    // The default network is bridge: the container has an address, so the IP column is there.
    assert.match(head!, /^NAME\s+HOST\s+STATE\s+EXIT\s+IP\s+CPUS\s+WEIGHT\s+MEM MAX\s+MEM USED\s+CPU TIME\s+COMMAND$/);
    assert.match(row!, new RegExp(`^web\\s+${HOST}\\s+running\\s+-\\s+10\\.88\\.0\\.\\d+\\s+0\\.5\\s+200\\s+32M\\s+\\d+(\\.\\d)?[KM]\\s+\\d+\\.\\ds\\s+sh -c 'echo ready; while`), ls.stdout);
    assert.equal(extra, undefined, "one container");
    const json = JSON.parse((await cli(["ls", "--json", "--host", HOST])).stdout) as ContainerView[];
    assert.equal(json[0]!.pid !== null && json[0]!.pid > 1, true, "its PID 1 as the guest sees it");
    // That PID is a process of the guest whose cgroup is the container's.
    assert.equal(await guest(`cat /proc/${json[0]!.pid}/cgroup`), "0::/paravm/web");
    // Its figures in Prometheus's text, as the API gave them.
    const prom = await (await fetch(`${d.url}/metrics`, { headers: { authorization: `Bearer ${d.token}` } })).text();
    assert.match(prom, new RegExp(`^paravm_container_state\\{container="web",host="${HOST}",state="running"\\} 1$`, "m"));
    assert.match(prom, new RegExp(`^paravm_container_memory_max_bytes\\{container="web",host="${HOST}"\\} ${32 * MIB}$`, "m"));
    assert.match(prom, /^paravm_container_memory_bytes\{container="web",host="containers"\} [1-9]\d*$/m);

    const ex = await cli(["exec", "web", "--", "sh", "-c", "echo in $(hostname); ps | grep -c sleep; exit 4"]);
    assert.equal(ex.status, 4, show(ex));
    assert.match(ex.stdout, /^in web\n/);
    const none = await cli(["exec", "web", "--", "nosuch"]);
    assert.equal(none.status, CONTAINER_EXIT.NO_SUCH_COMMAND, show(none));
    assert.equal((await cli(["logs", "web"])).stdout, "ready\n");

    const set = await cli(["set", "web", "--mem-max", "16M", "--cpus", "1"]);
    assert.equal(set.status, 0, show(set));
    assert.match(set.stdout, /^web: running on containers, cpus 1, cpu weight 200, mem max 16M, pids max 64$/m);
    assert.equal(await cgroup("web", "memory.max"), String(16 * MIB));
    assert.equal(await cgroup("web", "cpu.max"), "100000 100000");
    const big = await cli(["set", "web", "--mem-max", "1G"]);
    assert.equal(big.status, 1, show(big));
    assert.match(big.stderr, /memMax 1024 MiB is more than VM containers's RAM \(256 MiB\)/);
    assert.equal(await cgroup("web", "memory.max"), String(16 * MIB), "a refused set changed nothing");

    const rmRunning = await cli(["rm", "web"]);
    assert.equal(rmRunning.status, 1, show(rmRunning));
    assert.match(rmRunning.stderr, /container web is running: stop it first/);
    const stop = await cli(["stop", "web", "--grace", "1"]);
    assert.equal(stop.status, 0, show(stop));
    // sh ignores SIGTERM as a PID 1 without a handler: killed after the grace.
    assert.match(stop.stdout, /^web: exited \(exit status 137\)/);
    const rm = await cli(["rm", "web"]);
    assert.equal(rm.status, 0, show(rm));
    assert.deepEqual(await listed(), []);
    assert.equal(await leftovers(), "");
  });

  test("a command that does not exist: 127, its message, nothing left", async () => {
    const r = await cli(["run", "--", "no-such-program", "arg"]);
    assert.equal(r.status, CONTAINER_EXIT.NO_SUCH_COMMAND, show(r));
    assert.match(r.stderr, /'no-such-program': no such command in the container's root/);
    assert.deepEqual(JSON.parse((await cli(["ls", "--json"])).stdout), []);
    assert.equal(await leftovers(), "");
  });

  test("over memory.max: OOM-killed, 137, the OOM message on stderr and in the events", async () => {
    const r = await cli(["run", "--name", "hog", "--mem-max", "8M", "--rm", "--", "dd", "if=/dev/zero", "of=/dev/null", "bs=16M", "count=1"]);
    assert.equal(r.status, CONTAINER_EXIT.KILLED, show(r));
    const message = "container hog was killed by the kernel's OOM killer: memory.max 8 MiB";
    assert.match(r.stderr, new RegExp(`^paravm: ${message}$`, "m"), show(r));
    const events = (await d.api("GET", "/events")).json as { type: string; kind?: string; container?: string; message?: string; vm: string }[];
    const oom = events.filter((e) => e.type === "container" && e.kind === "oom");
    assert.deepEqual(oom.map((e) => [e.vm, e.container, e.message]), [[HOST, "hog", message]]);
    assert.deepEqual(await listed(), [], "--rm removed it");
  });

  test("stopping the host VM loses its containers; they go with the VM", async () => {
    assert.equal((await cli(["run", "-d", "--name", "keep", "--", "sleep", "600"])).status, 0);
    const stop = await d.cli(["vm", "stop", HOST], { timeoutMs: CMD_MS });
    assert.equal(stop.status, 0, show(stop));
    const [keep] = await listed();
    assert.equal(keep?.state, "lost");
    assert.match(keep?.lostReason ?? "", new RegExp(`its host VM ${HOST} stopped`));
    const again = await cli(["run", "--host", HOST, "--", "true"]);
    assert.equal(again.status, CONTAINER_EXIT.REFUSED, show(again));
    assert.match(again.stderr, new RegExp(`VM ${HOST} is stopped: containers run only on a running VM`));
    const rm = await d.cli(["vm", "rm", HOST]);
    assert.equal(rm.status, 0, show(rm));
    assert.deepEqual(await listed(), []);
  });
});
