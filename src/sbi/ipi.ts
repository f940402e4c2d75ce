/** SBI IPI extension (EID "sPI", spec v2.0 ch. 7). */
import { RunStatus, type Hart } from "../cpu/hart.js";
import type { SbiExtension } from "./dispatch.js";
import type { SbiHost } from "./host.js";
import { Eid, SbiError } from "./ids.js";
import { hartMask, ret } from "./regs.js";

export class IpiExtension implements SbiExtension {
  readonly name = "ipi";
  readonly eids = [Eid.IPI];
  constructor(private readonly host: SbiHost) {}

  functions(): readonly string[] {
    return ["send_ipi"];
  }

  call(h: Hart): number {
    const targets = hartMask(h, 0, this.host.harts);
    if (targets === null) {
      ret(h, SbiError.INVALID_PARAM);
    } else {
      if (targets.length > 0) this.host.sendIpi(targets);
      ret(h, SbiError.SUCCESS);
    }
    return RunStatus.Budget;
  }
}
