import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, test } from "node:test";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { defaultGuestDir } from "../control/cli.js";
import { parseFdt } from "./fdt.js";
import { checkInitrd, IMAGE, ImageError, parseImageHeader, planLayout } from "./linux-image.js";
import { PvMachine } from "./pv.js";

const MiB = 1024 * 1024;
const RAM = 0x8000_0000;

/** A fake Image: header with the given fields, `size` bytes long. */
function image(opts: { textOffset?: number; imageSize?: number; size?: number; magic?: boolean; magic2?: boolean } = {}): Uint8Array {
  const size = opts.size ?? 0x1000;
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0x0000_0013, true); // nop
  v.setBigUint64(0x08, BigInt(opts.textOffset ?? 0x20_0000), true);
  v.setBigUint64(0x10, BigInt(opts.imageSize ?? size), true);
  v.setUint32(0x20, 2, true);
  if (opts.magic !== false) b.set(new TextEncoder().encode(IMAGE.MAGIC), IMAGE.MAGIC_OFFSET);
  if (opts.magic2 !== false) b.set([0x52, 0x53, 0x43, 0x05], IMAGE.MAGIC2_OFFSET);
  return b;
}

describe("Linux Image header", () => {
  test("parses text_offset and image_size", () => {
    const h = parseImageHeader(image({ textOffset: 0x20_0000, imageSize: 0x50_0000 }));
    assert.equal(h.textOffset, 0x20_0000);
    assert.equal(h.imageSize, 0x50_0000);
    assert.equal(h.version, 2);
  });
  test("either magic is enough; neither is an error", () => {
    assert.doesNotThrow(() => parseImageHeader(image({ magic: false })));
    assert.doesNotThrow(() => parseImageHeader(image({ magic2: false })));
    assert.throws(() => parseImageHeader(image({ magic: false, magic2: false })), ImageError);
  });
  test("short files and nonsense sizes are refused in one line", () => {
    assert.throws(() => parseImageHeader(new Uint8Array(10), "k"), /k: not a RISC-V Linux Image/);
    assert.throws(() => parseImageHeader(image({ imageSize: 0x10, size: 0x1000 })), /corrupt Image header/);
  });
});

describe("boot layout", () => {
  test("kernel at base + 2 MiB, FDT 2 MiB below the end, initrd page-aligned below it", () => {
    const kernel = parseImageHeader(image({ imageSize: 8 * MiB }));
    const l = planLayout({ ramBase: RAM, ramSize: 256 * MiB, kernel, kernelFileSize: 0x1000, initrdSize: 1234567 });
    assert.equal(l.kernelAddr, RAM + 0x20_0000);
    assert.equal(l.kernelEnd, RAM + 0x20_0000 + 8 * MiB);
    assert.equal(l.fdtAddr, RAM + 254 * MiB);
    assert.ok(l.initrd);
    assert.equal(l.initrd.start % 4096, 0);
    assert.equal(l.initrd.end - l.initrd.start, 1234567);
    assert.ok(l.initrd.end <= l.fdtAddr);
    assert.ok(l.initrd.start >= l.kernelEnd);
  });
  test("text_offset rounds up to 2 MiB; 0 means the default", () => {
    const a = planLayout({ ramBase: RAM, ramSize: 64 * MiB, kernel: parseImageHeader(image({ textOffset: 0x1000 })), kernelFileSize: 0x1000 });
    assert.equal(a.kernelAddr, RAM + 0x20_0000);
    const b = planLayout({ ramBase: RAM, ramSize: 64 * MiB, kernel: parseImageHeader(image({ textOffset: 0 })), kernelFileSize: 0x1000 });
    assert.equal(b.kernelAddr, RAM + 0x20_0000);
  });
  test("small RAM puts the FDT at the very top", () => {
    const l = planLayout({ ramBase: RAM, ramSize: 8 * MiB, kernel: parseImageHeader(image()), kernelFileSize: 0x1000 });
    assert.equal(l.fdtAddr, RAM + 8 * MiB - l.fdtMax);
    assert.equal(l.fdtAddr % 8, 0);
  });
  test("a kernel or initrd too big for the RAM is a one-line error", () => {
    const kernel = parseImageHeader(image({ imageSize: 30 * MiB }));
    assert.throws(() => planLayout({ ramBase: RAM, ramSize: 16 * MiB, kernel, kernelFileSize: 0x1000 }), /kernel needs .* --mem is 16 MiB/);
    const small = parseImageHeader(image({ imageSize: 4 * MiB }));
    assert.throws(
      () => planLayout({ ramBase: RAM, ramSize: 16 * MiB, kernel: small, kernelFileSize: 0x1000, initrdSize: 12 * MiB }),
      /do not fit in --mem 16 MiB/,
    );
  });
  test("initrd format check", () => {
    assert.doesNotThrow(() => checkInitrd(Uint8Array.of(0x1f, 0x8b, 8)));
    assert.doesNotThrow(() => checkInitrd(new TextEncoder().encode("070701000")));
    assert.throws(() => checkInitrd(new Uint8Array(0)), /empty/);
    assert.throws(() => checkInitrd(new TextEncoder().encode("hello")), /not a gzip/);
  });
});

