/**
 * Fleet files for `paravm up`: YAML (JSON is YAML too) describing networks and VMs.
 *
 *     networks:
 *       lan: { subnet: 10.0.2.0/24 }          # or just `lan:`; subnet defaults to 10.0.2.0/24
 *     vms:
 *       - name: web
 *         profile: pv                          # pv (default) | full
 *         cpus: 1                              # online at boot; max-cpus: harts present (pv)
 *         mem: 128M                            # mem-target: the balloon's target at boot (pv)
 *         weight: 256                          # cap: % of one host core, 0 = none
 *         disks: [{ path: data.img, readonly: true }]   # or snapshot: true; at most one
 *         nics: [{ network: lan, mac: "52:54:00:00:00:01" }]  # at most one
 *         exec: "echo hello"                   # or workload: cpu-burn | idle; neither: a shell
 *         autoscale: { cpu: { weight: { min: 128, max: 1024 } }, memory: { min: 64M, max: 128M } }
 *
 * The whole file is checked before anything boots, and every problem is reported at
 * once with its path (`vms[2].mem: "12Q" is not a size …`). This module does no I/O: the
 * caller passes the memory budget and a disk-file check.
 */
import { isAbsolute, resolve } from "node:path";
import { parseDocument } from "yaml";
import { Subnet } from "../devices/virtio/net/ip.js";
import { formatMac, macFromName, parseMac } from "../devices/virtio/net/mac.js";
import { PV_DEFAULTS } from "../machine/pv.js";
import { checkMemTarget } from "../machine/pv-balloon.js";
import { autoscaleProblems, type AutoscaleLimits, type Range } from "../hypervisor/autoscale-limits.js";
import { FLEET_DEFAULTS, type FleetVm } from "../hypervisor/fleet-run.js";
import { mib, specChargeBytes } from "../hypervisor/memory-pool.js";
import { checkCap, checkWeight } from "../hypervisor/scheduler.js";
import { VM_NAME } from "../hypervisor/vm-spec.js";
import { parseMemSize } from "./args.js";

const TOP_KEYS = ["networks", "vms"] as const;
const NETWORK_KEYS = ["subnet"] as const;
const VM_KEYS = ["name", "profile", "cpus", "max-cpus", "mem", "mem-target", "weight", "cap", "disks", "nics", "exec", "workload", "autoscale"] as const;
const DISK_KEYS = ["path", "readonly", "snapshot"] as const;
const NIC_KEYS = ["network", "mac"] as const;
const AUTOSCALE_KEYS = ["cpu", "memory"] as const;
const AUTOSCALE_CPU_KEYS = ["weight", "cap", "vcpus"] as const;
const RANGE_KEYS = ["min", "max"] as const;

/** What one machine can hold today: one disk slot and one NIC slot per VM. */
export const FLEET_LIMITS = { DISKS_PER_VM: 1, NICS_PER_VM: 1 } as const;

/**
 * Built-in guest programs for `workload:`. `cpu-burn` runs one busy loop per vCPU present
 * and each prints its work rate once a second (loops of 100 shell additions between
 * reads of /proc/uptime; `read` and `[` are shell builtins, so the loop never forks): the
 * number the autoscaler demo watches rise when a VM gets more CPU.
 */
export const WORKLOADS = {
  "cpu-burn": (vcpus: number): string =>
    [
      "burn() {",
      "  n=0; read t0 _ </proc/uptime; t0=${t0%.*}",
      "  while :; do",
      "    j=0; while [ $j -lt 100 ]; do j=$((j+1)); done; n=$((n+1))",
      "    read t _ </proc/uptime; t=${t%.*}",
      '    if [ "$t" != "$t0" ]; then echo "cpu-burn[$1]: $((n*100/(t-t0))) loops/s"; n=0; t0=$t; fi',
      "  done",
      "}",
      `i=0; while [ $i -lt ${vcpus} ]; do burn $i & i=$((i+1)); done; wait`,
    ].join("\n"),
  /**
   * Load that comes and goes: busy for WAVE_S seconds (one loop per vCPU, printing its
   * rate), idle for WAVE_S, again and again; `cpu-waves-late` starts with the idle half.
   * Two VMs running one each take turns, so the autoscaler's demo shows capacity moving.
   */
  "cpu-waves": (vcpus: number): string => waves(vcpus, true, WAVE_S),
  "cpu-waves-late": (vcpus: number): string => waves(vcpus, false, WAVE_S),
  idle: (): string => "while :; do sleep 3600; done",
} as const;

