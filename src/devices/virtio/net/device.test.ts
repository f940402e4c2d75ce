import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RateLimiter } from "../../rate-limiter.js";
import { VirtualSwitch } from "../../../net/switch.js";
import { VIRTIO_MMIO } from "../mmio.js";
import { bit, VIRTIO_F, VIRTIO_STATUS } from "../virtio.js";
import { VIRTIO_NET_F } from "./device.js";
import { A, B, BCAST, bufAddr, checked, ethFrame, HDR, ipPacket, postRx, setup, TestBackend, txOffload, txOne, up } from "./net-testkit.js";
import { formatMac, isLocallyAdministered, isMulticast, macFromName, parseMac } from "./mac.js";
import { SwitchBackend } from "../../../net/switch-backend.js";
import { be16, be32, fold, onesSum } from "../../e1000/packet.js";
import { VIRTIO_NET_HDR } from "./offload.js";

describe("virtio-net device", () => {
  test("device id 1, two queues of 256, MAC and STATUS offered, config holds MAC and link up", () => {
    const { drv, dev } = setup();
    assert.equal(drv.r(VIRTIO_MMIO.DEVICE_ID), 1);
    for (const q of [0, 1]) {
      drv.w(VIRTIO_MMIO.QUEUE_SEL, q);
      assert.equal(drv.r(VIRTIO_MMIO.QUEUE_NUM_MAX), 256);
    }
    drv.w(VIRTIO_MMIO.QUEUE_SEL, 2);
    assert.equal(drv.r(VIRTIO_MMIO.QUEUE_NUM_MAX), 0);
    const f = drv.deviceFeatures();
    assert.ok(f & bit(VIRTIO_NET_F.MAC));
    assert.ok(f & bit(VIRTIO_NET_F.STATUS));
    const offloads = [VIRTIO_NET_F.CSUM, VIRTIO_NET_F.GUEST_CSUM, VIRTIO_NET_F.HOST_TSO4, VIRTIO_NET_F.GUEST_TSO4, VIRTIO_NET_F.MRG_RXBUF];
    for (const o of offloads) assert.ok(f & bit(o), `offload ${o}`);
    const plain = setup(new TestBackend(), { offloads: false }).drv.deviceFeatures();
    for (const o of offloads) assert.equal(plain & bit(o), 0n, `offload ${o} with offloads: false`);
    const mac = [0, 1, 2, 3, 4, 5].map((i) => dev.read(VIRTIO_MMIO.CONFIG + i, 1));
    assert.deepEqual(mac, A);
    assert.equal(dev.read(VIRTIO_MMIO.CONFIG + 6, 2), 1, "VIRTIO_NET_S_LINK_UP");
  });

  test("tx: the frame reaches the backend without the header; used length 0; interrupt", () => {
    const { drv, irq, backend, net } = setup();
    const { tx } = up(drv);
    const f = ethFrame(B, A, 98);
    const { head } = txOne(tx, f);
    drv.notify(1);
    const be = backend as TestBackend;
    assert.equal(be.sent.length, 1);
    assert.deepEqual(be.sent[0], f);
    assert.deepEqual(tx.usedElem(0), { id: head, len: 0 });
    assert.equal(irq.level, true);
    assert.equal(net.stats.txFrames, 1);
    assert.equal(net.stats.txBytes, 98);
  });

  test("tx: header and frame split over several segments, and indirect", () => {
    const { drv, backend } = setup();
    const { tx } = up(drv);
    const f = ethFrame(B, A, 200);
    tx.add([{ len: 5, data: new Uint8Array(5) }, { len: 10, data: new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) }]);
    // That chain is a 3-byte "frame": malformed. Now a real split one: 12-byte header, frame in 3 parts.
    tx.add([{ len: HDR, data: new Uint8Array(HDR) }, { len: 50, data: f.subarray(0, 50) }, { len: 100, data: f.subarray(50, 150) }, { len: 50, data: f.subarray(150) }]);
    const both = new Uint8Array(HDR + f.length);
    both.set(f, HDR);
    tx.add([{ len: 7, data: both.subarray(0, 7) }, { len: both.length - 7, data: both.subarray(7) }], { indirect: true });
    drv.notify(1);
    const be = backend as TestBackend;
    assert.equal(be.sent.length, 2);
    assert.deepEqual(be.sent[0], f);
    assert.deepEqual(be.sent[1], f);
    assert.equal(tx.usedIdx(), 3);
  });

  test("rx: a frame lands in a posted buffer after a zeroed header with num_buffers = 1", () => {
    const { drv, backend, mem, irq, net } = setup();
    const { rx } = up(drv);
    const { head, addrs } = postRx(rx);
    drv.notify(0);
    const f = ethFrame(A, B, 60);
    assert.equal((backend as TestBackend).deliver(f), true);
    assert.deepEqual(rx.usedElem(0), { id: head, len: HDR + 60 });
    const got = mem.readBytes(addrs[0]!, HDR + 60);
    assert.deepEqual(got.subarray(0, 10), new Uint8Array(10));
    assert.equal(got[10], 1);
    assert.equal(got[11], 0);
    assert.deepEqual(got.subarray(HDR), f);
    assert.equal(irq.level, true);
    assert.equal(net.stats.rxFrames, 1);
    assert.equal(net.stats.rxBytes, 60);
  });

  test("rx: the header and frame may span segments", () => {
    const { drv, backend, mem } = setup();
    const { rx } = up(drv);
    const { addrs } = rx.add([{ len: 4, write: true }, { len: 30, write: true }, { len: 2000, write: true }]);
    const f = ethFrame(A, B, 100);
    (backend as TestBackend).deliver(f);
    const got = new Uint8Array([...mem.readBytes(addrs[0]!, 4), ...mem.readBytes(addrs[1]!, 30), ...mem.readBytes(addrs[2]!, 78)]);
    assert.deepEqual(got.subarray(HDR), f);
  });

  test("rx: frames wait for buffers, in order; the queue is bounded", () => {
    const { drv, backend, net, irq } = setup(new TestBackend(), { rxPendingMax: 3 });
    const { rx } = up(drv);
    const be = backend as TestBackend;
    const frames = [1, 2, 3, 4].map((s) => ethFrame(A, B, 60 + s, s));
    assert.deepEqual(frames.map((f) => be.deliver(f)), [true, true, true, false]);
    assert.equal(net.stats.rxDroppedQueueFull, 1);
    assert.equal(net.rxPending, 3);
    assert.equal(irq.level, false);
    postRx(rx);
    postRx(rx);
    drv.notify(0);
    assert.equal(rx.usedIdx(), 2);
    assert.equal(rx.usedElem(0).len, HDR + 61);
    assert.equal(rx.usedElem(1).len, HDR + 62);
    assert.equal(net.rxPending, 1);
    assert.equal(irq.level, true);
    postRx(rx);
    drv.notify(0);
    assert.equal(rx.usedElem(2).len, HDR + 63);
    assert.equal(net.rxPending, 0);
  });

  test("rx before the driver is ready: dropped and counted", () => {
    const { backend, net } = setup();
    assert.equal((backend as TestBackend).deliver(ethFrame(A, B, 60)), false);
    assert.equal(net.stats.rxDroppedNotReady, 1);
  });

  test("hostile tx chains: too short, too long, writable segment — completed, counted, not sent", () => {
    const { drv, backend, net, dev } = setup();
    const { tx } = up(drv);
    tx.add([{ len: HDR + 13, data: new Uint8Array(HDR + 13) }]);
    tx.add([{ len: HDR + 1519, data: new Uint8Array(HDR + 1519) }]);
    tx.add([{ len: HDR + 60, data: new Uint8Array(HDR + 60) }, { len: 16, write: true }]);
    tx.add([{ len: 16, write: true }]);
    tx.add([{ len: 0 }]);
    drv.notify(1);
    assert.equal((backend as TestBackend).sent.length, 0);
    assert.equal(net.stats.txMalformed, 5);
    assert.equal(tx.usedIdx(), 5);
    for (let i = 0; i < 5; i++) assert.equal(tx.usedElem(i).len, 0);
    assert.equal(drv.status & VIRTIO_STATUS.DEVICE_NEEDS_RESET, 0, "bad frames are not ring errors");
    // The device still works afterwards.
    txOne(tx, ethFrame(B, A, 60));
    drv.notify(1);
    assert.equal((backend as TestBackend).sent.length, 1);
    assert.equal(dev.lastError, null);
  });

  test("hostile rx buffers: too small, or read-only — buffer returned empty, frame dropped", () => {
    const { drv, backend, net, dev } = setup();
    const { rx } = up(drv);
    rx.add([{ len: HDR + 59, write: true }]);
    rx.add([{ len: 2000 }]);
    postRx(rx);
    const be = backend as TestBackend;
    be.deliver(ethFrame(A, B, 60, 1));
    be.deliver(ethFrame(A, B, 60, 2));
    be.deliver(ethFrame(A, B, 60, 3));
    assert.equal(net.stats.rxBufferTooSmall, 2);
    assert.deepEqual([0, 1, 2].map((i) => rx.usedElem(i).len), [0, 0, HDR + 60]);
    assert.equal(net.stats.rxFrames, 1);
    assert.equal(dev.lastError, null);
  });

  test("a broken ring puts the device in DEVICE_NEEDS_RESET without a host exception", () => {
    const { drv, backend, net } = setup();
    const { rx, tx } = up(drv);
    tx.writeDesc(0, { addr: 0x1000, len: 64, flags: 0, next: 0 }); // outside RAM
    tx.publish(0);
    drv.notify(1);
    assert.ok(drv.status & VIRTIO_STATUS.DEVICE_NEEDS_RESET);
    rx.setAvailIdx(1000);
    assert.doesNotThrow(() => (backend as TestBackend).deliver(ethFrame(A, B, 60)));
    drv.w(VIRTIO_MMIO.STATUS, 0);
    assert.equal(net.rxPending, 0);
  });

  test("reset drops waiting frames", () => {
    const { drv, backend, net } = setup();
    up(drv);
    (backend as TestBackend).deliver(ethFrame(A, B, 60));
    assert.equal(net.rxPending, 1);
    drv.w(VIRTIO_MMIO.STATUS, 0);
    assert.equal(net.rxPending, 0);
    assert.equal((backend as TestBackend).deliver(ethFrame(A, B, 60)), false);
  });

  test("tx rate limiter holds the chain and retries after nextRefillMs", () => {
    const clock = { t: 0 };
    const timers: { ms: number; fn: () => void }[] = [];
    const txRateLimiter = new RateLimiter({ ops: { size: 2, refillTimeMs: 1000 } }, () => clock.t);
    const { drv, backend, net } = setup(new TestBackend(), { txRateLimiter, timer: (ms, fn) => timers.push({ ms, fn }) });
    const { tx } = up(drv);
    for (let i = 0; i < 4; i++) txOne(tx, ethFrame(B, A, 60, i));
    drv.notify(1);
    const be = backend as TestBackend;
    assert.equal(be.sent.length, 2);
    assert.equal(tx.usedIdx(), 2);
    assert.equal(timers.length, 1);
    assert.equal(timers[0]!.ms, 500);
    assert.equal(net.stats.txThrottled, 1);
    drv.notify(1); // a notify while throttled changes nothing
    assert.equal(be.sent.length, 2);
    clock.t = 1000;
    timers.shift()!.fn();
    assert.equal(be.sent.length, 4);
    assert.deepEqual(be.sent.map((f) => f[59]), [0, 1, 2, 3].map((s) => (59 * 7 + s) & 0xff), "in order");
    assert.equal(tx.usedIdx(), 4);
  });

  test("rx rate limiter delays delivery but drops nothing", () => {
    const clock = { t: 0 };
    const timers: (() => void)[] = [];
    const rxRateLimiter = new RateLimiter({ bandwidth: { size: 100, refillTimeMs: 1000 } }, () => clock.t);
    const { drv, backend, net } = setup(new TestBackend(), { rxRateLimiter, timer: (_ms, fn) => timers.push(fn) });
    const { rx } = up(drv);
    for (let i = 0; i < 3; i++) postRx(rx);
    const be = backend as TestBackend;
    for (let i = 0; i < 3; i++) assert.equal(be.deliver(ethFrame(A, B, 60, i)), true);
    assert.equal(rx.usedIdx(), 1);
    clock.t = 600;
    timers.shift()!();
    assert.equal(rx.usedIdx(), 2);
    clock.t = 1200;
    timers.shift()!();
    assert.equal(rx.usedIdx(), 3);
    assert.equal(net.stats.rxFrames, 3);
    assert.equal(net.stats.rxDroppedQueueFull, 0);
  });
});