describe("pv machine", () => {
  test("loads kernel, initrd and FDT and starts the hart in S-mode with a0/a1", () => {
    const initrd = Uint8Array.of(0x1f, 0x8b, 1, 2, 3);
    const m = new PvMachine({ kernel: image(), initrd, memBytes: 32 * MiB, bootargs: "console=hvc0", output: () => {} });
    const h = m.hart;
    assert.equal(h.priv, 1);
    assert.equal(h.getPc(), m.layout.kernelAddr);
    assert.equal(h.x[20], 0);
    assert.equal(h.x[22] >>> 0, m.layout.fdtAddr);
    assert.deepEqual(m.ram.readBytes(m.layout.kernelAddr + 0x38, 4), Uint8Array.of(0x52, 0x53, 0x43, 0x05));
    assert.deepEqual(m.ram.readBytes(m.layout.initrd!.start, 5), initrd);
    const fdt = parseFdt(m.ram.readBytes(m.layout.fdtAddr, m.fdt.length));
    assert.ok(fdt);
  });
});

describe("pv boot (real Linux; skipped without built guest images)", () => {
  const dir = defaultGuestDir();
  // The same command on paravm and on QEMU (-M virt with OpenSBI, the oracle): the guest
  // must see the same kernel, hart count and tmpfs behaviour, and report the same status.
  // dd reads the clock through the vDSO (rdtime in U-mode: needs scounteren.TM).
  // `dmesg -n 1` first: a kernel warning on a loaded host ("hrtimer: interrupt took …")
  // once landed between the command's lines on the shared console.
  const script =
    "dmesg -n 1; uname -sm; grep -c ^processor /proc/cpuinfo; echo paravm-tmpfs-ok > /tmp/t; cat /tmp/t; " +
    "dd if=/dev/zero of=/dev/null bs=4k count=16 2>/dev/null && echo dd-ok; exit 7";
  const guestLines = (out: string): string[] => {
    const lines = out.split(/\r?\n/);
    const i = lines.findIndex((l) => /^Linux riscv64/.test(l));
    const j = lines.findIndex((l) => /PARAVM-EXIT-STATUS=/.test(l));
    return i >= 0 && j >= i ? lines.slice(i, j + 1) : [];
  };
  test(
    "paravm run --exec boots Linux to the command and exits with its status; QEMU agrees",
    { skip: dir === null ? "no guest images in ~/.cache/paravm" : false, timeout: 240_000 },
    () => {
      const bin = fileURLToPath(new URL("../../../bin/paravm.js", import.meta.url));
      const r = spawnSync(process.execPath, [bin, "run", "--exec", script], { encoding: "utf8", timeout: 200_000 });
      assert.equal(r.status, 7, `stderr: ${r.stderr}\nstdout tail: ${r.stdout.slice(-500)}`);
      const got = guestLines(r.stdout);
      assert.deepEqual(got, ["Linux riscv64", "1", "paravm-tmpfs-ok", "dd-ok", "PARAVM-EXIT-STATUS=7"], r.stdout.slice(-800));

      const q = spawnSync(
        "qemu-system-riscv64",
        [
          ...["-M", "virt", "-m", "256M", "-smp", "1", "-nographic", "-no-reboot"],
          ...["-bios", "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin"],
          ...["-kernel", join(dir!, "Image"), "-initrd", join(dir!, "initramfs.cpio.gz")],
          ...["-append", `console=ttyS0 paravm.exec=${Buffer.from(script).toString("base64")}`],
        ],
        { encoding: "utf8", timeout: 60_000 },
      );
      assert.equal(q.error, undefined, `QEMU: ${String(q.error)}`);
      assert.deepEqual(got, guestLines(q.stdout), `QEMU printed:\n${q.stdout.slice(-800)}`);
    },
  );
});