const WAVE_S = 30;

/** The cpu-waves script with `seconds` busy and `seconds` idle (exported for its test). */
export function waves(vcpus: number, busyFirst: boolean, seconds: number): string {
  return [
    "wave() {",
    "  read t0 _ </proc/uptime; t0=${t0%.*}; end=$((t0+" + seconds + ")); n=0; s=$t0",
    "  while :; do",
    "    j=0; while [ $j -lt 100 ]; do j=$((j+1)); done; n=$((n+1))",
    "    read t _ </proc/uptime; t=${t%.*}",
    '    if [ "$t" != "$s" ]; then echo "cpu-waves[$1]: $((n*100/(t-s))) loops/s"; n=0; s=$t; fi',
    '    [ "$t" -ge "$end" ] && return',
    "  done",
    "}",
    `${busyFirst ? "" : `echo "cpu-waves: idle for ${seconds} s"; sleep ${seconds}; `}while :; do`,
    `  i=0; while [ $i -lt ${vcpus} ]; do wave $i & i=$((i+1)); done; wait`,
    `  echo "cpu-waves: idle for ${seconds} s"; sleep ${seconds}`,
    "done",
  ].join("\n");
}
export type WorkloadName = keyof typeof WORKLOADS;

export interface FleetDisk {
  /** Resolved against the fleet file's directory. */
  readonly path: string;
  readonly readonly: boolean;
  readonly snapshot: boolean;
}

export interface FleetNic {
  readonly network: string;
  /** As given, or derived from the VM's name (macFromName). */
  readonly mac: Uint8Array;
}

/** One VM of a checked fleet file, with every default filled in. */
export interface FleetEntry {
  readonly name: string;
  readonly profile: "pv" | "full";
  /** Online at boot. */
  readonly cpus: number;
  /** Harts present (= cpus unless max-cpus is given). */
  readonly maxCpus: number;
  readonly memBytes: number;
  readonly memTargetBytes?: number;
  readonly weight?: number;
  readonly cap?: number;
  readonly disk?: FleetDisk;
  readonly nic?: FleetNic;
  /** The guest command: `exec:` as given, or a workload's script. Absent: an interactive shell. */
  readonly exec?: string;
  readonly workload?: WorkloadName;
  readonly autoscale?: AutoscaleLimits;
}

export interface Fleet {
  /** Subnet per network name. */
  readonly networks: Record<string, string>;
  readonly vms: readonly FleetEntry[];
  /** Host memory the fleet is charged at start (RAM plus per-VM overhead), and per VM. */
  readonly chargeBytes: number;
}

export interface FleetContext {
  /** The host memory budget the fleet must fit. */
  readonly budgetBytes: number;
  /** Where relative disk paths start (the fleet file's directory). */
  readonly baseDir: string;
  /** A problem with a disk file (missing, not whole sectors…), or null; default: none checked. */
  readonly diskProblem?: (path: string) => string | null;
}

/** A checked entry as the hypervisor's fleet code takes it (`paravm up` and the daemon). */
export function toFleetVm(e: FleetEntry): FleetVm {
  return {
    name: e.name,
    profile: e.profile,
    memBytes: e.memBytes,
    cpus: e.cpus,
    ...(e.maxCpus !== e.cpus ? { maxCpus: e.maxCpus } : {}),
    ...(e.memTargetBytes !== undefined ? { memTargetBytes: e.memTargetBytes } : {}),
    ...(e.weight !== undefined ? { weight: e.weight } : {}),
    ...(e.cap !== undefined ? { cap: e.cap } : {}),
    ...(e.exec !== undefined ? { exec: e.exec } : {}),
    ...(e.disk ? { disk: { ...e.disk, cache: "writeback" as const, serial: `paravm-${e.name}`.slice(0, 20) } } : {}),
    ...(e.nic ? { net: { network: e.nic.network, mac: e.nic.mac } } : {}),
  };
}

