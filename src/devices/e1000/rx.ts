/**
 * The 82540's receive path: address filtering, the packet buffer, and DMA into the
 * legacy receive descriptor ring (8254x SDM §3.2):
 *
 *     addr[8] | length[2] | packet checksum[2] | status | errors | special[2]
 *
 * A frame from the backend (no FCS) is filtered as the MAC would: unicast against the
 * 16 receive-address registers (RAL/RAH with AV), multicast against them and the
 * 4096-bit multicast table (hash bits picked by RCTL.MO), broadcast by RCTL.BAM, all
 * unicast/multicast with RCTL.UPE/MPE, then by the VLAN filter table if RCTL.VFE. A frame
 * that does not pass was not for us: it is counted, not "dropped" (the callback says true).
 *
 * Then it is written as the chip would hand it over: with CTRL.VME an 802.1Q tag is
 * stripped into the descriptor's special field (status VP); frames under 60 bytes are
 * padded (the wire never carries them shorter); unless RCTL.SECRC the 4-byte FCS is
 * appended, because Linux's e1000 always subtracts it. A frame longer than the buffer
 * size (RCTL.BSIZE/BSEX) spans several descriptors, EOP on the last; one longer than
 * 1518 bytes (1522 tagged) with its FCS is refused unless RCTL.LPE (ROC), as Linux's
 * buffers are only that big. With RXCSUM.IPOFL and TUOFL the IPv4 header checksum and
 * the TCP/UDP checksum (over IPv4, or IPv6 without extension headers) are verified
 * (IPCS/TCPCS, errors IPE/TCPE); with neither, status carries IXSM. The packet-checksum
 * field is written 0 (Linux's e1000 does not read it).
 *
 * When the ring has no free descriptor (RDH == RDT) the frame waits in the packet buffer
 * (rxFifoBytes, 48 KiB by default as on the chip, counted in RNBC) until the driver moves
 * RDT; when that is full too the frame is missed: MPC, ICR.RXO, and the callback returns
 * false. RXT0 is raised for every frame at once (RDTR/RADV delays are not modelled), and
 * RXDMT0 when the free descriptors fall to the RCTL.RDMTS threshold.
 *
 * Hostile guest: an index beyond the ring makes it unusable until the guest writes a
 * valid one (frames wait or are missed); a ring not wholly in RAM loses the frame; a
 * buffer outside RAM gets no data and its descriptor reports RXE, which Linux drops.
 * All of these are counted.
 */
import type { GuestRam } from "../../mem/ram.js";
import { isBroadcast } from "../virtio/net/mac.js";
import type { E1000Stats } from "./device.js";
import { be16, checkRx, crc32, type RxChecksum } from "./packet.js";
import { CTRL, ETH, ICR, RAH, RCTL, REG, RING, RXCSUM, RXD, STAT, TABLE } from "./regs.js";

/** What the receive engine needs of the device. */
export interface RxHost {
  readonly ram: GuestRam;
  /** BAR0 registers, indexed by offset / 4. */
  readonly regs: Uint32Array;
  readonly stats: Pick<
    E1000Stats,
    | "rxFrames"
    | "rxBytes"
    | "rxMissed"
    | "rxQueued"
    | "rxFiltered"
    | "rxOversize"
    | "rxMalformed"
    | "rxDroppedDisabled"
    | "dmaErrors"
    | "ringErrors"
  >;
  dmaAllowed(): boolean;
  linkUp(): boolean;
  raise(cause: number): void;
  count(statReg: number, n?: number): void;
  /** Count a frame delivered to the driver in the good-frame statistics. */
  countFrame(rx: true, frame: Uint8Array, wire: number): void;
}

/** The chip's receive packet buffer (PBA reset value: 48 KB). */
export const RX_FIFO_DEFAULT = 48 * 1024;

