/**
 * Whole TCP packets between pv guests (virtio 1.2 §5.1.6.2 transmit offloads, §5.1.6.3–4
 * receive with VIRTIO_NET_F_GUEST_TSO4 and VIRTIO_NET_F_MRG_RXBUF): a TSO packet leaves
 * the sender whole when its backend takes GSO, crosses the switch whole, and reaches a
 * driver that accepted GUEST_TSO4 as one packet spread over merged buffers; anyone else
 * (an e1000, a driver without the feature) gets wire-sized frames with good checksums.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { VirtualSwitch } from "../../../net/switch.js";
import { SwitchBackend } from "../../../net/switch-backend.js";
import { be16, be32 } from "../../e1000/packet.js";
import { bit } from "../virtio.js";
import type { MockQueue } from "../mock-driver.js";
import type { GuestRam } from "../../../mem/ram.js";
import { VIRTIO_NET_F } from "./device.js";
import { checkGsoTcp4, forEachPlainFrame, VIRTIO_NET_HDR, type FrameOffload } from "./offload.js";
import { A, B, bufAddr, checked, ethFrame, HDR, ipPacket, postRx, setup, TestBackend, txOffload, up } from "./net-testkit.js";

const TSO = { flags: VIRTIO_NET_HDR.F_NEEDS_CSUM, gso: VIRTIO_NET_HDR.GSO_TCPV4, gsoSize: 1448, csumStart: 34, csumOffset: 16 };
const GSO_10K: FrameOffload = { mss: 1448, l4Start: 34, hdrLen: 54 };

/** Every used buffer's bytes, in used order: [header of the first, …payload]. */
function usedBytes(rx: MockQueue, mem: GuestRam, from: number, count: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = from; i < from + count; i++) {
    const at = bufAddr(rx, mem, i) - mem.base;
    out.push(mem.u8.slice(at, at + rx.usedElem(i).len));
  }
  return out;
}

