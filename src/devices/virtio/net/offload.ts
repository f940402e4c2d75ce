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

/** Put the checksum of frame[start, len) at start + offset. False when they do not fit the frame. */
export function insertChecksum(frame: Uint8Array, len: number, start: number, offset: number): boolean {
  if (start >= len || start + offset + 2 > len) return false;
  const at = start + offset;
  const sum = fold(onesSum(frame, start, len));
  put16(frame, at, ~sum & 0xffff);
  return true;
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
