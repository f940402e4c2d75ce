/**
 * Clones through the daemon (docs/snapshots.md, "Clones through the daemon"; docs/api.md):
 * `POST /vms/restore` with `clones: N` continues one snapshot as N VMs, PREFIX-1..PREFIX-N,
 * each a clone (Hypervisor.restore with `clone`: a MAC of its own, and through its agent
 * its name, that MAC, its address and fresh entropy), the addresses given out one after
 * another from `ip` and reserved in the daemon's address book (address-book.ts).
 *
 * All or nothing. Everything that can be known before a VM exists is checked first —
 * the count, the address range, the file, that the guest can be told its identity, every
 * name free, the entries, MAC and disk conflicts, every address free, and the memory for
 * all N together — so a refused batch leaves no trace. The clones are then made one after
 * another; if clone k fails, the k-1 made before it are removed again (their addresses
 * freed, a network made for them dropped) and the answer says which one failed and why.
 *
 * Progress: each clone is a `created` event (with `clone: {index, of}`) when its VM
 * exists, then a `clone` event once it runs with its identity (its MAC, address and
 * times), so a client following the event stream sees them come up one by one.
 */
import { formatMac, macFromName } from "../../devices/virtio/net/mac.js";
import type { MachineSpec } from "../../hypervisor/machine-spec.js";
import { SnapshotError } from "../../hypervisor/snapshot/format.js";
import { diskProblem, type VmSnapshotInfo } from "../../hypervisor/snapshot/vm-file.js";
import { VmBuildError } from "../../hypervisor/vm.js";
import { FLEET_DEFAULTS } from "../../hypervisor/fleet-run.js";
import { AddressError, addressRange, takenAddresses, type NetworkedVm } from "./address-book.js";
import { checkEntry, entryConflicts, type VmEntry } from "./entry.js";
import { asVmmError, problemsMessage, VmmError } from "./errors.js";
import { checkSnapshotPath, entryOf, readInfo, SNAPSHOT_API } from "./snapshots.js";
import type { VmmAction, VmRecord, Vmm } from "./vmm.js";

export const CLONES = {
  /**
   * The most clones one request makes. Each is a whole VM (its RAM, a vCPU thread, ~170 MiB
   * of host memory beyond its RAM in a `paravm run` process, less in the daemon): past a
   * few dozen on one host the memory budget refuses anyway, and a request this long should
   * be several.
   */
  MAX: 64,
} as const;

/** One clone as the answer and its event give it. */
export interface CloneResult {
  readonly name: string;
  /** Its NIC's MAC (derived from its name), or null for a VM without a NIC. */
  readonly mac: string | null;
  /** The address it was given (CIDR), or null when the request gave no `ip`. */
  readonly ip: string | null;
  /** From the request's start to this clone's VM running (the guest going on). */
  readonly runningMs: number;
  /** From the request's start to this clone having taken its identity (its agent answered). */
  readonly readyMs: number;
}

/** POST /vms/restore's answer when `clones` is given. */
export interface CloneBatch {
  readonly file: string;
  /** The network the clones' NICs joined, or null for a VM without a NIC. */
  readonly network: string | null;
  readonly clones: readonly CloneResult[];
  /** The whole request, from its start to the last clone ready. */
  readonly totalMs: number;
}

type RestoreAction = Extract<VmmAction, { kind: "restore" }>;

/**
 * The MAC Hypervisor.restore gives a clone named `name` (hypervisor.ts, restore: derived
 * from "clone:" and its name), predicted so that conflicts are checked before any clone
 * exists. The clone's entry takes the MAC its VM really has once it is made.
 */
const predictedMac = (name: string): string => formatMac(macFromName(`clone:${name}`));

const round1 = (ms: number): number => Math.round(ms * 10) / 10;

/** The count as the API takes it: a whole number 1..CLONES.MAX, else a 422 saying so. */
export function checkCloneCount(n: unknown): number {
  if (typeof n !== "number" || !Number.isInteger(n)) throw new VmmError("invalid", `clones: ${JSON.stringify(n)} is not a whole number`);
  if (n < 1) throw new VmmError("invalid", `clones: ${n}: give at least 1`);
  if (n > CLONES.MAX) throw new VmmError("invalid", `clones: ${n} is more than ${CLONES.MAX}, the most one request makes (send several requests with other names)`);
  return n;
}

/** Why the VM a snapshot holds cannot be cloned, or null. */
function cloneProblem(info: VmSnapshotInfo): string | null {
  if (info.profile !== "pv") return "it is a full VM, and clones are told their name, MAC and address through the pv guest agent";
  if (info.agentHello === undefined) return "its guest agent had not started when it was saved, and clones are told their name, MAC and address through it (take the snapshot once the guest has booted)";
  const d = info.disk?.spec;
  if (d && !d.readonly && !d.snapshot) return `its disk ${d.path} is writable, and clones would write the same file (give the VM its disk readonly or as a snapshot)`;
  return null;
}

