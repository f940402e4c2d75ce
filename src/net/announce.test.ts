/**
 * The announce a hypervisor sends for a VM that arrived on a new port (announce.ts): the
 * RARP frame's bytes (RFC 903 over RFC 826's layout), and SwitchBackend.announce moving
 * the VM's MAC on every switch of a linked segment.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { announceFrame, ANNOUNCE_DEFAULTS, RARP } from "./announce.js";
import { checkFrame, VirtualSwitch } from "./switch.js";
import { SwitchBackend } from "./switch-backend.js";
import { TrunkPort } from "./trunk.js";

const MAC = Uint8Array.from([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);

describe("announce", () => {
  test("the frame: broadcast RARP reverse request from the MAC, sender and target hardware address the MAC, addresses 0.0.0.0, 60 bytes", () => {
    const f = announceFrame(MAC);
    assert.equal(f.length, RARP.FRAME_BYTES);
    const hex = Buffer.from(f).toString("hex");
    assert.equal(
      hex,
      "ffffffffffff" + "525400123456" + "8035" + "0001" + "0800" + "06" + "04" + "0003" + "525400123456" + "00000000" + "525400123456" + "00000000" + "00".repeat(18),
    );
    assert.equal(checkFrame(f), null, "a frame every switch port accepts");
  });

  test("a multicast or short MAC is refused (a programming error, not a frame)", () => {
    assert.throws(() => announceFrame(Uint8Array.from([1, 0, 0, 0, 0, 1])), /unicast/);
    assert.throws(() => announceFrame(new Uint8Array(5)), /6 bytes/);
  });

  test("SwitchBackend.announce: sent COUNT times from the VM's port, INTERVAL_MS apart; every switch on the segment moves the MAC", async () => {
    // Switches A and B joined by a trunk that delivers at once; the VM lived on A.
    const a = new VirtualSwitch("lan");
    const b = new VirtualSwitch("lan");
    const ends: { ta?: TrunkPort; tb?: TrunkPort } = {};
    ends.ta = new TrunkPort(a, "link:b", { send: (m) => (ends.tb!.receive(m), true), bufferedAmount: 0 });
    ends.tb = new TrunkPort(b, "link:a", { send: (m) => (ends.ta!.receive(m), true), bufferedAmount: 0 });
    const old = a.attach({ deliver: () => true }, "vm-old");
    old.send(announceFrame(MAC));
    assert.equal(a.lookup(MAC), old);
    assert.equal(b.lookup(MAC), ends.tb.port, "B sends the VM's traffic over the link");

    old.detach(); // the VM left A …
    const arrived = new SwitchBackend(b, "vm"); // … and arrived on B
    const seen: number[] = [];
    const t0 = performance.now();
    a.attach({ deliver: () => (seen.push(performance.now() - t0), true) }, "peer-on-a");
    const n = await arrived.announce(MAC);
    assert.equal(n, ANNOUNCE_DEFAULTS.COUNT);
    assert.equal(seen.length, ANNOUNCE_DEFAULTS.COUNT, "a peer on the far switch saw every announce");
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! - seen[i - 1]! >= ANNOUNCE_DEFAULTS.INTERVAL_MS - 5, `spaced: ${seen.join(", ")}`);
    assert.equal(b.lookup(MAC), arrived.port, "B learned the VM on its new port");
    assert.equal(a.lookup(MAC), ends.ta.port, "A sends the VM's traffic over the link now");
  });

  test("an announce stops when the port is unplugged", async () => {
    const sw = new VirtualSwitch("lan");
    const be = new SwitchBackend(sw, "vm");
    const p = be.announce(MAC, { count: 5, intervalMs: 10 });
    be.close();
    assert.equal(await p, 1, "the first went at once, then the port was gone");
  });
});
