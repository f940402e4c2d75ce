/**
 * `VmEntry`: one VM as the API, the CLI client and fleet files give it — exactly one item
 * of a fleet file's `vms:` list, checked by the fleet file's own code (fleet-file.ts), so
 * one shape has one set of rules and every problem is listed with its field.
 *
 * The daemon keeps each VM's entry normalized (sizes in bytes, every default filled in,
 * disk paths absolute, the MAC written out): two entries describe the same machine when
 * their machine parts are equal as JSON, and the stored entry is what `GET /fleet` gives
 * back for a fleet apply to recreate.
 */
import { resolve } from "node:path";
import { formatMac } from "../../devices/virtio/net/mac.js";
import type { AutoscaleLimits } from "../../hypervisor/autoscale-limits.js";
import { checkFleet, type FleetEntry } from "../fleet-file.js";

export interface VmEntryDisk {
  readonly path: string;
  readonly readonly?: boolean;
  readonly snapshot?: boolean;
}

export interface VmEntryNic {
  readonly network: string;
  readonly mac?: string;
}

/** A VM entry as given (sizes as bytes or strings such as "256M"). */
export interface VmEntry {
  readonly name: string;
  readonly profile?: "pv" | "full";
  readonly cpus?: number;
  readonly "max-cpus"?: number;
  readonly mem?: number | string;
  readonly "mem-target"?: number | string;
  readonly weight?: number;
  readonly cap?: number;
  readonly disks?: readonly VmEntryDisk[];
  readonly nics?: readonly VmEntryNic[];
  readonly exec?: string;
  readonly workload?: string;
  readonly autoscale?: AutoscaleLimits;
}

/** The fields that make the machine: a change to one of them needs a new VM (a stopped one). */
const MACHINE_KEYS = ["profile", "cpus", "max-cpus", "mem", "disks", "nics", "exec", "workload"] as const;

/** A checked entry: the fleet code's form (to plan the machine) and the normalized entry. */
export interface CheckedEntry {
  readonly fleet: FleetEntry;
  readonly entry: VmEntry;
}

/** The normalized entry of a checked fleet entry. */
export function normalEntry(e: FleetEntry): VmEntry {
  return {
    name: e.name,
    profile: e.profile,
    cpus: e.cpus,
    "max-cpus": e.maxCpus,
    mem: e.memBytes,
    ...(e.memTargetBytes !== undefined ? { "mem-target": e.memTargetBytes } : {}),
    ...(e.weight !== undefined ? { weight: e.weight } : {}),
    ...(e.cap !== undefined ? { cap: e.cap } : {}),
    ...(e.disk ? { disks: [{ path: e.disk.path, readonly: e.disk.readonly, snapshot: e.disk.snapshot }] } : {}),
    ...(e.nic ? { nics: [{ network: e.nic.network, mac: formatMac(e.nic.mac) }] } : {}),
    // A workload's script is made from its name at each start: keep the name only.
    ...(e.workload !== undefined ? { workload: e.workload } : e.exec !== undefined ? { exec: e.exec } : {}),
    ...(e.autoscale ? { autoscale: e.autoscale } : {}),
  };
}

/** The machine part of a normalized entry, as one comparable string. */
export function machineKey(e: VmEntry): string {
  return JSON.stringify(MACHINE_KEYS.map((k) => e[k] ?? null));
}

export interface EntryContext {
  /** Networks known to the daemon (name → subnet); a NIC naming another network creates it with the default subnet. */
  readonly networks: Record<string, string>;
  /** Where relative disk paths start. */
  readonly baseDir: string;
  readonly diskProblem?: (path: string) => string | null;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Network names an entry's NICs mention (before it is checked). */
export function nicNetworks(raw: unknown): string[] {
  if (!isObj(raw) || !Array.isArray(raw.nics)) return [];
  return raw.nics.filter(isObj).flatMap((n) => (typeof n.network === "string" ? [n.network] : []));
}

/**
 * Check one entry with the fleet file's rules: the checked entry, or every problem with
 * the field it is in ("mem: \"12Q\" is not a size …"). The memory budget is not checked
 * here: admission answers that (507).
 */
export function checkEntry(raw: unknown, ctx: EntryContext): { ok: true; vm: CheckedEntry } | { ok: false; problems: string[] } {
  const networks: Record<string, { subnet: string } | null> = Object.fromEntries(Object.entries(ctx.networks).map(([n, subnet]) => [n, { subnet }]));
  for (const n of nicNetworks(raw)) if (!(n in networks)) networks[n] = null;
  const r = checkFleet({ networks, vms: [raw] }, { budgetBytes: Number.POSITIVE_INFINITY, baseDir: ctx.baseDir, ...(ctx.diskProblem ? { diskProblem: ctx.diskProblem } : {}) });
  if (!r.ok) return { ok: false, problems: r.problems.map((p) => p.replace(/^vms\[0\]\.?/, "").replace(/^:/, "entry:")) };
  const fleet = r.fleet.vms[0]!;
  return { ok: true, vm: { fleet, entry: normalEntry(fleet) } };
}

/** Does the VM write its disk (neither readonly nor snapshot)? */
const writes = (e: VmEntry): boolean => e.disks?.[0] !== undefined && e.disks[0].readonly !== true && e.disks[0].snapshot !== true;

/**
 * Conflicts between a new entry and VMs the daemon holds: a disk file that one of them
 * writes and the other opens too, a MAC already on the same network.
 */
export function entryConflicts(e: VmEntry, others: readonly VmEntry[], at = ""): string[] {
  const out: string[] = [];
  const p = (field: string): string => (at === "" ? field : `${at}.${field}`);
  const disk = e.disks?.[0];
  for (const o of others) {
    if (o.name === e.name) continue;
    const od = o.disks?.[0];
    if (disk && od && resolve(disk.path) === resolve(od.path) && (writes(e) || writes(o))) {
      out.push(`${p("disks[0]")}: ${disk.path} is ${writes(e) ? "written by this VM" : "attached here"} and ${writes(o) ? "written" : "attached"} by VM ${o.name}: give one readonly or snapshot, or a copy`);
    }
    const nic = e.nics?.[0];
    const onic = o.nics?.[0];
    if (nic && onic && nic.network === onic.network && nic.mac === onic.mac) out.push(`${p("nics[0].mac")}: ${nic.mac} is already the MAC of VM ${o.name} on network ${nic.network}`);
  }
  return out;
}
