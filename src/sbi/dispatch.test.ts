// SBI dispatch through real S-mode ecalls: BASE, unknown EID/FID, counters, TIME, IPI, RFENCE, SRST, legacy.
import { test } from "node:test";
import assert from "node:assert/strict";
import { RunStatus } from "../cpu/hart.js";
import { Eid, Fid, SbiError } from "./dispatch.js";
import { PARAVM_IMPL_ID, SBI_SPEC_VERSION } from "./base.js";
import { FenceKind } from "./host.js";
import { Access, Priv } from "../cpu/constants.js";
import { TlbFlag } from "../cpu/tlb.js";
import { ALL_ONES, RAM, ecall, getReg, rig, setReg } from "./testkit.js";

const E = (v: number): bigint => BigInt(v);

test("base: spec version 2.0, impl id, probe, machine ids, pc advanced past the ecall", () => {
  const { harts } = rig();
  const h = harts[0]!;
  let r = ecall(h, Eid.BASE, Fid.BASE.GET_SPEC_VERSION);
  assert.equal(r.status, RunStatus.Budget);
  assert.deepEqual([r.error, r.value], [0n, 0x02000000n]);
  assert.equal(SBI_SPEC_VERSION, 0x02000000);
  assert.equal(h.getPc(), RAM + 4);
  r = ecall(h, Eid.BASE, Fid.BASE.GET_IMPL_ID);
  assert.deepEqual([r.error, r.value], [0n, E(PARAVM_IMPL_ID)]);
  for (const eid of [Eid.BASE, Eid.TIME, Eid.IPI, Eid.RFENCE, Eid.HSM, Eid.SRST, Eid.DBCN, Eid.STA, 0, 8]) {
    r = ecall(h, Eid.BASE, Fid.BASE.PROBE_EXTENSION, [eid]);
    assert.deepEqual([r.error, r.value], [0n, 1n], `probe 0x${eid.toString(16)}`);
  }
  for (const eid of [0x504d55 /* PMU */, 9, 0x12345678]) {
    r = ecall(h, Eid.BASE, Fid.BASE.PROBE_EXTENSION, [eid]);
    assert.deepEqual([r.error, r.value], [0n, 0n]);
  }
  r = ecall(h, Eid.BASE, Fid.BASE.PROBE_EXTENSION, [(1n << 32n) | BigInt(Eid.TIME)]);
  assert.equal(r.value, 0n, "an EID above 32 bits is not TIME");
  for (const fid of [Fid.BASE.GET_MVENDORID, Fid.BASE.GET_MARCHID, Fid.BASE.GET_MIMPID]) {
    r = ecall(h, Eid.BASE, fid);
    assert.deepEqual([r.error, r.value], [0n, 0n]);
  }
});

test("unknown extension and unknown function: SBI_ERR_NOT_SUPPORTED, counted", () => {
  const { harts, sbi } = rig();
  const h = harts[0]!;
  assert.equal(ecall(h, 0x504d55, 0).error, E(SbiError.NOT_SUPPORTED));
  assert.equal(ecall(h, 0x0a000000, 0).error, E(SbiError.NOT_SUPPORTED));
  assert.equal(ecall(h, Eid.BASE, 7).error, E(SbiError.NOT_SUPPORTED));
  assert.equal(ecall(h, Eid.TIME, 1).error, E(SbiError.NOT_SUPPORTED));
  assert.equal(ecall(h, Eid.RFENCE, 3).error, E(SbiError.NOT_SUPPORTED), "HFENCE needs the H extension");
  assert.equal(ecall(h, Eid.BASE, ALL_ONES).error, E(SbiError.NOT_SUPPORTED));
  assert.equal(sbi.count("sbi.unknown"), 2);
  assert.equal(sbi.count("sbi.base.unsupported"), 2);
  assert.equal(sbi.count("sbi.rfence.unsupported"), 1);
  assert.equal(h.hypercallCount, 6);
});

test("counters: one per extension function, per hart and summed", () => {
  const { harts, sbi } = rig();
  ecall(harts[0]!, Eid.TIME, Fid.TIME.SET_TIMER, [5]);
  ecall(harts[0]!, Eid.TIME, Fid.TIME.SET_TIMER, [6]);
  ecall(harts[1]!, Eid.TIME, Fid.TIME.SET_TIMER, [7]);
  ecall(harts[1]!, Eid.BASE, Fid.BASE.GET_SPEC_VERSION);
  assert.equal(sbi.count("sbi.time.set_timer"), 3);
  assert.equal(sbi.count("sbi.time.set_timer", 0), 2);
  assert.equal(sbi.count("sbi.time.set_timer", 1), 1);
  assert.equal(sbi.count("sbi.base.get_spec_version"), 1);
  const names = sbi.counters().map((c) => c.name);
  const expected = ["sbi.ipi.send_ipi", "sbi.rfence.remote_sfence_vma_asid", "sbi.hsm.hart_start"];
  expected.push("sbi.srst.system_reset", "sbi.dbcn.console_write", "sbi.sta.set_shmem");
  expected.push("sbi.legacy.console_putchar", "sbi.legacy.shutdown");
  for (const n of expected) {
    assert.ok(names.includes(n), n);
  }
  assert.equal(new Set(names).size, names.length, "names are unique");
});

