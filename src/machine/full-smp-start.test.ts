/**
 * Debian's OpenSBI 1.1 secondary-start race, forced on purpose (docs/full-machine.md, "The
 * OpenSBI 1.1 secondary-start race"): the harts of a 2-hart full machine are driven by hand
 * on one thread, hart 0 is stopped right after SBI HSM hart_start has set hart 1's state to
 * START_PENDING (its first sc.d in M-mode once Linux brings up CPU1) and before it writes
 * next_addr, and hart 1 gets 3 M instructions alone.
 *
 *   - Both harts out of reset at power-on (QEMU virt's way): hart 1 polls its state with the
 *     cold-boot IPI still pending, leaves the firmware at the stale next_addr — the kernel's
 *     boot entry — and spins in the Image's first page. This is the bug, reproduced.
 *   - As the machine does it (hart 1 out of reset once hart 0 has left the firmware): hart 1
 *     sleeps in WFI through the window and starts where Linux asked, and CPU1 comes online.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { Priv } from "../cpu/constants.js";
import type { Hart } from "../cpu/hart.js";
import { defaultGuestDir } from "../control/cli.js";
import { FULL_DEFAULTS, FullMachine } from "./full.js";

const dir = defaultGuestDir();
const skip =
  dir === null
    ? "no guest images in ~/.cache/paravm"
    : !existsSync(FULL_DEFAULTS.FIRMWARE)
      ? `no ${FULL_DEFAULTS.FIRMWARE} (package opensbi)`
      : false;
const KERNEL_ENTRY = 0x8000_0000 + FULL_DEFAULTS.KERNEL_OFFSET;

/** sc.d: AMO opcode, funct3 = 3 (doubleword), funct5 = 00011. */
const isScD = (insn: number): boolean => (insn & 0x7f) === 0x2f && ((insn >>> 12) & 7) === 3 && insn >>> 27 === 3;

function force(order: "power-on" | "machine"): { m: FullMachine; h1: Hart; console: () => string; inWindow: { priv: number; pc: number; wfi: boolean } } {
  let out = "";
  const m = new FullMachine({
    kernel: readFileSync(`${dir}/Image`),
    initrd: readFileSync(`${dir}/initramfs.cpio.gz`),
    firmware: readFileSync(FULL_DEFAULTS.FIRMWARE),
    cpus: 2,
    output: (b) => {
      out += Buffer.from(b).toString("latin1");
    },
  });
  const [h0, h1] = m.harts as [Hart, Hart];
  const hart1Runs = (): boolean => order === "power-on" || !m.secondariesInReset;
  const slice = (h: Hart, n: number): void => {
    if (!h.wfi || (h.mie & h.effectiveMip()) !== 0) h.run(n);
  };
  // Between slices the machine updates its timers and decides about the reset (loop.runnable).
  const round = (): void => {
    slice(h0, 1000);
    m.loop.runnable();
    if (hart1Runs()) slice(h1, 1000);
  };
  for (let i = 0; !out.includes("smp: Bringing up secondary CPUs"); i++) {
    assert.ok(i < 2_000_000, `Linux never brought up CPU1:\n${out.slice(-1500)}`);
    round();
  }
  assert.ok(hart1Runs(), "hart 1 is out of reset before Linux starts it");
  // Hart 0 alone, one instruction at a time, through hart_start's state cmpxchg.
  for (let n = 0; ; n++) {
    assert.ok(n < 5_000_000, "no sc.d in M-mode on hart 0");
    const insn = h0.priv === Priv.M ? m.bus.read(h0.getPc(), 4) : 0;
    h0.run(1);
    if (h0.priv === Priv.M && isScD(insn)) break;
  }
  // The window: hart 1 alone.
  for (let i = 0; i < 3000; i++) {
    slice(h1, 1000);
    m.loop.runnable();
  }
  const inWindow = { priv: h1.priv, pc: h1.getPc(), wfi: h1.wfi };
  return { m, h1, console: () => out, inWindow };
}

test("OpenSBI 1.1, harts out of reset at power-on: a secondary in the hart_start window leaves at the kernel's boot entry", { skip, timeout: 120_000 }, () => {
  const { inWindow } = force("power-on");
  assert.equal(inWindow.priv, Priv.S, "hart 1 left the firmware without next_addr");
  assert.ok(inWindow.pc >= KERNEL_ENTRY && inWindow.pc < KERNEL_ENTRY + 0x1000, `hart 1 at 0x${inWindow.pc.toString(16)}, not in the Image's first page`);
});

test("as the full machine releases them (after hart 0 left the firmware), a secondary sleeps through the window and comes online", { skip, timeout: 120_000 }, () => {
  const { m, h1, console: out, inWindow } = force("machine");
  assert.deepEqual(inWindow, { priv: Priv.M, pc: inWindow.pc, wfi: true }, "hart 1 still waits in the firmware's WFI");
  const [h0] = m.harts as [Hart];
  for (let i = 0; !/smp: Brought up [^\n]*\n/.test(out()); i++) {
    assert.ok(i < 2_000_000, out().slice(-1500));
    if (!h0.wfi || (h0.mie & h0.effectiveMip()) !== 0) h0.run(1000);
    m.loop.runnable();
    if (!h1.wfi || (h1.mie & h1.effectiveMip()) !== 0) h1.run(1000);
  }
  assert.ok(h1.instretByPriv[Priv.S]! > 0, "hart 1 ran the kernel");
  assert.doesNotMatch(out(), /CPU1: failed to come online/);
  assert.match(out(), /smp: Brought up 1 node, 2 CPUs/, out().slice(-1500));
});
