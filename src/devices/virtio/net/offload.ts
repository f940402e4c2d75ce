/**
 * virtio-net transmit offloads (virtio 1.2 §5.1.6.2): the device finishes what the driver
 * left undone, so a pv guest hands over one 64 KiB TCP packet instead of forty-five 1.5 KiB
 * frames, and computes no checksums.
 *
 * - VIRTIO_NET_F_CSUM: `flags & NEEDS_CSUM`: the 16-bit one's-complement checksum of
 *   frame[csum_start, end) goes to csum_start + csum_offset (the driver has put the
 *   pseudo-header sum there, so summing over it gives the right result).
 * - VIRTIO_NET_F_HOST_TSO4: `gso_type = TCPV4`: the packet is cut into segments of
 *   gso_size payload bytes; each gets the headers with its IP total length, IP id (+1 per
 *   segment), IP header checksum, TCP sequence number and TCP checksum; FIN and PSH stay on
 *   the last segment only, CWR on the first only (RFC 3168 §6.1.1, as TSO hardware does).
 *
 * Between two pv guests a TSO packet need not be cut at all: when the sender's backend
 * takes GSO packets (`NetBackend.gso`) it travels whole with a `FrameOffload` (checked
 * here first: IPv4, TCP, csum_start at the TCP header, csum_offset 16, an MSS that fits),
 * and a receiver that accepted GUEST_TSO4 gets it whole with NEEDS_CSUM, as vhost-net does
 * between VMs on one host. A receiver that cannot take it (an e1000, a driver that did
 * not accept the feature) gets it cut here, with every checksum filled in.
 *
 * The guest is hostile: offsets, sizes and header lengths are checked against the packet;
 * a packet that does not hold together is refused (`false`), never sent in pieces.
 */
import { be16, be32, fold, onesSum, put16, put32 } from "../../e1000/packet.js";

export const VIRTIO_NET_HDR = {
  F_NEEDS_CSUM: 1,
  F_DATA_VALID: 2,
  GSO_NONE: 0,
  GSO_TCPV4: 1,
  GSO_ECN: 0x80,
} as const;

const ETH_HEADER = 14;
const VLAN_TAG = 4;
const TYPE_IPV4 = 0x0800;
const TYPE_VLAN = 0x8100;
const PROTO_TCP = 6;
const TCP_FIN = 0x01;
const TCP_PSH = 0x08;
const TCP_CWR = 0x80;
/** Largest IP packet in one Ethernet frame. */
const MTU = 1500;

/** Put the checksum of frame[start, len) at start + offset. False when they do not fit the frame. */
export function insertChecksum(frame: Uint8Array, len: number, start: number, offset: number): boolean {
  if (start >= len || start + offset + 2 > len) return false;
  const at = start + offset;
  const sum = fold(onesSum(frame, start, len));
  put16(frame, at, ~sum & 0xffff);
  return true;
}

/**
 * A TCPv4 packet of up to 64 KiB travelling whole between devices (virtio_net_hdr
 * semantics): its TCP checksum field holds the sender's pseudo-header sum (NEEDS_CSUM at
 * the TCP header, offset 16), and it is to be cut into segments of `mss` payload bytes.
 */
export interface FrameOffload {
  /** Payload bytes per segment (gso_size). */
  readonly mss: number;
  /** Offset of the TCP header in the frame (csum_start). */
  readonly l4Start: number;
  /** Bytes of headers, Ethernet through TCP options (hdr_len). */
  readonly hdrLen: number;
}

/** TCP checksum field offset within the TCP header (csum_offset of a TCP packet). */
export const TCP_CSUM_OFFSET = 16;

/**
 * The offload of a TCPv4 GSO packet the guest handed over (gso_size `mss`, NEEDS_CSUM at
 * csumStart/csumOffset), or null when it is not one that may travel whole: not IPv4 TCP,
 * the checksum not at the TCP header, headers past the end, no payload, an MSS that
 * would not fit a 1500-byte MTU frame.
 */
