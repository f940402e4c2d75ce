/**
 * The SiFive test device ("sifive,test1", QEMU `virt`'s power controller at 0x10_0000).
 * Firmware (OpenSBI's `syscon-reboot`/`sifive_test` reset driver) powers the machine off
 * or resets it by writing one 32-bit word to offset 0:
 *
 *     0x5555                  pass: power off
 *     0x7777                  reset
 *     (code << 16) | 0x3333   fail with exit code `code`
 *
 * A 16-bit store carries the command with code 0. Any other value is ignored, as on
 * the hardware. Reads return 0. The device only
 * records the request; the machine's run loop sees it between slices and stops, so the
 * request takes effect at once from the guest's point of view (the hart is asked to
 * stop after the store).
 */
import type { DeviceState, MmioDevice } from "../device.js";

export const SIFIVE_TEST = {
  SIZE: 0x1000,
  /** The status register: the only one. */
  REG: 0x0,
  FAIL: 0x3333,
  PASS: 0x5555,
  RESET: 0x7777,
  CODE_SHIFT: 16,
} as const;

export type PowerRequest = { kind: "poweroff" } | { kind: "reset" } | { kind: "fail"; code: number };

export class SifiveTestDevice implements MmioDevice {
  readonly size = SIFIVE_TEST.SIZE;
  /** The last request the guest made, until the machine takes it (`take`). */
  request: PowerRequest | null = null;

  /** `onRequest` runs after each accepted request (the machine asks its harts to stop). */
  constructor(private readonly onRequest: (r: PowerRequest) => void = () => {}) {}

  read(_offset: number, _width: 1 | 2 | 4): number {
    return 0;
  }

  write(offset: number, width: 1 | 2 | 4, value: number): void {
    // OpenSBI 1.1 writes 16 bits (`writew`), others a word: a byte cannot hold a command.
    if (offset !== SIFIVE_TEST.REG || width === 1) return;
    const v = value >>> 0;
    const low = v & 0xffff;
    let r: PowerRequest | null = null;
    if (low === SIFIVE_TEST.PASS) r = { kind: "poweroff" };
    else if (low === SIFIVE_TEST.RESET) r = { kind: "reset" };
    else if (low === SIFIVE_TEST.FAIL) r = { kind: "fail", code: v >>> SIFIVE_TEST.CODE_SHIFT };
    if (r === null) return;
    this.request = r;
    this.onRequest(r);
  }

  reset(): void {
    this.request = null;
  }

  save(): DeviceState {
    return { request: this.request };
  }

  load(s: DeviceState): void {
    const r = s.request as PowerRequest | null | undefined;
    this.request = r && (r.kind === "poweroff" || r.kind === "reset" || r.kind === "fail") ? r : null;
  }
}
