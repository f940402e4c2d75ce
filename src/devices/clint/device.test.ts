import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CLINT, ClintDevice, type InterruptTarget } from "./device.js";

/** A hart stand-in: records the mip bits the CLINT drives, and every call. */
class FakeHart implements InterruptTarget {
  mip = 0;
  calls: [number, boolean][] = [];
  setInterruptPending(bit: number, level: boolean): void {
    this.calls.push([bit, level]);
    if (level) this.mip |= 1 << bit;
    else this.mip &= ~(1 << bit);
  }
  get mtip(): boolean {
    return (this.mip & (1 << CLINT.MIP_MTIP_BIT)) !== 0;
  }
  get msip(): boolean {
    return (this.mip & (1 << CLINT.MIP_MSIP_BIT)) !== 0;
  }
}

/** A clock the test moves by hand, in milliseconds. */
function fakeClock(startMs = 1000) {
  const c = { now: startMs, advance: (ms: number) => void (c.now += ms), fn: () => c.now };
  return c;
}

function setup(harts = 1) {
  const clock = fakeClock();
  const hs = Array.from({ length: harts }, () => new FakeHart());
  const clint = new ClintDevice(hs, { clockMs: clock.fn });
  return { clock, harts: hs, clint };
}

function write64(dev: ClintDevice, off: number, v: bigint): void {
  dev.write(off, 4, Number(v & 0xffff_ffffn) | 0);
  dev.write(off + 4, 4, Number((v >> 32n) & 0xffff_ffffn) | 0);
}
function read64(dev: ClintDevice, off: number): bigint {
  return (BigInt(dev.read(off + 4, 4) >>> 0) << 32n) | BigInt(dev.read(off, 4) >>> 0);
}
const mtimecmp = (hart: number) => CLINT.MTIMECMP_BASE + 8 * hart;

describe("CLINT mtime", () => {
  test("counts at 10 MHz from the host clock, starting at 0", () => {
    const { clock, clint } = setup();
    assert.equal(clint.mtime(), 0);
    clock.advance(1.5);
    assert.equal(clint.mtime(), 15_000);
    assert.equal(read64(clint, CLINT.MTIME), 15_000n);
  });

  test("a guest write sets mtime, which keeps counting from there", () => {
    const { clock, clint } = setup();
    clock.advance(10);
    write64(clint, CLINT.MTIME, 0x1_0000_0000n);
    assert.equal(read64(clint, CLINT.MTIME), 0x1_0000_0000n);
    clock.advance(1);
    assert.equal(read64(clint, CLINT.MTIME), 0x1_0000_0000n + 10_000n);
  });

  test("writing only the low word keeps the high word", () => {
    const { clint } = setup();
    write64(clint, CLINT.MTIME, 0x5_0000_0010n);
    clint.write(CLINT.MTIME, 4, 0x20);
    assert.equal(read64(clint, CLINT.MTIME), 0x5_0000_0020n);
  });

  test("mtime() serves as the hart's TimeSource", () => {
    const { clock, clint } = setup();
    clock.advance(0.1);
    const time: { mtime(): number } = clint;
    assert.equal(time.mtime(), 1000);
  });
});

describe("CLINT mtimecmp drives MTIP (mip bit 7) as a level", () => {
  test("MTIP is pending at reset (mtimecmp = 0), as on QEMU and Spike", () => {
    const { harts } = setup();
    assert.equal(harts[0]!.mtip, true);
  });

  test("a future mtimecmp clears MTIP at once; it rises when update() sees mtime reach it", () => {
    const { clock, harts, clint } = setup();
    write64(clint, mtimecmp(0), 50_000n); // 5 ms
    assert.equal(harts[0]!.mtip, false);
    clock.advance(4.9);
    clint.update();
    assert.equal(harts[0]!.mtip, false);
    clock.advance(0.1);
    assert.equal(harts[0]!.mtip, false, "MTIP changes only when the run loop calls update()");
    clint.update();
    assert.equal(harts[0]!.mtip, true);
  });

  test("writing a past mtimecmp raises MTIP immediately", () => {
    const { clock, harts, clint } = setup();
    write64(clint, mtimecmp(0), ~0n);
    assert.equal(harts[0]!.mtip, false);
    clock.advance(2);
    write64(clint, mtimecmp(0), 10n);
    assert.equal(harts[0]!.mtip, true);
  });

  test("mtimecmp = all ones disables the timer and reads back exactly", () => {
    const { clock, harts, clint } = setup();
    write64(clint, mtimecmp(0), 0xffff_ffff_ffff_ffffn);
    clock.advance(1e6);
    clint.update();
    assert.equal(harts[0]!.mtip, false);
    assert.equal(read64(clint, mtimecmp(0)), 0xffff_ffff_ffff_ffffn);
    assert.equal(clint.nextDeadline(), Infinity, "a disabled timer is no deadline to sleep for");
  });

  test("moving mtime past mtimecmp by a guest write raises MTIP", () => {
    const { harts, clint } = setup();
    write64(clint, mtimecmp(0), 1_000_000n);
    assert.equal(harts[0]!.mtip, false);
    write64(clint, CLINT.MTIME, 2_000_000n);
    assert.equal(harts[0]!.mtip, true);
  });

  test("update() drives only changes, not every call", () => {
    const { harts, clint } = setup();
    write64(clint, mtimecmp(0), 1_000_000n);
    harts[0]!.calls = [];
    clint.update();
    clint.update();
    assert.deepEqual(harts[0]!.calls, []);
  });

  test("each hart has its own mtimecmp", () => {
    const { clock, harts, clint } = setup(2);
    write64(clint, mtimecmp(0), 10_000n);
    write64(clint, mtimecmp(1), 30_000n);
    clock.advance(2);
    clint.update();
    assert.deepEqual(
      harts.map((h) => h.mtip),
      [true, false],
    );
  });
});

