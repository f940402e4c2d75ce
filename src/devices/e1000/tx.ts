/**
 * The 82540's transmit DMA: descriptors from TDH up to TDT, 16 bytes each, in three
 * formats (8254x SDM §3.3):
 *
 *     legacy   addr[8] | length 15:0, CSO 23:16, CMD 31:24 | STA 3:0, CSS 15:8, special 31:16
 *     context  IPCSS, IPCSO, IPCSE[2], TUCSS, TUCSO, TUCSE[2] | PAYLEN 19:0, DTYP=0, TUCMD 31:24
 *              | STA, HDRLEN, MSS[2]
 *     data     addr[8] | length 19:0, DTYP=1 23:20, DCMD 31:24 | STA, POPTS 15:8, special 31:16
 *
 * A packet is the data of consecutive descriptors up to one with EOP. Its options come
 * from its first descriptor (legacy CSS/CSO/IC, data POPTS and TSE), as the manual says;
 * VLE and the VLAN tag from the EOP descriptor, as with any field only meaningful once the
 * packet is complete. The whole packet is gathered first (TSO packets too: Linux's are at
 * most 64 KiB), then checksummed or cut into segments and sent.
 *
 * TCP segmentation (SDM §3.5): HDRLEN bytes of headers are replicated in front of each
 * MSS-byte slice of the payload; per segment the IPv4 total length and identification
 * (first segment keeps the driver's id, then +1 each) or the IPv6 payload length, the TCP
 * sequence number (advanced by the payload already sent), FIN and PSH (kept only on the
 * last segment) or the UDP length are rewritten, then the IP header checksum (POPTS.IXSM)
 * and the TCP/UDP checksum (POPTS.TXSM) are computed. For the latter the driver has put
 * the pseudo-header sum without the length in the checksum field; the hardware adds each
 * segment's L4 length. Without TSE the field already holds the full pseudo-header sum.
 *
 * Status write-back: DD in the descriptor's STA when RS (or legacy RPS) is set. TXDW is
 * raised if any descriptor was written back, TXQE when the ring drains; TIDV/TADV delays
 * are not modelled (the interrupt is raised at once).
 *
 * Hostile guest: a ring that is not wholly inside RAM is not processed (counted), an
 * index at or beyond the ring's end stops processing until the guest writes a valid one
 * (counted; no modulo), a buffer outside RAM or a packet over 68 KiB drops that packet
 * (its descriptors are still consumed and written back), and so does a malformed TSO
 * context; a frame under 14 bytes or over 16 KiB (the 82540's jumbo limit) is not sent.
 * The loop is bounded by the ring size.
 */
import type { GuestRam } from "../../mem/ram.js";
import type { E1000Stats } from "./device.js";
import { be16, be32, fold, onesSum, put16, put32 } from "./packet.js";
import { CTRL, ETH, ICR, REG, RING, STAT, TCTL, TUCMD, TXD, TXD_CMD } from "./regs.js";

/** Largest packet gathered: a 64 KiB TSO payload plus headers, with room to spare. */
const TX_BUF = 0x1_1000;
const TCP_FIN = 0x01;
const TCP_PSH = 0x08;

/** What the transmit engine needs of the device. */
export interface TxHost {
  readonly ram: GuestRam;
  /** BAR0 registers, indexed by offset / 4. */
  readonly regs: Uint32Array;
  readonly stats: Pick<
    E1000Stats,
    "txDropped" | "txTsoPackets" | "txSegments" | "dmaErrors" | "ringErrors" | "badDescriptors"
  >;
  dmaAllowed(): boolean;
  /** Put one finished frame on the wire (valid only during the call). */
  transmit(frame: Uint8Array): void;
  raise(cause: number): void;
  count(statReg: number, n?: number): void;
}

