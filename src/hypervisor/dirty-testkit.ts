/**
 * For tests of dirty-page logging on running VMs (vm-dirty-log.test.ts): a collector that
 * keeps a shadow copy of guest RAM the way live migration's pre-copy does — start the log,
 * flush, copy everything; then rounds of take, flush, copy the pages taken — and a network
 * peer on the VM's switch that answers ARP and ping, so frames come into the guest.
 */
import { fold, onesSum, put16 } from "../devices/e1000/packet.js";
import type { SwitchPort, VirtualSwitch } from "../net/switch.js";
import { DIRTY_LOG, type DirtyLog } from "../mem/dirty-log.js";
import { PAGE_SIZE } from "../mem/ram.js";
import type { Vm } from "./vm.js";

const ACK_TIMEOUT_MS = 10_000;
const RAM_BASE = 0x8000_0000;

export class Shadow {
  readonly ram: Uint8Array;
  readonly copy: Uint8Array;
  readonly log: DirtyLog;
  /** The round each page was last copied in (0: the full copy at start), per page. */
  readonly copiedIn: Int32Array;
  /** Pages taken per round (round 1 first). */
  readonly taken: number[] = [];
  private readonly into: Uint32Array;
  private rounds = 0;

  constructor(private readonly vm: Vm) {
    const sab = vm.guestRam();
    const log = vm.dirtyLog();
    if (sab === null || log === null) throw new Error(`VM ${vm.name} has not started`);
    this.ram = new Uint8Array(sab);
    this.copy = new Uint8Array(sab.byteLength);
    this.log = log;
    this.copiedIn = new Int32Array(log.pages);
    this.into = new Uint32Array(log.pages);
  }

  /** Start logging; once every vCPU has dropped the store entries it held, copy all of RAM. */
  async start(): Promise<void> {
    this.log.start();
    await this.flush();
    this.copy.set(this.ram);
  }

  /** One pre-copy round while the guest runs: take, flush, copy what was taken. Returns the pages copied. */
  async round(): Promise<number> {
    const n = this.log.take(this.into);
    await this.flush();
    return this.copyTaken(n);
  }

  /** The stop-and-copy: the VM is paused, so nothing writes any more; take and copy the rest. */
  finish(): number {
    return this.copyTaken(this.log.take(this.into));
  }

  private copyTaken(n: number): number {
    const r = ++this.rounds;
    for (let i = 0; i < n; i++) {
      const at = this.into[i]! * PAGE_SIZE;
      this.copy.set(this.ram.subarray(at, at + PAGE_SIZE), at);
      this.copiedIn[this.into[i]!] = r;
    }
    this.taken.push(n);
    return n;
  }

