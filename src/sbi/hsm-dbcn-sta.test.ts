// HSM state machine, DBCN guest-memory rules, STA shared-memory records, through real S-mode ecalls.
import { test } from "node:test";
import assert from "node:assert/strict";
import { RunStatus } from "../cpu/hart.js";
import { Eid, Fid, SbiError } from "./dispatch.js";
import { HartState, SuspendType } from "./hsm.js";
import { DBCN_MAX_CHUNK } from "./dbcn.js";
import { ALL_ONES, RAM, RAM_SIZE, ecall, rig } from "./testkit.js";

const E = (v: number): bigint => BigInt(v);
const H = Fid.HSM;

test("hsm: boot hart started, others stopped; start, status, stop, errors", () => {
  const { harts, host, sbi } = rig(4);
  const h0 = harts[0]!;
  const status = (id: number | bigint): [bigint, bigint] => {
    const r = ecall(h0, Eid.HSM, H.HART_GET_STATUS, [id]);
    return [r.error, r.value];
  };
  assert.deepEqual(status(0), [0n, E(HartState.STARTED)]);
  assert.deepEqual(status(1), [0n, E(HartState.STOPPED)]);
  assert.deepEqual(status(4), [E(SbiError.INVALID_PARAM), 0n]);
  assert.deepEqual(status(ALL_ONES), [E(SbiError.INVALID_PARAM), 0n]);

  let r = ecall(h0, Eid.HSM, H.HART_START, [1, RAM + 0x2000, 0xfedc_ba98_7654_3210n]);
  assert.equal(r.error, 0n);
  assert.deepEqual(host.calls, [["hartStart", 1, RAM + 0x2000, 0xfedc_ba98_7654_3210n]], "opaque is exact");
  assert.deepEqual(status(1), [0n, E(HartState.STARTED)]);
  assert.equal(sbi.hsm.state(1), HartState.STARTED);

  r = ecall(h0, Eid.HSM, H.HART_START, [1, RAM, 0]);
  assert.equal(r.error, E(SbiError.ALREADY_AVAILABLE));
  r = ecall(h0, Eid.HSM, H.HART_START, [0, RAM, 0]);
  assert.equal(r.error, E(SbiError.ALREADY_AVAILABLE), "the caller itself is started");
  r = ecall(h0, Eid.HSM, H.HART_START, [9, RAM, 0]);
  assert.equal(r.error, E(SbiError.INVALID_PARAM));
  r = ecall(h0, Eid.HSM, H.HART_START, [2, 0x1000, 0]);
  assert.equal(r.error, E(SbiError.INVALID_ADDRESS), "not RAM");
  r = ecall(h0, Eid.HSM, H.HART_START, [2, RAM + 1, 0]);
  assert.equal(r.error, E(SbiError.INVALID_ADDRESS), "misaligned");
  host.startResult = SbiError.ERR_FAILED;
  r = ecall(h0, Eid.HSM, H.HART_START, [2, RAM, 0]);
  assert.equal(r.error, E(SbiError.ERR_FAILED));
  assert.deepEqual(status(2), [0n, E(HartState.STOPPED)], "a failed start leaves it stopped");
  host.startResult = 0;

  // Hart 1 stops itself: the hart idles, the host parks it, the state is STOPPED.
  host.calls.length = 0;
  r = ecall(harts[1]!, Eid.HSM, H.HART_STOP);
  assert.equal(r.status, RunStatus.Wfi);
  assert.deepEqual(host.calls, [["hartStop", 1]]);
  assert.deepEqual(status(1), [0n, E(HartState.STOPPED)]);
  r = ecall(harts[1]!, Eid.HSM, H.HART_STOP);
  assert.equal(r.error, E(SbiError.ERR_FAILED), "a stopped hart cannot stop");
  r = ecall(h0, Eid.HSM, H.HART_START, [1, RAM, 7]);
  assert.equal(r.error, 0n, "and can be started again");
});

