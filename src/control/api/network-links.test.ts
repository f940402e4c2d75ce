/**
 * Network links through the API, with daemons that boot nothing: refusals answered by the
 * daemon alone (fastify inject), then in-process daemons on loopback ports linked for
 * real — frames between test ports on their switches cross, a second link between the
 * same two daemons' network is refused either way round (and a link to itself), a wrong
 * token and an unreachable daemon are refused with nothing kept, a removed link is gone on
 * both sides, a kept link comes back after the far daemon restarts, and a hostile peer's
 * messages are counted and dropped.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { FastifyInstance } from "fastify";
import WebSocket from "ws";
import type { LinkView } from "../../net/links.js";
import { LINK_PROTOCOL } from "../../net/link-session.js";
import type { SwitchPort } from "../../net/switch.js";
import { BCAST, frame } from "../../net/switch-testkit.js";
import { encodeTrunkMessage } from "../../net/trunk-frame.js";
import { freePort } from "../client/daemon-harness.js";
import { UsageError } from "../args.js";
import { parseLinks } from "./serve-command.js";
import { buildServer } from "./server.js";
import { newVmm, until } from "./testkit.js";
import type { Vmm } from "./vmm.js";

const TOKEN_A = "token-of-daemon-a";
const TOKEN_B = "token-of-daemon-b";

/** A daemon that boots nothing: a Vmm and its server, listening on a loopback port (or not at all). */
class TestDaemon {
  private constructor(
    readonly vmm: Vmm,
    readonly app: FastifyInstance,
    readonly port: number,
    readonly token: string,
  ) {}

  static async start(token: string, port: number | null = null): Promise<TestDaemon> {
    const vmm = newVmm(null, { links: { defaultToken: null } });
    const app = await buildServer({ vmm, token, version: "test" });
    if (port === null) {
      await app.ready();
      return new TestDaemon(vmm, app, 0, token);
    }
    await app.listen({ host: "127.0.0.1", port });
    return new TestDaemon(vmm, app, port, token);
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async call(method: "GET" | "POST" | "DELETE", url: string, body?: unknown): Promise<{ status: number; json: any }> {
    const r = await this.app.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${this.token}` }, ...(body !== undefined ? { payload: body as object } : {}) });
    return { status: r.statusCode, json: r.body === "" ? null : r.json() };
  }

  async links(network: string): Promise<LinkView[]> {
    const r = await this.call("GET", "/networks");
    return (r.json as { name: string; links: LinkView[] }[]).find((n) => n.name === network)?.links ?? [];
  }

  /** A test port on the network's switch that records what it receives. */
  attach(network: string, name: string): { port: SwitchPort; got: Uint8Array[] } {
    const got: Uint8Array[] = [];
    return { port: this.vmm.hv.networks.get(network).attach({ deliver: (f) => (got.push(f), true) }, name), got };
  }

  async stop(): Promise<void> {
    await this.app.close();
    await this.vmm.close();
  }
}

describe("link refusals the daemon answers alone", () => {
  let d: TestDaemon;
  before(async () => (d = await TestDaemon.start(TOKEN_A)));
  after(async () => d.stop());

  test("a bad network name or target is 422 naming it; a body without `to` or with an unknown field is 400", async () => {
    let r = await d.call("POST", "/networks/bad%20name/links", { to: "127.0.0.1:8470" });
    assert.equal(r.status, 422, JSON.stringify(r.json));
    assert.match(r.json.message, /^network "bad name": a network name is letters/);
    for (const to of ["127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "http://127.0.0.1:8470", ""]) {
      r = await d.call("POST", "/networks/lan/links", { to });
      assert.equal(r.status, 422, `${to}: ${JSON.stringify(r.json)}`);
      assert.match(r.json.message, /is not HOST:PORT/);
    }
    r = await d.call("POST", "/networks/lan/links", {});
    assert.equal(r.status, 400);
    assert.match(r.json.message, /must have required property 'to'/);
    r = await d.call("POST", "/networks/lan/links", { to: "127.0.0.1:1", colour: "red" });
    assert.equal(r.status, 400);
    assert.match(r.json.message, /body\.colour: unknown field/);
    assert.deepEqual((await d.call("GET", "/networks")).json, [], "nothing was made");
  });

  test("a daemon that cannot be reached: 422 saying so, and no link is kept", async () => {
    const port = await freePort();
    const r = await d.call("POST", "/networks/lan/links", { to: `127.0.0.1:${port}` });
    assert.equal(r.status, 422, JSON.stringify(r.json));
    assert.match(r.json.message, new RegExp(`^cannot reach a paravm daemon at 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
    assert.deepEqual(await d.links("lan"), []);
  });

  test("removing a link that does not exist is 404; without ?to= it is 400; an unknown network's links are 404", async () => {
    let r = await d.call("DELETE", "/networks/lan/links?to=127.0.0.1:9");
    assert.equal(r.status, 404);
    assert.match(r.json.message, /^network lan has no link to 127\.0\.0\.1:9$/);
    r = await d.call("DELETE", "/networks/lan/links");
    assert.equal(r.status, 400);
    r = await d.call("GET", "/networks/nowhere/links");
    assert.equal(r.status, 404);
  });

