/**
 * Snapshot files for the API tests (snapshots.test.ts, clones.test.ts) without running a
 * guest: written by the real writer from a small pv machine that never ran (its machine
 * state is empty, its kernel 4 bytes), so the file is well formed and each test changes
 * one thing. Not a test file itself.
 */
import type { MachineSpec } from "../../hypervisor/machine-spec.js";
import { vmInfo, writeVmSnapshot, type VmSnapshotInfo } from "../../hypervisor/snapshot/vm-file.js";
import type { MachineState } from "../../machine/machine-state.js";

const MiB = 1 << 20;
/** RAM the fake guest touched (the rest stays zero, as in a real snapshot): two pages. */
const TOUCHED_BYTES = 8192;
const TOUCHED_FILL = 7;

export interface FakeSnapshot {
  readonly name?: string;
  /** Default 4 MiB. */
  readonly memBytes?: number;
  readonly bootargs?: string;
  /** A disk at `path`, written by the VM unless `readonly`. */
  readonly disk?: { readonly path: string; readonly readonly?: boolean };
  /** Its NIC's MAC, or none. */
  readonly mac?: string;
  /** The agent's hello, when the guest's agent had started (clones need it). */
  readonly agentHello?: string;
  /** A change to the `vm` section after it is made (another version, …). */
  readonly edit?: (i: VmSnapshotInfo) => VmSnapshotInfo;
}

/** Write the fake VM's snapshot to `file`; returns `file`. */
export function writeFakeSnapshot(file: string, o: FakeSnapshot = {}): string {
  const memBytes = o.memBytes ?? 4 * MiB;
  const spec: MachineSpec = {
    profile: "pv",
    cpus: 1,
    memBytes,
    kernel: new Uint8Array([1, 2, 3, 4]),
    bootargs: o.bootargs ?? "console=hvc0",
    ...(o.disk !== undefined ? { disk: { path: o.disk.path, readonly: o.disk.readonly === true, snapshot: false, cache: "writeback" as const } } : {}),
    ...(o.mac !== undefined ? { net: { mac: Uint8Array.from(o.mac.split(":").map((h) => parseInt(h, 16))) } } : {}),
  };
  let info = vmInfo(o.name ?? "saved", spec, { weight: 300, cap: 0 }, o.agentHello ?? null);
  if (o.edit) info = o.edit(info);
  const ram = new Uint8Array(memBytes);
  ram.fill(TOUCHED_FILL, 0, TOUCHED_BYTES);
  writeVmSnapshot(file, info, spec, {} as MachineState, ram);
  return file;
}
