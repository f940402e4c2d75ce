/**
 * Which IPv4 address each of the daemon's VMs holds on each network, so that clones are
 * never handed an address another VM of the daemon already uses (docs/snapshots.md,
 * "Clones through the daemon").
 *
 * Two kinds of holder:
 *   - a clone holds the address the daemon gave it (its agent set it in the guest): a
 *     reservation in the book, made when the clone is made and released when its VM is
 *     forgotten (destroyed, or removed again by a failed batch);
 *   - any other VM with a NIC holds the address on its kernel command line (`ip=`, which
 *     the daemon's network plan or the saved guest put there): read from its machine, so
 *     it needs no bookkeeping and goes away with the VM.
 *
 * Addresses are compared per network: the daemon's networks are separate switches, so the
 * same address on two of them is two hosts that never meet. The prefix length is not part
 * of the identity (10.0.0.10/24 and 10.0.0.10/16 are one address).
 *
 * Nothing here knows the Vmm: the clones action (clones.ts) gives the VMs it sees.
 */
import { formatIpv4, parseIpv4 } from "../../devices/virtio/net/ip.js";

export const ADDRESSES = {
  /** Shortest and longest prefix a clone's address may have: as the networks' own subnets (ip.ts), so a /31 or /32 has no "hosts" to give out. */
  MIN_PREFIX: 8,
  MAX_PREFIX: 30,
} as const;

/** A bad address or range, in words for the API's 422. */
export class AddressError extends Error {
  override readonly name = "AddressError";
}

export interface Cidr {
  /** The address as a 32-bit unsigned number. */
  readonly ip: number;
  readonly prefix: number;
}

/** `a.b.c.d/p` with p in MIN_PREFIX..MAX_PREFIX, or an AddressError naming what is wrong. */
export function parseCidr(text: string): Cidr {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text.trim());
  if (!m) {
    if (/^[0-9.]+$/.test(text.trim())) throw new AddressError(`"${text}" has no prefix length: write it as ${text.trim()}/24 (or the subnet's own length)`);
    throw new AddressError(`"${text}" is not an IPv4 address with a prefix length, such as 10.0.0.10/24`);
  }
  let ip: number;
  try {
    ip = parseIpv4(m[1]!);
  } catch {
    throw new AddressError(`"${text}": ${m[1]} is not an IPv4 address`);
  }
  const prefix = Number(m[2]);
  if (prefix < ADDRESSES.MIN_PREFIX || prefix > ADDRESSES.MAX_PREFIX) {
    throw new AddressError(`"${text}": the prefix length is ${prefix}, outside ${ADDRESSES.MIN_PREFIX}..${ADDRESSES.MAX_PREFIX}`);
  }
  return { ip, prefix };
}

export const formatCidr = (c: Cidr): string => `${formatIpv4(c.ip)}/${c.prefix}`;

const maskOf = (prefix: number): number => (0xffff_ffff << (32 - prefix)) >>> 0;

/**
 * `n` consecutive addresses starting at `first` (10.0.0.10/24 → .10, .11, …), each with
 * `first`'s prefix, all of them host addresses of `first`'s subnet: a range that starts
 * on the network's own address, reaches its broadcast address or runs past the subnet is
 * refused with an AddressError that says which address does.
 */
export function addressRange(first: string, n: number): string[] {
  const c = parseCidr(first);
  const mask = maskOf(c.prefix);
  const network = (c.ip & mask) >>> 0;
  const broadcast = (network | ~mask) >>> 0;
  const subnet = `${formatIpv4(network)}/${c.prefix}`;
  const hosts = `${formatIpv4(network + 1)}..${formatIpv4(broadcast - 1)}`;
  if (c.ip === network) throw new AddressError(`${first} is the address of the network ${subnet} itself, not a host's (its hosts are ${hosts})`);
  const last = c.ip + n - 1;
  if (last === broadcast) {
    throw new AddressError(`${n} addresses from ${first} end on ${formatIpv4(broadcast)}, the broadcast address of ${subnet} (its hosts are ${hosts})`);
  }
  if (last > broadcast) {
    const room = broadcast - c.ip;
    throw new AddressError(`${n} addresses from ${first} run past the subnet ${subnet} (its hosts are ${hosts}; ${room} from ${formatIpv4(c.ip)} on)`);
  }
  return Array.from({ length: n }, (_, i) => formatCidr({ ip: c.ip + i, prefix: c.prefix }));
}

