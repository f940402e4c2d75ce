/**
 * The link's message format (trunk-frame.ts): frames and whole GSO packets survive the
 * round trip bit for bit, and every message a hostile peer can make is answered with a
 * problem, never an exception.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { FrameOffload } from "../devices/virtio/net/offload.js";
import { ipPacket } from "../devices/virtio/net/net-testkit.js";
import { checkFrame, ETH } from "./switch.js";
import { decodeTrunkMessage, encodeTrunkMessage, TRUNK } from "./trunk-frame.js";

const GSO_10K: FrameOffload = { mss: 1448, l4Start: 34, hdrLen: 54 };

function plainFrame(len: number): Uint8Array {
  const f = new Uint8Array(len);
  for (let i = 0; i < len; i++) f[i] = (i * 31 + 7) & 0xff;
  f.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]);
  return f;
}

/** A GSO message whose header fields are replaced by these (mss, l4Start, hdrLen). */
function gsoMessage(mss: number, l4Start: number, hdrLen: number): Uint8Array {
  const m = encodeTrunkMessage(ipPacket(10000), GSO_10K);
  const v = new DataView(m.buffer);
  v.setUint16(2, mss);
  v.setUint16(4, l4Start);
  v.setUint16(6, hdrLen);
  return m;
}

function problemOf(msg: Uint8Array): string {
  const d = decodeTrunkMessage(msg);
  assert.ok("problem" in d, "expected the message to be refused");
  return d.problem;
}

describe("trunk messages", () => {
  test("a plain frame round-trips bit for bit, behind an 8-byte header of zeros", () => {
    for (const len of [ETH.HEADER, 60, ETH.MAX_FRAME, ETH.MAX_FRAME + ETH.VLAN_TAG]) {
      const f = plainFrame(len);
      const m = encodeTrunkMessage(f, null);
      assert.equal(m.length, TRUNK.HEADER + len);
      assert.deepEqual([...m.subarray(0, TRUNK.HEADER)], [0, 0, 0, 0, 0, 0, 0, 0]);
      const d = decodeTrunkMessage(m);
      assert.ok(!("problem" in d), JSON.stringify(d));
      assert.deepEqual(d.frame, f);
      assert.equal(d.gso, null);
    }
  });

  test("a whole 10000-byte GSO packet round-trips with its offload, and the switch's own check accepts it", () => {
    const pkt = ipPacket(10000);
    const m = encodeTrunkMessage(pkt, GSO_10K);
    assert.deepEqual([...m.subarray(0, TRUNK.HEADER)], [1, 0, 1448 >> 8, 1448 & 0xff, 0, 34, 0, 54]);
    const d = decodeTrunkMessage(m);
    assert.ok(!("problem" in d), JSON.stringify(d));
    assert.deepEqual(d.frame, pkt);
    assert.deepEqual(d.gso, GSO_10K);
    assert.equal(checkFrame(d.frame.slice(), d.gso), null);
  });

  test("the largest GSO packet fits the largest message; one byte more is refused as oversized", () => {
    const big = new Uint8Array(TRUNK.MAX_MESSAGE + 1);
    assert.match(problemOf(big), /^oversized message of 65563 bytes \(at most 65562\)$/);
    assert.equal(TRUNK.MAX_MESSAGE, TRUNK.HEADER + ETH.MAX_GSO_FRAME);
  });

  test("short messages: empty, a header alone, a header with less than an Ethernet header", () => {
    for (const n of [0, 1, TRUNK.HEADER, TRUNK.HEADER + ETH.HEADER - 1]) assert.match(problemOf(new Uint8Array(n)), /^short message of \d+ bytes \(at least 22\)$/);
  });

  test("bad headers: unknown kind, reserved byte set, GSO fields on a plain frame", () => {
    const m = encodeTrunkMessage(plainFrame(60), null);
    assert.match(problemOf(Uint8Array.from(m, (b, i) => (i === 0 ? 7 : b))), /unknown message kind 7/);
    assert.match(problemOf(Uint8Array.from(m, (b, i) => (i === 1 ? 1 : b))), /reserved header byte is 1/);
    assert.match(problemOf(Uint8Array.from(m, (b, i) => (i === 3 ? 1 : b))), /a plain frame with GSO fields set/);
  });

  test("bad GSO headers: MSS 0, TCP header inside the Ethernet header, headers ending before they start or past the packet", () => {
    for (const [mss, l4, hdr] of [
      [0, 34, 54],
      [1448, 10, 54],
      [1448, 34, 34],
      [1448, 34, 20],
      [1448, 34, 10054],
      [1448, 34, 0xffff],
    ] as const) {
      assert.match(problemOf(gsoMessage(mss, l4, hdr)), /^GSO header out of bounds/, `${mss} ${l4} ${hdr}`);
    }
  });

  test("random bytes never throw: each message is a frame or a problem", () => {
    let seed = 0x2545f491;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) & 0xff;
    for (let i = 0; i < 5000; i++) {
      const m = Uint8Array.from({ length: rnd() * 4 }, rnd);
      // Bias some headers to the valid kinds so the GSO checks are reached too.
      if (m.length > 1 && i % 2 === 0) {
        m[0] = i % 4 === 0 ? 1 : 0;
        m[1] = 0;
      }
      const d = decodeTrunkMessage(m);
      if ("problem" in d) assert.ok(d.problem.length > 0);
      else assert.equal(d.frame.length, m.length - TRUNK.HEADER);
    }
  });
});
