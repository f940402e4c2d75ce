/**
 * The link between a VM's vCPU threads (vcpu-link.ts): interrupt levels, IPIs, fences,
 * HSM starts and the device-access mailbox, with a real second thread as the owner.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Worker } from "node:worker_threads";
import { ackFences, LinkStop, MboxOp, VcpuLink } from "./vcpu-link.js";
import { Hart } from "../cpu/hart.js";
import { Access, Priv } from "../cpu/constants.js";
import { TlbFlag } from "../cpu/tlb.js";
import { Bus } from "../mem/bus.js";
import { GuestRam } from "../mem/ram.js";

/** Hart 1 in S-mode with three load TLB entries: kernel pages 0xffff_ffc0_0000_1000 and _2000, user page 0x3000. */
function fencedHart(): Hart {
  const h = new Hart(new Bus(new GuestRam(0x8000_0000, 1 << 16)), 1, null);
  h.priv = Priv.S;
  h.tlb.install(Access.Load, 1, 1, 0xffffffc0 | 0, 0x1000, TlbFlag.GLOBAL);
  h.tlb.install(Access.Load, 2, 2, 0xffffffc0 | 0, 0x2000, TlbFlag.GLOBAL);
  h.tlb.install(Access.Load, 3, 3, 0, 0x3000, 0);
  return h;
}

/** An owner on another thread: answers reads with addr + width, records writes, for `ms`. */
const OWNER = `
const { workerData } = require("node:worker_threads");
const link = new (require(workerData.mod).VcpuLink)(workerData.sab);
const writes = new Int32Array(workerData.writes);
const server = {
  read: (hart, addr, width) => (addr + width) | 0,
  write: (hart, addr, width, value) => { writes[0] = addr; writes[1] = value; writes[2] = hart; },
  takeFault: () => false,
  getchar: () => 0x41,
};
const end = Date.now() + workerData.ms;
while (Date.now() < end) link.serve(server);
`;

describe("vCPU link", () => {
  test("levels ring the target only when they change; soft bits are taken once", () => {
    const link = VcpuLink.create(2);
    const rung: number[] = [];
    link.ring = (h) => rung.push(h);
    link.setLevel(1, 9, true);
    link.setLevel(1, 9, true);
    assert.equal(link.levels(1), 1 << 9);
    link.setLevel(1, 9, false);
    assert.equal(link.levels(1), 0);
    assert.deepEqual(rung, [1, 1]);
    link.postSoft(0, 2);
    assert.equal(link.takeSoft(0), 2);
    assert.equal(link.takeSoft(0), 0);
  });

  test("a remote sfence.vma of one page reaches a hart on another thread as that page only (the fence slot)", () => {
    const link = VcpuLink.create(2);
    const h = fencedHart();
    const t = link.requestRangeFence(1, { start: 0x40_0000_1000, size: 4096, asid: -1 });
    ackFences(h, link, 1);
    assert.equal(link.fenceDone(1, t), true);
    assert.deepEqual([h.tlbLoadLo[1], h.tlbLoadLo[2], h.tlbLoadLo[3]], [-1, 2, 3], "only the named kernel page went");
    // The slot is free again: an ASID-wide fence (ASID 0, the current one) goes through it too.
    link.requestRangeFence(1, { start: 0, size: -1, asid: 0 });
    ackFences(h, link, 1);
    assert.deepEqual([h.tlbLoadLo[2], h.tlbLoadLo[3]], [2, -1], "ASID 0's non-global entry went, the global one stayed");
  });

  test("a second range fence while the slot is taken becomes a whole TLB fence; a fence.i leaves the TLB alone", () => {
    const link = VcpuLink.create(2);
    const h = fencedHart();
    link.requestFence(1, 2 /* FenceBits.CODE */);
    ackFences(h, link, 1);
    assert.equal(h.tlbLoadLo[2], 2, "fence.i kept the TLB");
    link.requestRangeFence(1, { start: 0x40_0000_1000, size: 4096, asid: -1 });
    const t = link.requestRangeFence(1, { start: 0x3000, size: 4096, asid: -1 });
    ackFences(h, link, 1);
    assert.equal(link.fenceDone(1, t), true);
    assert.deepEqual([h.tlbLoadLo[1], h.tlbLoadLo[2], h.tlbLoadLo[3]], [-1, -1, -1]);
    // The acknowledgement freed the slot: the next range fence gets it.
    link.requestRangeFence(1, { start: 0x5000, size: 8192, asid: 3 });
    assert.deepEqual(link.takeFenceRange(1), { start: 0x5000, size: 8192, asid: 3 });
  });

  test("fence requests are counted and acknowledged; a start request is taken once with its 64-bit opaque", () => {
    const link = VcpuLink.create(2);
    const t = link.requestFence(1);
    assert.equal(link.fenceDone(1, t), false);
    assert.equal(link.fencePending(1), t);
    link.ackFence(1, link.fencePending(1));
    assert.equal(link.fenceDone(1, t), true);
    assert.equal(link.fencePending(1), 0);
    link.requestStart(1, 0x8020_0000, 0x9abc_def0 | 0, 0x1234_5678);
    assert.deepEqual(link.takeStart(1), { pc: 0x8020_0000, a1: 0x1234_5678_9abc_def0n });
    assert.equal(link.takeStart(1), null);
  });

  test("HSM states start with hart 0 running and the others stopped, shared by every view", () => {
    const link = VcpuLink.create(3);
    assert.deepEqual([...link.hsmStates], [0, 1, 1]);
    const other = new VcpuLink(link.sab);
    other.hsmStates[2] = 0;
    assert.equal(link.hsmStates[2], 0);
  });

  test("a device access from another thread is answered by the owner's thread", async () => {
    const link = VcpuLink.create(2);
    const writes = new Int32Array(new SharedArrayBuffer(12));
    const w = new Worker(OWNER, { eval: true, workerData: { sab: link.sab, writes: writes.buffer, ms: 3000, mod: new URL("./vcpu-link.js", import.meta.url).pathname } });
    try {
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(link.call(1, MboxOp.READ, 0x1000_1000, 4, 0, () => {}), { result: 0x1000_1004, fault: false });
      link.call(1, MboxOp.WRITE, 0x0c00_2000, 4, 77, () => {});
      assert.deepEqual([...writes], [0x0c00_2000, 77, 1]);
      assert.equal(link.call(1, MboxOp.GETCHAR, 0, 1, 0, () => {}).result, 0x41);
    } finally {
      await w.terminate();
    }
  });

  test("regression: a device access gives up when the VM is being stopped and no owner answers", () => {
    const link = VcpuLink.create(2);
    let waited = 0;
    link.requestStop(LinkStop.HOST, 0);
    const r = link.call(1, MboxOp.READ, 0x1000_0000, 4, 0, () => waited++);
    assert.deepEqual(r, { result: 0, fault: false });
    // The first stop wins: the guest's later power-off does not overwrite the host's stop.
    link.requestStop(LinkStop.SHUTDOWN, 5);
    assert.equal(link.stopKind(), LinkStop.HOST);
    assert.ok(waited <= 1);
  });
});