test("hsm: suspend types, retentive suspend idles the hart until it resumes", () => {
  const { harts, host, sbi } = rig(2);
  const h0 = harts[0]!;
  let r = ecall(h0, Eid.HSM, H.HART_SUSPEND, [1, 0, 0]);
  assert.equal(r.error, E(SbiError.INVALID_PARAM), "reserved");
  r = ecall(h0, Eid.HSM, H.HART_SUSPEND, [0x80000001, 0, 0]);
  assert.equal(r.error, E(SbiError.INVALID_PARAM), "reserved non-retentive");
  r = ecall(h0, Eid.HSM, H.HART_SUSPEND, [0x10000000, 0, 0]);
  assert.equal(r.error, E(SbiError.NOT_SUPPORTED), "platform-specific, none here");
  r = ecall(h0, Eid.HSM, H.HART_SUSPEND, [SuspendType.NON_RETENTIVE_DEFAULT, 0x10, 0]);
  assert.equal(r.error, E(SbiError.INVALID_ADDRESS));
  assert.equal(host.calls.length, 0);

  r = ecall(h0, Eid.HSM, H.HART_SUSPEND, [SuspendType.RETENTIVE_DEFAULT, 0, 0]);
  assert.equal(r.status, RunStatus.Wfi);
  assert.equal(r.error, 0n, "returns SUCCESS when resumed");
  assert.equal(h0.wfi, true);
  assert.equal(sbi.hsm.state(0), HartState.SUSPENDED);
  assert.equal(h0.run(10), RunStatus.Wfi, "no interrupt: stays idle");
  sbi.hsm.resumed(0);
  assert.equal(sbi.hsm.state(0), HartState.STARTED);

  r = ecall(h0, Eid.HSM, H.HART_SUSPEND, [SuspendType.NON_RETENTIVE_DEFAULT, RAM + 0x40, 5]);
  assert.equal(r.status, RunStatus.Wfi);
  assert.deepEqual(host.calls, [
    ["hartSuspend", 0, 0, 0, 0n],
    ["hartSuspend", 0, 0x80000000, RAM + 0x40, 5n],
  ]);
  // A suspended hart that makes a call is evidently running again.
  ecall(h0, Eid.BASE, 0);
  assert.equal(sbi.hsm.state(0), HartState.STARTED);
});

test("dbcn: console_write from guest memory; bad buffers are INVALID_PARAM; write_byte; read", () => {
  const { harts, host, ram } = rig(1);
  const h = harts[0]!;
  const text = new TextEncoder().encode("hello, pv\n");
  ram.writeBytes(RAM + 0x800, text);
  let r = ecall(h, Eid.DBCN, Fid.DBCN.CONSOLE_WRITE, [text.length, RAM + 0x800, 0]);
  assert.deepEqual([r.error, r.value], [0n, E(text.length)]);
  assert.equal(new TextDecoder().decode(Uint8Array.from(host.out)), "hello, pv\n");

  const bad: [number | bigint, number | bigint, number | bigint][] = [
    [4, 0x1000, 0], // below RAM
    [16, RAM + RAM_SIZE - 8, 0], // runs off the end of RAM
    [4, RAM, 1], // base_addr_hi: above 2^64
    [ALL_ONES, RAM, 0], // absurd length
    [4, ALL_ONES, 0],
  ];
  for (const args of bad) {
    r = ecall(h, Eid.DBCN, Fid.DBCN.CONSOLE_WRITE, args);
    assert.equal(r.error, E(SbiError.INVALID_PARAM), `write ${args.join(",")}`);
    r = ecall(h, Eid.DBCN, Fid.DBCN.CONSOLE_READ, args);
    assert.equal(r.error, E(SbiError.INVALID_PARAM), `read ${args.join(",")}`);
  }
  r = ecall(h, Eid.DBCN, Fid.DBCN.CONSOLE_WRITE, [0, 0, 0]);
  assert.deepEqual([r.error, r.value], [0n, 0n], "nothing to write");

  // A large write is partial: the guest loops on the returned count.
  r = ecall(h, Eid.DBCN, Fid.DBCN.CONSOLE_WRITE, [DBCN_MAX_CHUNK * 3, RAM, 0]);
  assert.deepEqual([r.error, r.value], [0n, E(DBCN_MAX_CHUNK)]);

  host.out.length = 0;
  r = ecall(h, Eid.DBCN, Fid.DBCN.CONSOLE_WRITE_BYTE, [0x321]);
  assert.equal(r.error, 0n);
  assert.deepEqual(host.out, [0x21]);

  host.input.push(0x61, 0x62, 0x63);
  r = ecall(h, Eid.DBCN, Fid.DBCN.CONSOLE_READ, [2, RAM + 0x900, 0]);
  assert.deepEqual([r.error, r.value], [0n, 2n]);
  assert.deepEqual([...ram.readBytes(RAM + 0x900, 3)], [0x61, 0x62, 0]);
  r = ecall(h, Eid.DBCN, Fid.DBCN.CONSOLE_READ, [8, RAM + 0x900, 0]);
  assert.deepEqual([r.error, r.value], [0n, 1n]);
  r = ecall(h, Eid.DBCN, Fid.DBCN.CONSOLE_READ, [8, RAM + 0x900, 0]);
  assert.deepEqual([r.error, r.value], [0n, 0n], "no input waiting");
});

