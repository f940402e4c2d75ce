/**
 * `paravm vm migrate` between two real `paravm serve` processes on this machine, whose
 * networks `lan` are linked (`--link`), with a 64 MiB pv guest counting on its console and
 * a peer on the source pinging it every second: refusals come back as the API's messages
 * with nothing moved; a destination that dies mid-transfer (fault injection: it exits
 * after a number of pages) leaves the VM running at the source; a migration moves it (the
 * count goes on at the destination, the source lists it no more, the peer still reaches
 * it); and when the source daemon is killed after the hand-over, the destination keeps
 * running it.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { FAULT_EXIT_AFTER_PAGES_ENV } from "../api/migration.js";
import { until } from "../api/testkit.js";
import { defaultGuestDir } from "../args.js";
import { CLIENT_EXIT } from "./commands.js";
import { Daemon } from "./daemon-harness.js";
import type { VmView } from "./format.js";

const noGuest = defaultGuestDir() === null ? "guest images are not built (node scripts/build-guests.mjs)" : false;
const BOOT_TIMEOUT_MS = 120_000;
const COUNT_TIMEOUT_MS = 60_000;
const MIGRATE_TIMEOUT_MS = 120_000;
const COUNTER = "i=0; while :; do i=$((i+1)); echo n=$i; usleep 200000; done";
/** The peer's console: one line a second saying whether `ip` answered. */
const pinger = (ip: string): string => `i=0; while :; do i=$((i+1)); if ping -c 1 -W 1 ${ip} >/dev/null 2>&1; then echo "ping $i ok"; else echo "ping $i lost"; fi; sleep 1; done`;

