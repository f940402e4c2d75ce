/**
 * MAC addresses: parse and format "52:54:00:12:34:56", and derive a stable, locally
 * administered unicast MAC from a VM's name (so a VM keeps its address across runs
 * without one being configured).
 */
import { createHash } from "node:crypto";

export type Mac = Uint8Array;

/** Parse "52:54:00:12:34:56" (or with '-'); throws on anything else. */
export function parseMac(s: string): Mac {
  const m = /^([0-9a-f]{2})([:-])([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})$/i.exec(s.trim());
  if (!m) throw new Error(`bad MAC address "${s}" (want xx:xx:xx:xx:xx:xx)`);
  return new Uint8Array([m[1], m[3], m[4], m[5], m[6], m[7]].map((h) => parseInt(h!, 16)));
}

export function formatMac(mac: Uint8Array): string {
  return Array.from(mac.subarray(0, 6), (b) => b.toString(16).padStart(2, "0")).join(":");
}

export const isMulticast = (mac: Uint8Array): boolean => (mac[0]! & 1) !== 0;
export const isBroadcast = (mac: Uint8Array): boolean => mac.length >= 6 && mac.subarray(0, 6).every((b) => b === 0xff);
export const isLocallyAdministered = (mac: Uint8Array): boolean => (mac[0]! & 2) !== 0;

/**
 * A locally administered unicast MAC from `name`, deterministically: 46 bits of
 * SHA-256(name) (rather than QEMU's fixed 52:54:00 prefix, so VMs differ in more bits),
 * the first octet with the locally-administered bit set and the multicast bit clear.
 */
export function macFromName(name: string): Mac {
  const h = createHash("sha256").update(`paravm-net:${name}`).digest();
  const mac = new Uint8Array(h.subarray(0, 6));
  mac[0] = (mac[0]! & 0xfc) | 0x02;
  return mac;
}
