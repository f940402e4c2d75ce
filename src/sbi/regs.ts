/**
 * Register access for SBI calls (SBI v2.0 ch. 3 binary encoding): a7 = EID, a6 = FID,
 * a0..a5 = arguments, returns a0 = error, a1 = value. Registers are lo/hi int32 halves.
 */
import type { Hart } from "../cpu/hart.js";

const TWO32 = 4294967296;
const A0 = 10;

export const argLo = (h: Hart, i: number): number => h.x[2 * (A0 + i)]!;
export const argHi = (h: Hart, i: number): number => h.x[2 * (A0 + i) + 1]!;
/** Argument i as an unsigned 64-bit value in a JS number (exact below 2^53). */
export const argU64 = (h: Hart, i: number): number => (argHi(h, i) >>> 0) * TWO32 + (argLo(h, i) >>> 0);
/**
 * Argument i as an Sv39 virtual address: its low 39 bits, exact (the bits above are the
 * sign extension of bit 38 in any address a TLB can hold; tlb.ts puts them back).
 */
export const argVa39 = (h: Hart, i: number): number => (argHi(h, i) & 0x7f) * TWO32 + (argLo(h, i) >>> 0);
/** Argument i as an exact unsigned 64-bit bigint (rare calls only: HSM opaque values). */
export const argU64Big = (h: Hart, i: number): bigint =>
  (BigInt(argHi(h, i) >>> 0) << 32n) | BigInt(argLo(h, i) >>> 0);
/** Low 32 bits of argument i, unsigned. */
export const argU32 = (h: Hart, i: number): number => argLo(h, i) >>> 0;
/** True when argument i is all ones (-1 as unsigned long). */
export const argIsAllOnes = (h: Hart, i: number): boolean => argLo(h, i) === -1 && argHi(h, i) === -1;

/** Write a 64-bit register from a JS number (integer in [-2^53, 2^53]). */
export function setReg(h: Hart, r: number, v: number): void {
  const lo = v | 0;
  const hi = Math.floor(v / TWO32) | 0;
  h.x[2 * r] = lo;
  h.x[2 * r + 1] = hi;
}

/** sbiret: a0 = error, a1 = value. */
export function ret(h: Hart, error: number, value = 0): void {
  setReg(h, A0, error);
  setReg(h, A0 + 1, value);
}

/** Legacy (v0.1) calls return in a0 only. */
export function retA0(h: Hart, value: number): void {
  setReg(h, A0, value);
}

/**
 * Decode (hart_mask, hart_mask_base) in arguments i, i+1 (SBI v2.0 §3.1): base all ones
 * means every hart; otherwise bit n of the mask selects hart base+n. Returns the hart ids,
 * or null when some selected hart does not exist (SBI_ERR_INVALID_PARAM).
 */
export function hartMask(h: Hart, i: number, harts: number): number[] | null {
  const out: number[] = [];
  if (argIsAllOnes(h, i + 1)) {
    for (let id = 0; id < harts; id++) out.push(id);
    return out;
  }
  const maskLo = argLo(h, i);
  const maskHi = argHi(h, i);
  if (maskLo === 0 && maskHi === 0) return out;
  const base = argU64(h, i + 1);
  for (let bit = 0; bit < 64; bit++) {
    const set = bit < 32 ? (maskLo >>> bit) & 1 : (maskHi >>> (bit - 32)) & 1;
    if (set === 0) continue;
    const id = base + bit;
    if (id >= harts) return null;
    out.push(id);
  }
  return out;
}

/** The same selection from a plain mask value (legacy v0.1 calls read it from memory). */
export function maskToHarts(lo: number, hi: number, harts: number): number[] {
  const out: number[] = [];
  for (let bit = 0; bit < 64 && bit < harts; bit++) {
    const set = bit < 32 ? (lo >>> bit) & 1 : (hi >>> (bit - 32)) & 1;
    if (set !== 0) out.push(bit);
  }
  return out;
}
