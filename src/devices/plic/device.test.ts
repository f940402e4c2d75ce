import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { PLIC, PlicDevice, type InterruptTarget } from "./device.js";

class FakeHart implements InterruptTarget {
  mip = 0;
  setInterruptPending(bit: number, level: boolean): void {
    if (level) this.mip |= 1 << bit;
    else this.mip &= ~(1 << bit);
  }
  get meip(): boolean {
    return (this.mip & (1 << PLIC.MIP_MEIP_BIT)) !== 0;
  }
  get seip(): boolean {
    return (this.mip & (1 << PLIC.MIP_SEIP_BIT)) !== 0;
  }
}

function setup(harts = 1) {
  const hs = Array.from({ length: harts }, () => new FakeHart());
  return { harts: hs, plic: new PlicDevice(hs) };
}

const prio = (src: number) => PLIC.PRIORITY_BASE + 4 * src;
const enableWord = (ctx: number, src: number) => PLIC.ENABLE_BASE + PLIC.ENABLE_STRIDE * ctx + 4 * (src >> 5);
const threshold = (ctx: number) => PLIC.CONTEXT_BASE + PLIC.CONTEXT_STRIDE * ctx;
const claimReg = (ctx: number) => threshold(ctx) + PLIC.CTX_CLAIM;

function enable(plic: PlicDevice, ctx: number, src: number): void {
  const off = enableWord(ctx, src);
  plic.write(off, 4, plic.read(off, 4) | (1 << (src & 31)));
}

describe("PLIC priority, enable, threshold", () => {
  test("an enabled source of non-zero priority raises SEIP on an S-mode context", () => {
    const { harts, plic } = setup();
    plic.write(prio(5), 4, 1);
    enable(plic, 1, 5);
    assert.equal(harts[0]!.seip, false);
    plic.irqLine(5).set(true);
    assert.equal(harts[0]!.seip, true);
    assert.equal(harts[0]!.meip, false, "not enabled for the M-mode context");
    assert.equal(plic.read(PLIC.PENDING_BASE, 4), 1 << 5);
  });

  test("priority 0 never interrupts; masking (enable bit clear) hides a pending source", () => {
    const { harts, plic } = setup();
    enable(plic, 1, 3);
    plic.irqLine(3).set(true);
    assert.equal(harts[0]!.seip, false);
    plic.write(prio(3), 4, 2);
    assert.equal(harts[0]!.seip, true);
    plic.write(enableWord(1, 3), 4, 0);
    assert.equal(harts[0]!.seip, false);
    assert.equal(plic.read(claimReg(1), 4), 0, "claim of a masked source returns 0");
  });

  test("a source interrupts only above the threshold", () => {
    const { harts, plic } = setup();
    plic.write(prio(7), 4, 3);
    enable(plic, 1, 7);
    plic.write(threshold(1), 4, 3);
    plic.irqLine(7).set(true);
    assert.equal(harts[0]!.seip, false);
    assert.equal(plic.read(claimReg(1), 4), 0);
    plic.write(threshold(1), 4, 2);
    assert.equal(harts[0]!.seip, true);
  });

  test("priority and threshold are 3-bit WARL registers; source 0 is hardwired", () => {
    const { plic } = setup();
    plic.write(prio(1), 4, 0xff);
    assert.equal(plic.read(prio(1), 4), 7);
    plic.write(threshold(0), 4, 0x1234);
    assert.equal(plic.read(threshold(0), 4), 4);
    plic.write(prio(0), 4, 5);
    assert.equal(plic.read(prio(0), 4), 0);
    plic.write(enableWord(0, 0), 4, 0xffffffff);
    assert.equal(plic.read(enableWord(0, 0), 4) >>> 0, 0xfffffffe);
  });
});

