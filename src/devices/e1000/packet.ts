/**
 * Packet arithmetic shared by transmit and receive: the Internet checksum (RFC 1071),
 * the Ethernet FCS (CRC-32, IEEE 802.3), big-endian field access, and where the L3/L4
 * headers of a frame start. Everything takes a byte array and bounds; nothing allocates.
 */
import { ETH } from "./regs.js";

/**
 * The one's-complement sum of the big-endian 16-bit words in b[start, end), plus `initial`,
 * not yet folded (an odd trailing byte is padded with zero). Lengths up to 2^37 bytes stay
 * exact in a double, far beyond any frame.
 */
export function onesSum(b: Uint8Array, start: number, end: number, initial = 0): number {
  let sum = initial;
  let i = start;
  for (; i + 1 < end; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  if (i < end) sum += b[i]! << 8;
  return sum;
}

/** Fold a sum to 16 bits with end-around carry. */
export function fold(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x1_0000);
  return s;
}

export const be16 = (b: Uint8Array, at: number): number => (b[at]! << 8) | b[at + 1]!;

export const be32 = (b: Uint8Array, at: number): number =>
  ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;

export function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 8) & 0xff;
  b[at + 1] = v & 0xff;
}

export function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 24) & 0xff;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb8_8320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 of b[start, end): the value whose little-endian bytes are the frame's FCS. */
export function crc32(b: Uint8Array, start: number, end: number): number {
  let c = 0xffff_ffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffff_ffff) >>> 0;
}

/** Where the network header starts and which EtherType it carries, past one 802.1Q tag if present. */
export function l3Of(b: Uint8Array, len: number, vlanType: number): { type: number; at: number } {
  if (len < ETH.HEADER) return { type: -1, at: len };
  const t = be16(b, 12);
  if (t === vlanType && len >= ETH.HEADER + ETH.VLAN_TAG) return { type: be16(b, 16), at: ETH.HEADER + ETH.VLAN_TAG };
  return { type: t, at: ETH.HEADER };
}

export const IP_PROTO = { TCP: 6, UDP: 17 } as const;

/** The result of checking a received frame's checksums. */
export interface RxChecksum {
  /** IPv4 header checksum was checked (IPCS); `ipBad` = it failed (IPE). */
  ipChecked: boolean;
  ipBad: boolean;
  /** TCP/UDP checksum was checked (TCPCS); `l4Bad` = it failed (TCPE). */
  l4Checked: boolean;
  l4Bad: boolean;
}

/**
 * Check the IPv4 header and TCP/UDP checksums of a frame, using the lengths in the IP
 * header (so Ethernet padding and FCS are left out). Fragments, IPv6 extension headers and
 * UDP datagrams without a checksum are not checked.
 */
export function checkRx(b: Uint8Array, len: number, vlanType: number, ip: boolean, l4: boolean, out: RxChecksum): void {
  out.ipChecked = out.ipBad = out.l4Checked = out.l4Bad = false;
  const { type, at } = l3Of(b, len, vlanType);
  let pseudo = 0;
  let proto = -1;
  let l4At = 0;
  let l4Len = 0;
  if (type === ETH.TYPE_IPV4) {
    if (at + 20 > len || b[at]! >> 4 !== 4) return;
    const ihl = (b[at]! & 0xf) * 4;
    const total = be16(b, at + 2);
    if (ihl < 20 || total < ihl || at + total > len) return;
    if (ip) {
      out.ipChecked = true;
      out.ipBad = fold(onesSum(b, at, at + ihl)) !== 0xffff;
    }
    // Fragments carry no whole L4 payload to check.
    if ((be16(b, at + 6) & 0x3fff) !== 0) return;
    proto = b[at + 9]!;
    l4At = at + ihl;
    l4Len = total - ihl;
    pseudo = onesSum(b, at + 12, at + 20, proto + l4Len);
  } else if (type === ETH.TYPE_IPV6) {
    if (at + 40 > len || b[at]! >> 4 !== 6) return;
    proto = b[at + 6]!;
    l4At = at + 40;
    l4Len = be16(b, at + 4);
    if (l4At + l4Len > len) return;
    pseudo = onesSum(b, at + 8, at + 40, proto + l4Len);
  } else {
    return;
  }
  if (!l4) return;
  if (proto === IP_PROTO.TCP) {
    if (l4Len < 20) return;
  } else if (proto === IP_PROTO.UDP) {
    if (l4Len < 8 || (type === ETH.TYPE_IPV4 && be16(b, l4At + 6) === 0)) return;
  } else {
    return;
  }
  out.l4Checked = true;
  out.l4Bad = fold(onesSum(b, l4At, l4At + l4Len, pseudo)) !== 0xffff;
}

/** Hardware statistics register for a frame of `len` bytes including FCS: 64, 65-127, … 1024-1522 (and over). */
export function sizeBucket(len: number): number {
  if (len <= 64) return 0;
  if (len <= 127) return 1;
  if (len <= 255) return 2;
  if (len <= 511) return 3;
  if (len <= 1023) return 4;
  return 5;
}