test("time: set_timer clears STIP and arms the host timer with the 64-bit deadline", () => {
  const { harts, host } = rig();
  const h = harts[2]!;
  h.mip |= (1 << 5) | (1 << 1);
  const r = ecall(h, Eid.TIME, Fid.TIME.SET_TIMER, [0x1_0000_0005n]);
  assert.equal(r.error, 0n);
  assert.equal(h.mip & (1 << 5), 0, "STIP cleared");
  assert.equal(h.mip & (1 << 1), 2, "SSIP untouched");
  assert.deepEqual(host.calls, [["setTimer", 2, 0x1_0000_0005]]);
  ecall(h, Eid.TIME, Fid.TIME.SET_TIMER, [ALL_ONES]);
  assert.ok((host.calls[1]![2] as number) > 1e19, "all ones: never");
});

test("ipi: hart_mask with base, base = -1 for all, invalid harts rejected", () => {
  const { harts, host } = rig(4);
  const h = harts[0]!;
  assert.equal(ecall(h, Eid.IPI, Fid.IPI.SEND_IPI, [0b101, 0]).error, 0n);
  assert.equal(ecall(h, Eid.IPI, Fid.IPI.SEND_IPI, [0b11, 2]).error, 0n);
  assert.equal(ecall(h, Eid.IPI, Fid.IPI.SEND_IPI, [0, ALL_ONES]).error, 0n);
  assert.equal(ecall(h, Eid.IPI, Fid.IPI.SEND_IPI, [0, 0]).error, 0n, "empty mask: nothing to do");
  assert.equal(ecall(h, Eid.IPI, Fid.IPI.SEND_IPI, [0b11, 3]).error, E(SbiError.INVALID_PARAM));
  assert.equal(ecall(h, Eid.IPI, Fid.IPI.SEND_IPI, [1n << 63n, 0]).error, E(SbiError.INVALID_PARAM));
  assert.equal(ecall(h, Eid.IPI, Fid.IPI.SEND_IPI, [1, 1n << 40n]).error, E(SbiError.INVALID_PARAM));
  assert.deepEqual(host.calls, [["sendIpi", [0, 2]], ["sendIpi", [2, 3]], ["sendIpi", [0, 1, 2, 3]]]);
});

test("rfence: local hart flushed directly, remote harts through the host", () => {
  const { harts, host } = rig(4);
  const h = harts[1]!;
  let r = ecall(h, Eid.RFENCE, Fid.RFENCE.REMOTE_FENCE_I, [0b111, 0]);
  assert.equal(r.error, 0n);
  r = ecall(h, Eid.RFENCE, Fid.RFENCE.REMOTE_SFENCE_VMA, [0, ALL_ONES, 0x1000, 0x2000]);
  assert.equal(r.error, 0n);
  r = ecall(h, Eid.RFENCE, Fid.RFENCE.REMOTE_SFENCE_VMA_ASID, [0b10, 0, 0, ALL_ONES, 7]);
  assert.equal(r.error, 0n);
  r = ecall(h, Eid.RFENCE, Fid.RFENCE.REMOTE_SFENCE_VMA, [1, 4]);
  assert.equal(r.error, E(SbiError.INVALID_PARAM));
  assert.deepEqual(host.calls, [
    ["remoteFence", FenceKind.FenceI, [0, 2], 0, 0, 0],
    ["remoteFence", FenceKind.SfenceVma, [0, 2, 3], 0x1000, 0x2000, 0],
  ]);
});

