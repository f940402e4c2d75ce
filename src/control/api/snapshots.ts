/**
 * Snapshot and restore through the daemon (docs/snapshots.md, docs/api.md): the `snapshot`
 * and `restore` actions of the Vmm, checked whole before anything changes.
 *
 * File paths. The daemon runs as the user who started it and the token holder is trusted
 * like that user, so a path may name any place that user can write; the rules only keep
 * accidents out:
 *   - absolute paths only (the daemon's working directory is not the client's; the CLI
 *     makes paths absolute), non-empty, without NUL bytes: otherwise 400;
 *   - a snapshot goes into a directory that exists and the daemon can write (422), and
 *     replaces an existing file only when that file is a paravm snapshot (409): a typo
 *     cannot overwrite a disk image or a document;
 *   - it is written beside the target under a temporary name and renamed into place, so
 *     the file is the new snapshot whole or still the old one.
 *
 * A restored VM's machine (kernel, command line, RAM, devices) comes from its file, not
 * from an entry, so the daemon keeps it only while it runs: it is not written to vms.json,
 * and after the daemon restarts it is gone (restore the file again). Its record carries a
 * descriptive entry (name, sizes, disk, NIC, settings) so that conflicts (a name, a disk
 * written twice, a MAC twice on one network) are judged as for any VM.
 */
import { accessSync, constants, closeSync, openSync, readSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, dirname, isAbsolute, join, normalize } from "node:path";
import { FLEET_DEFAULTS } from "../../hypervisor/fleet-run.js";
import { SNAPSHOT_FORMAT, SnapshotError } from "../../hypervisor/snapshot/format.js";
import { readVmSnapshotInfo, type VmSnapshotInfo } from "../../hypervisor/snapshot/vm-file.js";
import { VmBuildError, VmSnapshotError, type VmSnapshotResult } from "../../hypervisor/vm.js";
import { checkEntry, entryConflicts } from "./entry.js";
import { problemsMessage, VmmError } from "./errors.js";
import type { VmmAction, VmRecord, VmView, Vmm } from "./vmm.js";

export const SNAPSHOT_API = {
  /** Linux's PATH_MAX: a longer path is not one the daemon could open. */
  MAX_PATH: 4096,
  /** The network a restored VM's NIC joins when the request names none (as `paravm run --restore`). */
  RESTORE_NETWORK: "restored",
} as const;

/** POST /vms/{name}/snapshot's answer: the hypervisor's figures, and the VM. */
export interface SnapshotAnswer extends VmSnapshotResult {
  readonly name: string;
}

const LIVE = new Set(["running", "paused"]);

/** `file` as the API takes it: an absolute path (normalized), or a 400 saying why not. */
export function checkSnapshotPath(file: unknown): string {
  const bad = (why: string): never => {
    throw new VmmError("bad-request", `file: ${why}`);
  };
  if (typeof file !== "string") return bad(`must be a string, got ${file === null ? "null" : typeof file}`);
  if (file === "") return bad("is empty");
  if (file.includes("\0")) return bad("contains a NUL byte");
  if (file.length > SNAPSHOT_API.MAX_PATH) return bad(`is ${file.length} characters, more than ${SNAPSHOT_API.MAX_PATH}`);
  if (!isAbsolute(file)) return bad(`${JSON.stringify(file)} is not an absolute path (the daemon does not share the client's working directory)`);
  const n = normalize(file);
  if (n.endsWith("/")) return bad(`${JSON.stringify(file)} names a directory`);
  return n;
}

/** Does `file` begin as a paravm snapshot does (its magic)? */
function isSnapshotFile(file: string): boolean {
  const fd = openSync(file, "r");
  try {
    const b = Buffer.alloc(SNAPSHOT_FORMAT.MAGIC.length);
    return readSync(fd, b, 0, b.length, 0) === b.length && b.toString("latin1") === SNAPSHOT_FORMAT.MAGIC;
  } finally {
    closeSync(fd);
  }
}

/** Refuse a target the snapshot must not be written to: 422 for a place it cannot go, 409 for a file it must not replace. */
function checkTarget(vmm: Vmm, file: string): void {
  const dir = dirname(file);
  let d;
  try {
    d = statSync(dir);
  } catch (e) {
    throw new VmmError("invalid", `file: the directory ${dir} does not exist (${(e as NodeJS.ErrnoException).code ?? "stat failed"})`);
  }
  if (!d.isDirectory()) throw new VmmError("invalid", `file: ${dir} is not a directory`);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new VmmError("invalid", `file: the daemon cannot write in ${dir}`);
  }
  for (const r of vmm.records.values()) {
    const disk = r.entry.disks?.[0]?.path;
    if (disk !== undefined && normalize(disk) === file) throw new VmmError("conflict", `file: ${file} is the disk of VM ${r.entry.name}`);
  }
  let st;
  try {
    st = statSync(file);
  } catch {
    return; // a new file
  }
  if (st.isDirectory()) throw new VmmError("invalid", `file: ${file} is a directory`);
  if (!st.isFile()) throw new VmmError("invalid", `file: ${file} is not a regular file`);
  if (!isSnapshotFile(file)) throw new VmmError("conflict", `file: ${file} exists and is not a paravm snapshot: it is not replaced (remove it, or pick another name)`);
}

