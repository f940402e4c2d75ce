/**
 * VM against VM, checked from the host (docs/containers.md, "Between VMs"): what one guest
 * writes into its RAM and onto its disk is found in its own RAM and disk file and nowhere in
 * another VM's; a guest cannot read it either (its whole disk, scanned from inside); a disk
 * file one running VM writes is refused to another; and a guest-physical address past a
 * VM's RAM is a trap, not some other memory. Each absence is paired with a positive control
 * that finds the same bytes the same way where they are, so a broken scan cannot pass.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { linkSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test, type TestContext } from "node:test";
import { NO_GUEST, pvExecSpec } from "../control/guest-testkit.js";
import { Cause, Csr64 } from "../cpu/constants.js";
import { Hart, RunStatus } from "../cpu/hart.js";
import { Bus } from "../mem/bus.js";
import { GuestRam } from "../mem/ram.js";
import { DiskClaims } from "./disk-claims.js";
import { Hypervisor } from "./hypervisor.js";
import { VmBuildError, type Vm } from "./vm.js";

const MIB = 1024 * 1024;
const DRAM = 0x8000_0000;

// --- (d) a guest-physical address past the end of RAM -----------------------------------

// Encoders for the few instructions needed (RISC-V unprivileged spec ch. 2; privileged 3.3.2).
const itype = (imm: number, rs1: number, f3: number, rd: number, op: number): number => (((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;
const stype = (imm: number, rs2: number, rs1: number, f3: number): number =>
  ((((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 31) << 7) | 0x23) >>> 0;
const btype = (off: number, rs1: number, rs2: number, f3: number): number =>
  ((((off >> 12) & 1) << 31) | (((off >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (((off >> 1) & 0xf) << 8) | (((off >> 11) & 1) << 7) | 0x63) >>> 0;
const ld = (rd: number, rs1: number): number => itype(0, rs1, 3, rd, 0x03);
const sd = (rs2: number, rs1: number): number => stype(0, rs2, rs1, 3);
const add = (rd: number, rs1: number, rs2: number): number => ((rs2 << 20) | (rs1 << 15) | (rd << 7) | 0x33) >>> 0;
const addi = (rd: number, rs1: number, imm: number): number => itype(imm, rs1, 0, rd, 0x13);
const bne = (rs1: number, rs2: number, off: number): number => btype(off, rs1, rs2, 1);
const csrr = (rd: number, csr: number): number => itype(csr, 0, 2, rd, 0x73);
const csrw = (csr: number, rs1: number): number => itype(csr, rs1, 1, 0, 0x73);
const MRET = 0x30200073;
const WFI = 0x10500073;
const CSR_MEPC = 0x341;
const CSR_MCAUSE = 0x342;
const HANDLER = 0x100;

/**
 * A loop of `n` turns: load 8 bytes from x6 into x5 and add them to x8, store x11 to x6. The
 * M-mode trap handler counts traps in x7, sums their causes in x12, and skips the instruction.
 */
function loopMachine(ramBytes: number): { hart: Hart; ram: GuestRam } {
  const ram = new GuestRam(DRAM, ramBytes);
  const code = [ld(5, 6), add(8, 8, 5), sd(11, 6), addi(9, 9, -1), bne(9, 0, -16), WFI];
  const handler = [csrr(10, CSR_MCAUSE), add(12, 12, 10), csrr(10, CSR_MEPC), addi(10, 10, 4), csrw(CSR_MEPC, 10), addi(7, 7, 1), MRET];
  code.forEach((w, i) => (ram.i32[i] = w | 0));
  handler.forEach((w, i) => (ram.i32[HANDLER / 4 + i] = w | 0));
  const hart = new Hart(new Bus(ram), 0, null);
  hart.setPc(DRAM);
  hart.csr64[Csr64.MTVEC] = DRAM + HANDLER;
  return { hart, ram };
}

