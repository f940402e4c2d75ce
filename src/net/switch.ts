/**
 * A learning L2 (Ethernet) switch inside the hypervisor, and a registry of named networks
 * that VMs join (`--net name`).
 *
 * A port is anything that can take a frame (`SwitchPortHandler.deliver`); a VM's virtio-net
 * device plugs in through `SwitchBackend` (src/devices/virtio/net/switch-backend.ts).
 *
 * Forwarding (IEEE 802.1D, without spanning tree): each frame entering a port is
 *   1. copied once (the switch never keeps references to the sender's buffer, which may be
 *      guest RAM that another hart keeps writing) and validated on the copy: 14..1514
 *      bytes, 1518 with an 802.1Q tag; a source MAC that is not multicast/broadcast; a
 *      whole GSO packet (a `FrameOffload`: one TCP packet of up to 64 KiB from a pv guest's
 *      TSO, offload.ts) only when its headers check out again on the copy;
 *   2. optionally rate limited (per-port ingress limiter): over the limit, dropped;
 *   3. learned: source MAC → ingress port;
 *   4. forwarded: unicast to the learned port, unknown unicast and broadcast/multicast
 *      flooded to every other port; never back to the ingress port (no hairpin).
 * The same copy is delivered to every destination: receivers must treat it as read-only.
 * A GSO packet goes whole to every receiver; a receiver that cannot take one cuts it
 * (virtio-net without GUEST_TSO4, e1000). It counts as one frame of its full length.
 *
 * Counters are from the switch's side: `rx*` = frames the switch received from the port
 * (what the VM sent), `tx*` = frames the switch delivered to it. Drops are charged to the
 * port where they happen: malformed and rate-limited at ingress, no-buffer at egress
 * (the port's `deliver` returned false).
 *
 * The MAC table ages entries out (default 300 s, 802.1D's default) and holds at most
 * `maxMacs` entries; when full, expired entries go first, then the oldest learned one.
 */
import { type Clock, monotonicClock, type RateLimiter } from "../devices/rate-limiter.js";
import { checkGsoTcp4, TCP_CSUM_OFFSET, type FrameOffload } from "../devices/virtio/net/offload.js";

export const ETH = {
  HEADER: 14,
  /** Largest untagged frame without FCS (1500-byte MTU). */
  MAX_FRAME: 1514,
  VLAN_TAG: 4,
  TPID_8021Q: 0x8100,
  /** Largest whole GSO packet: 64 KiB of IP packet plus Ethernet and VLAN headers. */
  MAX_GSO_FRAME: 0x1_0000 + 14 + 4,
} as const;

export interface SwitchPortHandler {
  /** Take a frame (read-only, owned by the switch; `gso`: a whole TCP packet); false when it had to be dropped (no rx buffer). */
  deliver(frame: Uint8Array, gso: FrameOffload | null): boolean;
}

export interface PortDrops {
  malformed: number;
  noBuffer: number;
  rateLimited: number;
}

export interface PortStats {
  rxFrames: number;
  rxBytes: number;
  txFrames: number;
  txBytes: number;
  drops: PortDrops;
}

export const newPortStats = (): PortStats => ({
  rxFrames: 0,
  rxBytes: 0,
  txFrames: 0,
  txBytes: 0,
  drops: { malformed: 0, noBuffer: 0, rateLimited: 0 },
});

export interface AttachOptions {
  /** Ingress limiter: frames the port sends beyond it are dropped (counted rate-limited). */
  readonly rateLimiter?: RateLimiter;
}

export class SwitchPort {
  readonly stats: PortStats = newPortStats();
  private attached = true;

  /** @internal — made by VirtualSwitch.attach. */
  constructor(
    private readonly sw: VirtualSwitch,
    readonly name: string,
    readonly handler: SwitchPortHandler,
    readonly rateLimiter: RateLimiter | null,
  ) {}

  get isAttached(): boolean {
    return this.attached;
  }

  /**
   * Send a frame into the switch. `frame` is only read during the call (it may be a view
   * of guest RAM). Returns whether the frame was accepted (valid and not rate limited).
   */
  send(frame: Uint8Array, gso: FrameOffload | null = null): boolean {
    if (!this.attached) return false;
    return this.sw.ingress(this, frame, gso);
  }

  /** Leave the switch: the port's MAC entries are forgotten; later sends are refused. */
  detach(): void {
    if (!this.attached) return;
    this.attached = false;
    this.sw.remove(this);
  }
}

export interface SwitchOptions {
  /** MAC table entry lifetime in ms (default 300 000). */
  readonly agingMs?: number;
  /** Most MAC table entries (default 4096). */
  readonly maxMacs?: number;
  /** Milliseconds, monotonic (default performance.now). */
  readonly clock?: Clock;
}

interface MacEntry {
  port: SwitchPort;
  seen: number;
}

/** A MAC address's 48 bits as a number (exact in a double). */
const macKey = (b: Uint8Array, off: number): number =>
  b[off]! * 0x100_0000_0000 + b[off + 1]! * 0x1_0000_0000 + ((b[off + 2]! << 24) >>> 0) + (b[off + 3]! << 16) + (b[off + 4]! << 8) + b[off + 5]!;

