/**
 * SBI Debug Console extension (EID "DBCN", spec v2.0 ch. 12). Buffers are guest-physical:
 * base_addr_lo holds the low XLEN bits, base_addr_hi the bits above (always 0 on RV64 RAM).
 * Memory that is not RAM is SBI_ERR_INVALID_PARAM, as v2.0 specifies for these functions.
 */
import { RunStatus, type Hart } from "../cpu/hart.js";
import type { SbiExtension } from "./dispatch.js";
import type { SbiHost } from "./host.js";
import { Eid, Fid, SbiError } from "./ids.js";
import { argHi, argLo, argU64, ret } from "./regs.js";

/** Bytes moved per call at most: the calls are non-blocking and may be partial (the guest loops). */
export const DBCN_MAX_CHUNK = 4096;

export class DbcnExtension implements SbiExtension {
  readonly name = "dbcn";
  readonly eids = [Eid.DBCN];
  constructor(private readonly host: SbiHost) {}

  functions(): readonly string[] {
    return ["console_write", "console_read", "console_write_byte"];
  }

  call(h: Hart, _eid: number, fid: number): number {
    if (fid === Fid.DBCN.CONSOLE_WRITE_BYTE) {
      this.host.consolePutchar(argLo(h, 0) & 0xff);
      ret(h, SbiError.SUCCESS);
      return RunStatus.Budget;
    }
    const num = argU64(h, 0);
    const base = argU64(h, 1);
    const baseHiZero = argLo(h, 2) === 0 && argHi(h, 2) === 0;
    if (num === 0) {
      ret(h, baseHiZero ? SbiError.SUCCESS : SbiError.INVALID_PARAM, 0);
      return RunStatus.Budget;
    }
    const len = Math.min(num, DBCN_MAX_CHUNK);
    // The whole buffer must be guest RAM, even if only a chunk is moved this time.
    if (!baseHiZero || this.host.readGuest(base, 1) === null || this.host.readGuest(base + num - 1, 1) === null) {
      ret(h, SbiError.INVALID_PARAM);
      return RunStatus.Budget;
    }
    if (fid === Fid.DBCN.CONSOLE_WRITE) {
      const bytes = this.host.readGuest(base, len);
      if (bytes === null) {
        ret(h, SbiError.INVALID_PARAM);
        return RunStatus.Budget;
      }
      this.host.consoleWrite(bytes);
      ret(h, SbiError.SUCCESS, len);
      return RunStatus.Budget;
    }
    // console_read: whatever input is waiting, up to len bytes.
    const buf: number[] = [];
    while (buf.length < len) {
      const c = this.host.consoleGetchar();
      if (c < 0) break;
      buf.push(c & 0xff);
    }
    if (buf.length > 0 && !this.host.writeGuest(base, Uint8Array.from(buf))) {
      ret(h, SbiError.ERR_FAILED);
      return RunStatus.Budget;
    }
    ret(h, SbiError.SUCCESS, buf.length);
    return RunStatus.Budget;
  }
}
