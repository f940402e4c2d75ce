/**
 * `paravm multi`: several VMs (pv or full) in this process on shared virtual networks.
 */
import { FULL_DEFAULTS } from "../machine/full.js";
import { parseDiskSpec } from "../devices/virtio/blk/file-backend.js";
import { parseVmSpecs } from "../hypervisor/vm-spec.js";
import { Hypervisor } from "../hypervisor/hypervisor.js";
import { FLEET_DEFAULTS, runFleet, type FleetVm } from "../hypervisor/fleet-run.js";
import type { DiskSpecData } from "../hypervisor/machine-spec.js";
import { VmBuildError } from "../hypervisor/vm.js";
import { LinePrefixer } from "./line-prefixer.js";

import { checkDisk, checkMemTargetArg, cpuCounts, loadGuest, parseCpus, parseMemSize, rateLimiter, readProgram, specOrUsage, UsageError } from "./args.js";
import { statsJson } from "./run-command.js";

export interface MultiOptions {
  firmware?: string;
  kernel?: string;
  initrd?: string;
  vm: string[];
  stats?: boolean;
  maxInsns?: number;
  pcpus?: number;
  hostMem?: number;
}

/**
 * `paravm multi`: several VMs of one hypervisor (src/hypervisor/fleet-run.ts), on shared networks.
 * Addresses come from the kernel command line (`ip=`, CONFIG_IP_PNP), not DHCP: per
 * network, 10.0.2.2, .3, … in --vm order. Console lines are prefixed "[name] ".
 */
export async function runMulti(opts: MultiOptions): Promise<number> {
  const specs = specOrUsage(() => parseVmSpecs(opts.vm));
  const { kernel, initrd } = loadGuest(opts);
  const vms: FleetVm[] = [];
  const t0 = performance.now();
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
    let disk: DiskSpecData | undefined;
    if (v.disk !== undefined) {
      const ds = parseDiskSpec(v.disk);
      checkDisk(ds.path);
      rateLimiter(v.diskRate, `${what} disk-rate`);
      disk = {
        path: ds.path,
        readonly: ds.readonly,
        snapshot: ds.snapshot,
        cache: ds.cache,
        serial: `paravm-${v.name}`.slice(0, 20),
        ...(v.diskRate !== undefined ? { rate: v.diskRate } : {}),
      };
    }
    rateLimiter(v.netRate, `${what} net-rate`);
    const memBytes = opt(v.mem, parseMemSize, "mem");
    const memTargetBytes = opt(v.memTarget, parseMemSize, "mem-target");
    checkMemTargetArg(`${what} mem-target`, v.profile ?? "pv", memBytes ?? FLEET_DEFAULTS.MEM, memTargetBytes);
    const cpus = opt(v.cpus, parseCpus, "cpus");
    const maxCpus = opt(v.maxCpus, parseCpus, "max-cpus");
    cpuCounts(cpus ?? 1, maxCpus, v.profile ?? "pv", `--vm ${v.name}: max-cpus=${maxCpus}`);
    vms.push({
      name: v.name,
      ...(v.profile ? { profile: v.profile } : {}),
      ...(memBytes !== undefined ? { memBytes } : {}),
      ...(memTargetBytes !== undefined ? { memTargetBytes } : {}),
      ...(cpus !== undefined ? { cpus } : {}),
      ...(maxCpus !== undefined ? { maxCpus } : {}),
      ...(v.weight !== undefined ? { weight: v.weight } : {}),
      ...(v.cap !== undefined ? { cap: v.cap } : {}),
      ...(opts.maxInsns !== undefined ? { maxInsns: opts.maxInsns } : {}),
      ...(v.exec !== undefined ? { exec: v.exec } : {}),
      ...(disk ? { disk } : {}),
      ...(v.net !== undefined
        ? { net: { network: v.net, ...(v.mac ? { mac: v.mac } : {}), ...(v.netRate !== undefined ? { rate: v.netRate } : {}) } }
        : {}),
    });
  }
  const stdout = process.stdout;
  stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE" && e.code !== "ERR_STREAM_DESTROYED") throw e;
  });
  const lines = new LinePrefixer((text) => void stdout.write(text));
  const firmware = vms.some((c) => c.profile === "full") ? readProgram(opts.firmware ?? FULL_DEFAULTS.FIRMWARE, "firmware") : undefined;
  const hv = new Hypervisor({
    ...(opts.pcpus !== undefined ? { pcpus: opts.pcpus } : {}),
    ...(opts.hostMem !== undefined ? { hostMemBytes: opts.hostMem } : {}),
  });
  const setupMs = performance.now() - t0;
  const onSignal = (): void => {
    for (const vm of hv.vms.values()) if (vm.state === "running" || vm.state === "paused") void vm.stop().catch(() => {});
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  // `kill -USR2 <pid>`: where every vCPU is (pc, loop step, scheduler and link words), on stderr.
  const onWhere = (): void => void process.stderr.write(`${hv.where().join("\n")}\n`);
  process.on("SIGUSR2", onWhere);
  let r: Awaited<ReturnType<typeof runFleet>>;
  try {
    r = await runFleet(hv, vms, { kernel, ...(initrd ? { initrd } : {}), ...(firmware ? { firmware } : {}) }, (name, bytes) => lines.push(name, bytes));
  } catch (e) {
    if (e instanceof VmBuildError && e.usage) {
      if (/alloc/i.test(e.message)) throw new UsageError(`mem: cannot allocate guest RAM for ${vms.length} VMs on this host`);
      throw new UsageError(e.message);
    }
    throw e;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    process.off("SIGUSR2", onWhere);
    lines.flush();
    await hv.close();
  }
  for (const o of r.vms) {
    if (o.status !== 0 && o.result?.stop !== "stopped") {
      const why =
        o.crash !== null
          ? `crashed: ${o.crash}`
          : o.result?.stop === "wfiDeadlock"
            ? "every hart waits with no timer armed"
            : o.result?.stop === "maxInsns"
              ? "stopped by --max-insns"
              : o.execStatus === null
                ? "powered off without printing PARAVM-EXIT-STATUS"
                : `exit status ${o.execStatus}`;
      process.stderr.write(`paravm: vm ${o.name}: ${why}\n`);
    }
  }
  if (opts.stats === true) {
    const doc = {
      pcpus: hv.scheduler.pcpus,
      hostMem: { budgetBytes: hv.memory.budgetBytes, source: hv.memorySource },
      vms: Object.fromEntries(
        r.vms.map((o) => [
          o.name,
          {
            status: o.status,
            network: o.network,
            address: o.address,
            mac: o.mac,
            ...(o.result ? statsJson(o.result, setupMs, o.sched) : { crash: o.crash }),
          },
        ]),
      ),
      networks: Object.fromEntries(
        hv.networks.names().map((n) => [
          n,
          {
            ports: Object.fromEntries(r.vms.filter((o) => o.network === n && o.port).map((o) => [o.name, o.port])),
            switch: { ...hv.networks.get(n).stats },
          },
        ]),
      ),
    };
    process.stderr.write(`${JSON.stringify(doc)}\n`);
  }
  return r.status;
}
