/**
 * Guest addressing without DHCP: each network has an IPv4 subnet; a VM gets a stable host
 * address from it (by name, in order of first request), passed to the guest kernel as
 * `ip=` (Documentation/admin-guide/nfs/nfsroot.rst; needs CONFIG_IP_PNP, which
 * guests/kernel.config sets).
 */

export class Subnet {
  readonly network: number;
  readonly prefixLen: number;
  private readonly byName = new Map<string, number>();
  /** Host numbers held by someone, whether assigned here or claimed (claim). */
  private readonly taken = new Set<number>();
  private next: number;

  /** `cidr` like "10.77.0.0/24" (prefix 8..30); host addresses start at .2 (.1 stays free for a host side). */
  constructor(cidr: string) {
    const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(cidr.trim());
    const prefix = m ? Number(m[2]) : NaN;
    if (!m || !(prefix >= 8 && prefix <= 30)) throw new Error(`bad subnet "${cidr}" (want a.b.c.d/8..30)`);
    const mask = prefixMask(prefix);
    this.network = (parseIpv4(m[1]!) & mask) >>> 0;
    this.prefixLen = prefix;
    this.next = 2;
  }

  get netmask(): string {
    return formatIpv4(prefixMask(this.prefixLen));
  }

  /** The address of `name` (the same on every call), or an error when the subnet is full. */
  assign(name: string): string {
    let host = this.byName.get(name);
    if (host === undefined) {
      const broadcast = 2 ** (32 - this.prefixLen) - 1;
      while (this.taken.has(this.next)) this.next++;
      if (this.next >= broadcast) throw new Error(`subnet ${formatIpv4(this.network)}/${this.prefixLen} is full`);
      host = this.next++;
      this.byName.set(name, host);
      this.taken.add(host);
    }
    return formatIpv4((this.network + host) >>> 0);
  }

  /**
   * `name` holds `address`, given elsewhere (a VM migrated in from a daemon that numbers the
   * same network on its own, a clone given an address): assign() hands it to no one else.
   * An address outside this subnet is not ours to hold and is ignored.
   */
  claim(name: string, address: string): void {
    const ip = parseIpv4(address.split("/")[0]!);
    const host = (ip - this.network) >>> 0;
    if (host >= 2 ** (32 - this.prefixLen)) return;
    this.byName.set(name, host);
    this.taken.add(host);
  }
}

/** `ip=<client>::<gateway>:<netmask>:<hostname>:<device>:off` (no server, no autoconfiguration). */
export function ipBootArg(o: { address: string; netmask: string; hostname?: string; device?: string; gateway?: string }): string {
  parseIpv4(o.address);
  parseIpv4(o.netmask);
  if (o.gateway) parseIpv4(o.gateway);
  const host = (o.hostname ?? "").replace(/[^A-Za-z0-9-]/g, "-").slice(0, 63);
  return `ip=${o.address}::${o.gateway ?? ""}:${o.netmask}:${host}:${o.device ?? "eth0"}:off`;
}

export function parseIpv4(s: string): number {
  const parts = s.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) {
    throw new Error(`bad IPv4 address "${s}"`);
  }
  return parts.reduce((a, p) => a * 256 + Number(p), 0);
}

export function formatIpv4(v: number): string {
  return [24, 16, 8, 0].map((s) => (v >>> s) & 0xff).join(".");
}

const prefixMask = (p: number): number => (p === 0 ? 0 : (0xffff_ffff << (32 - p)) >>> 0);
