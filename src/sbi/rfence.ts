/**
 * SBI RFENCE extension (EID "RFNC", spec v2.0 ch. 8). The HFENCE functions (FID 3..6) are
 * NOT_SUPPORTED: the harts have no H extension.
 */
import { RunStatus, type Hart } from "../cpu/hart.js";
import type { SbiExtension } from "./dispatch.js";
import { FenceKind, type FenceKindValue, type SbiHost } from "./host.js";
import { Eid, Fid, SbiError } from "./ids.js";
import { argU64, argVa39, hartMask, ret } from "./regs.js";

/**
 * Apply one fence to hart `h`: fence.i re-checks decoded code; sfence.vma drops the
 * translations of [start, start + size) (start: an Sv39 address's low 39 bits, argVa39) — of ASID `asid` for the ASID form — and nothing
 * else (the whole address space for start = size = 0 or size = 2^64 - 1, as the SBI
 * specification says, and for large ranges).
 */
export function applyFence(h: Hart, kind: FenceKindValue, start: number, size: number, asid: number): void {
  if (kind === FenceKind.FenceI) h.flushDecoded();
  else h.tlb.sfenceRange(start, size, kind === FenceKind.SfenceVmaAsid ? asid : -1);
}

/** Fence the calling hart itself and ask the host to fence the others. */
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
    if (id === h.hartId) applyFence(h, kind, start, size, asid);
    else {
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
    const start = argVa39(h, 2);
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