/** The offload context last loaded by a context descriptor. */
interface TxContext {
  ipcss: number;
  ipcso: number;
  ipcse: number;
  tucss: number;
  tucso: number;
  tucse: number;
  paylen: number;
  tucmd: number;
  hdrLen: number;
  mss: number;
}

const emptyContext = (): TxContext => ({
  ipcss: 0, ipcso: 0, ipcse: 0, tucss: 0, tucso: 0, tucse: 0, paylen: 0, tucmd: 0, hdrLen: 0, mss: 0,
});

export class TxEngine {
  private readonly dv: DataView;
  private readonly pkt = new Uint8Array(TX_BUF);
  private readonly seg = new Uint8Array(TX_BUF);
  /** Where VLAN insertion builds the frame. */
  private readonly out = new Uint8Array(TX_BUF + ETH.VLAN_TAG);
  private ctx: TxContext = emptyContext();
  // The packet being gathered.
  private len = 0;
  private started = false;
  private legacy = false;
  private dropped = false;
  private popts = 0;
  private tse = false;
  private ic = false;
  private css = 0;
  private cso = 0;

  constructor(private readonly host: TxHost) {
    this.dv = new DataView(host.ram.sab);
  }

  /** Forget the context and any half-gathered packet (device reset). */
  reset(): void {
    this.ctx = emptyContext();
    this.started = false;
    this.len = 0;
    this.dropped = false;
  }

  /** Send what the driver queued: descriptors TDH..TDT-1. */
  process(): void {
    const h = this.host;
    const r = h.regs;
    if (!(r[REG.TCTL >> 2]! & TCTL.EN) || !h.dmaAllowed()) return;
    const ringLen = r[REG.TDLEN >> 2]! & RING.LEN_MASK;
    const count = ringLen / TXD.SIZE;
    let head = r[REG.TDH >> 2]!;
    const tail = r[REG.TDT >> 2]!;
    if (count === 0 || head === tail) return;
    if (head >= count || tail >= count) {
      h.stats.ringErrors++;
      return;
    }
    const base = r[REG.TDBAH >> 2]! * 0x1_0000_0000 + ((r[REG.TDBAL >> 2]! & RING.BASE_LOW_MASK) >>> 0);
    if (!h.ram.contains(base, ringLen)) {
      h.stats.dmaErrors++;
      return;
    }
    const ring = base - h.ram.base;
    let cause = ICR.TXQE;
    while (head !== tail) {
      if (this.descriptor(ring + head * TXD.SIZE)) cause |= ICR.TXDW;
      head = head + 1 === count ? 0 : head + 1;
    }
    r[REG.TDH >> 2] = head;
    h.raise(cause);
  }

  save(): Record<string, number> {
    return { ...this.ctx };
  }

  load(s: unknown): void {
    this.reset();
    if (typeof s !== "object" || s === null) return;
    const src = s as Record<string, unknown>;
    const c = this.ctx as unknown as Record<string, number>;
    for (const k of Object.keys(c)) c[k] = Math.max(0, Math.min(0xfffff, Number(src[k]) || 0));
  }