export function checkGsoTcp4(frame: Uint8Array, len: number, mss: number, csumStart: number, csumOffset: number): FrameOffload | null {
  const ip = ipv4At(frame, len);
  if (ip < 0) return null;
  const ihl = (frame[ip]! & 0xf) * 4;
  if (ihl < 20 || frame[ip + 9] !== PROTO_TCP) return null;
  const tcp = ip + ihl;
  if (tcp + 20 > len || csumStart !== tcp || csumOffset !== TCP_CSUM_OFFSET) return null;
  const doff = (frame[tcp + 12]! >> 4) * 4;
  const hdrLen = tcp + doff;
  if (doff < 20 || hdrLen >= len) return null;
  if (mss < 1 || ihl + doff + mss > MTU) return null;
  return { mss, l4Start: tcp, hdrLen };
}

/**
 * Hand `frame` to `emit` as plain frames: itself when `gso` is null, else its segments
 * (fresh copies, which the receiver may keep). Returns how many, or -1 when a GSO packet
 * does not hold together (nothing emitted). `scratch` must hold a segment (1518 bytes).
 */
export function forEachPlainFrame(frame: Uint8Array, gso: FrameOffload | null, scratch: Uint8Array, emit: (frame: Uint8Array) => boolean): number {
  if (gso === null) {
    emit(frame);
    return 1;
  }
  return segmentTcp4(frame, frame.length, gso.mss, scratch, (seg) => void emit(seg.slice()));
}

/** Where the IPv4 header of an Ethernet frame starts (past one 802.1Q tag), or -1. */
function ipv4At(frame: Uint8Array, len: number): number {
  if (len < ETH_HEADER + 20) return -1;
  let type = be16(frame, 12);
  let at = ETH_HEADER;
  if (type === TYPE_VLAN) {
    type = be16(frame, 16);
    at += VLAN_TAG;
  }
  return type === TYPE_IPV4 && at + 20 <= len && frame[at]! >> 4 === 4 ? at : -1;
}

/**
 * Cut an IPv4 TCP packet into segments of at most `mss` payload bytes, each built in
 * `scratch` (which must hold headers + mss) and passed to `emit` (valid only during the
 * call). Returns the number of segments, or -1 when the packet is malformed.
 */
export function segmentTcp4(
  frame: Uint8Array,
  len: number,
  mss: number,
  scratch: Uint8Array,
  emit: (segment: Uint8Array) => void,
): number {
  const ip = ipv4At(frame, len);
  if (ip < 0 || mss < 1) return -1;
  const ihl = (frame[ip]! & 0xf) * 4;
  if (ihl < 20 || frame[ip + 9] !== PROTO_TCP) return -1;
  const tcp = ip + ihl;
  if (tcp + 20 > len) return -1;
  const doff = (frame[tcp + 12]! >> 4) * 4;
  const hdr = tcp + doff;
  if (doff < 20 || hdr > len || hdr + mss > scratch.length) return -1;
  const payload = len - hdr;
  const count = Math.max(1, Math.ceil(payload / mss));
  const id = be16(frame, ip + 4);
  const seq = be32(frame, tcp + 4);
  const flags = frame[tcp + 13]!;
  // The pseudo-header's address part is the same for every segment.
  const addrSum = onesSum(frame, ip + 12, ip + 20);
  for (let i = 0; i < count; i++) {
    const off = i * mss;
    const n = Math.min(mss, payload - off);
    scratch.set(frame.subarray(0, hdr), 0);
    scratch.set(frame.subarray(hdr + off, hdr + off + n), hdr);
    const segLen = hdr + n;
    put16(scratch, ip + 2, ihl + doff + n);
    put16(scratch, ip + 4, (id + i) & 0xffff);
    put16(scratch, ip + 10, 0);
    put16(scratch, ip + 10, ~fold(onesSum(scratch, ip, ip + ihl)) & 0xffff);
    put32(scratch, tcp + 4, (seq + off) >>> 0);
    let f = flags;
    if (i < count - 1) f &= ~(TCP_FIN | TCP_PSH);
    if (i > 0) f &= ~TCP_CWR;
    scratch[tcp + 13] = f;
    put16(scratch, tcp + 16, 0);
    const sum = onesSum(scratch, tcp, segLen, addrSum + PROTO_TCP + doff + n);
    put16(scratch, tcp + 16, ~fold(sum) & 0xffff);
    emit(scratch.subarray(0, segLen));
  }
  return count;
}
