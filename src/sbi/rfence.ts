/**
 * SBI RFENCE extension (EID "RFNC", spec v2.0 ch. 8). The HFENCE functions (FID 3..6) are
 * NOT_SUPPORTED: the harts have no H extension.
 */
import { RunStatus, type Hart } from "../cpu/hart.js";
import type { SbiExtension } from "./dispatch.js";
import { FenceKind, type FenceKindValue, type SbiHost } from "./host.js";
import { Eid, Fid, SbiError } from "./ids.js";
import { argU64, hartMask, ret } from "./regs.js";

/** Flush the calling hart itself and ask the host to flush the others. */
export function fence(
  host: SbiHost,
  h: Hart,
  targets: number[],
  kind: FenceKindValue,
  start: number,
  size: number,
  asid: number,
): void {
  const others: number[] = [];
  for (const id of targets) {
    if (id === h.hartId) {
      if (kind === FenceKind.FenceI) h.flushDecoded();
      else h.flushTlb();
    } else {
      others.push(id);
    }
  }
  if (others.length > 0) host.remoteFence(kind, others, start, size, asid);
}

export class RfenceExtension implements SbiExtension {
  readonly name = "rfence";
  readonly eids = [Eid.RFENCE];
  constructor(private readonly host: SbiHost) {}

  functions(): readonly string[] {
    return ["remote_fence_i", "remote_sfence_vma", "remote_sfence_vma_asid"];
  }

  call(h: Hart, _eid: number, fid: number): number {
    const targets = hartMask(h, 0, this.host.harts);
    if (targets === null) {
      ret(h, SbiError.INVALID_PARAM);
      return RunStatus.Budget;
    }
    // start/size are advisory here: every flush is a full flush of the affected structure.
    const start = argU64(h, 2);
    const size = argU64(h, 3);
    const kind =
      fid === Fid.RFENCE.REMOTE_FENCE_I
        ? FenceKind.FenceI
        : fid === Fid.RFENCE.REMOTE_SFENCE_VMA
          ? FenceKind.SfenceVma
          : FenceKind.SfenceVmaAsid;
    const asid = kind === FenceKind.SfenceVmaAsid ? argU64(h, 4) : 0;
    if (kind === FenceKind.FenceI) fence(this.host, h, targets, kind, 0, 0, 0);
    else fence(this.host, h, targets, kind, start, size, asid);
    ret(h, SbiError.SUCCESS);
    return RunStatus.Budget;
  }
}