export type FleetResult = { readonly ok: true; readonly fleet: Fleet } | { readonly ok: false; readonly problems: readonly string[] };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const show = (v: unknown): string => JSON.stringify(v) ?? String(v);

/** Parse and check a fleet file's text; `file` names it in syntax errors. */
export function parseFleet(text: string, file: string, ctx: FleetContext): FleetResult {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return { ok: false, problems: doc.errors.map((e) => `${file}: ${e.message.split("\n")[0]!.replace(/:$/, "")}`) };
  }
  return checkFleet(doc.toJS({ maxAliasCount: 100 }) as unknown, ctx);
}

/** Check a fleet document (already parsed): the fleet, or every problem found. */
export function checkFleet(doc: unknown, ctx: FleetContext): FleetResult {
  const problems: string[] = [];
  const bad = (path: string, why: string): void => void problems.push(`${path}: ${why}`);
  if (!isObj(doc)) return { ok: false, problems: [`the fleet file must be a mapping with networks: and vms:, got ${show(doc)}`] };
  unknownKeys(doc, TOP_KEYS, "", bad);

  const networks: Record<string, string> = {};
  if (doc.networks !== undefined && doc.networks !== null) {
    if (!isObj(doc.networks)) bad("networks", `must be a mapping of network name to { subnet }, got ${show(doc.networks)}`);
    else {
      for (const [name, net] of Object.entries(doc.networks)) {
        const at = `networks.${name}`;
        if (!VM_NAME.test(name)) bad(at, "a network name is letters, digits, '_', '.', '-' (at most 32)");
        let subnet: string = FLEET_DEFAULTS.SUBNET;
        if (net !== null && !isObj(net)) bad(at, `must be a mapping ({ subnet: a.b.c.d/n }) or empty, got ${show(net)}`);
        else if (net !== null) {
          unknownKeys(net, NETWORK_KEYS, at, bad);
          if (net.subnet !== undefined) {
            subnet = String(net.subnet);
            try {
              new Subnet(subnet);
            } catch (e) {
              bad(`${at}.subnet`, (e as Error).message);
            }
          }
        }
        networks[name] = subnet;
      }
    }
  }

  const checked: Checked[] = [];
  if (!Array.isArray(doc.vms) || doc.vms.length === 0) bad("vms", `must be a list of at least one VM, got ${show(doc.vms)}`);
  else doc.vms.forEach((v: unknown, i: number) => {
    const c = checkVm(v, `vms[${i}]`, networks, ctx, bad);
    if (c) checked.push(c);
  });

  crossChecks(checked, bad);
  const vms = checked.map((c) => c.vm);
  // As Hypervisor.checkFits charges them: RAM (less a boot-time balloon) plus overhead per thread.
  const charge = (v: FleetEntry): number => specChargeBytes({ memBytes: v.memBytes, cpus: v.maxCpus, ...(v.memTargetBytes !== undefined ? { memTargetBytes: v.memTargetBytes } : {}) });
  const chargeBytes = vms.reduce((s, v) => s + charge(v), 0);
  // A VM whose size is wrong would be counted at a default: its own problem says enough.
  if (vms.length > 0 && checked.every((c) => c.sized) && chargeBytes > ctx.budgetBytes) {
    const each = vms.map((v) => `${v.name} ${mib(charge(v))}`).join(", ");
    bad("vms", `the fleet needs ${mib(chargeBytes)} of host memory (${each}; RAM plus overhead each) but the budget is ${mib(ctx.budgetBytes)} (raise --host-mem, or give the VMs less memory)`);
  }
  // Grouped by VM (cross-checks are found last), the file's own order otherwise: sort is stable.
  const vmIndex = (p: string): number => Number(/^vms\[(\d+)\]/.exec(p)?.[1] ?? -1);
  problems.sort((a, b) => vmIndex(a) - vmIndex(b));
  return problems.length > 0 ? { ok: false, problems } : { ok: true, fleet: { networks, vms, chargeBytes } };
}

function unknownKeys(o: Obj, known: readonly string[], at: string, bad: (p: string, w: string) => void): void {
  for (const k of Object.keys(o)) if (!known.includes(k)) bad(at === "" ? k : `${at}.${k}`, `unknown key (known: ${known.join(", ")})`);
}

