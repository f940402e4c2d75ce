/**
 * What the autoscaler may change for one VM, and within which bounds: the opt-in a fleet
 * file's `autoscale:` entry, the API and the library all give. Absent resource: left alone.
 */
import { checkCap, checkWeight } from "./scheduler.js";

export interface Range {
  readonly min: number;
  readonly max: number;
}

export interface AutoscaleLimits {
  readonly cpu?: {
    /** Scheduler weight bounds (1..65535). */
    readonly weight?: Range;
    /** Cap bounds in percent of one core (0 = no cap is not a bound: min ≥ 1). */
    readonly cap?: Range;
    /** Online vCPUs, within 1..the VM's maximum. */
    readonly vcpus?: Range;
  };
  readonly memory?: {
    /** Guest-usable memory (RAM minus balloon), bytes. */
    readonly min: number;
    readonly max: number;
  };
}

/** Every problem with `limits` for a VM of `memBytes` RAM and `maxCpus` vCPUs, as lines naming the field. */
export function autoscaleProblems(limits: AutoscaleLimits, vm: { memBytes: number; maxCpus: number }, at = "autoscale"): string[] {
  const out: string[] = [];
  const range = (r: Range | undefined, name: string, lo: number, hi: number, check?: (v: number) => void): void => {
    if (r === undefined) return;
    for (const [k, v] of [["min", r.min], ["max", r.max]] as const) {
      if (typeof v !== "number" || !Number.isInteger(v)) out.push(`${at}.${name}.${k}: must be a whole number, got ${JSON.stringify(v)}`);
      else if (v < lo || v > hi) out.push(`${at}.${name}.${k}: ${v} is outside ${lo}..${hi}`);
      else if (check) {
        try {
          check(v);
        } catch (e) {
          out.push(`${at}.${name}.${k}: ${(e as Error).message}`);
        }
      }
    }
    if (Number.isInteger(r.min) && Number.isInteger(r.max) && r.min > r.max) out.push(`${at}.${name}: min ${r.min} is above max ${r.max}`);
  };
  range(limits.cpu?.weight, "cpu.weight", 1, 65535, checkWeight);
  range(limits.cpu?.cap, "cpu.cap", 1, 100 * 64, checkCap);
  range(limits.cpu?.vcpus, "cpu.vcpus", 1, vm.maxCpus);
  const MiB = 1024 * 1024;
  range(limits.memory, "memory", 32 * MiB, vm.memBytes);
  return out;
}