  test("the link endpoint refuses a plain GET, and an upgrade without the link headers, with 400", async () => {
    let r = await d.call("GET", "/networks/lan/link");
    assert.equal(r.status, 400);
    assert.match(r.json.message, /another paravm daemon's link connects \(a WebSocket\)/);
    const res = await d.app.inject({
      method: "GET",
      url: "/api/v1/networks/lan/link",
      headers: { authorization: `Bearer ${TOKEN_A}`, upgrade: "websocket", connection: "upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" },
    });
    assert.equal(res.statusCode, 400, res.body);
    assert.match(res.json().message, /x-paravm-link: this daemon speaks link protocol 1, the dialer none/);
  });
});

describe("paravm serve --link", () => {
  test("NET=HOST:PORT values are checked whole before the daemon starts: a bad name, a bad address, one given twice", () => {
    assert.deepEqual(parseLinks(["lan=127.0.0.1:8471", "dmz=[::1]:8471", "lan=host.example:8470"]), [
      { network: "lan", to: "127.0.0.1:8471" },
      { network: "dmz", to: "[::1]:8471" },
      { network: "lan", to: "host.example:8470" },
    ]);
    for (const [specs, message] of [
      [["127.0.0.1:8471"], /^--link '127\.0\.0\.1:8471': expected NET=HOST:PORT/],
      [["bad name=127.0.0.1:8471"], /expected NET=HOST:PORT, NET a network name/],
      [["lan=127.0.0.1"], /^--link 'lan=127\.0\.0\.1': '127\.0\.0\.1' is not HOST:PORT/],
      [["lan=127.0.0.1:1", "lan=127.0.0.1:1"], /^--link 'lan=127\.0\.0\.1:1' is given twice$/],
    ] as const) {
      assert.throws(() => parseLinks(specs), (e: unknown) => e instanceof UsageError && message.test(e.message), specs.join(" "));
    }
  });
});