const setReg = (h: Hart, r: number, v: bigint): void => {
  h.x[2 * r] = Number(v & 0xffff_ffffn) | 0;
  h.x[2 * r + 1] = Number((v >> 32n) & 0xffff_ffffn) | 0;
};
const reg = (h: Hart, r: number): bigint => (BigInt(h.x[2 * r + 1]! >>> 0) << 32n) | BigInt(h.x[2 * r]! >>> 0);
const csr64 = (h: Hart, slot: number): bigint => (BigInt(h.csr64[slot + 1]! >>> 0) << 32n) | BigInt(h.csr64[slot]! >>> 0);

describe("VM isolation: guest-physical addresses past a VM's RAM", () => {
  const A_RAM = 1 * MIB;
  const B_RAM = 2 * MIB;
  const TURNS = 400n; // enough turns for the loop to be hot (compiled, where the JIT is on)
  const MARK = 0x5eed_1234_cafe_f00dn;

  /** Run the loop in VM A with x6 = `pa`; B's RAM (a buffer of its own, as each VM's is) holds MARK at the same guest-physical address. */
  function probe(pa: number): { a: Hart; aRam: GuestRam; bRam: GuestRam } {
    const { hart: a, ram: aRam } = loopMachine(A_RAM);
    const bRam = new GuestRam(DRAM, B_RAM);
    const bView = new DataView(bRam.sab);
    const inB = bRam.contains(pa, 8);
    if (inB) bView.setBigUint64(pa - DRAM, MARK, true);
    // A's last 8 bytes hold MARK too: the in-RAM control reads it.
    new DataView(aRam.sab).setBigUint64(A_RAM - 8, MARK, true);
    setReg(a, 6, BigInt(pa));
    setReg(a, 9, TURNS);
    setReg(a, 11, MARK);
    let status: number = RunStatus.Budget;
    for (let i = 0; i < 100 && status === RunStatus.Budget; i++) status = a.run(100_000);
    assert.equal(status, RunStatus.Wfi, "the loop ran to its end");
    if (inB) assert.equal(bView.getBigUint64(pa - DRAM, true), MARK, "B's RAM is untouched");
    return { a, aRam, bRam };
  }

  test("control: inside A's RAM the same loop loads and stores without a trap", () => {
    const { a } = probe(DRAM + A_RAM - 8);
    assert.equal(reg(a, 7), 0n, "no traps");
    assert.equal(reg(a, 8), (TURNS * MARK) & 0xffff_ffff_ffff_ffffn, "every load returned the bytes there");
  });

  for (const [what, pa] of [
    ["the first byte past A's RAM", DRAM + A_RAM],
    ["where B's RAM has data (A's RAM + 512 KiB)", DRAM + A_RAM + 512 * 1024],
    ["the last doubleword below 4 GiB", 0xffff_fff8],
  ] as const) {
    test(`priv 3.6 (physical memory attributes: vacant regions): a load or store at ${what} is an access fault, never data`, () => {
      const { a, aRam } = probe(pa);
      assert.equal(reg(a, 7), 2n * TURNS, "each load and each store trapped");
      assert.equal(reg(a, 12), TURNS * BigInt(Cause.LoadAccessFault + Cause.StoreAccessFault), "load access faults (5) and store access faults (7)");
      assert.equal(reg(a, 8), 0n, "no load returned anything");
      assert.equal(reg(a, 5), 0n, "the load's destination was never written");
      assert.equal(csr64(a, Csr64.MTVAL), BigInt(pa), "mtval holds the faulting address");
      assert.equal(new DataView(aRam.sab).getBigUint64(A_RAM - 8, true), MARK, "A's own RAM is unchanged by the stores");
    });
  }
});

// --- (c) disk claims, without VMs -------------------------------------------------------

