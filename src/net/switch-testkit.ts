/**
 * What the switch, trunk and link tests share: MACs and Ethernet frames to send. Not a
 * test file itself.
 */

export const BCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

/** A locally administered unicast MAC ending in `n`. */
export const mac = (n: number): number[] => [0x02, 0, 0, 0, 0, n];

/** An IPv4-typed frame from `src` to `dst`, `len` bytes, its payload `fill`. */
export function frame(dst: number[], src: number[], len = 60, fill = 0xab): Uint8Array {
  const f = new Uint8Array(len).fill(fill);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = 0x08;
  f[13] = 0x00;
  return f;
}