/** Why a frame (with `gso`, a whole TCP packet) is not acceptable, or null. */
export function checkFrame(f: Uint8Array, gso: FrameOffload | null = null): string | null {
  if (f.length < ETH.HEADER) return `runt frame of ${f.length} bytes`;
  const tagged = ((f[12]! << 8) | f[13]!) === ETH.TPID_8021Q;
  const max = gso !== null ? ETH.MAX_GSO_FRAME : ETH.MAX_FRAME + (tagged ? ETH.VLAN_TAG : 0);
  if (f.length > max) return `frame of ${f.length} bytes (max ${max})`;
  if ((f[6]! & 1) !== 0) return "multicast source MAC";
  if (gso !== null) {
    const again = checkGsoTcp4(f, f.length, gso.mss, gso.l4Start, TCP_CSUM_OFFSET);
    if (again === null || again.hdrLen !== gso.hdrLen) return "GSO packet whose headers do not match its offload";
  }
  return null;
}

export class VirtualSwitch {
  readonly agingMs: number;
  readonly maxMacs: number;
  private readonly clock: Clock;
  private readonly ports: SwitchPort[] = [];
  private readonly macs = new Map<number, MacEntry>();
  /** Frames flooded (unknown unicast, broadcast, multicast) and forwarded to one port. */
  readonly stats = { flooded: 0, forwarded: 0, learned: 0, aged: 0, evicted: 0 };

  constructor(
    readonly name: string,
    opts: SwitchOptions = {},
  ) {
    this.agingMs = opts.agingMs ?? 300_000;
    this.maxMacs = opts.maxMacs ?? 4096;
    this.clock = opts.clock ?? monotonicClock;
    if (!(this.maxMacs >= 1)) throw new RangeError(`maxMacs ${this.maxMacs}`);
  }

  attach(handler: SwitchPortHandler, name: string, opts: AttachOptions = {}): SwitchPort {
    const p = new SwitchPort(this, name, handler, opts.rateLimiter ?? null);
    this.ports.push(p);
    return p;
  }

  /** Ports attached now. */
  get portList(): readonly SwitchPort[] {
    return this.ports;
  }

  /** The port the 6-byte `mac` was learned on, if its entry is live. */
  lookup(mac: Uint8Array): SwitchPort | null {
    return this.find(macKey(mac, 0), this.clock());
  }

  /** Live MAC table entries. */
  get macCount(): number {
    return this.macs.size;
  }

  /** @internal */
  ingress(from: SwitchPort, src: Uint8Array, gso: FrameOffload | null = null): boolean {
    const st = from.stats;
    // Copy first, validate the copy: the sender's buffer may change under us.
    const frame = src.slice();
    if (checkFrame(frame, gso) !== null) {
      st.drops.malformed++;
      return false;
    }
    if (from.rateLimiter && !from.rateLimiter.consume(1, frame.length)) {
      st.drops.rateLimited++;
      return false;
    }
    st.rxFrames++;
    st.rxBytes += frame.length;
    const now = this.clock();
    this.learn(macKey(frame, 6), from, now);
    if ((frame[0]! & 1) === 0) {
      const to = this.find(macKey(frame, 0), now);
      if (to) {
        // A destination learned on the ingress port stays there (no hairpin): filtered.
        if (to !== from) {
          this.stats.forwarded++;
          this.deliverTo(to, frame, gso);
        }
        return true;
      }
    }
    this.stats.flooded++;
    // Snapshot: a handler may attach or detach ports while we deliver.
    for (const p of this.ports.slice()) if (p !== from && p.isAttached) this.deliverTo(p, frame, gso);
    return true;
  }

  /** @internal */
  remove(port: SwitchPort): void {
    const i = this.ports.indexOf(port);
    if (i >= 0) this.ports.splice(i, 1);
    for (const [k, e] of this.macs) if (e.port === port) this.macs.delete(k);
  }

  /** Forget every learned MAC. */
  flush(): void {
    this.macs.clear();
  }

  private deliverTo(p: SwitchPort, frame: Uint8Array, gso: FrameOffload | null): void {
    let ok: boolean;
    try {
      ok = p.handler.deliver(frame, gso);
    } catch {
      ok = false;
    }
    if (ok) {
      p.stats.txFrames++;
      p.stats.txBytes += frame.length;
    } else {
      p.stats.drops.noBuffer++;
    }
  }

  private find(key: number, now: number): SwitchPort | null {
    const e = this.macs.get(key);
    if (!e) return null;
    if (now - e.seen > this.agingMs) {
      this.macs.delete(key);
      this.stats.aged++;
      return null;
    }
    return e.port;
  }

  private learn(key: number, port: SwitchPort, now: number): void {
    const e = this.macs.get(key);
    if (e) {
      e.port = port;
      e.seen = now;
      return;
    }
    if (this.macs.size >= this.maxMacs) {
      for (const [k, old] of this.macs) {
        if (now - old.seen > this.agingMs) {
          this.macs.delete(k);
          this.stats.aged++;
        }
      }
      if (this.macs.size >= this.maxMacs) {
        // Map iteration is insertion order: the first key is the oldest learned.
        const oldest = this.macs.keys().next().value as number;
        this.macs.delete(oldest);
        this.stats.evicted++;
      }
    }
    this.macs.set(key, { port, seen: now });
    this.stats.learned++;
  }
}

/** Named networks: VMs naming the same network share one switch. */
export class Networks {
  private readonly switches = new Map<string, VirtualSwitch>();

  constructor(private readonly opts: SwitchOptions = {}) {}

  /** The switch called `name`, made on first use. */
  get(name: string): VirtualSwitch {
    let sw = this.switches.get(name);
    if (!sw) {
      sw = new VirtualSwitch(name, this.opts);
      this.switches.set(name, sw);
    }
    return sw;
  }

  has(name: string): boolean {
    return this.switches.has(name);
  }

  names(): string[] {
    return [...this.switches.keys()];
  }

  /** Drop a network (its ports stay usable but are on a switch nobody can join). */
  delete(name: string): boolean {
    return this.switches.delete(name);
  }
}
