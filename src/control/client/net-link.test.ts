/**
 * Two real `paravm serve` daemons on loopback, daemon A started with `--link n=B` (B's
 * token in PARAVM_LINK_TOKEN), and a 64 MiB pv guest on network n of each, pinging the
 * other once a second and printing `reach=1` or `reach=0` on its console:
 *  - they reach each other across the link;
 *  - B restarts (its guest with it): A's link comes back by itself, and they reach each
 *    other again once B's guest is started again;
 *  - `paravm net unlink` on A: they no longer can; `paravm net link` again: they can; a
 *    second link either way round is refused (exit 1, the daemon's message).
 * Each daemon gives its VM the first address of the subnet (10.0.2.2): B's guest takes
 * 10.0.2.3 itself, as two daemons' address plans do not know each other (docs/api.md).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { LinkView } from "../../net/links.js";
import { until } from "../api/testkit.js";
import { defaultGuestDir } from "../args.js";
import { CLIENT_EXIT } from "./cli-common.js";
import { Daemon } from "./daemon-harness.js";
import type { NetworkListing } from "./net-commands.js";
import { EXTENDED } from "../../test-tier.js";

const noGuest = defaultGuestDir() === null ? "guest images are not built (node scripts/build-guests.mjs)" : false;
const BOOT_TIMEOUT_MS = 150_000;
const NET_TIMEOUT_MS = 30_000;
const LINK_TIMEOUT_MS = 20_000;
/** Consecutive results that settle whether the peer is reachable (one ping a second). */
const SETTLED = 3;

const pinger = (peer: string, me?: string): string =>
  `${me !== undefined ? `ip addr flush dev eth0; ip addr add ${me}/24 dev eth0; ` : ""}` +
  `while :; do if ping -c 1 -W 1 ${peer} >/dev/null 2>&1; then echo reach=1; else echo reach=0; fi; sleep 1; done`;

