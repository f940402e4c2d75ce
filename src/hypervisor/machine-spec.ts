/**
 * What a vCPU thread needs to build its VM's machine: plain data (posted to a worker), so
 * the disk file, the NIC's port and the rate limiters are made on the thread that owns the
 * devices. The main thread checks everything it can first (files, sizes), so a bad spec is
 * refused before any thread starts.
 */
import { FileBackend } from "../devices/virtio/blk/file-backend.js";
import { OverlayBackend } from "../devices/virtio/blk/overlay-backend.js";
import type { BlockBackend } from "../devices/virtio/blk/device.js";
import type { NetBackend } from "../devices/virtio/net/device.js";
import type { CharBackend } from "../devices/virtio/console/device.js";
import { parseRateLimit } from "../devices/rate-limiter.js";
import { FullMachine } from "../machine/full.js";
import { PvMachine } from "../machine/pv.js";
import type { MachineThreads } from "../machine/vcpu-link.js";

export interface DiskSpecData {
  readonly path: string;
  readonly readonly: boolean;
  /** Copy-on-write: the guest's writes stay in host memory. */
  readonly snapshot: boolean;
  readonly cache: "writeback" | "none";
  readonly serial?: string;
  /** A `--disk-rate` spec (pv only). */
  readonly rate?: string;
  /** Full only: the disk on the ATA PIO controller (default) or on AHCI (DMA). */
  readonly controller?: "ata" | "ahci";
}

export interface MachineSpec {
  readonly profile: "pv" | "full";
  /** Harts present (one vCPU thread each): the most the guest can have online. */
  readonly cpus: number;
  /** pv: harts online at boot (kernel `maxcpus=`), the rest brought online later through the agent; default all. */
  readonly onlineCpus?: number;
  readonly memBytes: number;
  /** pv: boot with the balloon holding RAM down to this (`--mem-target`). */
  readonly memTargetBytes?: number;
  /** pv: free page reporting on the balloon (default true; false to measure inflation alone). */
  readonly freePageReporting?: boolean;
  readonly kernel: Uint8Array;
  readonly initrd?: Uint8Array;
  readonly firmware?: Uint8Array;
  readonly bootargs: string;
  readonly maxInsns?: number;
  /** Per-hart code-cache budget in bytes (cpu/code-cache.ts); default: its own. */
  readonly codeCacheBytes?: number;
  readonly disk?: DiskSpecData;
  /** A NIC on the hypervisor's switch; `rate` is a `--net rate=` spec (pv only). */
  readonly net?: { readonly mac: Uint8Array; readonly rate?: string };
}

/** The owner's machine (hart 0 and every device) for `spec`; `close` releases the disk. */
export function buildOwnerMachine(
  spec: MachineSpec,
  threads: MachineThreads,
  io: { output: (bytes: Uint8Array) => void; net: NetBackend | null; clockMs: () => number; agent?: CharBackend },
): { machine: PvMachine | FullMachine; close: () => void; overlay: OverlayBackend | null } {
  let file: FileBackend | null = null;
  let disk: BlockBackend | null = null;
  if (spec.disk) {
    file = new FileBackend(spec.disk.path, { readonly: spec.disk.readonly || spec.disk.snapshot, cache: spec.disk.cache });
    disk = spec.disk.snapshot ? new OverlayBackend(file) : file;
  }
  const common = {
    kernel: spec.kernel,
    initrd: spec.initrd,
    bootargs: spec.bootargs + onlineArg(spec),
    memBytes: spec.memBytes,
    cpus: spec.cpus,
    maxInsns: spec.maxInsns,
    output: io.output,
    clockMs: io.clockMs,
    threads,
  };
  try {
    let machine: PvMachine | FullMachine;
    if (spec.profile === "full") {
      if (!spec.firmware) throw new Error("a full machine needs its firmware");
      machine = new FullMachine({
        ...common,
        firmware: spec.firmware,
        ...(disk
          ? {
              disk: {
                backend: disk,
                ...(spec.disk?.serial !== undefined ? { serial: spec.disk.serial } : {}),
                ...(spec.disk?.controller !== undefined ? { controller: spec.disk.controller } : {}),
              },
            }
          : {}),
        ...(spec.net && io.net ? { net: { backend: io.net, mac: spec.net.mac } } : {}),
      });
    } else {
      const diskLimiter = spec.disk?.rate !== undefined ? parseRateLimit(spec.disk.rate) : null;
      const tx = spec.net?.rate !== undefined ? parseRateLimit(spec.net.rate) : null;
      const rx = spec.net?.rate !== undefined ? parseRateLimit(spec.net.rate) : null;
      machine = new PvMachine({
        ...common,
        ...(io.agent ? { agent: io.agent } : {}),
        ...(spec.memTargetBytes !== undefined ? { memTargetBytes: spec.memTargetBytes } : {}),
        ...(spec.freePageReporting !== undefined ? { freePageReporting: spec.freePageReporting } : {}),
        ...(disk
          ? { disk: { backend: disk, ...(spec.disk?.serial !== undefined ? { serial: spec.disk.serial } : {}), ...(diskLimiter ? { rateLimiter: diskLimiter } : {}) } }
          : {}),
        ...(spec.net && io.net
          ? { net: { backend: io.net, mac: spec.net.mac, ...(tx ? { txRateLimiter: tx } : {}), ...(rx ? { rxRateLimiter: rx } : {}) } }
          : {}),
      });
    }
    return { machine, close: () => file?.close(), overlay: disk instanceof OverlayBackend ? disk : null };
  } catch (e) {
    file?.close();
    throw e;
  }
}

/**
 * `maxcpus=N` when fewer harts than present are online at boot: Linux then starts only N,
 * and the others stay present-but-offline (their threads parked, no host CPU) until the
 * agent writes /sys/devices/system/cpu/cpuK/online. Cleaner than booting them all and
 * offlining them afterwards: they never run, and nothing is undone after boot.
 */
function onlineArg(spec: MachineSpec): string {
  const n = spec.onlineCpus;
  return spec.profile === "pv" && n !== undefined && n < spec.cpus ? ` maxcpus=${n}` : "";
}