describe("CLINT nextDeadline (how long a hart in WFI may sleep)", () => {
  test("milliseconds until the earliest future mtimecmp", () => {
    const { clock, clint } = setup(2);
    write64(clint, mtimecmp(0), 80_000n);
    write64(clint, mtimecmp(1), 30_000n);
    clock.advance(1);
    assert.equal(clint.nextDeadline(), 2);
  });

  test("Infinity when no timer is armed in the future", () => {
    const { clock, clint } = setup();
    clock.advance(1);
    assert.equal(clint.nextDeadline(), Infinity);
  });

  test("0 when a deadline passed that update() has not yet signalled", () => {
    const { clock, clint } = setup();
    write64(clint, mtimecmp(0), 10_000n);
    clock.advance(2);
    assert.equal(clint.nextDeadline(), 0);
    clint.update();
    assert.equal(clint.nextDeadline(), Infinity);
  });
});

describe("CLINT msip drives MSIP (mip bit 3)", () => {
  test("writing 1 raises and 0 clears MSIP; only bit 0 is kept", () => {
    const { harts, clint } = setup(2);
    clint.write(CLINT.MSIP_BASE + 4, 4, 0xffff_ffff);
    assert.equal(harts[1]!.msip, true);
    assert.equal(harts[0]!.msip, false);
    assert.equal(clint.read(CLINT.MSIP_BASE + 4, 4), 1);
    clint.write(CLINT.MSIP_BASE + 4, 4, 2);
    assert.equal(harts[1]!.msip, false);
    assert.equal(clint.read(CLINT.MSIP_BASE + 4, 4), 0);
  });

  test("accesses past the last hart and to reserved offsets read 0 and are ignored", () => {
    const { harts, clint } = setup(1);
    clint.write(CLINT.MSIP_BASE + 4, 4, 1);
    clint.write(CLINT.MTIMECMP_BASE + 8, 4, 0);
    clint.write(0x8000, 4, 1);
    assert.equal(harts[0]!.msip, false);
    assert.equal(clint.read(CLINT.MSIP_BASE + 4, 4), 0);
    assert.equal(clint.read(0x8000, 4), 0);
  });

  test("a byte store to msip works like a word store", () => {
    const { harts, clint } = setup();
    clint.write(CLINT.MSIP_BASE, 1, 1);
    assert.equal(harts[0]!.msip, true);
    assert.equal(clint.read(CLINT.MSIP_BASE, 1), 1);
  });
});

describe("CLINT state", () => {
  test("save/load keeps mtime, mtimecmp and msip", () => {
    const a = setup();
    write64(a.clint, CLINT.MTIME, 123_456n);
    write64(a.clint, mtimecmp(0), 999_999n);
    a.clint.write(CLINT.MSIP_BASE, 4, 1);
    const saved = JSON.parse(JSON.stringify(a.clint.save())) as Record<string, unknown>;
    const b = setup();
    b.clint.load(saved);
    assert.equal(read64(b.clint, CLINT.MTIME), 123_456n);
    assert.equal(read64(b.clint, mtimecmp(0)), 999_999n);
    assert.equal(b.harts[0]!.msip, true);
    assert.equal(b.harts[0]!.mtip, false);
  });

  test("reset zeroes mtime and the registers", () => {
    const { clock, harts, clint } = setup();
    clock.advance(5);
    write64(clint, mtimecmp(0), 999_999n);
    clint.write(CLINT.MSIP_BASE, 4, 1);
    clint.reset();
    assert.equal(clint.mtime(), 0);
    assert.equal(read64(clint, mtimecmp(0)), 0n);
    assert.equal(harts[0]!.msip, false);
    assert.equal(harts[0]!.mtip, true);
  });
});