describe("two daemons linked over loopback", () => {
  let a: TestDaemon;
  let b: TestDaemon;
  let bPort: number;
  before(async () => {
    a = await TestDaemon.start(TOKEN_A, await freePort());
    bPort = await freePort();
    b = await TestDaemon.start(TOKEN_B, bPort);
  });
  after(async () => {
    await a.stop();
    await b.stop();
  });

  test("a link made through the API: 201 once up, listed on both sides, and frames cross both ways", async () => {
    const r = await a.call("POST", "/networks/lan/links", { to: b.address, token: TOKEN_B });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    assert.equal(r.json.up, true);
    assert.deepEqual([r.json.direction, r.json.address, r.json.peer, r.json.connects], ["out", b.address, b.vmm.links.daemonId, 1]);
    assert.equal(r.json.token, undefined, "the token is never shown");
    const inB = await until("B to list the link", 5000, async () => (await b.links("lan")).find((l) => l.up));
    assert.deepEqual([inB.direction, inB.peer], ["in", a.vmm.links.daemonId]);

    const pa = a.attach("lan", "test-a");
    const pb = b.attach("lan", "test-b");
    pa.port.send(frame(BCAST, [2, 0, 0, 0, 0, 0xa]));
    await until("the broadcast on B", 5000, () => pb.got.length === 1);
    pb.port.send(frame([2, 0, 0, 0, 0, 0xa], [2, 0, 0, 0, 0, 0xb]));
    await until("the reply on A", 5000, () => pa.got.length === 1);
    const out = (await a.links("lan"))[0]!;
    assert.deepEqual([out.txFrames, out.rxFrames, out.drops.malformed, out.drops.noBuffer], [1, 1, 0, 0]);
    pa.port.detach();
    pb.port.detach();
  });

  test("no second link between the same two daemons' network: the same address (409 here), another address for it, the other way round, and a daemon to itself (409 from the far side)", async () => {
    let r = await a.call("POST", "/networks/lan/links", { to: b.address, token: TOKEN_B });
    assert.equal(r.status, 409);
    assert.equal(r.json.message, `network lan is already linked to ${b.address}`);
    r = await a.call("POST", "/networks/lan/links", { to: `localhost:${bPort}`, token: TOKEN_B });
    assert.equal(r.status, 409, JSON.stringify(r.json));
    assert.match(r.json.message, /refused the link \(HTTP 409\): network lan is already linked with that daemon \(its link from 127\.0\.0\.1:\d+\): a second link would make a loop/);
    r = await b.call("POST", "/networks/lan/links", { to: a.address, token: TOKEN_A });
    assert.equal(r.status, 409, JSON.stringify(r.json));
    assert.match(r.json.message, /already linked with that daemon \(this daemon's link to 127\.0\.0\.1:\d+\)/);
    r = await a.call("POST", "/networks/lan/links", { to: a.address, token: TOKEN_A });
    assert.equal(r.status, 409, JSON.stringify(r.json));
    assert.match(r.json.message, /a link from this daemon to itself would loop network lan/);
    assert.equal((await a.links("lan")).length, 1, "only the first link, on A");
    assert.equal((await b.links("lan")).length, 1, "and on B");
    // Another network between the same daemons is another segment: allowed.
    r = await a.call("POST", "/networks/dmz/links", { to: b.address, token: TOKEN_B });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    assert.equal((await a.call("DELETE", `/networks/dmz/links?to=${b.address}`)).status, 204);
  });

  test("a wrong token: 422 with the far daemon's 401 message, nothing kept", async () => {
    const r = await a.call("POST", "/networks/other/links", { to: b.address, token: "not-the-token" });
    assert.equal(r.status, 422, JSON.stringify(r.json));
    assert.match(r.json.message, /^the daemon at 127\.0\.0\.1:\d+ refused the token \(HTTP 401\): wrong token$/);
    assert.deepEqual(await a.links("other"), []);
  });

  test("a hostile peer: short, text and bad-GSO messages are counted as bad and dropped; the switch goes on", async () => {
    const ws = new WebSocket(`ws://${b.address}/api/v1/networks/hostile/link`, {
      headers: { authorization: `Bearer ${TOKEN_B}`, [LINK_PROTOCOL.HEADER_VERSION]: "1", [LINK_PROTOCOL.HEADER_DAEMON]: "0badc0de-0000-4000-8000-000000000000" },
    });
    const hello = await new Promise<string>((resolve, reject) => {
      ws.once("message", (d: Buffer) => resolve(d.toString()));
      ws.once("error", reject);
    });
    assert.deepEqual(JSON.parse(hello), { link: 1, daemon: b.vmm.links.daemonId, network: "hostile" });
    const pb = b.attach("hostile", "test-b");
    const gsoLie = encodeTrunkMessage(frame(BCAST, [2, 0, 0, 0, 0, 1], 200), { mss: 1448, l4Start: 34, hdrLen: 54 });
    for (const m of [new Uint8Array(5), Buffer.from("not a frame"), gsoLie, new Uint8Array(70_000)]) ws.send(m);
    ws.send("text where a frame belongs");
    ws.send(encodeTrunkMessage(frame(BCAST, [2, 0, 0, 0, 0, 1]), null));
    await until("the good frame", 5000, () => pb.got.length === 1);
    const l = (await b.links("hostile"))[0]!;
    assert.deepEqual([l.up, l.badMessages, l.drops.malformed, l.rxFrames], [true, 4, 5, 1]);
    ws.close();
    await until("the link gone from B", 5000, async () => (await b.links("hostile")).length === 0);
    pb.port.detach();
  });

  test("a peer far out of line (a message over 1 MiB) is cut off, and the daemon goes on", async () => {
    const ws = new WebSocket(`ws://${b.address}/api/v1/networks/hostile/link`, {
      headers: { authorization: `Bearer ${TOKEN_B}`, [LINK_PROTOCOL.HEADER_VERSION]: "1", [LINK_PROTOCOL.HEADER_DAEMON]: "0badc0de-0000-4000-8000-000000000001" },
    });
    await new Promise((resolve, reject) => (ws.once("message", resolve), ws.once("error", reject)));
    const closed = new Promise<number>((resolve) => ws.once("close", (code: number) => resolve(code)));
    ws.send(new Uint8Array(2 * 1024 * 1024));
    assert.equal(await closed, 1009, "message too big");
    await until("the link gone from B", 5000, async () => (await b.links("hostile")).length === 0);
    assert.equal((await b.call("GET", "/networks")).status, 200);
  });

  test("a removed link is gone on both sides and frames stop crossing", async () => {
    const pa = a.attach("lan", "test-a2");
    const pb = b.attach("lan", "test-b2");
    assert.equal((await a.call("DELETE", `/networks/lan/links?to=${b.address}`)).status, 204);
    assert.deepEqual(await a.links("lan"), []);
    await until("B to drop its side", 5000, async () => (await b.links("lan")).length === 0);
    pa.port.send(frame(BCAST, [2, 0, 0, 0, 0, 0xa]));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(pb.got.length, 0);
    pa.port.detach();
    pb.port.detach();
  });

  test("a kept link (serve --link) waits for the far daemon, and comes back by itself after it restarts", async () => {
    a.vmm.links.keep("kept", b.address, TOKEN_B);
    await until("the kept link up", 10_000, async () => (await a.links("kept"))[0]?.up);
    const firstPeer = (await a.links("kept"))[0]!.peer;
    await b.stop();
    const down = await until("A to see it down", 10_000, async () => (await a.links("kept")).find((l) => !l.up));
    assert.match(String(down.lastError), /closed|cannot reach/);
    b = await TestDaemon.start(TOKEN_B, bPort);
    const back = await until("the link back up", 15_000, async () => (await a.links("kept")).find((l) => l.up));
    assert.equal(back.connects, 2);
    assert.equal(back.peer, b.vmm.links.daemonId);
    assert.notEqual(back.peer, firstPeer, "a restarted daemon is a new peer");
    const pa = a.attach("kept", "test-a3");
    const pb = b.attach("kept", "test-b3");
    pa.port.send(frame(BCAST, [2, 0, 0, 0, 0, 0xa]));
    await until("frames cross again", 5000, () => pb.got.length === 1);
  });
});
