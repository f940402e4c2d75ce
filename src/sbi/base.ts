/** SBI Base extension (EID 0x10, spec v2.0 ch. 4). */
import { RunStatus, type Hart } from "../cpu/hart.js";
import type { SbiExtension } from "./dispatch.js";
import { Eid, Fid, SbiError } from "./ids.js";
import { argHi, argLo, ret } from "./regs.js";

/** Spec version 2.0: major in bits 30..24, minor in bits 23..0. */
export const SBI_SPEC_VERSION = (2 << 24) | 0;
/**
 * paravm's SBI implementation ID. Registered IDs run 0 (BBL) .. 11 (bhyve) and a few beyond;
 * paravm is not registered, so it uses "PV" in ASCII, far from the registered range.
 */
export const PARAVM_IMPL_ID = 0x5056;
/** paravm's SBI implementation version (0.1.0 as major<<16 | minor<<8 | patch). */
export const PARAVM_IMPL_VERSION = 0x000100;

export class BaseExtension implements SbiExtension {
  readonly name = "base";
  readonly eids = [Eid.BASE];
  constructor(private readonly probe: (eid: number) => boolean) {}

  functions(): readonly string[] {
    return [
      "get_spec_version",
      "get_impl_id",
      "get_impl_version",
      "probe_extension",
      "get_mvendorid",
      "get_marchid",
      "get_mimpid",
    ];
  }

  call(h: Hart, _eid: number, fid: number): number {
    switch (fid) {
      case Fid.BASE.GET_SPEC_VERSION:
        ret(h, SbiError.SUCCESS, SBI_SPEC_VERSION);
        break;
      case Fid.BASE.GET_IMPL_ID:
        ret(h, SbiError.SUCCESS, PARAVM_IMPL_ID);
        break;
      case Fid.BASE.GET_IMPL_VERSION:
        ret(h, SbiError.SUCCESS, PARAVM_IMPL_VERSION);
        break;
      case Fid.BASE.PROBE_EXTENSION: {
        const hi = argHi(h, 0);
        ret(h, SbiError.SUCCESS, hi === 0 && this.probe(argLo(h, 0) >>> 0) ? 1 : 0);
        break;
      }
      default: // mvendorid, marchid, mimpid: a virtual machine has none.
        ret(h, SbiError.SUCCESS, 0);
    }
    return RunStatus.Budget;
  }
}