/**
 * The address a guest kernel configures from its command line (`ip=<client>:…:<netmask>:…`,
 * Documentation/admin-guide/nfs/nfsroot.rst), as a CIDR, or null when there is none.
 */
export function bootAddress(bootargs: string): string | null {
  const m = /(?:^|\s)ip=([0-9.]+):[^:\s]*:[^:\s]*:([0-9.]*)(?::|\s|$)/.exec(bootargs);
  if (!m) return null;
  try {
    const ip = parseIpv4(m[1]!);
    // A netmask is ones then zeros, and its ones are the prefix length; without one (or a
    // malformed one) the address is still held, and shown as a lone host.
    const mask = m[2] === "" ? null : parseIpv4(m[2]!);
    const prefix = mask === null ? null : prefixOfMask(mask);
    return `${formatIpv4(ip)}/${prefix ?? HOST_PREFIX}`;
  } catch {
    return null;
  }
}

/** A lone host's prefix length. */
const HOST_PREFIX = 32;

/** The prefix length of a contiguous netmask (255.255.255.0 → 24), or null for one that is not. */
function prefixOfMask(mask: number): number | null {
  for (let p = 0; p <= HOST_PREFIX; p++) if ((p === 0 ? 0 : maskOf(p)) === mask) return p;
  return null;
}

/** The address part of a CIDR as a number (whatever its prefix length). */
const ipOf = (cidr: string): number => parseIpv4(cidr.split("/")[0]!);

/** One address in use: by which VM, on which network, and how it got it. */
export interface Holding {
  readonly vm: string;
  readonly network: string;
  /** As the VM has it (with its prefix length). */
  readonly address: string;
  /** "clone": given by the daemon to a clone; "boot": on the VM's kernel command line. */
  readonly how: "clone" | "boot";
}

/** A VM as the book needs to see it: its name, the network its NIC is on, its kernel command line. */
export interface NetworkedVm {
  readonly name: string;
  readonly network: string | null;
  readonly bootargs: string;
}

/** The clones' reservations, by VM name. */
export class AddressBook {
  private readonly byVm = new Map<string, Holding>();

  /** `vm` holds `address` on `network` from now on (it must have been checked free: see holders()). */
  reserve(vm: string, network: string, address: string): void {
    parseCidr(address);
    this.byVm.set(vm, { vm, network, address, how: "clone" });
  }

  /** `vm`'s reservation is freed (nothing when it has none). */
  release(vm: string): void {
    this.byVm.delete(vm);
  }

  /** The reservation `vm` holds, if any. */
  of(vm: string): Holding | undefined {
    return this.byVm.get(vm);
  }

  /**
   * Every address in use among `vms` (the daemon's VMs): a VM's reservation when it has
   * one, else the address on its command line when its NIC is on a network.
   */
  holders(vms: readonly NetworkedVm[]): Holding[] {
    const out: Holding[] = [];
    for (const v of vms) {
      const r = this.byVm.get(v.name);
      if (r !== undefined) {
        out.push(r);
        continue;
      }
      if (v.network === null) continue;
      const a = bootAddress(v.bootargs);
      if (a !== null) out.push({ vm: v.name, network: v.network, address: a, how: "boot" });
    }
    return out;
  }
}

/**
 * Which of `wanted` (CIDRs, on `network`) are held by one of `holders`: one sentence per
 * address taken, naming its holder. Empty when all are free.
 */
export function takenAddresses(wanted: readonly string[], network: string, holders: readonly Holding[]): string[] {
  const byIp = new Map<number, Holding>();
  for (const h of holders) if (h.network === network) byIp.set(ipOf(h.address), h);
  const out: string[] = [];
  for (const w of wanted) {
    const h = byIp.get(ipOf(w));
    if (h !== undefined) {
      const why = h.how === "clone" ? "given to it as a clone" : "on its kernel command line";
      out.push(`${formatIpv4(ipOf(w))} is held by VM ${h.vm} on network ${network} (${why})`);
    }
  }
  return out;
}