  /** One descriptor at RAM offset `off`; true if its status was written back. */
  private descriptor(off: number): boolean {
    const dv = this.dv;
    const addr = dv.getUint32(off, true) + dv.getUint32(off + 4, true) * 0x1_0000_0000;
    const lower = dv.getUint32(off + 8, true);
    const upper = dv.getUint32(off + 12, true);
    const cmd = lower >>> 24;
    let report = (cmd & TXD_CMD.RS) !== 0;
    if (!(cmd & TXD_CMD.DEXT)) {
      report ||= (cmd & TXD_CMD.RPS) !== 0;
      if (!this.started) {
        this.begin(true);
        this.ic = (cmd & TXD_CMD.IC) !== 0;
        this.cso = (lower >>> 16) & 0xff;
        this.css = (upper >>> 8) & 0xff;
      }
      this.append(addr, lower & 0xffff);
      if (cmd & TXD_CMD.EOP) this.finish(cmd, upper >>> 16);
    } else {
      const dtyp = (lower >>> 20) & 0xf;
      if (dtyp === TXD.DTYP_CONTEXT) {
        this.context(off, lower);
      } else if (dtyp === TXD.DTYP_DATA) {
        if (!this.started) {
          this.begin(false);
          this.popts = (upper >>> 8) & 0xff;
          this.tse = (cmd & TXD_CMD.TSE) !== 0 && (this.ctx.tucmd & TUCMD.TSE) !== 0;
        }
        this.append(addr, lower & 0xfffff);
        if (cmd & TXD_CMD.EOP) this.finish(cmd, upper >>> 16);
      } else {
        this.host.stats.badDescriptors++;
      }
    }
    if (report) {
      const u8 = this.host.ram.u8;
      u8[off + 12] = (u8[off + 12]! & 0xf0) | TXD.STA_DD;
      this.host.ram.markDirty(off + 12, 1);
    }
    return report;
  }

  private context(off: number, lower: number): void {
    const u8 = this.host.ram.u8;
    const dv = this.dv;
    const c = this.ctx;
    c.ipcss = u8[off]!;
    c.ipcso = u8[off + 1]!;
    c.ipcse = dv.getUint16(off + 2, true);
    c.tucss = u8[off + 4]!;
    c.tucso = u8[off + 5]!;
    c.tucse = dv.getUint16(off + 6, true);
    c.paylen = lower & 0xfffff;
    c.tucmd = lower >>> 24;
    c.hdrLen = u8[off + 13]!;
    c.mss = dv.getUint16(off + 14, true);
  }

  private begin(legacy: boolean): void {
    this.started = true;
    this.legacy = legacy;
    this.len = 0;
    this.dropped = false;
    this.popts = 0;
    this.tse = false;
    this.ic = false;
  }

  private append(addr: number, n: number): void {
    if (this.dropped || n === 0) return;
    const ram = this.host.ram;
    if (!ram.contains(addr, n)) {
      this.host.stats.dmaErrors++;
      this.dropped = true;
      return;
    }
    if (this.len + n > this.pkt.length) {
      this.dropped = true;
      return;
    }
    const at = addr - ram.base;
    this.pkt.set(ram.u8.subarray(at, at + n), this.len);
    this.len += n;
  }

  private finish(cmd: number, special: number): void {
    const h = this.host;
    const vlan = cmd & TXD_CMD.VLE && h.regs[REG.CTRL >> 2]! & CTRL.VME ? special : -1;
    const b = this.pkt;
    const n = this.len;
    if (this.dropped) {
      h.stats.txDropped++;
    } else if (this.tse) {
      this.segment(vlan);
    } else {
      if (this.legacy) {
        // The manual: IC is ignored when CSS >= length or CSO >= length - 1.
        if (this.ic && this.css < n && this.cso < n - 1) put16(b, this.cso, ~fold(onesSum(b, this.css, n)) & 0xffff);
      } else {
        const c = this.ctx;
        if (this.popts & TXD.POPTS_IXSM) this.insertSum(b, n, c.ipcss, c.ipcse, c.ipcso, 0, false);
        if (this.popts & TXD.POPTS_TXSM) this.insertSum(b, n, c.tucss, c.tucse, c.tucso, 0, !(c.tucmd & TUCMD.TCP));
      }
      this.emit(b, n, vlan);
    }
    this.started = false;
    this.len = 0;
    this.dropped = false;
  }

  /**
   * Store the checksum of b[start, end] (end inclusive; 0 = to the end of the packet) at
   * `at`, adding `extra` (the L4 length a TSO segment contributes to the pseudo header).
   * A UDP checksum that comes out 0 is sent as 0xffff (RFC 768: 0 means "none").
   */
  private insertSum(
    b: Uint8Array,
    n: number,
    start: number,
    end: number,
    at: number,
    extra: number,
    udp: boolean,
  ): void {
    const stop = end === 0 ? n : Math.min(end + 1, n);
    if (start >= stop || at + 2 > n) return;
    let sum = ~fold(onesSum(b, start, stop, extra)) & 0xffff;
    if (sum === 0 && udp) sum = 0xffff;
    put16(b, at, sum);
  }