/** The `snapshot` action: the VM paused for the write (a paused one stays paused), written beside `file`, renamed into place. */
export async function snapshotVm(vmm: Vmm, name: string, rawFile: unknown): Promise<SnapshotAnswer> {
  const file = checkSnapshotPath(rawFile);
  const rec = vmm.record(name);
  // What never changes first (the target), then the state, which may.
  checkTarget(vmm, file);
  if (!LIVE.has(rec.vm.state)) throw new VmmError("conflict", `VM ${name} is ${vmm.view(name).state}: snapshot needs it running or paused`);
  // A dot file in the same directory: the rename is atomic, and a crash leaves no file that looks like the snapshot.
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  let r: VmSnapshotResult;
  try {
    r = await rec.vm.snapshot(tmp);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    if (e instanceof VmSnapshotError) {
      // Stopped while it was written: the state's conflict; otherwise the write itself failed (a full disk).
      throw new VmmError(LIVE.has(rec.vm.state) ? "internal" : "conflict", e.message.replace(tmp, file));
    }
    throw e;
  }
  vmm.events.add("snapshot", name, { file, bytes: r.bytes, pausedMs: Math.round(r.pausedMs) });
  return { name, ...r, file };
}

/** The guest command a VM was built with (`paravm.exec=` on its command line), to describe it in its entry. */
function execOf(bootargs: string): string | undefined {
  const m = /(?:^| )paravm\.exec=([A-Za-z0-9+/=]+)(?: |$)/.exec(bootargs);
  return m ? Buffer.from(m[1]!, "base64").toString("utf8") : undefined;
}

/** The fleet-file entry that describes the VM a snapshot holds (it does not build it: the file does). */
export function entryOf(info: VmSnapshotInfo, name: string, network: string | undefined): Record<string, unknown> {
  const exec = execOf(info.bootargs);
  return {
    name,
    profile: info.profile,
    cpus: info.onlineCpus ?? info.cpus,
    "max-cpus": info.cpus,
    mem: info.memBytes,
    ...(info.memTargetBytes !== undefined && info.memTargetBytes !== info.memBytes ? { "mem-target": info.memTargetBytes } : {}),
    weight: info.weight,
    cap: info.cap,
    ...(info.disk ? { disks: [{ path: info.disk.spec.path, readonly: info.disk.spec.readonly, snapshot: info.disk.spec.snapshot }] } : {}),
    ...(info.net && network !== undefined ? { nics: [{ network, mac: info.net.mac }] } : {}),
    ...(exec !== undefined ? { exec } : {}),
  };
}

/** The `vm` section of a snapshot file, or a 422 in the reader's words (a file that is not a snapshot, of another version, cut short). */
export function readInfo(file: string): VmSnapshotInfo {
  try {
    return readVmSnapshotInfo(file);
  } catch (e) {
    if (e instanceof SnapshotError) throw new VmmError("invalid", e.message);
    throw e;
  }
}

/**
 * The `restore` action: the file's `vm` section read first (a bad file is refused before
 * anything else), then the name, entry and conflicts checked, then the hypervisor reads
 * and checks the whole file and the disk and continues the guest. A refusal at any step
 * leaves no record (nor a network made for it).
 */
export async function restoreVm(vmm: Vmm, a: Extract<VmmAction, { kind: "restore" }>): Promise<VmView> {
  const file = checkSnapshotPath(a.file);
  // Only clones are given addresses (clones.ts); a plain restore keeps the saved guest's.
  if (a.ip !== undefined) throw new VmmError("invalid", "ip: only with clones (a restored VM keeps the saved guest's address; clones: N gives N clones addresses from ip)");
  const info = readInfo(file);
  const name = a.name ?? info.name;
  if (vmm.records.has(name)) throw new VmmError("conflict", `a VM named "${name}" already exists`);
  if (a.network !== undefined && !info.net) throw new VmmError("invalid", `network: the VM in ${file} has no NIC`);
  const network = info.net ? (a.network ?? SNAPSHOT_API.RESTORE_NETWORK) : undefined;
  const c = checkEntry(entryOf(info, name, network), { networks: vmm.networks, baseDir: vmm.baseDir });
  if (!c.ok) throw new VmmError("invalid", problemsMessage(`the VM in ${file} cannot be restored as "${name}"`, c.problems), c.problems);
  const entry = c.vm.entry;
  const conflicts = entryConflicts(entry, vmm.entries());
  if (conflicts.length > 0) throw new VmmError("conflict", problemsMessage(`VM ${name} conflicts with another VM`, conflicts), conflicts);

  const newNetwork = network !== undefined && !(network in vmm.networks);
  if (newNetwork) vmm.networks[network] = FLEET_DEFAULTS.SUBNET;
  let rec: VmRecord | null = null;
  try {
    await vmm.hv.restore(file, {
      name,
      ...(network !== undefined ? { network } : {}),
      // Console input may come at any time from a viewer, as for every daemon VM.
      waitsForInput: true,
      // The record (and its console) exists before the guest runs again: nothing it prints is missed.
      onCreate: (vm) => {
        rec = vmm.adopt(vm, entry, Date.now(), file);
        vmm.events.add("created", name, { entry, restoredFrom: file });
      },
    });
  } catch (e) {
    if (rec !== null) {
      vmm.records.delete(name);
      vmm.events.add("destroyed", name, { reason: `the restore failed: ${e instanceof Error ? e.message : String(e)}` });
    }
    if (newNetwork) delete vmm.networks[network];
    if (e instanceof SnapshotError) throw new VmmError("invalid", e.message);
    // The machine the file describes was refused while it was built (an image, its saved state): the file's fault.
    if (e instanceof VmBuildError && e.usage) throw new VmmError("invalid", `snapshot ${file}: cannot be restored: ${e.message}`);
    throw e;
  }
  const held = rec as VmRecord | null;
  if (held === null) throw new VmmError("internal", `VM ${name}: restored without a record`);
  void held.vm.wait().then((o) => (held.lastRun = o));
  vmm.persist();
  return vmm.view(name);
}