test("sta: set_shmem rules; steal time written with the sequence protocol; disable", () => {
  const { harts, ram, sbi, host } = rig(2);
  const h = harts[1]!;
  const rec = RAM + 0x1000;
  const view = (): DataView => new DataView(ram.readBytes(rec, 64).buffer);
  ram.writeBytes(rec, new Uint8Array(64).fill(0xee));

  assert.equal(ecall(h, Eid.STA, Fid.STA.SET_SHMEM, [rec, 0, 1]).error, E(SbiError.INVALID_PARAM), "flags");
  assert.equal(ecall(h, Eid.STA, Fid.STA.SET_SHMEM, [rec + 8, 0, 0]).error, E(SbiError.INVALID_PARAM), "alignment");
  assert.equal(ecall(h, Eid.STA, Fid.STA.SET_SHMEM, [0x1000, 0, 0]).error, E(SbiError.INVALID_ADDRESS), "not RAM");
  assert.equal(ecall(h, Eid.STA, Fid.STA.SET_SHMEM, [rec, 1, 0]).error, E(SbiError.INVALID_ADDRESS), "above 2^64");
  assert.equal(
    ecall(h, Eid.STA, Fid.STA.SET_SHMEM, [RAM + RAM_SIZE, 0, 0]).error,
    E(SbiError.INVALID_ADDRESS),
    "just past the end of RAM",
  );
  assert.equal(sbi.sta.report(1, 5, false), false, "nothing registered yet");

  const r = ecall(h, Eid.STA, Fid.STA.SET_SHMEM, [rec, 0, 0]);
  assert.equal(r.error, 0n);
  assert.equal(sbi.sta.shmemOf(1), rec);
  assert.deepEqual([...ram.readBytes(rec, 64)], new Array(64).fill(0), "record zeroed");

  assert.equal(sbi.sta.report(1, 0x1_0000_0123, true), true);
  let v = view();
  assert.equal(v.getUint32(0, true), 2, "sequence even after an update");
  assert.equal(v.getUint32(4, true), 0, "flags");
  assert.equal(v.getBigUint64(8, true), 0x1_0000_0123n);
  assert.equal(v.getUint8(16), 1, "preempted");
  sbi.sta.report(1, 0x2_0000_0000, false);
  v = view();
  assert.equal(v.getUint32(0, true), 4);
  assert.equal(v.getBigUint64(8, true), 0x2_0000_0000n);
  assert.equal(v.getUint8(16), 0);
  assert.equal(sbi.sta.report(0, 1, false), false, "hart 0 has its own (no) record");

  // The sequence is odd while the record is written: watch the first write.
  const seen: number[] = [];
  const orig = host.writeGuest.bind(host);
  host.writeGuest = (pa, b) => {
    if (pa === rec) seen.push(new DataView(b.buffer).getUint32(0, true));
    return orig(pa, b);
  };
  sbi.sta.report(1, 7, false);
  assert.deepEqual(seen, [5, 6]);
  host.writeGuest = orig;

  assert.equal(ecall(h, Eid.STA, Fid.STA.SET_SHMEM, [ALL_ONES, ALL_ONES, 0]).error, 0n, "disable");
  assert.equal(sbi.sta.shmemOf(1), -1);
  assert.equal(sbi.sta.report(1, 9, false), false);
  assert.equal(sbi.count("sbi.sta.set_shmem"), 7);
});

test("hostile guest: random EIDs, FIDs and arguments never throw and return a standard error", () => {
  const { harts } = rig(3);
  let seed = 0x1234_5678;
  const rnd = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) | 0;
    return seed >>> 0;
  };
  const eids = [Eid.BASE, Eid.TIME, Eid.IPI, Eid.RFENCE, Eid.HSM, Eid.SRST, Eid.DBCN, Eid.STA, 0, 1, 2, 3, 4, 5, 6, 7];
  const pick = (): bigint => {
    switch (rnd() % 5) {
      case 0:
        return ALL_ONES;
      case 1:
        return BigInt(RAM + (rnd() % RAM_SIZE));
      case 2:
        return BigInt(rnd() % 8);
      case 3:
        return (BigInt(rnd()) << 32n) | BigInt(rnd());
      default:
        return BigInt(RAM + RAM_SIZE - (rnd() % 16));
    }
  };
  for (let i = 0; i < 3000; i++) {
    const h = harts[rnd() % 3]!;
    const eid = eids[rnd() % eids.length]!;
    const fid = rnd() % 6;
    const r = ecall(h, eid, fid, [pick(), pick(), pick(), pick(), pick(), pick()]);
    if (eid >= 0x10) assert.ok(r.error <= 0n && r.error >= -9n, `eid ${eid} fid ${fid}: ${r.error}`);
  }
});