describe("VM isolation: disk claims", () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), "paravm-claims-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("one writer or many readers per file, known by inode (a symlink or hard link is the same file); released by name", () => {
    const f = join(dir, "d.img");
    writeFileSync(f, new Uint8Array(4096));
    symlinkSync(f, join(dir, "sym.img"));
    linkSync(f, join(dir, "hard.img"));
    const c = new DiskClaims();
    const rw = { readonly: false, snapshot: false };
    assert.equal(c.claim("a", { path: f, ...rw }), null);
    assert.match(c.claim("b", { path: f, ...rw }) ?? "", new RegExp(`^disk ${f} is in use: VM a is running with it writable`));
    assert.match(c.claim("b", { path: join(dir, "sym.img"), ...rw }) ?? "", /sym\.img \(as .*d\.img\) is in use: VM a/);
    assert.match(c.claim("b", { path: join(dir, "hard.img"), readonly: true, snapshot: false }) ?? "", /hard\.img \(as .*d\.img\) is in use: VM a/);
    assert.match(c.claim("b", { path: f, readonly: false, snapshot: true }) ?? "", /VM a is running with it writable/);
    c.release("a");
    assert.equal(c.holders(f), null, "released");
    assert.equal(c.claim("r1", { path: f, readonly: true, snapshot: false }), null);
    assert.equal(c.claim("r2", { path: join(dir, "sym.img"), readonly: false, snapshot: true }), null, "readers share");
    assert.deepEqual(c.holders(f), { writer: null, readers: ["r1", "r2"] });
    assert.match(c.claim("w", { path: f, ...rw }) ?? "", /VMs r1, r2 are reading it; VM w cannot write it while they run/);
    c.release("r1");
    c.release("r2");
    assert.equal(c.claim("w", { path: f, ...rw }), null, "free again once the readers stopped");
    assert.equal(c.claim("x", { path: join(dir, "none.img"), ...rw }), null, "a missing file is left to the disk's own error");
  });
});

// --- (a), (b), (c) with two running pv guests ---------------------------------------------

const DISK_BYTES = 4 * MIB;
/** Where guest B writes the marker on its disk (in 512-byte sectors). */
const MARK_SECTOR = 2048;
/** The whole disk as the guest reads it, NUL runs squeezed to newlines (grep on one 4 MiB line is minutes on an emulated hart). */
const scanDisk = (marker: string): string => `dd if=/dev/vda bs=64k 2>/dev/null | tr -s '\\000' '\\n' | grep -c -F '${marker}'`;

