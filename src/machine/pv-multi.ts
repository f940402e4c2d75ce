/**
 * Several pv VMs in one process, on shared virtual networks (`paravm multi`).
 *
 * Each VM is a PvMachine running under `runAsync`; they interleave on Node's event loop
 * (each returns to it every few ms, or sleeps while its harts wait). A VM that joins a
 * network gets a virtio-net port on that network's switch (port named after the VM) and an
 * IPv4 address from the network's subnet (10.0.2.0/24 by default: the first VM to join
 * gets .2, the next .3, …) passed on the kernel command line as `ip=` (CONFIG_IP_PNP; no
 * DHCP). Frames between VMs travel synchronously: a frame sent by one VM is in the other's
 * receive ring when `send` returns, and wakes it if it sleeps.
 *
 * The run ends when every VM has stopped; when one fails (non-zero exit status, or a stop
 * that is not a power-off) the others are stopped.
 */
import type { BlockBackend } from "../devices/virtio/blk/device.js";
import { ipBootArg, Subnet } from "../devices/virtio/net/ip.js";
import { formatMac, macFromName } from "../devices/virtio/net/mac.js";
import { SwitchBackend } from "../net/switch-backend.js";
import type { RateLimiter } from "../devices/rate-limiter.js";
import { Networks, type PortStats } from "../net/switch.js";
import { PvMachine, PV_DEFAULTS, type PvResult } from "./pv.js";
import { FullMachine, FULL_DEFAULTS, type FullResult } from "./full.js";

export const MULTI_DEFAULTS = {
  SUBNET: "10.0.2.0/24",
} as const;

export interface VmConfig {
  readonly name: string;
  /** "pv" (default) or "full" (OpenSBI, ATA disk, e1000 on the same switch as virtio-net). */
  readonly profile?: "pv" | "full";
  readonly memBytes?: number;
  readonly cpus?: number;
  /** Shell command run in the guest (paravm.exec); its status ends the VM. */
  readonly exec?: string;
  /** Extra kernel arguments after the defaults. */
  readonly append?: string;
  readonly disk?: { readonly backend: BlockBackend; readonly serial?: string; readonly rateLimiter?: RateLimiter };
  readonly net?: {
    readonly network: string;
    readonly mac?: Uint8Array;
    readonly txRateLimiter?: RateLimiter;
    readonly rxRateLimiter?: RateLimiter;
  };
  readonly maxInsns?: number;
}

export interface VmOutcome {
  readonly name: string;
  readonly result: PvResult | FullResult;
  /** PARAVM-EXIT-STATUS the guest printed (exec), or null. */
  readonly execStatus: number | null;
  /** 0 for success; see `vmExitStatus`. */
  readonly status: number;
  readonly address: string | null;
  readonly mac: string | null;
  readonly network: string | null;
  readonly setupMs: number;
}

export interface MultiOptions {
  readonly kernel: Uint8Array;
  readonly initrd?: Uint8Array;
  /** M-mode firmware for VMs with profile "full" (fw_jump.bin). */
  readonly firmware?: Uint8Array;
  readonly networks?: Networks;
  /** Subnet per network name (default MULTI_DEFAULTS.SUBNET for each). */
  readonly subnets?: Record<string, string>;
  /** Console output of VM `name`. */
  readonly output: (name: string, bytes: Uint8Array) => void;
}

export interface MultiResult {
  readonly vms: VmOutcome[];
  readonly networks: Networks;
  /** Port counters per network, per port (VM) name. */
  readonly ports: Record<string, Record<string, PortStats>>;
  /** The first non-zero VM status (in time: the VM that failed first, not those stopped after it), else 0. */
  readonly status: number;
}

const EXIT_LINE = /PARAVM-EXIT-STATUS=(\d+)/;

/** A VM's exit status: the exec status (1 if above 255), 1 for a failed stop, 124 for maxInsns, 130 if stopped. */
export function vmExitStatus(result: PvResult | FullResult, execStatus: number | null, hasExec: boolean): number {
  if (result.stop === "stopped") return 130;
  if (result.stop === "maxInsns") return 124;
  if (result.stop === "wfiDeadlock") return 1;
  if (hasExec) return execStatus === null || execStatus > 255 ? 1 : execStatus;
  return result.resetReason === 1 ? 1 : 0;
}

export class MultiRun {
  readonly networks: Networks;
  readonly machines: (PvMachine | FullMachine)[] = [];
  private readonly backends: SwitchBackend[] = [];
  private readonly info: { address: string | null; mac: string | null; network: string | null; setupMs: number; exec: () => number | null }[] =
    [];

