/**
 * `fleet-apply`: bring the daemon to a fleet document (the fleet file's format): create
 * the VMs that are new, leave those that are equal, change the live settings (weight,
 * cap, memory target, autoscale) of those whose machine is the same, replace a stopped VM
 * whose machine changed, and refuse (409) any change to a running VM's machine — every
 * problem listed, nothing applied. Then start every VM of the fleet that is not running
 * (unless told not to), after checking that they fit the memory budget together (507).
 * A step that fails undoes the steps before it.
 */
import { planFleet } from "../../hypervisor/fleet-run.js";
import { checkFleet } from "../fleet-file.js";
import { entryConflicts, machineKey, normalEntry, type VmEntry } from "./entry.js";
import { problemsMessage, VmmError } from "./errors.js";
import type { Vmm } from "./vmm.js";

export interface FleetApplied {
  readonly created: string[];
  readonly replaced: string[];
  readonly updated: string[];
  readonly unchanged: string[];
  readonly started: string[];
}

const LIVE = new Set(["running", "paused"]);
const SETTINGS = ["weight", "cap", "mem-target", "autoscale"] as const;
const settingsKey = (e: VmEntry): string => JSON.stringify(SETTINGS.map((k) => e[k] ?? null));

export async function applyFleet(vmm: Vmm, doc: unknown, start: boolean): Promise<FleetApplied> {
  const r = checkFleet(doc, { budgetBytes: Number.POSITIVE_INFINITY, baseDir: vmm.baseDir, ...(vmm.diskProblem ? { diskProblem: vmm.diskProblem } : {}) });
  if (!r.ok) throw new VmmError("invalid", problemsMessage("the fleet is not valid", r.problems), r.problems);
  const fleet = r.fleet;
  const conflicts: string[] = [];
  for (const [net, subnet] of Object.entries(fleet.networks)) {
    const known = vmm.networks[net];
    if (known !== undefined && known !== subnet && vmm.entries().some((e) => e.nics?.[0]?.network === net)) {
      conflicts.push(`networks.${net}.subnet: ${subnet}, but the network exists with ${known} and VMs on it`);
    }
  }
  const out: FleetApplied = { created: [], replaced: [], updated: [], unchanged: [], started: [] };
  const names = new Set(fleet.vms.map((v) => v.name));
  const outside = vmm.entries().filter((e) => !names.has(e.name));
  fleet.vms.forEach((fv, i) => {
    const entry = normalEntry(fv);
    const rec = vmm.records.get(fv.name);
    conflicts.push(...entryConflicts(entry, outside, `vms[${i}]`));
    if (!rec) out.created.push(fv.name);
    else if (rec.restoredFrom !== null && machineKey(rec.entry) !== machineKey(entry)) {
      // Its machine is its snapshot's: replacing it from an entry would lose the guest (and could not be undone).
      conflicts.push(`vms[${i}]: VM ${fv.name} was restored from ${rec.restoredFrom} and its machine would change: remove it first (vm rm)`);
    } else if (machineKey(rec.entry) !== machineKey(entry)) {
      if (LIVE.has(rec.vm.state)) conflicts.push(`vms[${i}]: VM ${fv.name} is ${rec.vm.state} and its machine would change: stop it first`);
      else out.replaced.push(fv.name);
    } else if (settingsKey(rec.entry) !== settingsKey(entry)) out.updated.push(fv.name);
    else out.unchanged.push(fv.name);
  });
  if (conflicts.length > 0) throw new VmmError("conflict", problemsMessage("the fleet conflicts with the daemon's VMs", conflicts), conflicts);

  // Every VM of the fleet not running is started: together they must fit what is free.
  const toStart = start ? fleet.vms.filter((v) => !LIVE.has(vmm.records.get(v.name)?.vm.state ?? "")) : [];
  if (toStart.length > 0) {
    const specs = toStart.map((v) => ({ name: v.name, spec: planFleet([{ name: v.name, memBytes: v.memBytes, cpus: v.maxCpus, ...(v.memTargetBytes !== undefined ? { memTargetBytes: v.memTargetBytes } : {}) }], { kernel: new Uint8Array(0) })[0]!.spec }));
    vmm.hv.checkFits(specs);
  }

  const undo: (() => Promise<unknown> | void)[] = [];
  const newNets = Object.keys(fleet.networks).filter((n) => !(n in vmm.networks));
  try {
    for (const n of newNets) vmm.networks[n] = fleet.networks[n]!;
    undo.push(() => newNets.forEach((n) => delete vmm.networks[n]));
    for (const fv of fleet.vms) {
      const entry = normalEntry(fv);
      const rec = vmm.records.get(fv.name);
      if (out.replaced.includes(fv.name) && rec) {
        const old = rec;
        await vmm.forget(fv.name);
        undo.push(async () => {
          await vmm.forget(fv.name).catch(() => undefined);
          vmm.recreate(old.entry, old.createdAt);
        });
      }
      if (out.created.includes(fv.name) || out.replaced.includes(fv.name)) {
        vmm.createVm(fv, entry);
        undo.push(() => vmm.forget(fv.name));
      } else if (out.updated.includes(fv.name) && rec) {
        const before = rec.entry;
        await vmm.applySettings(rec, entry);
        undo.push(() => vmm.applySettings(rec, before));
      }
    }
    for (const fv of toStart) {
      const rec = vmm.records.get(fv.name)!;
      await vmm.startVm(rec);
      out.started.push(fv.name);
      undo.push(() => rec.vm.stop());
    }
  } catch (e) {
    for (const u of undo.reverse()) await Promise.resolve(u()).catch(() => undefined);
    throw e;
  }
  vmm.persist();
  return out;
}
