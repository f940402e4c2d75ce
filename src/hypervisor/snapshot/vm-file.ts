/**
 * A VM's snapshot file (issue 15): what the hypervisor adds around the machine's state so a
 * file restores on its own, in this paravm process or another one.
 *
 *   vm        json  VmSnapshotInfo: name, the machine's configuration (profile, harts,
 *                   RAM, command line, disk and NIC), the scheduler settings, when
 *   kernel    bytes the images the VM was built from: the restored machine is built from
 *   initrd    bytes them (then its RAM is replaced by the saved RAM), so the file needs
 *   firmware  bytes nothing that may have changed on the host since
 *   machine   json  machine/machine-state.ts MachineState (harts, devices, SBI, time)
 *   ram       ram   guest RAM, zero pages left out (ram.ts)
 *
 *   overlay   bytes a copy-on-write (`snapshot`) disk's written sectors (OverlayBackend.save)
 *
 * The disk file is not in the file: it records the disk's path, size and modification time
 * and a restore refuses a disk that changed since (restoring onto other bytes would hand
 * the guest a file system its page cache disagrees with). A copy-on-write disk's writes
 * live only in host memory, so they travel in the overlay section.
 */
import { statSync } from "node:fs";
import type { MachineState } from "../../machine/machine-state.js";
import type { DiskSpecData, MachineSpec } from "../machine-spec.js";
import { jsonOf, need, readOneSection, readSnapshot, SECTION_KIND, SnapshotError, SnapshotWriter, type Section } from "./format.js";
import { writeRam } from "./ram.js";

export const VM_SNAPSHOT = { VERSION: 1 } as const;

/** The disk as it was when the snapshot was taken. */
export interface SnapshotDisk {
  readonly spec: DiskSpecData;
  readonly size: number;
  readonly mtimeMs: number;
}

/** Everything of a VM but its machine state and images, as the `vm` section holds it. */
export interface VmSnapshotInfo {
  readonly v: number;
  readonly name: string;
  readonly savedAt: string;
  readonly profile: "pv" | "full";
  readonly cpus: number;
  readonly onlineCpus?: number;
  readonly memBytes: number;
  readonly memTargetBytes?: number;
  readonly freePageReporting?: boolean;
  readonly bootargs: string;
  readonly codeCacheBytes?: number;
  readonly disk?: SnapshotDisk;
  readonly net?: { readonly mac: string; readonly rate?: string };
  readonly weight: number;
  readonly cap: number;
  /** The guest agent's hello, when it had said it: the restored agent is already up and will not say it again. */
  readonly agentHello?: string;
}

const macText = (mac: Uint8Array): string => [...mac].map((b) => b.toString(16).padStart(2, "0")).join(":");
const macBytes = (s: string): Uint8Array => Uint8Array.from(s.split(":").map((h) => parseInt(h, 16)));

/** The `vm` section for a VM of `spec` named `name` with these scheduler settings. */
export function vmInfo(name: string, spec: MachineSpec, settings: { weight: number; cap: number }, agentHello: string | null = null): VmSnapshotInfo {
  let disk: SnapshotDisk | undefined;
  if (spec.disk) {
    const st = statSync(spec.disk.path);
    disk = { spec: spec.disk, size: st.size, mtimeMs: st.mtimeMs };
  }
  return {
    v: VM_SNAPSHOT.VERSION,
    name,
    savedAt: new Date().toISOString(),
    profile: spec.profile,
    cpus: spec.cpus,
    ...(spec.onlineCpus !== undefined ? { onlineCpus: spec.onlineCpus } : {}),
    memBytes: spec.memBytes,
    ...(spec.memTargetBytes !== undefined ? { memTargetBytes: spec.memTargetBytes } : {}),
    ...(spec.freePageReporting !== undefined ? { freePageReporting: spec.freePageReporting } : {}),
    bootargs: spec.bootargs,
    ...(spec.codeCacheBytes !== undefined ? { codeCacheBytes: spec.codeCacheBytes } : {}),
    ...(disk ? { disk } : {}),
    ...(spec.net ? { net: { mac: macText(spec.net.mac), ...(spec.net.rate !== undefined ? { rate: spec.net.rate } : {}) } } : {}),
    weight: settings.weight,
    cap: settings.cap,
    ...(agentHello !== null ? { agentHello } : {}),
  };
}