/** A VM entry as checked: where it is in the file, and whether its size (mem, vCPUs) is known. */
interface Checked {
  readonly vm: FleetEntry;
  readonly at: string;
  readonly sized: boolean;
}

/**
 * One VM entry with defaults filled in (problems recorded through `bad`), or null when it
 * has no usable name to cross-check it by. Bad fields fall back to defaults so that the
 * cross-checks still see the rest of the VM.
 */
function checkVm(v: unknown, at: string, networks: Record<string, string>, ctx: FleetContext, bad: (p: string, w: string) => void): Checked | null {
  if (!isObj(v)) {
    bad(at, `must be a mapping (name:, profile:, …), got ${show(v)}`);
    return null;
  }
  const before = { n: 0 };
  const n0 = bad;
  bad = (p, w) => {
    if (p === `${at}.mem` || p === `${at}.cpus` || p === `${at}.max-cpus`) before.n++;
    n0(p, w);
  };
  unknownKeys(v, VM_KEYS, at, bad);
  const name = typeof v.name === "string" ? v.name : "";
  if (v.name === undefined) bad(`${at}.name`, "missing");
  else if (typeof v.name !== "string" || !VM_NAME.test(v.name)) bad(`${at}.name`, `${show(v.name)}: a VM name is letters, digits, '_', '.', '-' (at most 32)`);
  const profile = v.profile ?? "pv";
  if (profile !== "pv" && profile !== "full") bad(`${at}.profile`, `${show(profile)}: expected pv or full`);
  const full = profile === "full";

  const int = (key: string, lo: number, hi: number): number | undefined => {
    const x = v[key];
    if (x === undefined) return undefined;
    if (typeof x !== "number" || !Number.isInteger(x) || x < lo || x > hi) {
      bad(`${at}.${key}`, `${show(x)}: expected a whole number from ${lo} to ${hi}`);
      return undefined;
    }
    return x;
  };
  const size = (key: string): number | undefined => {
    const x = v[key];
    if (x === undefined) return undefined;
    try {
      if (typeof x !== "string" && typeof x !== "number") throw new Error("expected a size such as 256M");
      return parseMemSize(String(x));
    } catch (e) {
      bad(`${at}.${key}`, `${show(x)} is not a size (${(e as Error).message.replace(/\.$/, "")})`);
      return undefined;
    }
  };
  const cpus = int("cpus", 1, PV_DEFAULTS.MAX_CPUS) ?? 1;
  const maxCpus = int("max-cpus", 1, PV_DEFAULTS.MAX_CPUS) ?? cpus;
  if (maxCpus < cpus) bad(`${at}.max-cpus`, `${maxCpus} is less than the ${cpus} cpus online at boot`);
  else if (maxCpus > cpus && full) bad(`${at}.max-cpus`, "vCPUs beyond cpus come online through the pv guest agent: pv only");
  const memBytes = size("mem") ?? FLEET_DEFAULTS.MEM;
  const memTargetBytes = size("mem-target");
  if (memTargetBytes !== undefined) {
    if (full) bad(`${at}.mem-target`, "a full machine has no balloon (pv only)");
    else {
      const why = checkMemTarget(memBytes, memTargetBytes);
      if (why !== null) bad(`${at}.mem-target`, why);
    }
  }
  const sched = (key: "weight" | "cap", check: (x: number) => void): number | undefined => {
    const x = v[key];
    if (x === undefined) return undefined;
    try {
      if (typeof x !== "number") throw new Error("expected a whole number");
      check(x);
      return x;
    } catch (e) {
      bad(`${at}.${key}`, `${show(x)}: ${(e as Error).message}`);
      return undefined;
    }
  };
  const weight = sched("weight", checkWeight);
  const cap = sched("cap", checkCap);

  const disk = list(v.disks, `${at}.disks`, FLEET_LIMITS.DISKS_PER_VM, bad, (d, dat) => {
    unknownKeys(d, DISK_KEYS, dat, bad);
    const flag = (k: "readonly" | "snapshot"): boolean => {
      if (d[k] === undefined) return false;
      if (typeof d[k] !== "boolean") bad(`${dat}.${k}`, `${show(d[k])}: expected true or false`);
      return d[k] === true;
    };
    const ro = flag("readonly");
    const snap = flag("snapshot");
    if (ro && snap) bad(dat, "readonly and snapshot together: pick one");
    if (typeof d.path !== "string" || d.path === "") {
      bad(`${dat}.path`, d.path === undefined ? "missing" : `${show(d.path)}: expected a file name`);
      return null;
    }
    const path = isAbsolute(d.path) ? d.path : resolve(ctx.baseDir, d.path);
    const why = ctx.diskProblem?.(path) ?? null;
    if (why !== null) bad(`${dat}.path`, why);
    return { path, readonly: ro, snapshot: snap };
  });

  const nic = list(v.nics, `${at}.nics`, FLEET_LIMITS.NICS_PER_VM, bad, (d, dat) => {
    unknownKeys(d, NIC_KEYS, dat, bad);
    if (typeof d.network !== "string") {
      bad(`${dat}.network`, d.network === undefined ? "missing" : `${show(d.network)}: expected a network name`);
      return null;
    }
    if (!(d.network in networks)) bad(`${dat}.network`, `"${d.network}" is not declared under networks:`);
    let mac = macFromName(name);
    if (d.mac !== undefined) {
      try {
        mac = parseMac(String(d.mac));
        if ((mac[0]! & 1) !== 0) throw new Error(`MAC ${String(d.mac)} is multicast`);
      } catch (e) {
        bad(`${dat}.mac`, (e as Error).message);
      }
    }
    return { network: d.network, mac };
  });

  let exec: string | undefined;
  let workload: WorkloadName | undefined;
  if (v.exec !== undefined && v.workload !== undefined) bad(at, "exec and workload together: pick one");
  if (v.exec !== undefined) {
    if (typeof v.exec !== "string" || v.exec.trim() === "") bad(`${at}.exec`, `${show(v.exec)}: expected a shell command`);
    else exec = v.exec;
  } else if (v.workload !== undefined) {
    if (typeof v.workload !== "string" || !Object.hasOwn(WORKLOADS, v.workload)) {
      bad(`${at}.workload`, `${show(v.workload)}: expected one of ${Object.keys(WORKLOADS).join(", ")}`);
    } else {
      workload = v.workload as WorkloadName;
      exec = WORKLOADS[workload](maxCpus);
    }
  }

  const autoscale = v.autoscale === undefined ? undefined : checkAutoscale(v.autoscale, `${at}.autoscale`, bad);
  if (autoscale) {
    for (const p of autoscaleProblems(autoscale, { memBytes, maxCpus }, `${at}.autoscale`)) bad(p.slice(0, p.indexOf(":")), p.slice(p.indexOf(":") + 2));
    if (autoscale.memory && full) bad(`${at}.autoscale.memory`, "memory moves through the balloon: pv only");
    if (autoscale.cpu?.vcpus && full) bad(`${at}.autoscale.cpu.vcpus`, "vCPUs come online through the pv guest agent: pv only");
  }
  if (name === "") return null;
  const vm: FleetEntry = {
    name,
    profile: full ? "full" : "pv",
    cpus,
    maxCpus,
    memBytes,
    ...(memTargetBytes !== undefined ? { memTargetBytes } : {}),
    ...(weight !== undefined ? { weight } : {}),
    ...(cap !== undefined ? { cap } : {}),
    ...(disk ? { disk } : {}),
    ...(nic ? { nic } : {}),
    ...(exec !== undefined ? { exec } : {}),
    ...(workload !== undefined ? { workload } : {}),
    ...(autoscale ? { autoscale } : {}),
  };
  return { vm, at, sized: before.n === 0 };
}