/** What the memory budget charges one clone: the saved machine's size (the rest of the spec does not count). */
function chargeSpec(info: VmSnapshotInfo): MachineSpec {
  return {
    profile: info.profile,
    cpus: info.cpus,
    memBytes: info.memBytes,
    ...(info.memTargetBytes !== undefined ? { memTargetBytes: info.memTargetBytes } : {}),
    kernel: new Uint8Array(0),
    bootargs: info.bootargs,
  };
}

/** The daemon's VMs as the address book sees them. */
export function networkedVms(vmm: Vmm): NetworkedVm[] {
  return [...vmm.records.values()].map((r) => ({ name: r.entry.name, network: r.entry.nics?.[0]?.network ?? null, bootargs: r.vm.spec.bootargs }));
}

/** The address `name` holds on its network (a clone's reservation, else its command line's), or null. */
export function addressOf(vmm: Vmm, name: string): string | null {
  return vmm.addresses.holders(networkedVms(vmm).filter((v) => v.name === name))[0]?.address ?? null;
}

interface Plan {
  readonly file: string;
  /** The names are PREFIX-1..PREFIX-N. */
  readonly prefix: string;
  readonly names: readonly string[];
  readonly entries: readonly VmEntry[];
  readonly addresses: readonly (string | null)[];
  readonly network: string | undefined;
}

/** Every check of a batch, before anything is made: the plan, or a VmmError with its class. */
function planClones(vmm: Vmm, a: RestoreAction): Plan {
  const file = checkSnapshotPath(a.file);
  const n = checkCloneCount(a.clones);
  let addresses: (string | null)[] = Array.from({ length: n }, () => null);
  if (a.ip !== undefined) {
    if (typeof a.ip !== "string") throw new VmmError("invalid", `ip: must be a string such as 10.0.0.10/24`);
    try {
      addresses = addressRange(a.ip, n);
    } catch (e) {
      if (e instanceof AddressError) throw new VmmError("invalid", `ip: ${e.message}`);
      throw e;
    }
  }
  const info = readInfo(file);
  const why = cloneProblem(info) ?? diskProblem(info);
  if (why !== null) throw new VmmError("invalid", `snapshot ${file}: cannot be cloned: ${why}`);
  if (!info.net && a.network !== undefined) throw new VmmError("invalid", `network: the VM in ${file} has no NIC`);
  if (!info.net && a.ip !== undefined) throw new VmmError("invalid", `ip: the VM in ${file} has no NIC to give an address to`);
  const network = info.net ? (a.network ?? SNAPSHOT_API.RESTORE_NETWORK) : undefined;

  const prefix = a.name ?? info.name;
  const names = Array.from({ length: n }, (_, i) => `${prefix}-${i + 1}`);
  const taken = names.filter((x) => vmm.records.has(x));
  if (taken.length > 0) {
    const which = taken.length === 1 ? "a VM named" : taken.length < n ? `${taken.length} of the ${n} names are taken: VMs named` : "VMs named";
    throw new VmmError("conflict", `${which} ${taken.map((x) => `"${x}"`).join(", ")} already ${taken.length === 1 ? "exists" : "exist"}`, taken.map((x) => `${x}: in use`));
  }

  const entries: VmEntry[] = [];
  const problems: string[] = [];
  for (const name of names) {
    const raw = { ...entryOf(info, name, network), ...(network !== undefined ? { nics: [{ network, mac: predictedMac(name) }] } : {}) };
    const c = checkEntry(raw, { networks: vmm.networks, baseDir: vmm.baseDir });
    if (c.ok) entries.push(c.vm.entry);
    else problems.push(...c.problems.map((p) => `${name}: ${p}`));
  }
  if (problems.length > 0) throw new VmmError("invalid", problemsMessage(`the VM in ${file} cannot be cloned as ${prefix}-1..${prefix}-${n}`, problems), problems);
  const conflicts = entries.flatMap((e, i) => entryConflicts(e, [...vmm.entries(), ...entries.slice(0, i)], e.name));
  if (conflicts.length > 0) throw new VmmError("conflict", problemsMessage("the clones conflict with other VMs", conflicts), conflicts);

  if (network !== undefined && a.ip !== undefined) {
    const held = takenAddresses(addresses as string[], network, vmm.addresses.holders(networkedVms(vmm)));
    if (held.length > 0) throw new VmmError("conflict", problemsMessage(`ip: ${n === 1 ? "the address" : `the ${n} addresses from ${a.ip}`} cannot all be given`, held), held);
  }
  // All N at once: the memory must be there for the whole batch, not found short at clone k.
  vmm.hv.checkFits(names.map((name) => ({ name, spec: chargeSpec(info) })));
  return { file, prefix, names, entries, addresses, network };
}