  private segment(vlan: number): void {
    const h = this.host;
    const c = this.ctx;
    const b = this.pkt;
    const n = this.len;
    const hdr = c.hdrLen;
    const mss = c.mss;
    const ip4 = (c.tucmd & TUCMD.IP) !== 0;
    const tcp = (c.tucmd & TUCMD.TCP) !== 0;
    // Every field rewritten per segment must lie inside the replicated headers.
    const fieldsFit =
      hdr >= ETH.HEADER &&
      hdr <= n &&
      c.ipcss + (ip4 ? 12 : 6) <= hdr &&
      c.tucss + (tcp ? 14 : 8) <= hdr &&
      c.tucso + 2 <= hdr &&
      (!ip4 || c.ipcso + 2 <= hdr);
    if (mss === 0 || !fieldsFit) {
      h.stats.txDropped++;
      h.count(STAT.TSCTFC);
      return;
    }
    const seg = this.seg;
    const payload = n - hdr;
    const ipId = ip4 ? be16(b, c.ipcss + 4) : 0;
    const seq = tcp ? be32(b, c.tucss + 4) : 0;
    seg.set(b.subarray(0, hdr), 0);
    for (let off = 0, i = 0; i === 0 || off < payload; off += mss, i++) {
      const chunk = Math.min(mss, payload - off);
      const flen = hdr + chunk;
      if (i > 0) seg.set(b.subarray(0, hdr), 0);
      seg.set(b.subarray(hdr + off, hdr + off + chunk), hdr);
      if (ip4) {
        put16(seg, c.ipcss + 2, flen - c.ipcss);
        put16(seg, c.ipcss + 4, (ipId + i) & 0xffff);
      } else {
        put16(seg, c.ipcss + 4, Math.max(0, flen - c.ipcss - 40));
      }
      if (tcp) {
        put32(seg, c.tucss + 4, (seq + off) >>> 0);
        if (off + chunk < payload) seg[c.tucss + 13]! &= ~(TCP_FIN | TCP_PSH);
      } else {
        put16(seg, c.tucss + 4, flen - c.tucss);
      }
      if (this.popts & TXD.POPTS_IXSM) this.insertSum(seg, flen, c.ipcss, c.ipcse, c.ipcso, 0, false);
      if (this.popts & TXD.POPTS_TXSM) this.insertSum(seg, flen, c.tucss, c.tucse, c.tucso, flen - c.tucss, !tcp);
      h.stats.txSegments++;
      this.emit(seg, flen, vlan);
    }
    h.stats.txTsoPackets++;
    h.count(STAT.TSCTC);
  }

  /** Insert the VLAN tag if asked, pad short frames if TCTL.PSP, and send. */
  private emit(b: Uint8Array, n: number, vlan: number): void {
    const h = this.host;
    if (n < ETH.HEADER || n > ETH.MAX_JUMBO) {
      h.stats.txDropped++;
      return;
    }
    let frame = b;
    let len = n;
    if (vlan >= 0) {
      const o = this.out;
      o.set(b.subarray(0, 12), 0);
      put16(o, 12, h.regs[REG.VET >> 2]! & 0xffff);
      put16(o, 14, vlan);
      o.set(b.subarray(12, n), 16);
      frame = o;
      len = n + ETH.VLAN_TAG;
    }
    if (len < ETH.MIN_FRAME && h.regs[REG.TCTL >> 2]! & TCTL.PSP) {
      frame.fill(0, len, ETH.MIN_FRAME);
      len = ETH.MIN_FRAME;
    }
    h.transmit(frame.subarray(0, len));
  }
}