describe("two daemons, network n linked: their guests ping each other", { skip: noGuest, timeout: 600_000 }, () => {
  let a: Daemon;
  let b: Daemon;
  const bAddress = (): string => `127.0.0.1:${b.port}`;

  before(async () => {
    b = await Daemon.start({ extraArgs: ["--pcpus", "2"] });
    a = await Daemon.start({ extraArgs: ["--pcpus", "2", "--link", `n=${bAddress()}`], env: { PARAVM_LINK_TOKEN: b.token } });
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
  });

  /** The console's text (the daemon keeps the last 64 KiB). */
  const consoleOf = async (d: Daemon, vm: string): Promise<string> => {
    const r = await fetch(`${d.url}/api/v1/vms/${vm}/console?bytes=65536`, { headers: { authorization: `Bearer ${d.token}` } });
    return r.text();
  };
  /** The reach= results printed after `mark` (a console length). */
  const results = async (d: Daemon, vm: string, mark = 0): Promise<number[]> =>
    [...(await consoleOf(d, vm)).slice(mark).matchAll(/^reach=([01])\r?$/gm)].map((m) => Number(m[1]));
  const settledAt = async (d: Daemon, vm: string, want: 0 | 1, mark = 0): Promise<boolean> => {
    const r = await results(d, vm, mark);
    return r.length >= SETTLED && r.slice(-SETTLED).every((x) => x === want);
  };
  const linkOnA = async (): Promise<LinkView | undefined> => ((await a.api("GET", "/networks")).json as NetworkListing[]).find((n) => n.name === "n")?.links?.[0];

  test("the guests on A and on B reach each other across the link made by --link", async () => {
    await until("A's --link up", LINK_TIMEOUT_MS, async () => (await linkOnA())?.up);
    let r = await b.cli(["vm", "create", "vb", "--mem", "64M", "--net", "n", "--exec", pinger("10.0.2.2", "10.0.2.3"), "--start"]);
    assert.equal(r.status, 0, r.stderr);
    r = await a.cli(["vm", "create", "va", "--mem", "64M", "--net", "n", "--exec", pinger("10.0.2.3"), "--start"]);
    assert.equal(r.status, 0, r.stderr);
    await until("va reaching vb", BOOT_TIMEOUT_MS, () => settledAt(a, "va", 1));
    await until("vb reaching va", NET_TIMEOUT_MS, () => settledAt(b, "vb", 1));
    const l = (await linkOnA())!;
    assert.deepEqual([l.direction, l.address, l.state, l.connects], ["out", bAddress(), "up", 1]);
    assert.ok(l.rxFrames > 0 && l.txFrames > 0, JSON.stringify(l));
    assert.equal(l.drops.malformed, 0);
    const ls = await b.cli(["net", "ls"]);
    assert.equal(ls.status, 0, ls.stderr);
    assert.match(ls.stdout, /^n +10\.0\.2\.0\/24 +vb +<-127\.0\.0\.1:\d+ up /m);
  });

  test("B restarts: A's link comes back by itself, and the guests reach each other again", { skip: EXTENDED }, async () => {
    const mark = (await consoleOf(a, "va")).length;
    b = await b.restart();
    const back = await until("A's link back up", LINK_TIMEOUT_MS, async () => {
      const l = await linkOnA();
      return l?.up && l.connects === 2 ? l : null;
    });
    assert.equal(back.peer !== null, true);
    assert.match(a.log(), /paravm: link n -> 127\.0\.0\.1:\d+: down, closed/);
    assert.match(a.log(), /paravm: link n -> 127\.0\.0\.1:\d+: up \(daemon [0-9a-f]{8}, reconnect 1\)/);
    const r = await b.cli(["vm", "start", "vb"]);
    assert.equal(r.status, 0, r.stderr);
    await until("va reaching vb after B's restart", BOOT_TIMEOUT_MS, async () => (await results(a, "va", mark)).includes(0) && settledAt(a, "va", 1, mark));
  });

  test("unlinked they cannot reach each other; linked again they can; a second link either way is refused", async () => {
    let r = await a.cli(["net", "unlink", "n", "--to", bAddress()]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `n: unlinked from ${bAddress()}\n`);
    let markA = (await consoleOf(a, "va")).length;
    let markB = (await consoleOf(b, "vb")).length;
    await until("va no longer reaching vb", NET_TIMEOUT_MS, () => settledAt(a, "va", 0, markA));
    await until("vb no longer reaching va", NET_TIMEOUT_MS, () => settledAt(b, "vb", 0, markB));

    r = await a.cli(["net", "link", "n", "--to", bAddress()], { env: { PARAVM_LINK_TOKEN: b.token } });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^n: linked to ${bAddress().replace(/\./g, "\\.")} \\(daemon [0-9a-f]{8}\\), up\\n$`));
    markA = (await consoleOf(a, "va")).length;
    markB = (await consoleOf(b, "vb")).length;
    await until("va reaching vb again", NET_TIMEOUT_MS, () => settledAt(a, "va", 1, markA));
    await until("vb reaching va again", NET_TIMEOUT_MS, () => settledAt(b, "vb", 1, markB));

    r = await a.cli(["net", "link", "n", "--to", bAddress()], { env: { PARAVM_LINK_TOKEN: b.token } });
    assert.equal(r.status, CLIENT_EXIT.API_ERROR);
    assert.equal(r.stderr, `paravm: error: network n is already linked to ${bAddress()}\n`);
    r = await b.cli(["net", "link", "n", "--to", `127.0.0.1:${a.port}`], { env: { PARAVM_LINK_TOKEN: a.token } });
    assert.equal(r.status, CLIENT_EXIT.API_ERROR);
    assert.match(r.stderr, /^paravm: error: the daemon at 127\.0\.0\.1:\d+ refused the link \(HTTP 409\): network n is already linked with that daemon .*a second link would make a loop/);
  });
});
