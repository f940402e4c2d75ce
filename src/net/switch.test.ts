import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RateLimiter } from "../devices/rate-limiter.js";
import { checkFrame, Networks, VirtualSwitch } from "./switch.js";
import { BCAST, frame, mac } from "./switch-testkit.js";

function setup(opts: { agingMs?: number; maxMacs?: number } = {}) {
  const clock = { t: 0 };
  const sw = new VirtualSwitch("lan", { ...opts, clock: () => clock.t });
  const inbox: Uint8Array[][] = [[], [], []];
  const accept = [true, true, true];
  const ports = [0, 1, 2].map((i) => sw.attach({ deliver: (f) => (accept[i] ? (inbox[i]!.push(f), true) : false) }, `p${i}`));
  return { sw, ports, inbox, accept, clock };
}

describe("virtual switch", () => {
  test("unknown unicast floods to every other port; the reply is forwarded only to the learned port", () => {
    const { ports, inbox, sw } = setup();
    assert.equal(ports[0]!.send(frame(mac(2), mac(1))), true);
    assert.deepEqual(inbox.map((b) => b.length), [0, 1, 1]);
    ports[1]!.send(frame(mac(1), mac(2)));
    assert.deepEqual(inbox.map((b) => b.length), [1, 1, 1], "to port 0 only");
    ports[0]!.send(frame(mac(2), mac(1)));
    assert.deepEqual(inbox.map((b) => b.length), [1, 2, 1], "now learned: to port 1 only");
    assert.equal(sw.lookup(new Uint8Array(mac(2))), ports[1]);
    assert.equal(sw.stats.forwarded, 2);
    assert.equal(sw.stats.flooded, 1);
  });

  test("broadcast and multicast flood; never back to the sender", () => {
    const { ports, inbox } = setup();
    ports[1]!.send(frame(BCAST, mac(2)));
    ports[1]!.send(frame([0x01, 0x00, 0x5e, 0, 0, 1], mac(2)));
    assert.deepEqual(inbox.map((b) => b.length), [2, 0, 2]);
  });

  test("a destination learned on the sender's own port is filtered (no hairpin)", () => {
    const { ports, inbox } = setup();
    ports[0]!.send(frame(BCAST, mac(1)));
    ports[0]!.send(frame(BCAST, mac(9))); // mac 9 also lives behind port 0
    ports[0]!.send(frame(mac(9), mac(1)));
    assert.deepEqual(inbox.map((b) => b.length), [0, 2, 2]);
  });

  test("frames are copied: later writes to the sender's buffer change nothing", () => {
    const { ports, inbox } = setup();
    const f = frame(BCAST, mac(1));
    ports[0]!.send(f);
    f.fill(0);
    assert.equal(inbox[1]![0]![0], 0xff);
    assert.notEqual(inbox[1]![0]!.buffer, f.buffer);
  });

  test("entries age out, then the switch floods again; a moved MAC is relearned", () => {
    const { ports, inbox, clock, sw } = setup({ agingMs: 300_000 });
    ports[1]!.send(frame(BCAST, mac(2)));
    clock.t = 299_000;
    ports[0]!.send(frame(mac(2), mac(1)));
    assert.deepEqual(inbox.map((b) => b.length), [1, 1, 1], "still learned");
    clock.t = 600_000;
    ports[0]!.send(frame(mac(2), mac(1)));
    assert.deepEqual(inbox.map((b) => b.length), [1, 2, 2], "aged: flooded");
    assert.equal(sw.stats.aged, 1);
    ports[2]!.send(frame(BCAST, mac(2)));
    assert.equal(sw.lookup(new Uint8Array(mac(2))), ports[2]);
  });

  test("the MAC table is bounded: the oldest entry is evicted", () => {
    const { ports, sw } = setup({ maxMacs: 2 });
    ports[0]!.send(frame(BCAST, mac(1)));
    ports[0]!.send(frame(BCAST, mac(2)));
    ports[0]!.send(frame(BCAST, mac(3)));
    assert.equal(sw.macCount, 2);
    assert.equal(sw.lookup(new Uint8Array(mac(1))), null);
    assert.equal(sw.lookup(new Uint8Array(mac(3))), ports[0]);
    assert.equal(sw.stats.evicted, 1);
  });

  test("malformed frames are dropped and counted, and teach nothing", () => {
    const { ports, inbox, sw } = setup();
    assert.equal(ports[0]!.send(new Uint8Array(13)), false, "runt");
    assert.equal(ports[0]!.send(frame(BCAST, mac(1), 1515)), false, "too long untagged");
    assert.equal(ports[0]!.send(frame(BCAST, BCAST)), false, "broadcast source");
    assert.equal(ports[0]!.send(frame(BCAST, [0x01, 0, 0, 0, 0, 1])), false, "multicast source");
    assert.equal(ports[0]!.stats.drops.malformed, 4);
    assert.equal(ports[0]!.stats.rxFrames, 0);
    assert.deepEqual(inbox.map((b) => b.length), [0, 0, 0]);
    assert.equal(sw.macCount, 0);
    const tagged = frame(BCAST, mac(1), 1518);
    tagged[12] = 0x81;
    tagged[13] = 0x00;
    assert.equal(checkFrame(tagged), null, "802.1Q frames may be 1518 bytes");
    assert.equal(ports[0]!.send(tagged), true);
    assert.equal(ports[0]!.send(frame(BCAST, mac(1), 14)), true, "header-only frame");
  });

  test("per-port counters, no-buffer drops at egress", () => {
    const { ports, accept } = setup();
    accept[2] = false;
    ports[0]!.send(frame(BCAST, mac(1), 100));
    const s0 = ports[0]!.stats;
    assert.equal(s0.rxFrames, 1);
    assert.equal(s0.rxBytes, 100);
    assert.equal(ports[1]!.stats.txFrames, 1);
    assert.equal(ports[1]!.stats.txBytes, 100);
    assert.equal(ports[2]!.stats.txFrames, 0);
    assert.equal(ports[2]!.stats.drops.noBuffer, 1);
  });

  test("ingress rate limiter drops and counts", () => {
    const clock = { t: 0 };
    const sw = new VirtualSwitch("lan", { clock: () => clock.t });
    const got: Uint8Array[] = [];
    const rl = new RateLimiter({ ops: { size: 2, refillTimeMs: 1000 } }, () => clock.t);
    const a = sw.attach({ deliver: () => true }, "a", { rateLimiter: rl });
    sw.attach({ deliver: (f) => (got.push(f), true) }, "b");
    for (let i = 0; i < 5; i++) a.send(frame(BCAST, mac(1)));
    assert.equal(got.length, 2);
    assert.equal(a.stats.drops.rateLimited, 3);
    clock.t = 1000;
    a.send(frame(BCAST, mac(1)));
    assert.equal(got.length, 3);
  });

  test("detach forgets the port's MACs and stops its sends", () => {
    const { ports, inbox, sw } = setup();
    ports[1]!.send(frame(BCAST, mac(2)));
    ports[1]!.detach();
    assert.equal(sw.lookup(new Uint8Array(mac(2))), null);
    assert.equal(ports[1]!.send(frame(BCAST, mac(2))), false);
    ports[0]!.send(frame(mac(2), mac(1)));
    assert.deepEqual(inbox.map((b) => b.length), [1, 0, 2]);
  });

  test("hand-over: a VM's port detaches and at once (no aging wait) frames for its MAC flood, so they reach the link it left by", () => {
    const { ports, inbox, sw, clock } = setup();
    // Port 1 is a VM, port 2 a link to another daemon; port 0 a peer that talks to the VM.
    ports[1]!.send(frame(BCAST, mac(2)));
    ports[0]!.send(frame(mac(2), mac(1)));
    assert.deepEqual(inbox.map((b) => b.length), [1, 1, 1], "learned: the unicast went to the VM only");
    clock.t = 1; // well inside the 300 s aging time
    ports[1]!.detach();
    ports[0]!.send(frame(mac(2), mac(1)));
    assert.deepEqual(inbox.map((b) => b.length), [1, 1, 2], "flooded: the link gets it");
    assert.equal(sw.stats.aged, 0);
  });

  test("a handler that throws counts as a drop, not a crash", () => {
    const sw = new VirtualSwitch("x");
    const a = sw.attach({ deliver: () => true }, "a");
    const b = sw.attach({ deliver: () => { throw new Error("boom"); } }, "b");
    assert.equal(a.send(frame(BCAST, mac(1))), true);
    assert.equal(b.stats.drops.noBuffer, 1);
  });
});

describe("networks", () => {
  test("VMs naming the same network share a switch", () => {
    const n = new Networks();
    assert.equal(n.get("lan"), n.get("lan"));
    assert.notEqual(n.get("lan"), n.get("dmz"));
    assert.deepEqual(n.names().sort(), ["dmz", "lan"]);
    assert.equal(n.has("wan"), false);
    assert.equal(n.delete("dmz"), true);
  });
});