/** Outcomes of putting a frame in the ring. */
const PLACED = { OK: 0, NO_DESCRIPTOR: 1, LOST: 2 } as const;
type Placed = (typeof PLACED)[keyof typeof PLACED];

/** Multicast hash: bits of destination bytes 4 and 5 by RCTL.MO (e1000_hash_mc_addr's table). */
const MO_SHIFT4 = [4, 3, 2, 0] as const;
const MO_SHIFT5 = [4, 5, 6, 8] as const;

/** Buffer sizes by RCTL.BSIZE, without and with RCTL.BSEX (BSEX with BSIZE 0 is reserved: 2048). */
const BSIZE = [2048, 1024, 512, 256] as const;
const BSIZE_EX = [2048, 16384, 8192, 4096] as const;

export class RxEngine {
  private readonly dv: DataView;
  /** The frame as it lands in memory: tag stripped, padded, FCS appended. */
  private readonly buf = new Uint8Array(ETH.MAX_JUMBO + ETH.FCS);
  private readonly sums: RxChecksum = { ipChecked: false, ipBad: false, l4Checked: false, l4Bad: false };
  private readonly fifo: Uint8Array[] = [];
  private fifoBytes = 0;
  /** checksums()' answer, kept in fields so the per-frame path allocates nothing. */
  private csumStatus = 0;
  private csumErrors = 0;

  constructor(
    private readonly host: RxHost,
    private readonly fifoLimit: number,
  ) {
    this.dv = new DataView(host.ram.sab);
  }

  /** Frames waiting in the packet buffer. */
  get pending(): number {
    return this.fifo.length;
  }

  /** Empty the packet buffer (device reset). */
  reset(): void {
    this.fifo.length = 0;
    this.fifoBytes = 0;
  }

  /** A frame from the wire; false when it was lost (receiver off, too long, no room). */
  receive(frame: Uint8Array): boolean {
    const h = this.host;
    const s = h.stats;
    if (!(h.regs[REG.RCTL >> 2]! & RCTL.EN) || !h.linkUp()) {
      s.rxDroppedDisabled++;
      return false;
    }
    if (frame.length < ETH.HEADER) {
      s.rxMalformed++;
      h.count(STAT.RUC);
      return false;
    }
    if (!this.accepts(frame)) {
      s.rxFiltered++;
      return true;
    }
    const vet = h.regs[REG.VET >> 2]! & 0xffff;
    const tagged = be16(frame, 12) === vet;
    const max = h.regs[REG.RCTL >> 2]! & RCTL.LPE ? ETH.MAX_JUMBO : ETH.MAX_NORMAL - (tagged ? 0 : ETH.VLAN_TAG);
    if (frame.length + ETH.FCS > max) {
      s.rxOversize++;
      h.count(STAT.ROC);
      return false;
    }
    if (this.fifo.length === 0) {
      const r = this.place(frame);
      if (r !== PLACED.NO_DESCRIPTOR) return r === PLACED.OK;
      h.count(STAT.RNBC);
    }
    if (this.fifoBytes + frame.length > this.fifoLimit) {
      s.rxMissed++;
      h.count(STAT.MPC);
      h.raise(ICR.RXO);
      return false;
    }
    this.fifo.push(frame);
    this.fifoBytes += frame.length;
    s.rxQueued++;
    return true;
  }

  /** Move waiting frames into descriptors the driver has just given (RDT write, receiver enabled). */
  drain(): void {
    const h = this.host;
    if (!(h.regs[REG.RCTL >> 2]! & RCTL.EN) || !h.linkUp()) return;
    while (this.fifo.length > 0) {
      const f = this.fifo[0]!;
      if (this.place(f) === PLACED.NO_DESCRIPTOR) break;
      this.fifo.shift();
      this.fifoBytes -= f.length;
    }
  }

  save(): string[] {
    return this.fifo.map((f) => Buffer.from(f).toString("base64"));
  }

