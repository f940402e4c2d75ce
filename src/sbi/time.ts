/** SBI Timer extension (EID "TIME", spec v2.0 ch. 6). */
import { RunStatus, type Hart } from "../cpu/hart.js";
import { IRQ } from "../cpu/constants.js";
import type { SbiExtension } from "./dispatch.js";
import type { SbiHost } from "./host.js";
import { Eid, SbiError } from "./ids.js";
import { argU64, ret } from "./regs.js";

/** set_timer semantics shared with the legacy call: clear STIP, arm the host timer. */
export function setTimer(host: SbiHost, h: Hart, deadline: number): void {
  h.mip &= ~(1 << IRQ.STI);
  host.setTimer(h.hartId, deadline);
}

export class TimeExtension implements SbiExtension {
  readonly name = "time";
  readonly eids = [Eid.TIME];
  constructor(private readonly host: SbiHost) {}

  functions(): readonly string[] {
    return ["set_timer"];
  }

  call(h: Hart): number {
    // stime_value is absolute mtime; all ones (Linux's "no timer") becomes ~1.8e19, never reached.
    setTimer(this.host, h, argU64(h, 0));
    ret(h, SbiError.SUCCESS);
    return RunStatus.Budget;
  }
}