/** A list of at most `max` mappings (`disks:`, `nics:`): its one checked entry, if any. */
function list<T>(x: unknown, at: string, max: number, bad: (p: string, w: string) => void, check: (d: Obj, at: string) => T | null): T | undefined {
  if (x === undefined || x === null) return undefined;
  if (!Array.isArray(x)) {
    bad(at, `must be a list, got ${show(x)}`);
    return undefined;
  }
  if (x.length > max) bad(at, `${x.length} given: a VM has at most ${max} for now`);
  let first: T | undefined;
  x.forEach((d: unknown, i) => {
    if (!isObj(d)) bad(`${at}[${i}]`, `must be a mapping, got ${show(d)}`);
    else first ??= check(d, `${at}[${i}]`) ?? undefined;
  });
  return first;
}

/** The `autoscale:` entry's shape (unknown keys, ranges; memory sizes may be "64M"); bounds are autoscaleProblems'. */
function checkAutoscale(a: unknown, at: string, bad: (p: string, w: string) => void): AutoscaleLimits | undefined {
  if (!isObj(a)) {
    bad(at, `must be a mapping (cpu:, memory:), got ${show(a)}`);
    return undefined;
  }
  unknownKeys(a, AUTOSCALE_KEYS, at, bad);
  const range = (r: unknown, rat: string, sizes: boolean): Range | undefined => {
    if (r === undefined) return undefined;
    if (!isObj(r)) {
      bad(rat, `must be { min, max }, got ${show(r)}`);
      return undefined;
    }
    unknownKeys(r, RANGE_KEYS, rat, bad);
    const one = (k: "min" | "max"): number => {
      const x = r[k];
      if (x === undefined) {
        bad(`${rat}.${k}`, "missing");
        return NaN;
      }
      if (!sizes) return x as number;
      try {
        return parseMemSize(String(x));
      } catch (e) {
        bad(`${rat}.${k}`, `${show(x)} is not a size (${(e as Error).message.replace(/\.$/, "")})`);
        return NaN;
      }
    };
    const min = one("min");
    const max = one("max");
    return Number.isNaN(min) || Number.isNaN(max) ? undefined : { min, max };
  };
  let cpu: AutoscaleLimits["cpu"];
  if (a.cpu !== undefined) {
    if (!isObj(a.cpu)) bad(`${at}.cpu`, `must be a mapping (weight:, cap:, vcpus:), got ${show(a.cpu)}`);
    else {
      unknownKeys(a.cpu, AUTOSCALE_CPU_KEYS, `${at}.cpu`, bad);
      const weight = range(a.cpu.weight, `${at}.cpu.weight`, false);
      const cap = range(a.cpu.cap, `${at}.cpu.cap`, false);
      const vcpus = range(a.cpu.vcpus, `${at}.cpu.vcpus`, false);
      cpu = { ...(weight ? { weight } : {}), ...(cap ? { cap } : {}), ...(vcpus ? { vcpus } : {}) };
    }
  }
  const memory = range(a.memory, `${at}.memory`, true);
  return { ...(cpu ? { cpu } : {}), ...(memory ? { memory } : {}) };
}