  /** Ask every vCPU to flush and wait until all have acknowledged (polling: the main thread must not block). */
  private async flush(): Promise<void> {
    const cpus = this.vm.spec.cpus;
    const n = this.vm.requestDirtyFlush();
    const t0 = performance.now();
    while (!this.log.flushedAll(n, cpus)) {
      if (performance.now() - t0 > ACK_TIMEOUT_MS) {
        const acks = Array.from({ length: cpus }, (_, k) => Atomics.load(this.log.words, DIRTY_LOG.ACK_BASE + k));
        throw new Error(`flush ${n} not acknowledged within ${ACK_TIMEOUT_MS} ms: acknowledgements ${acks.join(", ")}; ${this.vm.where().join("\n")}`);
      }
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  /** Null when the shadow equals RAM byte for byte; else the first page that differs, and what may have written it. */
  difference(): string | null {
    const pages = this.log.pages;
    let bad = 0;
    let first = -1;
    for (let p = 0; p < pages; p++) {
      const at = p * PAGE_SIZE;
      if (Buffer.compare(this.copy.subarray(at, at + PAGE_SIZE), this.ram.subarray(at, at + PAGE_SIZE)) === 0) continue;
      bad++;
      if (first < 0) first = p;
    }
    if (first < 0) return null;
    const at = first * PAGE_SIZE;
    let off = 0;
    let bytes = 0;
    for (let i = PAGE_SIZE - 1; i >= 0; i--) {
      if (this.copy[at + i] !== this.ram[at + i]) {
        bytes++;
        off = i;
      }
    }
    const r = this.copiedIn[first]!;
    const why =
      r === 0
        ? "never logged after the full copy: a writer that does not mark its page (device DMA, an SBI or host write), or a store through a store TLB entry that no flush took away"
        : `last logged and copied in round ${r}, written again without a new mark: a store through a live store entry that survived a flush, or a write by a thread after its last acknowledgement`;
    return `${bad} pages differ; the first is page ${first} (guest-physical 0x${(RAM_BASE + at).toString(16)}): ${bytes} bytes from offset 0x${off.toString(16)} (shadow 0x${this.copy[at + off]!.toString(16)}, RAM 0x${this.ram[at + off]!.toString(16)}); ${why}`;
  }
}

const ETHERTYPE = { ARP: 0x0806, IPV4: 0x0800 } as const;
const ICMP = { PROTO: 1, ECHO_REPLY: 0, ECHO_REQUEST: 8 } as const;
const ARP_REPLY = 2;
/** Shortest Ethernet frame without its FCS. */
const MIN_FRAME = 60;

/** A host on the switch at `ip` that answers ARP requests and pings (IPv4, no options needed). */
export class PingPeer {
  readonly port: SwitchPort;
  answered = 0;
  /** While false, frames are ignored (nothing more comes into the guest). */
  on = true;

  constructor(
    sw: VirtualSwitch,
    readonly ip: readonly number[] = [10, 0, 2, 1],
    readonly mac: readonly number[] = [0x02, 0, 0, 0, 0, 0xfe],
  ) {
    this.port = sw.attach({ deliver: (f) => this.deliver(f) }, "ping-peer");
  }

  private deliver(f: Uint8Array): boolean {
    if (!this.on) return true;
    // Answered after the switch's delivery returns, not inside it.
    const copy = f.slice();
    setImmediate(() => this.answer(copy));
    return true;
  }

  private toMe(f: Uint8Array, at: number): boolean {
    return this.ip.every((b, i) => f[at + i] === b);
  }

  private answer(f: Uint8Array): void {
    if (!this.on || f.length < 42) return;
    const type = (f[12]! << 8) | f[13]!;
    if (type === ETHERTYPE.ARP && f[21] === 1 && this.toMe(f, 38)) {
      const r = new Uint8Array(MIN_FRAME);
      r.set(f.subarray(6, 12), 0);
      r.set(this.mac, 6);
      r.set(f.subarray(12, 20), 12); // EtherType, htype, ptype, hlen, plen
      r[21] = ARP_REPLY;
      r.set(this.mac, 22);
      r.set(this.ip, 28);
      r.set(f.subarray(22, 32), 32); // the asker's MAC and address
      this.port.send(r);
      return;
    }
    if (type !== ETHERTYPE.IPV4 || f[23] !== ICMP.PROTO || !this.toMe(f, 30)) return;
    const icmp = 14 + (f[14]! & 0xf) * 4;
    const end = 14 + ((f[16]! << 8) | f[17]!);
    if (f[icmp] !== ICMP.ECHO_REQUEST || end > f.length) return;
    const r = f.slice(0, Math.max(end, MIN_FRAME));
    r.set(f.subarray(6, 12), 0);
    r.set(this.mac, 6);
    // Addresses swapped: the IP header checksum covers the same words.
    r.set(f.subarray(30, 34), 26);
    r.set(f.subarray(26, 30), 30);
    r[icmp] = ICMP.ECHO_REPLY;
    put16(r, icmp + 2, 0);
    put16(r, icmp + 2, ~fold(onesSum(r, icmp, end)) & 0xffff);
    this.answered++;
    this.port.send(r);
  }
}
