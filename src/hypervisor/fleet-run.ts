/**
 * Run several VMs of one hypervisor to their end (`paravm multi`, tests, benchmarks):
 * each VM runs one command (`paravm.exec=`), its exit status is read from the console
 * (PARAVM-EXIT-STATUS=n), and when one fails the others are stopped.
 *
 * A VM that joins a network gets a port on that network's switch (named after the VM) and
 * an IPv4 address from the network's subnet (10.0.2.0/24 by default: the first VM to join
 * gets .2, the next .3, …) on the kernel command line (`ip=`, CONFIG_IP_PNP; no DHCP).
 */
import { ipBootArg, Subnet } from "../devices/virtio/net/ip.js";
import { formatMac, macFromName } from "../devices/virtio/net/mac.js";
import type { FullResult } from "../machine/full.js";
import { FULL_DEFAULTS } from "../machine/full.js";
import type { PvResult } from "../machine/pv.js";
import { PV_DEFAULTS } from "../machine/pv.js";
import type { PortStats } from "../net/switch.js";
import type { Hypervisor } from "./hypervisor.js";
import type { DiskSpecData, MachineSpec } from "./machine-spec.js";
import type { Vm, VmSchedStats } from "./vm.js";

export const FLEET_DEFAULTS = {
  SUBNET: "10.0.2.0/24",
  MEM: 256 * 1024 * 1024,
} as const;

export interface FleetVm {
  readonly name: string;
  readonly profile?: "pv" | "full";
  readonly memBytes?: number;
  /** pv: the balloon's target at boot. */
  readonly memTargetBytes?: number;
  readonly cpus?: number;
  /** Harts present, of which `cpus` are online at boot (pv; MachineSpec.onlineCpus). */
  readonly maxCpus?: number;
  readonly weight?: number;
  readonly cap?: number;
  /** Shell command run in the guest; its status ends the VM. */
  readonly exec?: string;
  /** Extra kernel arguments after the defaults. */
  readonly append?: string;
  readonly disk?: DiskSpecData;
  readonly net?: { readonly network: string; readonly mac?: Uint8Array; readonly rate?: string };
  readonly maxInsns?: number;
}

export interface FleetImages {
  readonly kernel: Uint8Array;
  readonly initrd?: Uint8Array;
  /** For VMs with profile "full". */
  readonly firmware?: Uint8Array;
  /** Subnet per network name (default FLEET_DEFAULTS.SUBNET). */
  readonly subnets?: Record<string, string>;
}

export interface FleetOutcome {
  readonly name: string;
  /** null when the VM crashed (see `crash`). */
  readonly result: (PvResult | FullResult) | null;
  readonly crash: string | null;
  readonly execStatus: number | null;
  /** 0 for success; see `vmExitStatus`. */
  readonly status: number;
  readonly address: string | null;
  readonly mac: string | null;
  readonly network: string | null;
  readonly sched: VmSchedStats | null;
  readonly port: PortStats | null;
}

const EXIT_LINE = /PARAVM-EXIT-STATUS=(\d+)/;

/** A VM's exit status: the exec status (1 if above 255), 1 for a failed stop or a crash, 124 for maxInsns, 130 if stopped. */
export function vmExitStatus(result: PvResult | FullResult | null, execStatus: number | null, hasExec: boolean): number {
  if (result === null) return 1;
  if (result.stop === "stopped") return 130;
  if (result.stop === "maxInsns") return 124;
  if (result.stop === "wfiDeadlock") return 1;
  if (hasExec) return execStatus === null || execStatus > 255 ? 1 : execStatus;
  return result.resetReason === 1 ? 1 : 0;
}

/** The exit status a guest prints on its console, read from a stream of output. */
export class ExecStatusReader {
  status: number | null = null;
  private tail = "";

  push(bytes: Uint8Array): void {
    if (this.status !== null) return;
    this.tail = (this.tail + Buffer.from(bytes).toString("latin1")).slice(-256);
    const x = EXIT_LINE.exec(this.tail);
    if (x && /\r?\n/.test(this.tail.slice(x.index))) this.status = Number(x[1]);
  }
}

/** A VM of a fleet made concrete: its machine spec, and its address and MAC on its network. */
export interface FleetPlan {
  readonly vm: FleetVm;
  readonly spec: MachineSpec;
  readonly address: string | null;
  readonly mac: Uint8Array | null;
}

/** The address plan of `network` in `subnets`, made from its CIDR in `cidrs` (default FLEET_DEFAULTS.SUBNET) the first time. */
export function subnetOf(subnets: Map<string, Subnet>, network: string, cidrs?: Readonly<Record<string, string>>): Subnet {
  let subnet = subnets.get(network);
  if (!subnet) {
    subnet = new Subnet(cidrs?.[network] ?? FLEET_DEFAULTS.SUBNET);
    subnets.set(network, subnet);
  }
  return subnet;
}

/**
 * The machine spec of each VM (kernel command line, addresses in order per network, MACs);
 * `paravm up` shares it. `subnets` carries the address assignments across calls (the
 * daemon plans one VM at a time and keeps one per network).
 */