/**
 * Writes the whole snapshot: `state` and `ram` from the machine (taken while it does not
 * run). A failure leaves no file that could pass for a snapshot (the header is written last).
 */
export function writeVmSnapshot(
  file: string,
  info: VmSnapshotInfo,
  spec: MachineSpec,
  state: MachineState,
  ram: Uint8Array,
  overlay: Uint8Array | null = null,
): { bytes: number; ramPages: number; ramPresent: number } {
  const w = new SnapshotWriter(file);
  try {
    w.json("vm", info);
    w.section("kernel", SECTION_KIND.BYTES, spec.kernel);
    if (spec.initrd) w.section("initrd", SECTION_KIND.BYTES, spec.initrd);
    if (spec.firmware) w.section("firmware", SECTION_KIND.BYTES, spec.firmware);
    if (overlay) w.section("overlay", SECTION_KIND.BYTES, overlay);
    w.json("machine", state);
    const r = writeRam(w, "ram", ram);
    w.close();
    return { bytes: statSync(file).size, ramPages: r.pages, ramPresent: r.present };
  } catch (e) {
    w.abort();
    throw e;
  }
}

/** A snapshot read and checked: the VM's info, the spec to build it from, and the sections the owner thread loads. */
export interface VmSnapshot {
  readonly file: string;
  readonly info: VmSnapshotInfo;
  readonly spec: MachineSpec;
  readonly machine: MachineState;
  readonly ram: Section;
  /** A copy-on-write disk's written sectors, when the VM had one. */
  readonly overlay: Uint8Array | null;
}

/**
 * What the owner thread of a restored VM loads: views of the file read once on the main
 * thread (format.ts reads it into shared memory), so nothing is copied or read again.
 */
export interface VmRestore {
  readonly file: string;
  readonly machine: MachineState;
  readonly ram: Section;
  readonly overlay: Uint8Array | null;
}

/** The part of `snap` its owner thread loads. */
export const restoreOf = (snap: VmSnapshot): VmRestore => ({ file: snap.file, machine: snap.machine, ram: snap.ram, overlay: snap.overlay });

/**
 * A copy of an image section in shared memory of its own: the VM keeps its images (a
 * reboot boots them) but not the file they came in, and a thread it is handed to shares it.
 */
function ownImage(b: Uint8Array): Uint8Array {
  const c = new Uint8Array(new SharedArrayBuffer(b.length));
  c.set(b);
  return c;
}

/** Reads `file` (every section checked by format.ts) and checks the `vm` section; SnapshotError says what is wrong. */
export function readVmSnapshot(file: string): VmSnapshot {
  const sections = readSnapshot(file);
  const info = checkVmInfo(file, jsonOf(file, sections, "vm"));
  const bytes = (name: string): Uint8Array | undefined => sections.get(name)?.payload;
  const image = (name: string): Uint8Array | undefined => {
    const b = bytes(name);
    return b && ownImage(b);
  };
  const kernel = ownImage(need(file, sections, "kernel", SECTION_KIND.BYTES).payload);
  const initrd = image("initrd");
  const firmware = image("firmware");
  if (info.profile === "full" && firmware === undefined) throw new SnapshotError(file, "a full VM's snapshot without its firmware");
  const spec = specOf(info, { kernel, ...(initrd ? { initrd } : {}), ...(firmware ? { firmware } : {}) });
  const overlay = bytes("overlay") ?? null;
  if (overlay !== null && !info.disk?.spec.snapshot) throw new SnapshotError(file, "holds a disk overlay but its VM has no copy-on-write disk");
  return { file, info, spec, machine: jsonOf(file, sections, "machine") as MachineState, ram: need(file, sections, "ram", SECTION_KIND.RAM), overlay };
}

/** The machine spec a VM described by `info` (checked: checkVmInfo) is built from, with these images. */
export function specOf(info: VmSnapshotInfo, images: { kernel: Uint8Array; initrd?: Uint8Array; firmware?: Uint8Array }): MachineSpec {
  const { kernel, initrd, firmware } = images;
  return {
    profile: info.profile,
    cpus: info.cpus,
    ...(info.onlineCpus !== undefined ? { onlineCpus: info.onlineCpus } : {}),
    memBytes: info.memBytes,
    ...(info.memTargetBytes !== undefined ? { memTargetBytes: info.memTargetBytes } : {}),
    ...(info.freePageReporting !== undefined ? { freePageReporting: info.freePageReporting } : {}),
    kernel,
    ...(initrd ? { initrd } : {}),
    ...(firmware ? { firmware } : {}),
    bootargs: info.bootargs,
    ...(info.codeCacheBytes !== undefined ? { codeCacheBytes: info.codeCacheBytes } : {}),
    ...(info.disk ? { disk: info.disk.spec } : {}),
    ...(info.net ? { net: { mac: macBytes(info.net.mac), ...(info.net.rate !== undefined ? { rate: info.net.rate } : {}) } } : {}),
  };
}