describe("paravm vm migrate between two paravm serve processes", { skip: noGuest }, () => {
  let a: Daemon;
  let b: Daemon;
  const daemons: Daemon[] = [];
  const addr = (d: Daemon): string => d.url.replace(/^http:\/\//, "");

  const counts = async (d: Daemon, vm: string): Promise<number[]> => {
    const l = await d.cli(["vm", "logs", vm]);
    assert.equal(l.status, 0, l.stderr);
    return [...l.stdout.matchAll(/^n=(\d+)\r?$/gm)].map((m) => Number(m[1]));
  };
  const last = (xs: readonly number[]): number => xs.at(-1) ?? 0;
  const stateOf = async (d: Daemon, vm: string): Promise<string | undefined> => ((await d.api("GET", `/vms/${vm}`)).json as VmView | null)?.state;

  /** The numbers of the peer's pings that were answered. */
  const pongs = async (): Promise<number[]> => {
    const l = await a.cli(["vm", "logs", "peer"]);
    return [...l.stdout.matchAll(/^ping (\d+) ok\r?$/gm)].map((m) => Number(m[1]));
  };
  const lastPing = async (): Promise<number> => {
    const l = await a.cli(["vm", "logs", "peer"]);
    return Math.max(0, ...[...l.stdout.matchAll(/^ping (\d+) /gm)].map((m) => Number(m[1])));
  };

  before(async () => {
    b = await Daemon.start();
    a = await Daemon.start({ extraArgs: ["--link", `lan=${addr(b)}`], env: { PARAVM_LINK_TOKEN: b.token } });
    daemons.push(a, b);
  });
  after(async () => {
    for (const d of daemons) await d.stop();
  });

  test("refused before anything moves: no such VM, no --to, nothing listening, a wrong token", async () => {
    const c = await a.cli(["vm", "create", "mover", "--mem", "64M", "--net", "lan", "--exec", COUNTER, "--start"]);
    assert.equal(c.status, 0, c.stderr);
    const nets = (await a.api("GET", "/networks")).json as { name: string; ports: { vm: string; ip: string | null }[] }[];
    const ip = nets.find((n) => n.name === "lan")?.ports.find((p) => p.vm === "mover")?.ip;
    assert.ok(typeof ip === "string", JSON.stringify(nets));
    const p = await a.cli(["vm", "create", "peer", "--mem", "64M", "--net", "lan", "--exec", pinger(ip.replace(/\/\d+$/, "")), "--start"]);
    assert.equal(p.status, 0, p.stderr);
    await until("mover's second count", BOOT_TIMEOUT_MS, async () => (await counts(a, "mover")).length >= 2);
    await until("the peer's first answered ping", BOOT_TIMEOUT_MS, async () => (await pongs()).length >= 1);

    let r = await a.cli(["vm", "migrate", "ghost", "--to", addr(b)]);
    assert.equal(r.status, CLIENT_EXIT.API_ERROR);
    assert.match(r.stderr, /no VM named "ghost"/);
    r = await a.cli(["vm", "migrate", "mover"]);
    assert.equal(r.status, 2, "a usage error");
    assert.match(r.stderr, /--to HOST:PORT is required/);
    r = await a.cli(["vm", "migrate", "mover", "--to", "nowhere"]);
    assert.equal(r.status, CLIENT_EXIT.API_ERROR);
    assert.match(r.stderr, /to: "nowhere" is not HOST:PORT/);
    r = await a.cli(["vm", "migrate", "mover", "--to", "127.0.0.1:1"]);
    assert.equal(r.status, CLIENT_EXIT.API_ERROR);
    assert.match(r.stderr, /cannot reach the daemon at 127\.0\.0\.1:1: nothing listens there/);
    r = await a.cli(["vm", "migrate", "mover", "--to", addr(b), "--to-token", "not-the-token"]);
    assert.equal(r.status, CLIENT_EXIT.API_ERROR);
    assert.match(r.stderr, /cannot reach the daemon at .*: HTTP 401: wrong token/);
    assert.equal(await stateOf(a, "mover"), "running");
    assert.deepEqual((await b.api("GET", "/vms")).json, [], "nothing arrived at the destination");
  });

  test("the destination dies mid-transfer: the VM keeps running at the source", async () => {
    const dying = await Daemon.start({ env: { [FAULT_EXIT_AFTER_PAGES_ENV]: "500" } });
    daemons.push(dying);
    const before_ = last(await counts(a, "mover"));
    const r = await a.cli(["vm", "migrate", "mover", "--to", addr(dying), "--to-token", dying.token], { timeoutMs: MIGRATE_TIMEOUT_MS });
    assert.equal(r.status, CLIENT_EXIT.API_ERROR, r.stdout);
    assert.match(r.stderr, /VM mover keeps running here/);
    await until("the dying daemon's exit", 10_000, () => dying.child.exitCode !== null);
    assert.equal(dying.child.exitCode, 70, "it exited by the fault injected");
    assert.equal(await stateOf(a, "mover"), "running");
    await until("a count after the failed migration", COUNT_TIMEOUT_MS, async () => last(await counts(a, "mover")) > before_);
  });

  test("it moves: the count goes on at the destination, the source lists it no more; the source's death after that changes nothing", async () => {
    const atSource = last(await counts(a, "mover"));
    const r = await a.cli(["vm", "migrate", "mover", "--to", addr(b), "--to-token", b.token], { timeoutMs: MIGRATE_TIMEOUT_MS });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^mover: migrated to 127\.0\.0\.1:\d+ in \d+ ms, downtime \d+ ms, \d+ rounds, [\d.]+ MiB sent/m);
    assert.match(r.stdout, /^ {2}round 0: \d+ pages/m);
    assert.match(r.stdout, /^ {2}round final: \d+ pages/m);
    assert.equal((await a.api("GET", "/vms/mover")).status, 404, "the source let it go");
    assert.equal(await stateOf(b, "mover"), "running");
    const moved = await until("counts at the destination", COUNT_TIMEOUT_MS, async () => {
      const xs = await counts(b, "mover");
      return xs.length >= 2 ? xs : null;
    });
    assert.ok(moved[0]! > atSource && moved[0]! <= atSource + 30, `the count goes on: ${atSource} at the source, ${moved[0]} first at the destination`);
    assert.doesNotMatch((await b.cli(["vm", "logs", "mover"])).stdout, /Linux version/, "no reboot");
    // The peer on the source's daemon reaches the VM at its new place, across the link.
    const pingAfterMove = await lastPing();
    await until("a ping answered from the destination", COUNT_TIMEOUT_MS, async () => (await pongs()).some((n) => n > pingAfterMove));
    const events = (await a.api("GET", "/events")).json as { type: string; vm: string; phase?: string }[];
    assert.ok(events.some((e) => e.type === "migration" && e.vm === "mover" && e.phase === "done"));

    a.child.kill("SIGKILL");
    await until("the source's death", 10_000, () => a.child.exitCode !== null || a.child.signalCode !== null);
    const n = last(await counts(b, "mover"));
    await until("counts after the source died", COUNT_TIMEOUT_MS, async () => last(await counts(b, "mover")) > n + 2);
    assert.equal(await stateOf(b, "mover"), "running");
  });
});
