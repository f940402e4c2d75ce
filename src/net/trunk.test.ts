/**
 * Two switches joined by trunk ports (trunk.ts) over an in-memory transport: one L2
 * segment, whole GSO packets crossing it, a hostile far side held to the switch's rules,
 * and a slow link that drops instead of buffering without end.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ipPacket } from "../devices/virtio/net/net-testkit.js";
import type { FrameOffload } from "../devices/virtio/net/offload.js";
import { newPortStats, VirtualSwitch, type SwitchPort } from "./switch.js";
import { addPortStats, TrunkPort, type TrunkTransport } from "./trunk.js";
import { BCAST, frame, mac } from "./switch-testkit.js";
import { encodeTrunkMessage } from "./trunk-frame.js";

/** One direction of a link: queues messages until flushed into the far trunk. */
class Pipe implements TrunkTransport {
  queued: Uint8Array[] = [];
  far: TrunkPort | null = null;
  get bufferedAmount(): number {
    return this.queued.reduce((n, m) => n + m.length, 0);
  }
  send(msg: Uint8Array): boolean {
    this.queued.push(msg);
    return true;
  }
  flush(): void {
    const q = this.queued;
    this.queued = [];
    for (const m of q) this.far!.receive(m);
  }
}

interface Vm {
  port: SwitchPort;
  inbox: { frame: Uint8Array; gso: FrameOffload | null }[];
}

function vm(sw: VirtualSwitch, name: string): Vm {
  const inbox: Vm["inbox"] = [];
  return { port: sw.attach({ deliver: (f, gso) => (inbox.push({ frame: f, gso }), true) }, name), inbox };
}

/** Switches A and B, one VM on each, joined by a trunk; `pump` moves queued messages both ways. */
function linked(maxBufferedBytes?: number) {
  const a = new VirtualSwitch("lan");
  const b = new VirtualSwitch("lan");
  const ab = new Pipe();
  const ba = new Pipe();
  const opts = maxBufferedBytes !== undefined ? { maxBufferedBytes } : {};
  const ta = new TrunkPort(a, "link:b", ab, opts);
  const tb = new TrunkPort(b, "link:a", ba, opts);
  ab.far = tb;
  ba.far = ta;
  const pump = (): void => {
    ab.flush();
    ba.flush();
  };
  return { a, b, ta, tb, ab, ba, pump, va: vm(a, "va"), vb: vm(b, "vb") };
}

describe("trunk ports", () => {
  test("two switches joined by a trunk are one segment: a broadcast crosses, the reply comes back, each side learns the far MAC on its trunk", () => {
    const { a, b, ta, tb, pump, va, vb } = linked();
    va.port.send(frame(BCAST, mac(1)));
    pump();
    assert.equal(vb.inbox.length, 1);
    assert.deepEqual(vb.inbox[0]!.frame, frame(BCAST, mac(1)));
    vb.port.send(frame(mac(1), mac(2)));
    pump();
    assert.equal(va.inbox.length, 1, "the reply reached the VM on A");
    assert.equal(a.lookup(new Uint8Array(mac(2))), ta.port);
    assert.equal(b.lookup(new Uint8Array(mac(1))), tb.port);
    assert.deepEqual([ta.port.stats.txFrames, ta.port.stats.rxFrames], [1, 1]);
    // Unicast to a MAC learned locally never touches the link.
    vm(a, "va2").port.send(frame(mac(1), mac(3)));
    assert.equal(ta.port.stats.txFrames, 1, "mac 1 is learned on va's port: forwarded there, not across");
    assert.equal(va.inbox.length, 2);
  });

  test("a whole GSO packet crosses as one message and arrives whole with its offload", () => {
    const { pump, va, vb } = linked();
    const gso: FrameOffload = { mss: 1448, l4Start: 34, hdrLen: 54 };
    const pkt = ipPacket(10000);
    assert.equal(va.port.send(pkt, gso), true);
    pump();
    assert.equal(vb.inbox.length, 1);
    assert.deepEqual(vb.inbox[0]!.frame, pkt);
    assert.deepEqual(vb.inbox[0]!.gso, gso);
  });

  test("hostile messages are dropped and counted as the trunk port's malformed drops; nothing reaches the VMs; the link goes on", () => {
    const { tb, vb, va, pump } = linked();
    const lies: Uint8Array[] = [
      new Uint8Array(3),
      new Uint8Array(70_000),
      Uint8Array.from(encodeTrunkMessage(frame(BCAST, mac(1)), null), (x, i) => (i === 0 ? 9 : x)),
      encodeTrunkMessage(frame(BCAST, BCAST), null), // broadcast source: the switch's own check
      // A GSO header in bounds whose packet is not TCP: the switch re-derives the headers and refuses.
      encodeTrunkMessage(frame(BCAST, mac(1), 200), { mss: 1448, l4Start: 34, hdrLen: 54 }),
    ];
    for (const m of lies) assert.doesNotThrow(() => tb.receive(m));
    tb.refuse("a text message");
    assert.equal(tb.port.stats.drops.malformed, 6);
    assert.equal(tb.stats.badMessages, 4, "the two the switch refused are the switch's, not the trunk's");
    assert.equal(tb.stats.lastProblem, "a text message");
    assert.equal(vb.inbox.length, 0);
    assert.equal(tb.port.stats.rxFrames, 0);
    va.port.send(frame(BCAST, mac(1)));
    pump();
    assert.equal(vb.inbox.length, 1, "good frames still cross");
  });

  test("a slow link: past the bound of buffered bytes frames are dropped as no-buffer, not queued", () => {
    const { ta, ab, va, vb, pump } = linked(1000);
    for (let i = 0; i < 40; i++) va.port.send(frame(BCAST, mac(1), 100));
    assert.equal(ab.queued.length, 9, "9 × 108 bytes queued; the 10th would pass 1000");
    assert.ok(ab.bufferedAmount <= 1000);
    assert.equal(ta.port.stats.drops.noBuffer, 31);
    assert.equal(ta.port.stats.txFrames, 9);
    pump();
    assert.equal(vb.inbox.length, 9);
    va.port.send(frame(BCAST, mac(1), 100));
    assert.equal(ab.queued.length, 1, "drained: sending again");
  });

  test("closing the trunk forgets the MACs learned through it: frames for them flood again", () => {
    const { a, ta, va, vb, pump } = linked();
    vb.port.send(frame(BCAST, mac(2)));
    pump();
    assert.equal(a.lookup(new Uint8Array(mac(2))), ta.port);
    ta.close();
    assert.equal(a.lookup(new Uint8Array(mac(2))), null);
    ta.receive(encodeTrunkMessage(frame(BCAST, mac(2)), null));
    assert.equal(va.inbox.length, 1, "a closed trunk takes nothing more");
  });

  test("a link's totals add up its connections' counters", () => {
    const total = newPortStats();
    const one = newPortStats();
    one.rxFrames = 2;
    one.txBytes = 100;
    one.drops.noBuffer = 1;
    addPortStats(total, one);
    addPortStats(total, one);
    assert.deepEqual(total, { rxFrames: 4, rxBytes: 0, txFrames: 0, txBytes: 200, drops: { malformed: 0, noBuffer: 2, rateLimited: 0 } });
  });
});