/**
 * The `restore` action with `clones`: N clones of the snapshot in `file`, running and with
 * their identities when this resolves, or none of them (see the top of this file).
 *
 * One after another, not several at once: most of a clone's time is its first agent
 * request, seconds of guest work on a cold code cache in its own vCPU thread, and on the
 * 2-core host making two at a time was slower (10 clones in 47 and 64 s against 34 and
 * 40 s one at a time, bench:snapshot-api with other work running).
 */
export async function restoreClones(vmm: Vmm, a: RestoreAction): Promise<CloneBatch> {
  const t0 = performance.now();
  const plan = planClones(vmm, a);
  const { file, network } = plan;
  const n = plan.names.length;
  const newNetwork = network !== undefined && !(network in vmm.networks);
  if (newNetwork) vmm.networks[network] = FLEET_DEFAULTS.SUBNET;
  const made: VmRecord[] = [];
  const results: CloneResult[] = [];
  for (let i = 0; i < n; i++) {
    const name = plan.names[i]!;
    const ip = plan.addresses[i] ?? null;
    // Set by onCreate, inside the restore: an object, so the compiler does not take it for always null.
    const hold: { rec: VmRecord | null; runningAt: number | null } = { rec: null, runningAt: null };
    try {
      if (ip !== null && network !== undefined) vmm.addresses.reserve(name, network, ip);
      await vmm.hv.restore(file, {
        name,
        ...(network !== undefined ? { network } : {}),
        clone: ip !== null ? { ip } : {},
        waitsForInput: true,
        onCreate: (vm) => {
          const mac = vm.spec.net ? formatMac(vm.spec.net.mac) : null;
          const planned = plan.entries[i]!;
          const entry: VmEntry = mac !== null && network !== undefined ? { ...planned, nics: [{ network, mac }] } : planned;
          hold.rec = vmm.adopt(vm, entry, Date.now(), file);
          made.push(hold.rec);
          vm.on("state", (e: { state: string }) => {
            if (e.state === "running" && hold.runningAt === null) hold.runningAt = performance.now();
          });
          vmm.events.add("created", name, { entry, restoredFrom: file, clone: { index: i + 1, of: n } });
        },
      });
      if (hold.rec === null) throw new Error(`clone ${name}: restored without a record`);
    } catch (e) {
      // Its address too when its VM was never made (undoBatch frees those of the VMs it removes).
      vmm.addresses.release(name);
      await undoBatch(vmm, made, `clone ${i + 1} of ${n} (${name}) failed`);
      if (newNetwork) delete vmm.networks[network];
      throw batchError(e, file, i, n, name);
    }
    const readyAt = performance.now();
    const vm = (hold.rec as VmRecord).vm;
    const r: CloneResult = {
      name,
      mac: vm.spec.net ? formatMac(vm.spec.net.mac) : null,
      ip,
      runningMs: round1((hold.runningAt ?? readyAt) - t0),
      readyMs: round1(readyAt - t0),
    };
    results.push(r);
    vmm.events.add("clone", name, { file, prefix: plan.prefix, index: i + 1, of: n, network: network ?? null, ...r });
  }
  for (const rec of made) if (rec.vm.state === "running" || rec.vm.state === "paused") void rec.vm.wait().then((o) => (rec.lastRun = o));
  vmm.persist();
  return { file, network: network ?? null, clones: results, totalMs: round1(performance.now() - t0) };
}

/** Remove the clones a failed batch made: each VM stopped and forgotten, its address freed, a `destroyed` event saying why. */
async function undoBatch(vmm: Vmm, made: readonly VmRecord[], why: string): Promise<void> {
  for (const rec of [...made].reverse()) {
    const name = rec.entry.name;
    // A clone that did not take its identity was removed by the hypervisor already.
    if (vmm.hv.vms.has(name)) await vmm.hv.destroy(name).catch(() => undefined);
    vmm.records.delete(name);
    vmm.addresses.release(name);
    vmm.events.add("destroyed", name, { reason: `the clone batch was undone: ${why}` });
  }
}

/** The error of a batch whose clone `i` (from 0) failed, in the class its cause has, saying what was undone. */
function batchError(e: unknown, file: string, i: number, n: number, name: string): VmmError {
  const before = i;
  let cause: VmmError;
  if (e instanceof SnapshotError) cause = new VmmError("invalid", e.message);
  else if (e instanceof VmBuildError && e.usage) cause = new VmmError("invalid", `snapshot ${file}: cannot be restored: ${e.message}`);
  else cause = asVmmError(e);
  const undone = before === 0 ? "nothing was left" : `the ${before} made before it ${before === 1 ? "was" : "were"} removed`;
  return new VmmError(cause.error, `clone ${i + 1} of ${n} (${name}) failed: ${cause.message}; ${undone}`, cause.problems);
}