test("rfence v2.0 §8: the calling hart's own remote sfence.vma drops just the named kernel pages (addresses above 2^53 exact)", () => {
  const { harts } = rig(2);
  const h = harts[1]!;
  h.priv = Priv.S;
  // Two kernel pages (VA 0xffff_ffc0_0000_1000 and _2000) cached for loads in the S set.
  const kernelHi = 0xffffffc0 | 0;
  h.tlb.install(Access.Load, 1, 1, kernelHi, 0x1000, TlbFlag.GLOBAL);
  h.tlb.install(Access.Load, 2, 2, kernelHi, 0x2000, TlbFlag.GLOBAL);
  h.tlb.install(Access.Load, 3, 3, 0, 0x3000, 0);
  const r = ecall(h, Eid.RFENCE, Fid.RFENCE.REMOTE_SFENCE_VMA, [0b10, 0, 0xffffffc000001000n, 4096]);
  assert.equal(r.error, 0n);
  assert.equal(h.tlbLoadLo[1], -1, "the fenced page is gone");
  assert.equal(h.tlbLoadLo[2], 2, "the next page stays");
  assert.equal(h.tlbLoadLo[3], 3);
  // The ASID form for ASID 9 keeps global entries; the whole-space form (size 2^64-1) drops everything.
  ecall(h, Eid.RFENCE, Fid.RFENCE.REMOTE_SFENCE_VMA_ASID, [0b10, 0, 0, ALL_ONES, 9]);
  assert.equal(h.tlbLoadLo[2], 2);
  ecall(h, Eid.RFENCE, Fid.RFENCE.REMOTE_SFENCE_VMA, [0b10, 0, 0, ALL_ONES]);
  assert.equal(h.tlbLoadLo[2], -1);
  assert.equal(h.tlb.stats().sfence.all, 1);
});

test("srst: shutdown/reboots stop the machine; reserved type or reason is INVALID_PARAM", () => {
  const { harts, host } = rig();
  const h = harts[0]!;
  for (const [type, reason] of [[0, 0], [1, 1], [2, 0]] as const) {
    const r = ecall(h, Eid.SRST, Fid.SRST.SYSTEM_RESET, [type, reason]);
    assert.equal(r.status, RunStatus.Stopped);
  }
  assert.deepEqual(host.calls, [["reset", 0, 0], ["reset", 1, 1], ["reset", 2, 0]]);
  for (const [type, reason] of [[3, 0], [0xf0000000, 0], [0, 2], [0, 0xe0000000]] as const) {
    const r = ecall(h, Eid.SRST, Fid.SRST.SYSTEM_RESET, [type, reason]);
    assert.equal(r.status, RunStatus.Budget);
    assert.equal(r.error, E(SbiError.INVALID_PARAM), `type ${type} reason ${reason}`);
  }
  assert.equal(host.calls.length, 3);
});

test("legacy v0.1: putchar, getchar (-1 when empty), a1 untouched, clear_ipi, send_ipi, shutdown", () => {
  const { harts, host, ram, sbi } = rig(4);
  const h = harts[0]!;
  let r = ecall(h, Eid.LEGACY_CONSOLE_PUTCHAR, 0, [0x141]);
  assert.equal(r.error, 0n);
  host.input.push(0x7a);
  // The ecall helper writes a1 as an argument; run by hand to check a1 survives.
  h.setPc(RAM);
  setReg(h, 17, Eid.LEGACY_CONSOLE_GETCHAR);
  setReg(h, 11, 0x55);
  h.run(1);
  assert.equal(getReg(h, 10), 0x7an);
  assert.equal(getReg(h, 11), 0x55n, "v0.1 returns in a0 only");
  r = ecall(h, Eid.LEGACY_CONSOLE_GETCHAR, 0);
  assert.equal(r.error, -1n);
  assert.deepEqual(host.out, [0x41]);
  h.mip |= 1 << 1;
  ecall(h, Eid.LEGACY_CLEAR_IPI, 0);
  assert.equal(h.mip & 2, 0);
  h.mip |= 1 << 5;
  ecall(h, Eid.LEGACY_SET_TIMER, 0, [99]);
  assert.equal(h.mip & (1 << 5), 0);
  // send_ipi: a0 points to the mask (translation off: physical).
  ram.writeBytes(RAM + 0x100, Uint8Array.of(0b1010, 0, 0, 0, 0, 0, 0, 0));
  ecall(h, Eid.LEGACY_SEND_IPI, 0, [RAM + 0x100]);
  ecall(h, Eid.LEGACY_REMOTE_FENCE_I, 0, [RAM + 0x100]);
  r = ecall(h, Eid.LEGACY_SHUTDOWN, 0);
  assert.equal(r.status, RunStatus.Stopped);
  assert.deepEqual(host.calls.slice(1), [
    ["setTimer", 0, 99],
    ["sendIpi", [1, 3]],
    ["remoteFence", FenceKind.FenceI, [1, 3], 0, 0, 0],
    ["reset", 0, 0],
  ]);
  assert.equal(sbi.count("sbi.legacy.console_getchar"), 2);
});