export function planFleet(vms: readonly FleetVm[], images: FleetImages, subnets = new Map<string, Subnet>()): FleetPlan[] {
  return vms.map((vm) => {
    const full = vm.profile === "full";
    if (full && !images.firmware) throw new Error(`VM ${vm.name}: profile full needs the firmware`);
    let bootargs = `${full ? FULL_DEFAULTS.BOOTARGS : PV_DEFAULTS.BOOTARGS} paravm.hostname=${vm.name}`;
    let address: string | null = null;
    let mac: Uint8Array | null = null;
    if (vm.net) {
      const subnet = subnetOf(subnets, vm.net.network, images.subnets);
      address = subnet.assign(vm.name);
      bootargs += ` ${ipBootArg({ address, netmask: subnet.netmask, hostname: vm.name, device: "eth0" })}`;
      mac = vm.net.mac ?? macFromName(vm.name);
    }
    if (vm.append) bootargs += ` ${vm.append}`;
    if (vm.exec !== undefined) bootargs += ` paravm.exec=${Buffer.from(vm.exec, "utf8").toString("base64")}`;
    const spec: MachineSpec = {
      profile: vm.profile ?? "pv",
      cpus: vm.maxCpus ?? vm.cpus ?? 1,
      ...(vm.maxCpus !== undefined && vm.maxCpus > (vm.cpus ?? 1) ? { onlineCpus: vm.cpus ?? 1 } : {}),
      memBytes: vm.memBytes ?? FLEET_DEFAULTS.MEM,
      ...(vm.memTargetBytes !== undefined ? { memTargetBytes: vm.memTargetBytes } : {}),
      kernel: images.kernel,
      ...(images.initrd ? { initrd: images.initrd } : {}),
      ...(full && images.firmware ? { firmware: images.firmware } : {}),
      bootargs,
      ...(vm.maxInsns !== undefined ? { maxInsns: vm.maxInsns } : {}),
      ...(vm.disk ? { disk: vm.disk } : {}),
      ...(mac ? { net: { mac, ...(vm.net?.rate !== undefined ? { rate: vm.net.rate } : {}) } } : {}),
    };
    return { vm, spec, address, mac };
  });
}

/**
 * Create every VM of `plans` in `hv`: names distinct, the whole fleet within the memory
 * budget (AdmissionError), or nothing is created. Not started.
 */
export function createFleet(hv: Hypervisor, plans: readonly FleetPlan[], waitsForInput: (p: FleetPlan) => boolean): Vm[] {
  const names = new Set<string>();
  for (const p of plans) {
    if (names.has(p.vm.name) || hv.vms.has(p.vm.name)) throw new Error(`duplicate VM name "${p.vm.name}"`);
    names.add(p.vm.name);
  }
  hv.checkFits(plans.map((p) => ({ name: p.vm.name, spec: p.spec })));
  return plans.map((p) =>
    hv.create({
      name: p.vm.name,
      spec: p.spec,
      ...(p.vm.weight !== undefined ? { weight: p.vm.weight } : {}),
      ...(p.vm.cap !== undefined ? { cap: p.vm.cap } : {}),
      ...(p.vm.net ? { network: p.vm.net.network } : {}),
      waitsForInput: waitsForInput(p),
    }),
  );
}

/**
 * Create every VM of `vms` in `hv` (nothing is created if one is refused), start them,
 * and wait for all to end. `output` gets each VM's console bytes.
 */
export async function runFleet(
  hv: Hypervisor,
  vms: readonly FleetVm[],
  images: FleetImages,
  output: (name: string, bytes: Uint8Array) => void,
): Promise<{ vms: FleetOutcome[]; status: number }> {
  const plans = planFleet(vms, images);
  const created = createFleet(hv, plans, () => false);
  const readers = plans.map(() => new ExecStatusReader());
  created.forEach((vm, i) =>
    vm.on("output", (b: Uint8Array) => {
      readers[i]!.push(b);
      output(vm.name, b);
    }),
  );
  let firstFailure: number | null = null;
  const stopAll = (): void => {
    for (const vm of created) if (vm.state === "running" || vm.state === "paused") void vm.stop().catch(() => {});
  };
  try {
    await Promise.all(created.map((vm) => vm.start()));
  } catch (e) {
    stopAll();
    throw e;
  }
  const outcomes = await Promise.all(
    created.map(async (vm, i): Promise<FleetOutcome> => {
      const o = await vm.wait();
      const p = plans[i]!;
      const result = o.kind === "stopped" ? (o.result as PvResult | FullResult) : null;
      const execStatus = readers[i]!.status;
      const status = vmExitStatus(result, execStatus, p.vm.exec !== undefined);
      if (status !== 0 && firstFailure === null) {
        firstFailure = status;
        stopAll();
      }
      const port = hv.port(vm.name);
      return {
        name: vm.name,
        result,
        crash: o.kind === "crashed" ? o.reason : null,
        execStatus,
        status,
        address: p.address,
        mac: p.mac ? formatMac(p.mac) : null,
        network: p.vm.net?.network ?? null,
        sched: vm.schedStats(),
        port: port ? structuredClone(port.port.stats) : null,
      };
    }),
  );
  return { vms: outcomes, status: firstFailure ?? 0 };
}