  constructor(
    private readonly vms: readonly VmConfig[],
    opts: MultiOptions,
  ) {
    this.networks = opts.networks ?? new Networks();
    const subnets = new Map<string, Subnet>();
    const names = new Set<string>();
    try {
      for (const vm of vms) {
        const t0 = performance.now();
        if (names.has(vm.name)) throw new Error(`duplicate VM name "${vm.name}"`);
        names.add(vm.name);
        const full = vm.profile === "full";
        let bootargs = `${full ? FULL_DEFAULTS.BOOTARGS : PV_DEFAULTS.BOOTARGS} paravm.hostname=${vm.name}`;
        let net: ConstructorParameters<typeof PvMachine>[0]["net"];
        let address: string | null = null;
        let mac: Uint8Array | null = null;
        if (vm.net) {
          const netName = vm.net.network;
          let subnet = subnets.get(netName);
          if (!subnet) {
            subnet = new Subnet(opts.subnets?.[netName] ?? MULTI_DEFAULTS.SUBNET);
            subnets.set(netName, subnet);
          }
          address = subnet.assign(vm.name);
          bootargs += ` ${ipBootArg({ address, netmask: subnet.netmask, hostname: vm.name, device: "eth0" })}`;
          mac = vm.net.mac ?? macFromName(vm.name);
          const backend = new SwitchBackend(this.networks.get(netName), vm.name);
          this.backends.push(backend);
          net = {
            backend,
            mac,
            ...(vm.net.txRateLimiter ? { txRateLimiter: vm.net.txRateLimiter } : {}),
            ...(vm.net.rxRateLimiter ? { rxRateLimiter: vm.net.rxRateLimiter } : {}),
          };
        }
        if (vm.append) bootargs += ` ${vm.append}`;
        if (vm.exec !== undefined) bootargs += ` paravm.exec=${Buffer.from(vm.exec, "utf8").toString("base64")}`;
        let tail = "";
        let execStatus: number | null = null;
        const name = vm.name;
        const output = (bytes: Uint8Array): void => {
          opts.output(name, bytes);
          if (vm.exec !== undefined && execStatus === null) {
            tail = (tail + Buffer.from(bytes).toString("latin1")).slice(-256);
            const x = EXIT_LINE.exec(tail);
            if (x && /\r?\n/.test(tail.slice(x.index))) execStatus = Number(x[1]);
          }
        };
        const common = { kernel: opts.kernel, initrd: opts.initrd, bootargs, memBytes: vm.memBytes, cpus: vm.cpus, maxInsns: vm.maxInsns, output };
        let m: PvMachine | FullMachine;
        if (full) {
          if (!opts.firmware) throw new Error(`VM ${vm.name}: profile full needs the firmware (MultiOptions.firmware)`);
          m = new FullMachine({
            ...common,
            firmware: opts.firmware,
            ...(vm.disk ? { disk: { backend: vm.disk.backend, ...(vm.disk.serial !== undefined ? { serial: vm.disk.serial } : {}) } } : {}),
            ...(net ? { net: { backend: net.backend, mac: net.mac } } : {}),
          });
        } else {
          m = new PvMachine({ ...common, ...(vm.disk ? { disk: vm.disk } : {}), ...(net ? { net } : {}) });
        }
        this.machines.push(m);
        this.info.push({
          address,
          mac: mac ? formatMac(mac) : null,
          network: vm.net?.network ?? null,
          setupMs: performance.now() - t0,
          exec: () => execStatus,
        });
      }
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** Stop every VM (they end with stop "stopped"). */
  stop(): void {
    for (const m of this.machines) m.stop();
  }

  /** Run every VM to its end. */
  async run(): Promise<MultiResult> {
    const outcomes: (VmOutcome | null)[] = this.vms.map(() => null);
    let firstFailure: number | null = null;
    try {
      await Promise.all(
        this.machines.map(async (m, i) => {
          let result: PvResult | FullResult;
          try {
            result = await m.runAsync({ waitForInput: true });
          } catch (e) {
            this.stop();
            throw e;
          }
          const info = this.info[i]!;
          const vm = this.vms[i]!;
          const status = vmExitStatus(result, info.exec(), vm.exec !== undefined);
          outcomes[i] = {
            name: vm.name,
            result,
            execStatus: info.exec(),
            status,
            address: info.address,
            mac: info.mac,
            network: info.network,
            setupMs: info.setupMs,
          };
          if (status !== 0 && firstFailure === null) {
            firstFailure = status;
            this.stop();
          }
        }),
      );
    } finally {
      this.close();
    }
    const vms = outcomes as VmOutcome[];
    const ports: Record<string, Record<string, PortStats>> = {};
    for (let i = 0; i < this.vms.length; i++) {
      const n = this.info[i]!.network;
      if (n === null) continue;
      const b = this.backendOf(this.vms[i]!.name);
      if (!b) continue;
      (ports[n] ??= {})[this.vms[i]!.name] = structuredClone(b.port.stats);
    }
    return { vms, networks: this.networks, ports, status: firstFailure ?? 0 };
  }

  private backendOf(name: string): SwitchBackend | undefined {
    return this.backends.find((b) => b.port.name === name);
  }

  /** Unplug every port. */
  close(): void {
    for (const b of this.backends) b.close();
  }
}

/**
 * Console output of several VMs, line by line with a `[name] ` prefix: bytes are held
 * until a newline (or `flush`), so lines of different VMs never mix.
 */
export class LinePrefixer {
  private readonly partial = new Map<string, string>();

  constructor(private readonly write: (text: string) => void) {}

  push(name: string, bytes: Uint8Array): void {
    const text = (this.partial.get(name) ?? "") + Buffer.from(bytes).toString("utf8");
    const cut = text.lastIndexOf("\n");
    if (cut < 0) {
      this.partial.set(name, text);
      return;
    }
    this.partial.set(name, text.slice(cut + 1));
    let out = "";
    for (const line of text.slice(0, cut).split("\n")) out += `[${name}] ${line.replace(/\r$/, "")}\n`;
    this.write(out);
  }

  /** Write out what is left of unfinished lines. */
  flush(): void {
    for (const [name, rest] of this.partial) if (rest.length > 0) this.write(`[${name}] ${rest}\n`);
    this.partial.clear();
  }
}