/** Problems between VMs: names, MACs, disks. */
function crossChecks(checked: readonly Checked[], bad: (p: string, w: string) => void): void {
  const at = new Map<FleetEntry, string>(checked.map((c) => [c.vm, c.at]));
  const vms = checked.map((c) => c.vm);
  const seen = new Map<string, string>();
  for (const v of vms) {
    const p = at.get(v)!;
    const first = seen.get(v.name);
    if (first !== undefined) bad(`${p}.name`, `"${v.name}" is already the name of ${first}`);
    else seen.set(v.name, p);
  }
  const macs = new Map<string, string>();
  for (const v of vms) {
    if (!v.nic) continue;
    const mac = formatMac(v.nic.mac);
    const first = macs.get(mac);
    if (first !== undefined) bad(`${at.get(v)}.nics[0].mac`, `${mac} is already the MAC of ${first}`);
    else macs.set(mac, `${at.get(v)} (${v.name})`);
  }
  const disks = new Map<string, { vm: FleetEntry; writes: boolean }[]>();
  for (const v of vms) {
    if (!v.disk) continue;
    const users = disks.get(v.disk.path) ?? [];
    users.push({ vm: v, writes: !v.disk.readonly && !v.disk.snapshot });
    disks.set(v.disk.path, users);
  }
  for (const [path, users] of disks) {
    const writer = users.find((u) => u.writes);
    if (!writer || users.length < 2) continue;
    const others = users.filter((u) => u !== writer).map((u) => `${at.get(u.vm)} (${u.vm.name})`);
    bad(`${at.get(writer.vm)}.disks[0]`, `${path} is written by ${writer.vm.name} and also attached to ${others.join(", ")}: give the others readonly or snapshot, or a copy`);
  }
}