describe("PLIC claim/complete", () => {
  test("claim returns the highest priority; ties go to the lowest id; claim clears pending", () => {
    const { harts, plic } = setup();
    for (const [src, p] of [[10, 2], [4, 5], [9, 5], [40, 1]] as const) {
      plic.write(prio(src), 4, p);
      enable(plic, 1, src);
      plic.irqLine(src).set(true);
    }
    assert.equal(plic.read(claimReg(1), 4), 4);
    assert.equal(plic.read(PLIC.PENDING_BASE, 4) & (1 << 4), 0);
    assert.equal(plic.read(claimReg(1), 4), 9);
    assert.equal(plic.read(claimReg(1), 4), 10);
    assert.equal(plic.read(claimReg(1), 4), 40);
    assert.equal(harts[0]!.seip, false, "everything is in flight");
    assert.equal(plic.read(claimReg(1), 4), 0);
  });

  test("a claimed level source does not re-pend until complete; a still-high line pends again", () => {
    const { harts, plic } = setup();
    plic.write(prio(2), 4, 1);
    enable(plic, 1, 2);
    const line = plic.irqLine(2);
    line.set(true);
    assert.equal(plic.read(claimReg(1), 4), 2);
    line.set(false);
    line.set(true);
    assert.equal(harts[0]!.seip, false, "in flight: the gateway holds it");
    plic.write(claimReg(1), 4, 2);
    assert.equal(harts[0]!.seip, true, "re-pended on complete");
    assert.equal(plic.read(claimReg(1), 4), 2);
    line.set(false);
    plic.write(claimReg(1), 4, 2);
    assert.equal(harts[0]!.seip, false, "line low at complete: nothing pending");
  });

  test("a line dropped before the claim is no longer pending", () => {
    const { harts, plic } = setup();
    plic.write(prio(2), 4, 1);
    enable(plic, 1, 2);
    plic.irqLine(2).set(true);
    plic.irqLine(2).set(false);
    assert.equal(harts[0]!.seip, false);
    assert.equal(plic.read(claimReg(1), 4), 0);
  });

  test("a complete for a source not enabled for the context is ignored", () => {
    const { plic } = setup();
    plic.write(prio(2), 4, 1);
    enable(plic, 1, 2);
    plic.irqLine(2).set(true);
    assert.equal(plic.read(claimReg(1), 4), 2);
    plic.write(claimReg(0), 4, 2); // ctx 0 does not enable source 2
    assert.equal(plic.read(claimReg(1), 4), 0, "still in flight");
    plic.write(claimReg(1), 4, 2);
    assert.equal(plic.read(claimReg(1), 4), 2);
  });
});

describe("PLIC contexts", () => {
  test("M and S contexts of two harts are independent and drive MEIP/SEIP", () => {
    const { harts, plic } = setup(2);
    plic.write(prio(1), 4, 1);
    plic.write(prio(2), 4, 1);
    enable(plic, 0, 1); // hart 0 M
    enable(plic, 3, 2); // hart 1 S
    plic.irqLine(1).set(true);
    plic.irqLine(2).set(true);
    assert.deepEqual([harts[0]!.meip, harts[0]!.seip, harts[1]!.meip, harts[1]!.seip], [true, false, false, true]);
    assert.equal(plic.read(claimReg(3), 4), 2);
    assert.equal(harts[1]!.seip, false);
    assert.equal(harts[0]!.meip, true);
  });

  test("a source enabled on two contexts is claimed by one only", () => {
    const { harts, plic } = setup(2);
    plic.write(prio(6), 4, 1);
    enable(plic, 1, 6);
    enable(plic, 3, 6);
    plic.irqLine(6).set(true);
    assert.equal(harts[0]!.seip && harts[1]!.seip, true);
    assert.equal(plic.read(claimReg(3), 4), 6);
    assert.equal(harts[0]!.seip, false);
    assert.equal(plic.read(claimReg(1), 4), 0);
  });
});

describe("PLIC hostile guest", () => {
  test("bad offsets, sources and widths are ignored, never thrown", () => {
    const { plic } = setup();
    assert.doesNotThrow(() => {
      plic.write(prio(200), 4, 7);
      plic.write(PLIC.PENDING_BASE, 4, -1);
      plic.write(enableWord(50, 0), 4, -1);
      plic.write(threshold(77), 4, 1);
      plic.write(claimReg(1), 4, 0xdead_beef);
      plic.write(claimReg(1), 4, 0);
      plic.write(claimReg(1), 1, 3);
      plic.write(0x1f_fffc, 4, -1);
      plic.write(PLIC.SIZE - 4, 4, -1);
      plic.read(PLIC.SIZE - 4, 4);
      plic.read(prio(3) + 1, 1);
    });
    assert.equal(plic.read(PLIC.PENDING_BASE, 4), 0);
    assert.throws(() => plic.irqLine(0), RangeError, "host wiring errors do throw");
  });

  test("save/load restores state", () => {
    const a = setup();
    a.plic.write(prio(3), 4, 4);
    enable(a.plic, 1, 3);
    a.plic.irqLine(3).set(true);
    const b = setup();
    b.plic.load(JSON.parse(JSON.stringify(a.plic.save())));
    assert.equal(b.harts[0]!.seip, true);
    assert.equal(b.plic.read(claimReg(1), 4), 3);
  });
});