/** A tiny RV64 assembler: just what the SMP test programs need. */
const R = { zero: 0, t0: 5, t1: 6, a0: 10, a1: 11, a2: 12, a6: 16, a7: 17 } as const;
const asm = {
  i: (op: number, f3: number, rd: number, rs1: number, imm: number) => (((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0,
  addi: (rd: number, rs1: number, imm: number) => asm.i(0x13, 0, rd, rs1, imm),
  lui: (rd: number, imm20: number) => (((imm20 & 0xfffff) << 12) | (rd << 7) | 0x37) >>> 0,
  auipc: (rd: number, imm20: number) => (((imm20 & 0xfffff) << 12) | (rd << 7) | 0x17) >>> 0,
  lw: (rd: number, rs1: number, imm: number) => asm.i(0x03, 2, rd, rs1, imm),
  sw: (rs2: number, rs1: number, imm: number) =>
    ((((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (2 << 12) | ((imm & 0x1f) << 7) | 0x23) >>> 0,
  beq: (rs1: number, rs2: number, off: number) =>
    ((((off >> 12) & 1) << 31) | (((off >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) | (((off >> 1) & 0xf) << 8) | (((off >> 11) & 1) << 7) | 0x63) >>> 0,
  jal: (rd: number, off: number) =>
    ((((off >> 20) & 1) << 31) | (((off >> 1) & 0x3ff) << 21) | (((off >> 11) & 1) << 20) | (((off >> 12) & 0xff) << 12) | (rd << 7) | 0x6f) >>> 0,
  csrrsi: (rd: number, csr: number, uimm: number) => asm.i(0x73, 6, rd, uimm, csr),
  ecall: () => 0x73,
  wfi: () => 0x10500073,
  /** li for a value that fits in 32 bits signed: lui + addi. */
  li: (rd: number, v: number): number[] => {
    const hi = ((v + 0x800) >> 12) & 0xfffff;
    const lo = (v - (hi << 12)) << 20 >> 20;
    return [asm.lui(rd, hi), asm.addi(rd, rd, lo)];
  },
};

/**
 * An Image whose code is `prog(at)` at 0x40 (after the header; code0 jumps there); `at(label)`
 * is the byte offset of a label the program defines with `mark`.
 */
function program(build: (emit: (...w: number[]) => void, here: () => number) => void, size = 0x1000): Uint8Array {
  const img = image({ size });
  const v = new DataView(img.buffer);
  let pc = 0x40;
  v.setUint32(0, asm.jal(0, 0x40), true);
  build(
    (...ws) => {
      for (const w of ws) {
        v.setUint32(pc, w, true);
        pc += 4;
      }
    },
    () => pc,
  );
  return img;
}

describe("pv machine SMP (hand-assembled guests)", () => {
  const HSM = 0x48534d;
  const IPI = 0x735049;
  const SRST = 0x53525354;
  const FLAG1 = 0x800;
  const FLAG2 = 0x804;
  const HART1 = 0x400;
  /**
   * Hart 0 starts hart 1 through HSM (opaque 0x1234) and waits for it to store the opaque
   * at FLAG1; hart 1 enables SSIE and waits in WFI; hart 0 sends it an IPI; hart 1 stores 7
   * at FLAG2; hart 0 sees it and shuts the machine down.
   */
  const kernel = program((emit, here) => {
    emit(...asm.li(R.a7, HSM), asm.addi(R.a6, 0, 0), asm.addi(R.a0, 0, 1));
    let p = here();
    emit(asm.auipc(R.a1, 0), asm.addi(R.a1, R.a1, HART1 - p), ...asm.li(R.a2, 0x1234), asm.ecall());
    const wait1 = here();
    emit(asm.auipc(R.t1, 0), asm.lw(R.t0, R.t1, FLAG1 - wait1), asm.beq(R.t0, 0, -8));
    emit(...asm.li(R.a7, IPI), asm.addi(R.a6, 0, 0), asm.addi(R.a0, 0, 2), asm.addi(R.a1, 0, 0), asm.ecall());
    const wait2 = here();
    emit(asm.auipc(R.t1, 0), asm.lw(R.t0, R.t1, FLAG2 - wait2), asm.beq(R.t0, 0, -8));
    emit(...asm.li(R.a7, SRST), asm.addi(R.a6, 0, 0), asm.addi(R.a0, 0, 0), asm.addi(R.a1, 0, 0), asm.ecall());
    emit(asm.jal(0, 0));
    while (here() < HART1) emit(asm.addi(0, 0, 0));
    p = here();
    emit(asm.auipc(R.t1, 0), asm.sw(R.a1, R.t1, FLAG1 - p), asm.csrrsi(0, 0x104, 2));
    emit(asm.wfi(), asm.beq(0, 0, -4 + 0)); // placeholder, replaced below
  });
  // Hart 1, after WFI: store 7 at FLAG2, then spin in WFI.
  {
    const v = new DataView(kernel.buffer);
    const at = HART1 + 12;
    const words = [asm.wfi(), asm.auipc(R.t1, 0), asm.addi(R.t0, 0, 7), asm.sw(R.t0, R.t1, FLAG2 - (at + 4)), asm.wfi(), asm.jal(0, -4)];
    words.forEach((w, k) => v.setUint32(at + 4 * k, w, true));
  }

  test("secondary harts start STOPPED; HSM hart_start, IPIs and shutdown work across harts", () => {
    const m = new PvMachine({ kernel, memBytes: 16 * MiB, cpus: 2, output: () => {}, maxInsns: 5_000_000 });
    assert.equal(m.harts.length, 2);
    assert.equal(m.sbi.hsm.state(1), 1, "hart 1 STOPPED at power-on");
    const r = m.run();
    assert.equal(r.stop, "shutdown");
    assert.equal(m.ram.readBytes(m.layout.kernelAddr + FLAG1, 4)[0], 0x34);
    assert.equal(m.ram.readBytes(m.layout.kernelAddr + FLAG1, 4)[1], 0x12);
    assert.equal(m.ram.readBytes(m.layout.kernelAddr + FLAG2, 4)[0], 7);
    assert.equal(r.harts.length, 2);
    assert.equal(r.harts[0]!.exits["sbi.hsm.hart_start"], 1);
    assert.equal(r.harts[0]!.exits["sbi.ipi.send_ipi"], 1);
    assert.equal(r.harts[1]!.interrupts.ipi, 1);
    assert.ok(r.harts[1]!.exits.wfi! >= 1);
    assert.ok(r.harts[1]!.instret > 0);
    assert.equal(r.instret, r.harts[0]!.instret + r.harts[1]!.instret);
    assert.equal(r.exits["sbi.srst.system_reset"], 1);
    // Host memory for guest code, per hart: each ran from at least one decoded page.
    for (const h of r.harts) {
      const c = h.code!;
      assert.ok(c.decodedPages >= 1, JSON.stringify(c));
      assert.equal(c.decodedBytes, c.decodedPages * (2048 * 3 * 4 + 4096));
      assert.ok(c.jitPages <= c.decodedPages, JSON.stringify(c));
    }
  });

  test("runAsync reaches the same end and yields to the event loop", async () => {
    const m = new PvMachine({ kernel, memBytes: 16 * MiB, cpus: 2, output: () => {}, maxInsns: 5_000_000 });
    const r = await m.runAsync();
    assert.equal(r.stop, "shutdown");
    assert.equal(m.ram.readBytes(m.layout.kernelAddr + FLAG2, 4)[0], 7);
  });

  test("the device tree has one cpu node per hart", () => {
    for (const cpus of [1, 3, 8]) {
      const m = new PvMachine({ kernel: image(), memBytes: 16 * MiB, cpus, output: () => {} });
      const text = new TextDecoder("latin1").decode(m.fdt);
      const nodes = text.match(/cpu@[0-9a-f]+\0/g) ?? [];
      assert.equal(nodes.length, cpus);
      assert.equal(m.harts.length, cpus);
    }
  });

  test("cpus outside 1..8 are refused in one line", () => {
    for (const cpus of [0, 9, 1.5, -1]) {
      assert.throws(() => new PvMachine({ kernel: image(), memBytes: 16 * MiB, cpus, output: () => {} }), /--cpus .*1 to 8/);
    }
  });

  test("stop() ends a run; with nothing to wake it, a machine reports a WFI deadlock", () => {
    const k = program((emit) => emit(asm.wfi(), asm.jal(0, -4)));
    const m = new PvMachine({ kernel: k, memBytes: 16 * MiB, output: () => {} });
    assert.equal(m.run().stop, "wfiDeadlock");
  });
});
