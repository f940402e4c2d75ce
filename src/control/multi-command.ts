/**
 * `paravm multi`: several VMs (pv or full) in this process on shared virtual networks.
 */
import { FULL_DEFAULTS } from "../machine/full.js";
import { FileBackend, parseDiskSpec } from "../devices/virtio/blk/file-backend.js";
import { OverlayBackend } from "../devices/virtio/blk/overlay-backend.js";
import { parseVmSpecs } from "../hypervisor/vm-spec.js";
import { LinePrefixer, MultiRun, type VmConfig } from "../machine/pv-multi.js";

import { checkDisk, loadGuest, parseCpus, parseMemSize, rateLimiter, readProgram, specOrUsage, UsageError } from "./args.js";
import { statsJson } from "./run-command.js";

export interface MultiOptions {
  firmware?: string;
  kernel?: string;
  initrd?: string;
  vm: string[];
  stats?: boolean;
  maxInsns?: number;
}

/**
 * `paravm multi`: several VMs in this process on shared networks (src/machine/pv-multi.ts).
 * Addresses come from the kernel command line (`ip=`, CONFIG_IP_PNP), not DHCP: per
 * network, 10.0.2.2, .3, … in --vm order. Console lines are prefixed "[name] ".
 */
export async function runMulti(opts: MultiOptions): Promise<number> {
  const specs = specOrUsage(() => parseVmSpecs(opts.vm));
  const { kernel, initrd } = loadGuest(opts);
  const disks: FileBackend[] = [];
  const configs: VmConfig[] = [];
  const t0 = performance.now();
  try {
    for (const v of specs) {
      const what = `--vm ${v.name}`;
      const opt = <T>(text: string | undefined, parse: (s: string) => T, key: string): T | undefined => {
        if (text === undefined) return undefined;
        try {
          return parse(text);
        } catch (e) {
          throw new UsageError(`${what}: ${key}=${text}: ${(e as Error).message}`);
        }
      };
      let disk: VmConfig["disk"];
      if (v.disk !== undefined) {
        const ds = parseDiskSpec(v.disk);
        checkDisk(ds.path);
        const file = new FileBackend(ds.path, { readonly: ds.readonly || ds.snapshot, cache: ds.cache });
        const backend = ds.snapshot ? new OverlayBackend(file) : file;
        disks.push(file);
        const rl = rateLimiter(v.diskRate, `${what} disk-rate`);
        disk = { backend, serial: `paravm-${v.name}`.slice(0, 20), ...(rl ? { rateLimiter: rl } : {}) };
      }
      const tx = rateLimiter(v.netRate, `${what} net-rate`);
      const rx = rateLimiter(v.netRate, `${what} net-rate`);
      configs.push({
        name: v.name,
        ...(v.profile ? { profile: v.profile } : {}),
        memBytes: opt(v.mem, parseMemSize, "mem"),
        cpus: opt(v.cpus, parseCpus, "cpus"),
        maxInsns: opts.maxInsns,
        ...(v.exec !== undefined ? { exec: v.exec } : {}),
        ...(disk ? { disk } : {}),
        net: {
          network: v.net!,
          ...(v.mac ? { mac: v.mac } : {}),
          ...(tx ? { txRateLimiter: tx } : {}),
          ...(rx ? { rxRateLimiter: rx } : {}),
        },
      });
    }
    const stdout = process.stdout;
    stdout.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code !== "EPIPE" && e.code !== "ERR_STREAM_DESTROYED") throw e;
    });
    const lines = new LinePrefixer((text) => void stdout.write(text));
    let multi: MultiRun;
    try {
      const firmware = configs.some((c) => c.profile === "full") ? readProgram(opts.firmware ?? FULL_DEFAULTS.FIRMWARE, "firmware") : undefined;
      multi = new MultiRun(configs, { kernel, initrd, ...(firmware ? { firmware } : {}), output: (name, bytes) => lines.push(name, bytes) });
    } catch (e) {
      if (e instanceof RangeError && /alloc|memory/i.test(e.message)) {
        throw new UsageError(`mem: cannot allocate guest RAM for ${configs.length} VMs on this host`);
      }
      throw e;
    }
    const setupMs = performance.now() - t0;
    const onSignal = (): void => multi.stop();
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    let r: Awaited<ReturnType<MultiRun["run"]>>;
    try {
      r = await multi.run();
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      lines.flush();
    }
    for (const o of r.vms) {
      if (o.status !== 0 && o.result.stop !== "stopped") {
        const why =
          o.result.stop === "wfiDeadlock"
            ? "every hart waits with no timer armed"
            : o.result.stop === "maxInsns"
              ? "stopped by --max-insns"
              : o.execStatus === null
                ? "powered off without printing PARAVM-EXIT-STATUS"
                : `exit status ${o.execStatus}`;
        process.stderr.write(`paravm: vm ${o.name}: ${why}\n`);
      }
    }
    if (opts.stats === true) {
      const doc = {
        vms: Object.fromEntries(
          r.vms.map((o) => [
            o.name,
            { status: o.status, network: o.network, address: o.address, mac: o.mac, ...statsJson(o.result, setupMs) },
          ]),
        ),
        networks: Object.fromEntries(
          Object.entries(r.ports).map(([n, ports]) => [n, { ports, switch: { ...r.networks.get(n).stats } }]),
        ),
      };
      process.stderr.write(`${JSON.stringify(doc)}\n`);
    }
    return r.status;
  } finally {
    for (const d of disks) d.close();
  }
}