  load(s: unknown): void {
    this.reset();
    if (!Array.isArray(s)) return;
    for (const e of s) {
      if (typeof e !== "string") continue;
      const f = new Uint8Array(Buffer.from(e, "base64"));
      if (f.length < ETH.HEADER || f.length > ETH.MAX_JUMBO || this.fifoBytes + f.length > this.fifoLimit) continue;
      this.fifo.push(f);
      this.fifoBytes += f.length;
    }
  }

  private accepts(f: Uint8Array): boolean {
    const r = this.host.regs;
    const rctl = r[REG.RCTL >> 2]!;
    let ok: boolean;
    if (f[0]! & 1) {
      const broadcastOk = isBroadcast(f) && (rctl & RCTL.BAM) !== 0;
      ok = (rctl & RCTL.MPE) !== 0 || broadcastOk || this.exact(f) || this.hashed(f, rctl);
    } else {
      ok = (rctl & RCTL.UPE) !== 0 || this.exact(f);
    }
    if (!ok || !(rctl & RCTL.VFE) || f.length < ETH.HEADER + ETH.VLAN_TAG) return ok;
    if (be16(f, 12) !== (r[REG.VET >> 2]! & 0xffff)) return true;
    const vid = be16(f, 14) & 0xfff;
    return ((r[(REG.VFTA >> 2) + (vid >> 5)]! >>> (vid & 31)) & 1) === 1;
  }

  /** Destination matches a valid receive-address entry (AS = 00: destination address). */
  private exact(f: Uint8Array): boolean {
    const r = this.host.regs;
    const lo = (f[0]! | (f[1]! << 8) | (f[2]! << 16) | (f[3]! << 24)) >>> 0;
    const hi = f[4]! | (f[5]! << 8);
    for (let i = REG.RA >> 2, end = i + TABLE.RA; i < end; i += 2) {
      const rah = r[i + 1]!;
      if (rah & RAH.AV && !(rah & RAH.AS_MASK) && r[i] === lo && (rah & 0xffff) === hi) return true;
    }
    return false;
  }

  /** The multicast table bit for the destination (12 hash bits chosen by RCTL.MO). */
  private hashed(f: Uint8Array, rctl: number): boolean {
    const mo = (rctl >>> RCTL.MO_SHIFT) & 3;
    const hash = ((f[4]! >> MO_SHIFT4[mo]!) | (f[5]! << MO_SHIFT5[mo]!)) & 0xfff;
    return ((this.host.regs[(REG.MTA >> 2) + (hash >> 5)]! >>> (hash & 31)) & 1) === 1;
  }

