/**
 * SBI v0.1 legacy extensions (EIDs 0x00..0x08, spec v2.0 ch. 5): one function per EID,
 * FID ignored, result in a0 only (a1 is left alone).
 *
 * send_ipi / remote_fence_* take a pointer to a hart mask in S-mode virtual memory. It is
 * read physically when translation is off; with translation on, paravm does not walk the
 * guest page tables here and treats the mask as "all harts" (an extra IPI or fence is
 * harmless; a missed one is not). Linux uses these only without the v0.2 extensions.
 */
import { RunStatus, type Hart } from "../cpu/hart.js";
import { Csr64 } from "../cpu/hart.js";
import { IRQ } from "../cpu/constants.js";
import type { SbiExtension } from "./dispatch.js";
import { FenceKind, type SbiHost } from "./host.js";
import { Eid, SbiError } from "./ids.js";
import { argLo, argU64, argVa39, maskToHarts, retA0 } from "./regs.js";
import { setTimer } from "./time.js";
import { fence } from "./rfence.js";

const NAMES = [
  "set_timer",
  "console_putchar",
  "console_getchar",
  "clear_ipi",
  "send_ipi",
  "remote_fence_i",
  "remote_sfence_vma",
  "remote_sfence_vma_asid",
  "shutdown",
] as const;

export class LegacyExtension implements SbiExtension {
  readonly name = "legacy";
  readonly eids = [
    Eid.LEGACY_SET_TIMER,
    Eid.LEGACY_CONSOLE_PUTCHAR,
    Eid.LEGACY_CONSOLE_GETCHAR,
    Eid.LEGACY_CLEAR_IPI,
    Eid.LEGACY_SEND_IPI,
    Eid.LEGACY_REMOTE_FENCE_I,
    Eid.LEGACY_REMOTE_SFENCE_VMA,
    Eid.LEGACY_REMOTE_SFENCE_VMA_ASID,
    Eid.LEGACY_SHUTDOWN,
  ];
  readonly ignoresFid = true;
  constructor(private readonly host: SbiHost) {}

  functions(eid: number): readonly string[] {
    return [NAMES[eid] ?? "unknown"];
  }

  /** The harts selected by the mask that a0 points to (null pointer: all harts). */
  private maskAt(h: Hart): number[] {
    const all = (): number[] => Array.from({ length: this.host.harts }, (_, i) => i);
    const ptr = argU64(h, 0);
    const bare = h.csr64[Csr64.SATP + 1]! >>> 28 === 0;
    if (ptr === 0 || !bare) return all();
    const b = this.host.readGuest(ptr, 8);
    if (b === null) return all();
    const lo = b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24);
    const hi = b[4]! | (b[5]! << 8) | (b[6]! << 16) | (b[7]! << 24);
    return maskToHarts(lo, hi, this.host.harts);
  }

  call(h: Hart, eid: number): number {
    switch (eid) {
      case Eid.LEGACY_SET_TIMER:
        setTimer(this.host, h, argU64(h, 0));
        break;
      case Eid.LEGACY_CONSOLE_PUTCHAR:
        this.host.consolePutchar(argLo(h, 0) & 0xff);
        break;
      case Eid.LEGACY_CONSOLE_GETCHAR: {
        const c = this.host.consoleGetchar();
        retA0(h, c < 0 ? -1 : c & 0xff);
        return RunStatus.Budget;
      }
      case Eid.LEGACY_CLEAR_IPI:
        h.mip &= ~(1 << IRQ.SSI);
        break;
      case Eid.LEGACY_SEND_IPI: {
        const targets = this.maskAt(h);
        if (targets.length > 0) this.host.sendIpi(targets);
        break;
      }
      case Eid.LEGACY_REMOTE_FENCE_I:
        fence(this.host, h, this.maskAt(h), FenceKind.FenceI, 0, 0, 0);
        break;
      case Eid.LEGACY_REMOTE_SFENCE_VMA:
        fence(this.host, h, this.maskAt(h), FenceKind.SfenceVma, argVa39(h, 1), argU64(h, 2), 0);
        break;
      case Eid.LEGACY_REMOTE_SFENCE_VMA_ASID:
        fence(this.host, h, this.maskAt(h), FenceKind.SfenceVmaAsid, argVa39(h, 1), argU64(h, 2), argU64(h, 3));
        break;
      default: // LEGACY_SHUTDOWN
        this.host.reset(0, 0);
        return RunStatus.Stopped;
    }
    retA0(h, SbiError.SUCCESS);
    return RunStatus.Budget;
  }
}
