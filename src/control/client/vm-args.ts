/**
 * The client's argument checks: `vm create` flags into a VmEntry (the fleet file's VM
 * entry, docs/api.md), `vm set` flags into the PATCH body. Only the form of each value is
 * checked here (a number, a size, a spec); ranges and everything that depends on the
 * daemon's state are the API's to judge, so the CLI and the API cannot disagree.
 */
import { isAbsolute, resolve } from "node:path";
import { InvalidArgumentError } from "commander";
import { parse as parseYaml } from "yaml";
import { DiskError, parseDiskSpec } from "../../devices/virtio/blk/file-backend.js";
import { formatMac } from "../../devices/virtio/net/mac.js";
import { parseNetSpec, SpecError } from "../../hypervisor/vm-spec.js";
import { parseMemSize, UsageError, type MachineProfile } from "../args.js";

/** `vm create` options as commander hands them over (sizes already in bytes). */
export interface CreateFlags {
  profile?: MachineProfile;
  cpus?: number;
  maxCpus?: number;
  mem?: number;
  memTarget?: number;
  disk?: string;
  net?: string;
  exec?: string;
  workload?: string;
  weight?: number;
  cap?: number;
  start?: boolean;
}

/** What POST /vms takes: a VmEntry, plus `start`. Keys are the fleet file's. */
export type VmEntryBody = Record<string, unknown>;

/** A whole number ≥ 0 (`--weight`, `--cap`, `--vcpus`); its range is the API's to check. */
export function parseWholeNumber(text: string): number {
  if (!/^\s*\d+\s*$/.test(text)) throw new InvalidArgumentError("expected a whole number.");
  return Number(text.trim());
}

/**
 * The VmEntry for `vm create NAME` and its flags: only what was given (the daemon fills
 * the fleet defaults, which are `paravm run`'s), disk paths made absolute against `cwd`
 * (the daemon runs elsewhere).
 */
export function vmEntryFromFlags(name: string, f: CreateFlags, cwd: string = process.cwd()): VmEntryBody {
  const entry: VmEntryBody = { name };
  if (f.profile !== undefined) entry.profile = f.profile;
  if (f.cpus !== undefined) entry.cpus = f.cpus;
  if (f.maxCpus !== undefined) entry["max-cpus"] = f.maxCpus;
  if (f.mem !== undefined) entry.mem = f.mem;
  if (f.memTarget !== undefined) entry["mem-target"] = f.memTarget;
  if (f.weight !== undefined) entry.weight = f.weight;
  if (f.cap !== undefined) entry.cap = f.cap;
  if (f.disk !== undefined) entry.disks = [diskEntry(f.disk, cwd)];
  if (f.net !== undefined) entry.nics = [nicEntry(f.net)];
  if (f.exec !== undefined && f.workload !== undefined) throw new UsageError("--exec and --workload together: pick one");
  if (f.exec !== undefined) entry.exec = f.exec;
  if (f.workload !== undefined) entry.workload = f.workload;
  if (f.start === true) entry.start = true;
  return entry;
}

function diskEntry(spec: string, cwd: string): Record<string, unknown> {
  let d: ReturnType<typeof parseDiskSpec>;
  try {
    d = parseDiskSpec(spec);
  } catch (e) {
    if (e instanceof DiskError) throw new UsageError(e.message);
    throw e;
  }
  // parseDiskSpec fills cache= in; a VM entry has no such key, so refuse it rather than drop it.
  if (/(^|,)cache=/.test(spec)) throw new UsageError(`--disk '${spec}': cache= is not part of a VM entry (the daemon's disks write back)`);
  const path = isAbsolute(d.path) ? d.path : resolve(cwd, d.path);
  return { path, ...(d.readonly ? { readonly: true } : {}), ...(d.snapshot ? { snapshot: true } : {}) };
}

function nicEntry(spec: string): Record<string, unknown> {
  let n: ReturnType<typeof parseNetSpec>;
  try {
    n = parseNetSpec(spec);
  } catch (e) {
    if (e instanceof SpecError) throw new UsageError(e.message);
    throw e;
  }
  if (n.rate !== undefined) throw new UsageError(`--net '${spec}': rate= is not part of a VM entry`);
  return { network: n.network, ...(n.mac ? { mac: formatMac(n.mac) } : {}) };
}

/** `vm set` options. */
export interface SetFlags {
  weight?: number;
  cap?: number;
  vcpus?: number;
  memTarget?: number;
  autoscale?: string;
}

/** The PATCH /vms/{name} body for `vm set`; a usage error when it would change nothing. */
export function patchFromFlags(f: SetFlags): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (f.weight !== undefined) body.weight = f.weight;
  if (f.cap !== undefined) body.cap = f.cap;
  if (f.vcpus !== undefined) body.vcpus = f.vcpus;
  if (f.memTarget !== undefined) body.memTargetBytes = f.memTarget;
  if (f.autoscale !== undefined) body.autoscale = parseAutoscaleArg(f.autoscale);
  if (Object.keys(body).length === 0) throw new UsageError("vm set: nothing to change (give --weight, --cap, --vcpus, --mem-target or --autoscale)");
  return body;
}

/**
 * `--autoscale`: `off` (null: the autoscaler leaves the VM alone), or the fleet file's
 * `autoscale:` mapping as JSON or a YAML flow mapping (`{cpu: {weight: {min: 128, max:
 * 1024}}}`). Memory bounds may be sizes ("64M"); they are sent as bytes.
 */
export function parseAutoscaleArg(text: string): Record<string, unknown> | null {
  if (text.trim() === "off") return null;
  let v: unknown;
  try {
    v = parseYaml(text);
  } catch (e) {
    throw new UsageError(`--autoscale: not JSON or YAML: ${(e as Error).message.split("\n")[0]}`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new UsageError(`--autoscale: expected off or a mapping such as '{"cpu":{"weight":{"min":128,"max":1024}}}'`);
  }
  const limits = v as Record<string, unknown>;
  const memory = limits.memory;
  if (typeof memory === "object" && memory !== null && !Array.isArray(memory)) {
    const m = { ...(memory as Record<string, unknown>) };
    for (const k of ["min", "max"] as const) {
      if (typeof m[k] === "string") {
        try {
          m[k] = parseMemSize(m[k] as string);
        } catch (e) {
          throw new UsageError(`--autoscale: memory.${k}: ${JSON.stringify(m[k])} is not a size (${(e as Error).message.replace(/\.$/, "")})`);
        }
      }
    }
    limits.memory = m;
  }
  return limits;
}