describe("VM isolation: two running pv guests", { skip: NO_GUEST, timeout: 600_000 }, () => {
  let dir: string;
  let hv: Hypervisor;
  let a: Vm;
  let b: Vm;
  const disk = (n: string): string => join(dir, `${n}.img`);
  const sh = async (vm: Vm, cmd: string): Promise<{ status: number; output: string }> => vm.agentExec(cmd, { timeoutMs: 120_000 });
  const spec = (name: string, d: { readonly: boolean; snapshot: boolean }) =>
    pvExecSpec("exec sleep 86400", { memBytes: 64 * MIB, disk: { path: disk(name), cache: "writeback", ...d } }, "paravm.nodisk");

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "paravm-iso-"));
    for (const n of ["a", "b", "shared"]) writeFileSync(disk(n), new Uint8Array(DISK_BYTES));
    hv = new Hypervisor({ pcpus: 2 });
    a = hv.create({ name: "iso-a", spec: spec("a", { readonly: false, snapshot: false }) });
    b = hv.create({ name: "iso-b", spec: spec("b", { readonly: false, snapshot: false }) });
    await Promise.all([a.start(), b.start()]);
    const ready = await Promise.all([a.agentReady(300_000), b.agentReady(300_000)]);
    assert.deepEqual(ready, [true, true], "both guests' agents answer");
  });
  after(async () => {
    await hv?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("B's marker is in B's RAM and disk file, in neither of A's; A's guest cannot find it on its disk", async (t: TestContext) => {
    // New each run, so no earlier run and no source file can hold it.
    const marker = `pvmark-${randomBytes(12).toString("hex")}`;
    const wrote = await sh(b, `printf %s '${marker}' >/tmp/marker && printf %s '${marker}' | dd of=/dev/vda bs=512 seek=${MARK_SECTOR} conv=fsync 2>/dev/null && sync && cat /tmp/marker`);
    assert.deepEqual(wrote, { status: 0, output: marker }, "B wrote it to tmpfs (its RAM) and its disk");
    const bytes = Buffer.from(marker);
    const found = (sab: SharedArrayBuffer | null): boolean => Buffer.from(sab!).indexOf(bytes) >= 0;
    const ramA = a.guestRam();
    const ramB = b.guestRam();
    assert.ok(ramA && ramB && ramA !== ramB, "each VM has a RAM buffer of its own");
    // First the host's scans: A has not been sent the marker yet, so nothing put it in A's RAM legitimately.
    assert.ok(found(ramB), "control: the scan finds it in B's RAM");
    assert.equal(readFileSync(disk("b")).indexOf(bytes), MARK_SECTOR * 512, "control: at the sector B wrote, in B's disk file");
    assert.equal(found(ramA), false, "not in A's RAM");
    assert.equal(readFileSync(disk("a")).indexOf(bytes), -1, "not in A's disk file");
    // Then from inside: A reads its whole disk; B, the control, finds it on its own with the same command.
    assert.deepEqual(await sh(b, scanDisk(marker)), { status: 0, output: "1\n" }, "control: B's guest finds it on its disk");
    assert.deepEqual(await sh(a, scanDisk(marker)), { status: 1, output: "0\n" }, "A's guest does not");
    // A guest view of its physical memory: this kernel has neither /proc/kcore nor /dev/mem
    // (tinyconfig); if one is ever built in, A scans it here.
    const kcore = await sh(a, `for f in /proc/kcore /dev/mem; do [ -e $f ] && echo $f; done; true`);
    if (kcore.output.trim() === "") t.diagnostic("guest memory view: no /proc/kcore or /dev/mem in this kernel; the host-side scan of A's RAM covers it");
    for (const f of kcore.output.split("\n").filter((l) => l !== "")) {
      assert.equal((await sh(a, `dd if=${f} bs=64k 2>/dev/null | tr -s '\\000' '\\n' | grep -c -F '${marker}'`)).output, "0\n", `${f} in A`);
    }
  });

  test("a disk file a running VM writes is refused to another, naming the file and the holder; readers share; released at stop", async () => {
    const free0 = hv.memory.freeBytes;
    for (const [name, d] of [
      ["c1", { readonly: false, snapshot: false }],
      ["c2", { readonly: true, snapshot: false }],
      ["c3", { readonly: false, snapshot: true }],
    ] as const) {
      const c = hv.create({ name, spec: spec("b", d) });
      await assert.rejects(c.start(), (e: unknown) => e instanceof VmBuildError && e.usage && e.message === `VM ${name}: disk ${disk("b")} is in use: VM iso-b is running with it writable; a disk one VM writes cannot be given to another while it runs (give VM ${name} a copy of the file)`);
      assert.equal(c.state, "created", "nothing started");
      await hv.destroy(name);
    }
    assert.equal(hv.memory.freeBytes, free0, "no memory charge left by a refused start");
    // Two readers of one file run side by side; a writer is refused while they do, and gets it once they stop.
    const r1 = hv.create({ name: "r1", spec: spec("shared", { readonly: true, snapshot: false }) });
    const r2 = hv.create({ name: "r2", spec: spec("shared", { readonly: false, snapshot: true }) });
    const w = hv.create({ name: "w", spec: spec("shared", { readonly: false, snapshot: false }) });
    try {
      await r1.start();
      await r2.start();
      await assert.rejects(w.start(), /disk .*shared\.img is in use: VMs r1, r2 are reading it; VM w cannot write it while they run/);
      await r1.stop();
      await r2.stop();
      await w.start();
      assert.equal(w.state, "running", "the file is free once its readers stopped");
      assert.deepEqual(hv.disks.holders(disk("shared")), { writer: "w", readers: [] });
      await w.stop();
      assert.equal(hv.disks.holders(disk("shared")), null, "released at stop");
    } finally {
      for (const n of ["r1", "r2", "w"]) await hv.destroy(n);
    }
  });
});
