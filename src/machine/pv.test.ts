import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, test } from "node:test";
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
  test(
    "paravm run --exec boots to the command and exits with its status",
    { skip: dir === null ? "no guest images in ~/.cache/paravm" : false, timeout: 180_000 },
    () => {
      const bin = fileURLToPath(new URL("../../../bin/paravm.js", import.meta.url));
      const r = spawnSync(process.execPath, [bin, "run", "--exec", "uname -sm; exit 7"], { encoding: "utf8", timeout: 170_000 });
      assert.equal(r.status, 7, `stderr: ${r.stderr}\nstdout tail: ${r.stdout.slice(-500)}`);
      assert.match(r.stdout, /Linux riscv64/);
      assert.match(r.stdout, /PARAVM-EXIT-STATUS=7/);
    },
  );
});