  private place(frame: Uint8Array): Placed {
    const h = this.host;
    const r = h.regs;
    const ram = h.ram;
    const ringLen = r[REG.RDLEN >> 2]! & RING.LEN_MASK;
    const count = ringLen / RXD.SIZE;
    let head = r[REG.RDH >> 2]!;
    const tail = r[REG.RDT >> 2]!;
    if (count === 0 || head >= count || tail >= count) {
      h.stats.ringErrors++;
      return PLACED.NO_DESCRIPTOR;
    }
    if (head === tail) return PLACED.NO_DESCRIPTOR;
    const base = r[REG.RDBAH >> 2]! * 0x1_0000_0000 + ((r[REG.RDBAL >> 2]! & RING.BASE_LOW_MASK) >>> 0);
    if (!ram.contains(base, ringLen) || !h.dmaAllowed()) {
      h.stats.dmaErrors++;
      return PLACED.LOST;
    }
    const rctl = r[REG.RCTL >> 2]!;
    const vet = r[REG.VET >> 2]! & 0xffff;
    const buf = this.buf;
    let n = frame.length;
    let vlan = -1;
    if (r[REG.CTRL >> 2]! & CTRL.VME && n >= ETH.HEADER + ETH.VLAN_TAG && be16(frame, 12) === vet) {
      vlan = be16(frame, 14);
      buf.set(frame.subarray(0, 12), 0);
      buf.set(frame.subarray(16), 12);
      n -= ETH.VLAN_TAG;
    } else {
      buf.set(frame, 0);
    }
    if (n < ETH.MIN_FRAME) {
      buf.fill(0, n, ETH.MIN_FRAME);
      n = ETH.MIN_FRAME;
    }
    const wire = n + ETH.FCS;
    if (!(rctl & RCTL.SECRC)) {
      const fcs = crc32(buf, 0, n);
      buf[n] = fcs & 0xff;
      buf[n + 1] = (fcs >>> 8) & 0xff;
      buf[n + 2] = (fcs >>> 16) & 0xff;
      buf[n + 3] = fcs >>> 24;
      n += ETH.FCS;
    }
    const bsize = (rctl & RCTL.BSEX ? BSIZE_EX : BSIZE)[(rctl >>> RCTL.BSIZE_SHIFT) & 3]!;
    const free = (tail - head + count) % count;
    if (free < Math.ceil(n / bsize)) return PLACED.NO_DESCRIPTOR;

    this.checksums(buf, wire - ETH.FCS, vet, r[REG.RXCSUM >> 2]!);
    const dv = this.dv;
    const u8 = ram.u8;
    for (let done = 0; done < n; ) {
      const d = base - ram.base + head * RXD.SIZE;
      const addr = dv.getUint32(d, true) + dv.getUint32(d + 4, true) * 0x1_0000_0000;
      const chunk = Math.min(bsize, n - done);
      let errors = 0;
      if (ram.contains(addr, chunk)) {
        u8.set(buf.subarray(done, done + chunk), addr - ram.base);
        ram.markDirty(addr - ram.base, chunk);
      } else {
        h.stats.dmaErrors++;
        errors = RXD.ERR_RXE;
      }
      done += chunk;
      const last = done >= n;
      let status = RXD.STAT_DD;
      if (last) {
        status |= RXD.STAT_EOP | this.csumStatus | (vlan >= 0 ? RXD.STAT_VP : 0);
        errors |= this.csumErrors;
      }
      dv.setUint16(d + 8, chunk, true);
      dv.setUint16(d + 10, 0, true);
      u8[d + 12] = status;
      u8[d + 13] = errors;
      dv.setUint16(d + 14, last && vlan >= 0 ? vlan : 0, true);
      ram.markDirty(d, RXD.SIZE);
      head = head + 1 === count ? 0 : head + 1;
    }
    r[REG.RDH >> 2] = head;

    h.stats.rxFrames++;
    h.stats.rxBytes += frame.length;
    h.countFrame(true, frame, wire);
    let cause = ICR.RXT0;
    const left = (tail - head + count) % count;
    if (left <= count >> (1 + Math.min(2, (rctl >>> RCTL.RDMTS_SHIFT) & 3))) cause |= ICR.RXDMT0;
    h.raise(cause);
    return PLACED.OK;
  }

  /** Status and error bits of the last descriptor from RXCSUM's offloads (frame without FCS). */
  private checksums(b: Uint8Array, len: number, vet: number, rxcsum: number): void {
    const ip = (rxcsum & RXCSUM.IPOFL) !== 0;
    const l4 = (rxcsum & RXCSUM.TUOFL) !== 0;
    this.csumStatus = 0;
    this.csumErrors = 0;
    if (!ip && !l4) {
      this.csumStatus = RXD.STAT_IXSM;
      return;
    }
    const s = this.sums;
    checkRx(b, len, vet, ip, l4, s);
    if (s.ipChecked) this.csumStatus |= RXD.STAT_IPCS;
    if (s.ipBad) this.csumErrors |= RXD.ERR_IPE;
    if (s.l4Checked) this.csumStatus |= RXD.STAT_TCPCS;
    if (s.l4Bad) this.csumErrors |= RXD.ERR_TCPE;
  }
}