describe("two VMs on a virtual switch", () => {
  test("ARP-like broadcast, then unicast both ways", () => {
    const sw = new VirtualSwitch("lan");
    const a = setup(new SwitchBackend(sw, "vm-a"), { mac: new Uint8Array(A) });
    const b = setup(new SwitchBackend(sw, "vm-b"), { mac: new Uint8Array(B) });
    const qa = up(a.drv);
    const qb = up(b.drv);
    for (let i = 0; i < 4; i++) {
      postRx(qa.rx);
      postRx(qb.rx);
    }
    a.drv.notify(0);
    b.drv.notify(0);

    // A: "who has B?" (broadcast) — B receives it.
    const req = ethFrame(BCAST, A, 42, 1);
    const rb = qb.rx.usedIdx();
    txOne(qa.tx, req);
    a.drv.notify(1);
    assert.equal(qb.rx.usedIdx(), rb + 1);
    const bGot = b.mem.readBytes(bufAddr(qb.rx, b.mem, 0), HDR + 42);
    assert.deepEqual(bGot.subarray(HDR), req);
    assert.equal(b.irq.level, true);

    // B answers by unicast; A answers back: both unicast now.
    const reply = ethFrame(A, B, 42, 2);
    txOne(qb.tx, reply);
    b.drv.notify(1);
    assert.equal(qa.rx.usedIdx(), 1);
    assert.deepEqual(a.mem.readBytes(bufAddr(qa.rx, a.mem, 0), HDR + 42).subarray(HDR), reply);
    const data = ethFrame(B, A, 1514, 3);
    txOne(qa.tx, data);
    a.drv.notify(1);
    assert.equal(qb.rx.usedIdx(), 2);
    assert.deepEqual(b.mem.readBytes(bufAddr(qb.rx, b.mem, 1), HDR + 1514).subarray(HDR), data);

    const pa = (a.backend as SwitchBackend).port.stats;
    const pb = (b.backend as SwitchBackend).port.stats;
    assert.equal(pa.rxFrames, 2);
    assert.equal(pa.txFrames, 1);
    assert.equal(pb.rxFrames, 1);
    assert.equal(pb.txFrames, 2);
    assert.equal(sw.stats.flooded, 1);
    assert.equal(sw.stats.forwarded, 2);
  });

  test("a VM with no rx buffers: frames wait, and past the bound the switch counts no-buffer drops", () => {
    const sw = new VirtualSwitch("lan");
    const a = setup(new SwitchBackend(sw, "vm-a"), { mac: new Uint8Array(A) });
    const b = setup(new SwitchBackend(sw, "vm-b"), { mac: new Uint8Array(B), rxPendingMax: 2 });
    const qa = up(a.drv);
    up(b.drv);
    for (let i = 0; i < 3; i++) txOne(qa.tx, ethFrame(B, A, 60, i));
    a.drv.notify(1);
    assert.equal(b.net.rxPending, 2);
    assert.equal((b.backend as SwitchBackend).port.stats.drops.noBuffer, 1);
    assert.equal(a.net.stats.txFrames, 3);
  });
});

