/**
 * What the virtio-net tests share: a backend that records what the device sends, a device
 * behind the MMIO transport with a mock driver, and frame builders (Ethernet, IPv4
 * TCP/UDP, transmit chains with offload headers).
 */
import { GuestRam } from "../../../mem/ram.js";
import { checkRx, type RxChecksum } from "../../e1000/packet.js";
import { MockDriver, type MockQueue } from "../mock-driver.js";
import { VirtioMmioTransport } from "../mmio.js";
import { bit } from "../virtio.js";
import { type FrameOffload, type NetBackend, VIRTIO_NET, VIRTIO_NET_F, VirtioNet, type VirtioNetOptions } from "./device.js";

export const HDR = VIRTIO_NET.HDR_SIZE;

export class TestBackend implements NetBackend {
  sent: Uint8Array[] = [];
  sentGso: (FrameOffload | null)[] = [];
  rx: ((f: Uint8Array, gso: FrameOffload | null) => boolean) | null = null;
  constructor(readonly gso = false) {}
  send(frame: Uint8Array, gso: FrameOffload | null = null): void {
    this.sent.push(frame.slice());
    this.sentGso.push(gso);
  }
  onReceive(cb: (f: Uint8Array, gso: FrameOffload | null) => boolean): void {
    this.rx = cb;
  }
  deliver(f: Uint8Array, gso: FrameOffload | null = null): boolean {
    return this.rx!(f, gso);
  }
}

export function ethFrame(dst: number[], src: number[], len: number, seed = 1): Uint8Array {
  const f = new Uint8Array(len);
  for (let i = 0; i < len; i++) f[i] = (i * 7 + seed) & 0xff;
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = 0x08;
  f[13] = 0x06;
  return f;
}

export const A = [0x02, 0, 0, 0, 0, 0xa];
export const B = [0x02, 0, 0, 0, 0, 0xb];
export const BCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

export function setup(backend: NetBackend = new TestBackend(), opts: Partial<VirtioNetOptions> = {}) {
  const mem = new GuestRam(0x8000_0000, 4 << 20);
  const irq = { level: false, set(l: boolean) { this.level = l; } };
  const net = new VirtioNet(backend, { mac: new Uint8Array(A), ...opts });
  const dev = new VirtioMmioTransport(net, mem, irq);
  const drv = new MockDriver(mem, dev);
  return { mem, irq, net, dev, drv, backend };
}

/**
 * Bring the device up accepting everything it offers except MRG_RXBUF (one buffer per
 * frame, num_buffers = 1), or exactly `features`.
 */
export function up(drv: MockDriver, features?: bigint): { rx: MockQueue; tx: MockQueue } {
  const [rx, tx] = drv.bringUp(features ?? drv.deviceFeatures() & ~bit(VIRTIO_NET_F.MRG_RXBUF));
  return { rx: rx!, tx: tx! };
}

/** A transmit chain: header and frame in one segment. */
export function txOne(tx: MockQueue, frame: Uint8Array) {
  const buf = new Uint8Array(HDR + frame.length);
  buf.set(frame, HDR);
  return tx.add([{ len: buf.length, data: buf }]);
}

export const postRx = (rx: MockQueue, len = HDR + 1518) => rx.add([{ len, write: true }]);

/** Address of the buffer behind used element `i` (the mock driver's descriptor table). */
export function bufAddr(q: MockQueue, mem: GuestRam, i: number): number {
  const { id } = q.usedElem(i);
  const v = new DataView(mem.sab);
  const o = q.desc - mem.base + 16 * id;
  return v.getUint32(o, true) + v.getUint32(o + 4, true) * 0x1_0000_0000;
}

/** An IPv4 TCP (or UDP) packet from A to B with `payload` bytes, checksums left zero. */
export function ipPacket(payload: number, proto: 6 | 17 = 6, tcpFlags = 0x18): Uint8Array {
  const l4 = proto === 6 ? 20 : 8;
  const f = new Uint8Array(14 + 20 + l4 + payload);
  f.set(B, 0);
  f.set(A, 6);
  f[12] = 0x08;
  const ip = 14;
  f[ip] = 0x45;
  f[ip + 2] = (20 + l4 + payload) >> 8;
  f[ip + 3] = (20 + l4 + payload) & 0xff;
  f[ip + 4] = 0x12;
  f[ip + 5] = 0x34;
  f[ip + 8] = 64;
  f[ip + 9] = proto;
  f.set([10, 0, 2, 2, 10, 0, 2, 3], ip + 12);
  const t = ip + 20;
  f.set([0x13, 0x88, 0xc3, 0x50], t); // ports 5000 → 50000
  if (proto === 6) {
    f.set([0x01, 0x02, 0x03, 0x04], t + 4); // seq
    f[t + 12] = 0x50;
    f[t + 13] = tcpFlags;
  } else {
    f[t + 4] = (8 + payload) >> 8;
    f[t + 5] = (8 + payload) & 0xff;
  }
  for (let i = 0; i < payload; i++) f[t + l4 + i] = (i * 13 + 5) & 0xff;
  return f;
}

/** A transmit chain whose virtio_net_hdr asks for offloads. */
export function txOffload(tx: MockQueue, frame: Uint8Array, h: { flags?: number; gso?: number; gsoSize?: number; csumStart?: number; csumOffset?: number }) {
  const buf = new Uint8Array(HDR + frame.length);
  const v = new DataView(buf.buffer);
  buf[0] = h.flags ?? 0;
  buf[1] = h.gso ?? 0;
  v.setUint16(2, 54, true);
  v.setUint16(4, h.gsoSize ?? 0, true);
  v.setUint16(6, h.csumStart ?? 0, true);
  v.setUint16(8, h.csumOffset ?? 0, true);
  buf.set(frame, HDR);
  // Header and packet in separate segments, as Linux sends them.
  return tx.add([{ len: HDR, data: buf.subarray(0, HDR) }, { len: frame.length, data: buf.subarray(HDR) }]);
}

export const checked = (f: Uint8Array): RxChecksum => {
  const c: RxChecksum = { ipChecked: false, ipBad: false, l4Checked: false, l4Bad: false };
  checkRx(f, f.length, 0x8100, true, true, c);
  return c;
};