/**
 * Only the `vm` section of `file`, checked: what a restore will create (name, machine, disk,
 * NIC), learnt without reading the RAM. The whole file is still checked by readVmSnapshot
 * before anything is restored.
 */
export function readVmSnapshotInfo(file: string): VmSnapshotInfo {
  const s = readOneSection(file, "vm");
  if (s.kind !== SECTION_KIND.JSON) throw new SnapshotError(file, "section vm is not json");
  return checkVmInfo(file, jsonOf(file, new Map([["vm", s]]), "vm"));
}

/** Why the disk the snapshot names cannot be used now (gone, resized, written since), or null. */
export function diskProblem(info: VmSnapshotInfo): string | null {
  const d = info.disk;
  if (!d) return null;
  let st;
  try {
    st = statSync(d.spec.path);
  } catch (e) {
    return `its disk ${d.spec.path} is gone (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
  }
  if (st.size !== d.size) return `its disk ${d.spec.path} is ${st.size} bytes, it was ${d.size} at the snapshot`;
  if (st.mtimeMs !== d.mtimeMs) return `its disk ${d.spec.path} was written after the snapshot (modified ${new Date(st.mtimeMs).toISOString()}, snapshot of ${new Date(d.mtimeMs).toISOString()})`;
  return null;
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** `v` as a VmSnapshotInfo, checked field by field (it comes from a file or another host); SnapshotError names `file` (or whatever it came from). */
export function checkVmInfo(file: string, v: unknown): VmSnapshotInfo {
  const bad = (why: string): never => {
    throw new SnapshotError(file, `section vm: ${why}`);
  };
  if (typeof v !== "object" || v === null || Array.isArray(v)) bad("not an object");
  const o = v as Record<string, unknown>;
  if (o["v"] !== VM_SNAPSHOT.VERSION) bad(`version ${String(o["v"])}; this paravm restores VM snapshots of version ${VM_SNAPSHOT.VERSION} only`);
  const int = (k: string, min: number, max: number, optional = false): void => {
    const x = o[k];
    if (x === undefined && optional) return;
    if (typeof x !== "number" || !Number.isInteger(x) || x < min || x > max) bad(`${k} is ${JSON.stringify(x)}, not an integer in ${min}..${max}`);
  };
  if (typeof o["name"] !== "string" || o["name"] === "") bad("no name");
  if (o["profile"] !== "pv" && o["profile"] !== "full") bad(`profile ${JSON.stringify(o["profile"])}`);
  int("cpus", 1, 8);
  int("onlineCpus", 1, 8, true);
  int("memBytes", 1 << 20, 2 ** 40);
  int("memTargetBytes", 1 << 20, 2 ** 40, true);
  int("codeCacheBytes", 1, 2 ** 40, true);
  int("weight", 1, 65_535);
  int("cap", 0, 100 * 8);
  if (typeof o["bootargs"] !== "string") bad("no bootargs");
  if (o["agentHello"] !== undefined && (typeof o["agentHello"] !== "string" || o["agentHello"].length > 256)) bad("agentHello is not a short string");
  const net = o["net"] as Record<string, unknown> | undefined;
  if (net !== undefined && (typeof net !== "object" || net === null || typeof net["mac"] !== "string" || !MAC.test(net["mac"]))) bad("net.mac is not a MAC address");
  const disk = o["disk"] as Record<string, unknown> | undefined;
  if (disk !== undefined) {
    const spec = disk["spec"] as Record<string, unknown> | undefined;
    if (typeof disk !== "object" || disk === null || typeof disk["size"] !== "number" || typeof disk["mtimeMs"] !== "number") bad("disk has no size or time");
    if (typeof spec !== "object" || spec === null || typeof spec["path"] !== "string") bad("disk has no path");
  }
  return v as VmSnapshotInfo;
}