describe("MAC addresses", () => {
  test("parse and format", () => {
    const m = parseMac("52:54:00:12:34:56");
    assert.deepEqual(m, new Uint8Array([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]));
    assert.equal(formatMac(m), "52:54:00:12:34:56");
    assert.deepEqual(parseMac("52-54-00-AB-cd-EF"), new Uint8Array([0x52, 0x54, 0, 0xab, 0xcd, 0xef]));
    for (const bad of ["", "52:54:00:12:34", "52:54:00:12:34:567", "52:54-00:12:34:56", "zz:54:00:12:34:56"]) {
      assert.throws(() => parseMac(bad), bad);
    }
  });

  test("from a VM name: deterministic, locally administered, unicast, distinct", () => {
    const a = macFromName("vm-a");
    assert.deepEqual(macFromName("vm-a"), a);
    assert.notDeepEqual(macFromName("vm-b"), a);
    for (const n of ["vm-a", "vm-b", "x", "", "a very long name ".repeat(10)]) {
      const m = macFromName(n);
      assert.equal(m.length, 6);
      assert.ok(isLocallyAdministered(m));
      assert.ok(!isMulticast(m));
    }
  });
});

describe("virtio-net offloads (§5.1.6.2)", () => {
  test("HOST_TSO4: a 10000-byte TCP packet leaves as MSS-sized frames with good checksums and sequence numbers", () => {
    const { drv, backend, net } = setup();
    const { tx } = up(drv);
    const pkt = ipPacket(10000, 6, 0x19); // PSH|ACK|FIN
    txOffload(tx, pkt, { flags: VIRTIO_NET_HDR.F_NEEDS_CSUM, gso: VIRTIO_NET_HDR.GSO_TCPV4, gsoSize: 1448, csumStart: 34, csumOffset: 16 });
    drv.notify(1);
    const sent = (backend as TestBackend).sent;
    assert.equal(sent.length, 7);
    assert.deepEqual(net.stats, { ...net.stats, txGsoPackets: 1, txSegments: 7, txFrames: 7, txMalformed: 0 });
    const payload: number[] = [];
    sent.forEach((f, i) => {
      const c = checked(f);
      assert.ok(c.ipChecked && !c.ipBad && c.l4Checked && !c.l4Bad, `segment ${i} checksums`);
      const n = i < 6 ? 1448 : 10000 - 6 * 1448;
      assert.equal(f.length, 54 + n);
      assert.equal(be16(f, 16), 40 + n, "IP total length");
      assert.equal(be16(f, 18), (0x1234 + i) & 0xffff, "IP id");
      assert.equal(be32(f, 38), 0x01020304 + i * 1448, "TCP seq");
      assert.equal(f[47]! & 0x09, i === 6 ? 0x09 : 0, "FIN and PSH on the last segment only");
      payload.push(...f.subarray(54));
    });
    assert.deepEqual(Uint8Array.from(payload), pkt.subarray(54));
  });

  test("CSUM: the device finishes a UDP checksum the driver seeded with the pseudo header", () => {
    const { drv, backend } = setup();
    const { tx } = up(drv);
    const pkt = ipPacket(333, 17);
    const pseudo = fold(onesSum(pkt, 26, 34, 17 + 8 + 333));
    pkt[40] = pseudo >> 8;
    pkt[41] = pseudo & 0xff;
    txOffload(tx, pkt, { flags: VIRTIO_NET_HDR.F_NEEDS_CSUM, csumStart: 34, csumOffset: 6 });
    drv.notify(1);
    const [f] = (backend as TestBackend).sent;
    const c = checked(f!);
    assert.ok(c.l4Checked && !c.l4Bad, "UDP checksum verifies");
    assert.deepEqual(f!.subarray(42), pkt.subarray(42), "payload untouched");
  });

  test("GUEST_CSUM: received frames with verified checksums are DATA_VALID; bad ones are not", () => {
    const { drv, mem, backend, net } = setup();
    const { rx } = up(drv);
    postRx(rx);
    postRx(rx);
    const good = ipPacket(100);
    const sum = fold(onesSum(good, 34, good.length, onesSum(good, 26, 34, 6 + 120)));
    good[50] = (~sum >> 8) & 0xff;
    good[51] = ~sum & 0xff;
    const ipSum = fold(onesSum(good, 14, 34));
    good[24] = (~ipSum >> 8) & 0xff;
    good[25] = ~ipSum & 0xff;
    const bad = good.slice();
    bad[60]! ^= 0xff;
    (backend as TestBackend).deliver(good);
    (backend as TestBackend).deliver(bad);
    assert.equal(mem.u8[bufAddr(rx, mem, 0) - mem.base], VIRTIO_NET_HDR.F_DATA_VALID);
    assert.equal(mem.u8[bufAddr(rx, mem, 1) - mem.base], 0);
    assert.equal(net.stats.rxChecksumValid, 1);
  });

  test("hostile offload requests are refused whole: bad csum offsets, GSO on a non-TCP packet, GSO not accepted, oversize plain frames", () => {
    const { drv, backend, net } = setup();
    const { tx } = up(drv);
    const pkt = ipPacket(2000);
    txOffload(tx, pkt, { flags: VIRTIO_NET_HDR.F_NEEDS_CSUM, csumStart: pkt.length - 1, csumOffset: 16 });
    txOffload(tx, ipPacket(3000, 17), { gso: VIRTIO_NET_HDR.GSO_TCPV4, gsoSize: 1000 });
    txOffload(tx, ipPacket(3000), { gso: 3 /* UDP */, gsoSize: 1000 });
    txOffload(tx, ipPacket(3000), { gso: VIRTIO_NET_HDR.GSO_TCPV4, gsoSize: 0 });
    txOne(tx, ipPacket(1600));
    drv.notify(1);
    assert.equal((backend as TestBackend).sent.length, 0);
    assert.equal(net.stats.txMalformed, 5);

    // A driver that did not accept HOST_TSO4 cannot send GSO packets.
    const s2 = setup();
    const [, tx2] = s2.drv.bringUp(bit(VIRTIO_F.VERSION_1) | bit(VIRTIO_NET_F.MAC) | bit(VIRTIO_NET_F.CSUM));
    txOffload(tx2!, ipPacket(3000), { gso: VIRTIO_NET_HDR.GSO_TCPV4, gsoSize: 1000 });
    s2.drv.notify(1);
    assert.equal((s2.backend as TestBackend).sent.length, 0);
    assert.equal(s2.net.stats.txMalformed, 1);
  });
});
