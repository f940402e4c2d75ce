/** SBI System Reset extension (EID "SRST", spec v2.0 ch. 10). */
import { RunStatus, type Hart } from "../cpu/hart.js";
import type { SbiExtension } from "./dispatch.js";
import type { SbiHost } from "./host.js";
import { Eid, SbiError } from "./ids.js";
import { argU32, ret } from "./regs.js";

export const ResetType = { SHUTDOWN: 0, COLD_REBOOT: 1, WARM_REBOOT: 2 } as const;
export const ResetReason = { NONE: 0, SYSTEM_FAILURE: 1 } as const;

export class SrstExtension implements SbiExtension {
  readonly name = "srst";
  readonly eids = [Eid.SRST];
  constructor(private readonly host: SbiHost) {}

  functions(): readonly string[] {
    return ["system_reset"];
  }

  call(h: Hart): number {
    // reset_type and reset_reason are uint32: the upper halves of a0/a1 are ignored.
    const type = argU32(h, 0);
    const reason = argU32(h, 1);
    // Reserved and unimplemented vendor/implementation-specific values are INVALID_PARAM.
    if (type > ResetType.WARM_REBOOT || reason > ResetReason.SYSTEM_FAILURE) {
      ret(h, SbiError.INVALID_PARAM);
      return RunStatus.Budget;
    }
    ret(h, SbiError.SUCCESS); // not seen by the guest: the call does not return on success
    this.host.reset(type, reason);
    return RunStatus.Stopped;
  }
}
