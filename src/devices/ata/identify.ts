/**
 * The IDENTIFY DEVICE block (ATA/ATAPI-7 and ACS-2 §7.16.7): 256 little-endian words.
 * Both disk front ends — the PIO ATA device and the AHCI port's SATA disk — answer it;
 * the words they agree on are written here, each device then sets the ones that tell
 * them apart (DMA modes, SATA capabilities, the standard revision).
 */

export const IDENTIFY = {
  /** Largest LBA28 capacity (words 60-61). */
  LBA28_MAX: 0x0fff_ffff,
  /** Most cylinders a CHS geometry reports (word 1). */
  MAX_CYLINDERS: 16383,
  /** Word 255's low byte: the integrity signature before the checksum byte. */
  SIGNATURE: 0xa5,
} as const;

export interface IdentityFields {
  /** Capacity in 512-byte sectors. */
  readonly sectors: number;
  /** CHS geometry for old software (words 1, 3, 6). */
  readonly heads: number;
  readonly sectorsPerTrack: number;
  /** Words 10-19 and 27-46, space-padded ASCII. */
  readonly serial: string;
  readonly model: string;
}

/** ASCII in IDENTIFY's byte order: the first character in each word's high byte. */
function putString(w: Uint16Array, start: number, words: number, s: string): void {
  const padded = s.padEnd(words * 2, " ");
  for (let i = 0; i < words; i++) w[start + i] = ((padded.charCodeAt(2 * i) & 0xff) << 8) | (padded.charCodeAt(2 * i + 1) & 0xff);
}

/**
 * The words both devices report the same way: device type, default geometry, serial,
 * firmware revision and model, capacity (LBA28 and LBA48), PIO modes 3-4 with 120 ns
 * cycles, write cache, FLUSH CACHE (EXT) and 48-bit addressing.
 */
export function identifyCommon(f: IdentityFields): Uint16Array {
  const w = new Uint16Array(256);
  const cyls = Math.min(IDENTIFY.MAX_CYLINDERS, Math.floor(f.sectors / (f.heads * f.sectorsPerTrack)));
  w[0] = 0x0040; // fixed, non-removable ATA device
  w[1] = cyls;
  w[3] = f.heads;
  w[6] = f.sectorsPerTrack;
  putString(w, 10, 10, f.serial);
  putString(w, 23, 4, "1.0");
  putString(w, 27, 20, f.model);
  w[47] = 0x8000; // READ/WRITE MULTIPLE: none
  w[50] = 0x4000;
  w[53] = 0x0006; // words 64-70 and 88 valid
  const lba28 = Math.min(f.sectors, IDENTIFY.LBA28_MAX);
  w[60] = lba28 & 0xffff;
  w[61] = lba28 >>> 16;
  w[64] = 0x0003; // PIO modes 3 and 4
  w[67] = 120; // min PIO cycle time without IORDY (ns)
  w[68] = 120; // with IORDY
  w[82] = 0x0020; // write cache
  w[83] = 0x7400; // FLUSH CACHE EXT, FLUSH CACHE, 48-bit address
  w[84] = 0x4000;
  w[85] = 0x0020; // write cache enabled
  w[86] = 0x3400;
  w[87] = 0x4000;
  for (let i = 0; i < 4; i++) w[100 + i] = Math.floor(f.sectors / 2 ** (16 * i)) & 0xffff;
  return w;
}

/** Words 54-58: the current CHS geometry and its capacity. */
export function putCurrentChs(w: Uint16Array, cylinders: number, heads: number, sectorsPerTrack: number): void {
  w[54] = cylinders;
  w[55] = heads;
  w[56] = sectorsPerTrack;
  const chs = cylinders * heads * sectorsPerTrack;
  w[57] = chs & 0xffff;
  w[58] = (chs >>> 16) & 0xffff;
}

/** The 512 bytes of the block: words 0-254, then word 255's signature and checksum (all bytes sum to 0 mod 256). */
export function identifyBytes(w: Uint16Array): Uint8Array {
  const bytes = new Uint8Array(512);
  for (let i = 0; i < 255; i++) {
    bytes[2 * i] = w[i]! & 0xff;
    bytes[2 * i + 1] = w[i]! >>> 8;
  }
  bytes[510] = IDENTIFY.SIGNATURE;
  let sum = 0;
  for (let i = 0; i < 511; i++) sum += bytes[i]!;
  bytes[511] = (256 - (sum & 0xff)) & 0xff;
  return bytes;
}