describe("GSO packets travel whole between pv guests", () => {
  test("HOST_TSO4 to a backend that takes GSO: one packet with its offload, nothing cut", () => {
    const backend = new TestBackend(true);
    const { drv, net } = setup(backend);
    const { tx } = up(drv);
    const pkt = ipPacket(10000);
    txOffload(tx, pkt, TSO);
    drv.notify(1);
    assert.equal(backend.sent.length, 1);
    assert.deepEqual(backend.sent[0], pkt);
    assert.deepEqual(backend.sentGso[0], GSO_10K);
    assert.equal(net.stats.txGsoWhole, 1);
    assert.equal(net.stats.txSegments, 0);
  });

  test("a GSO packet whose checksum request is not at its TCP header, or ECN-marked, is cut as before", () => {
    const backend = new TestBackend(true);
    const { drv, net } = setup(backend);
    const { tx } = up(drv);
    txOffload(tx, ipPacket(3000), { ...TSO, csumStart: 30 });
    txOffload(tx, ipPacket(3000), { ...TSO, gso: VIRTIO_NET_HDR.GSO_TCPV4 | VIRTIO_NET_HDR.GSO_ECN });
    drv.notify(1);
    assert.equal(net.stats.txGsoWhole, 0);
    assert.ok(backend.sentGso.every((g) => g === null));
    assert.equal(backend.sent.length, 3 + 3, "both cut into 3 segments (cutting recomputes every checksum)");
  });

  test("GUEST_TSO4 + MRG_RXBUF: a 10000-byte packet spans 7 buffers, num_buffers 7, NEEDS_CSUM + GSO_TCPV4 header, bytes intact", () => {
    const { drv, mem, backend, net } = setup();
    const { rx } = up(drv, drv.deviceFeatures());
    for (let i = 0; i < 10; i++) postRx(rx, 1536);
    const pkt = ipPacket(10000);
    assert.equal((backend as TestBackend).deliver(pkt, GSO_10K), true);
    assert.equal(rx.usedIdx(), 7);
    const bufs = usedBytes(rx, mem, 0, 7);
    const hdr = new DataView(bufs[0]!.buffer, bufs[0]!.byteOffset, HDR);
    assert.equal(hdr.getUint8(0), VIRTIO_NET_HDR.F_NEEDS_CSUM);
    assert.equal(hdr.getUint8(1), VIRTIO_NET_HDR.GSO_TCPV4);
    assert.deepEqual([2, 4, 6, 8, 10].map((o) => hdr.getUint16(o, true)), [54, 1448, 34, 16, 7], "hdr_len, gso_size, csum_start, csum_offset, num_buffers");
    const joined = Uint8Array.from(bufs.flatMap((b, i) => [...(i === 0 ? b.subarray(HDR) : b)]));
    assert.deepEqual(joined, pkt);
    assert.equal(net.stats.rxGsoPackets, 1);
    assert.equal(net.stats.rxMergedBuffers, 6);
  });

  test("MRG_RXBUF: a frame waits, holding its buffers, until the driver posts enough; they become used together", () => {
    const { drv, mem, backend } = setup();
    const { rx } = up(drv, drv.deviceFeatures());
    postRx(rx, 1000);
    const frame = ethFrame(A, B, 1400);
    (backend as TestBackend).deliver(frame);
    assert.equal(rx.usedIdx(), 0, "one 1000-byte buffer cannot hold 12 + 1400 bytes");
    postRx(rx, 1000);
    drv.notify(0);
    assert.equal(rx.usedIdx(), 2);
    const [first, second] = usedBytes(rx, mem, 0, 2);
    assert.equal(new DataView(first!.buffer, first!.byteOffset).getUint16(10, true), 2, "num_buffers");
    assert.deepEqual(Uint8Array.from([...first!.subarray(HDR), ...second!]), frame);
  });

  test("MRG_RXBUF with hostile buffers: read-only ones come back empty; a ring too small for the frame drops it", () => {
    const { drv, backend, net } = setup();
    const { rx } = up(drv, drv.deviceFeatures());
    rx.add([{ len: 2000 }]); // read-only
    postRx(rx, 1536);
    (backend as TestBackend).deliver(ethFrame(A, B, 100));
    assert.deepEqual([0, 1].map((i) => rx.usedElem(i).len), [0, HDR + 100]);
    assert.equal(net.stats.rxBufferTooSmall, 1);
    assert.equal(net.stats.rxFrames, 1);

    // A whole ring (256 entries) of 2-byte buffers: 512 bytes can never hold 12 + 1000.
    const s2 = setup();
    const { rx: rx2 } = up(s2.drv, s2.drv.deviceFeatures());
    for (let i = 0; i < 256; i++) postRx(rx2, 2);
    (s2.backend as TestBackend).deliver(ethFrame(A, B, 1000));
    assert.equal(rx2.usedIdx(), 256, "every held buffer back");
    assert.ok([...Array(256).keys()].every((i) => rx2.usedElem(i).len === 0));
    assert.equal(s2.net.stats.rxBufferTooSmall, 1);
    assert.equal(s2.net.stats.rxFrames, 0);
    assert.equal(s2.net.rxPending, 0);
  });

  test("a driver without GUEST_TSO4 gets the packet cut into MSS frames with good checksums", () => {
    const { drv, mem, backend, net } = setup();
    const features = drv.deviceFeatures() & ~bit(VIRTIO_NET_F.GUEST_TSO4) & ~bit(VIRTIO_NET_F.MRG_RXBUF);
    const { rx } = up(drv, features);
    for (let i = 0; i < 8; i++) postRx(rx);
    const pkt = ipPacket(10000);
    (backend as TestBackend).deliver(pkt, GSO_10K);
    assert.equal(rx.usedIdx(), 7);
    assert.equal(net.stats.rxGsoCut, 1);
    const frames = usedBytes(rx, mem, 0, 7).map((b) => b.subarray(HDR));
    frames.forEach((f, i) => {
      const c = checked(f);
      assert.ok(c.ipChecked && !c.ipBad && c.l4Checked && !c.l4Bad, `segment ${i} checksums`);
      assert.equal(be32(f, 38), 0x01020304 + i * 1448, "TCP seq");
    });
    assert.deepEqual(Uint8Array.from(frames.flatMap((f) => [...f.subarray(54)])), pkt.subarray(54));
  });

  test("pv to pv over the switch: the packet arrives whole; the switch re-checks offloads on its copy", () => {
    const sw = new VirtualSwitch("gso");
    const sa = setup(new SwitchBackend(sw, "a"), { mac: new Uint8Array(A) });
    const sb = setup(new SwitchBackend(sw, "b"), { mac: new Uint8Array(B) });
    const { tx } = up(sa.drv, sa.drv.deviceFeatures());
    const { rx } = up(sb.drv, sb.drv.deviceFeatures());
    for (let i = 0; i < 16; i++) postRx(rx, 1536);
    // b's MAC must be learned first (unknown unicast would flood; it still arrives).
    txOffload(tx, ipPacket(10000), TSO);
    sa.drv.notify(1);
    assert.equal(sb.net.stats.rxGsoPackets, 1);
    assert.equal(sb.net.stats.rxFrames, 1);
    const port = (sa.backend as SwitchBackend).port;
    assert.equal(port.stats.rxFrames, 1);
    assert.equal(port.stats.rxBytes, 54 + 10000);
    // An offload that does not match the packet is malformed at the switch.
    assert.equal(port.send(ipPacket(3000), { mss: 1448, l4Start: 34, hdrLen: 60 }), false);
    assert.equal(port.send(ethFrame(B, A, 3000), GSO_10K), false);
    assert.equal(port.stats.drops.malformed, 2);
  });
});

describe("checkGsoTcp4 (what may travel whole)", () => {
  test("IPv4 TCP with the checksum at the TCP header and an MSS that fits an MTU; nothing else", () => {
    const pkt = ipPacket(5000);
    assert.deepEqual(checkGsoTcp4(pkt, pkt.length, 1448, 34, 16), GSO_10K);
    assert.equal(checkGsoTcp4(pkt, pkt.length, 1461, 34, 16), null, "MSS past a 1500-byte MTU");
    assert.equal(checkGsoTcp4(pkt, pkt.length, 0, 34, 16), null);
    assert.equal(checkGsoTcp4(pkt, pkt.length, 1448, 34, 6), null);
    const udp = ipPacket(5000, 17);
    assert.equal(checkGsoTcp4(udp, udp.length, 1448, 34, 16), null);
    assert.equal(checkGsoTcp4(pkt, 54, 1448, 34, 16), null, "no payload");
    const cut: Uint8Array[] = [];
    assert.equal(forEachPlainFrame(pkt, GSO_10K, new Uint8Array(1518), (f) => cut.push(f) > 0), 4);
    assert.deepEqual(cut.map((f) => be16(f, 16)), [1488, 1488, 1488, 40 + 5000 - 3 * 1448]);
  });
});
