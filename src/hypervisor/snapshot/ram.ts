/**
 * Guest RAM in a snapshot with zero pages left out: an idle 256 MiB guest has touched a
 * fraction of its RAM, and a ballooned or freshly booted one even less.
 *
 *   payload = page size u32 · page count u32 · bitmap (1 bit per page, LSB first) · the
 *             pages whose bit is set, in order
 *
 * A page is "zero" when every byte is; it is found with one memcmp per page (Buffer.compare
 * against a zero page), which is how a 64 MiB scan stays in the tens of milliseconds.
 */
import { SECTION_KIND, SnapshotError, type Section, type SnapshotWriter } from "./format.js";

export const RAM_PAGE = 4096;

const ZERO_PAGE = Buffer.alloc(RAM_PAGE);

/** Which pages of `ram` hold anything: a bitmap and its count. */
export function pageMap(ram: Uint8Array): { bitmap: Uint8Array; pages: number; present: number } {
  const pages = Math.ceil(ram.length / RAM_PAGE);
  const bitmap = new Uint8Array(Math.ceil(pages / 8));
  const buf = Buffer.from(ram.buffer, ram.byteOffset, ram.length);
  let present = 0;
  for (let p = 0; p < pages; p++) {
    const start = p * RAM_PAGE;
    const end = Math.min(start + RAM_PAGE, ram.length);
    if (buf.compare(ZERO_PAGE, 0, end - start, start, end) !== 0) {
      bitmap[p >>> 3]! |= 1 << (p & 7);
      present++;
    }
  }
  return { bitmap, pages, present };
}

/** Writes `ram` as section `name`; returns how many pages went in. */
export function writeRam(w: SnapshotWriter, name: string, ram: Uint8Array): { pages: number; present: number; bytes: number } {
  const { bitmap, pages, present } = pageMap(ram);
  const head = Buffer.alloc(8);
  head.writeUInt32LE(RAM_PAGE, 0);
  head.writeUInt32LE(pages, 4);
  const tailBytes = ram.length % RAM_PAGE;
  const lastPresent = tailBytes !== 0 && (bitmap[(pages - 1) >>> 3]! & (1 << ((pages - 1) & 7))) !== 0;
  const length = 8 + bitmap.length + present * RAM_PAGE - (lastPresent ? RAM_PAGE - tailBytes : 0);
  w.streamed(name, SECTION_KIND.RAM, length, (put) => {
    put(head);
    put(bitmap);
    for (let p = 0; p < pages; p++) {
      if ((bitmap[p >>> 3]! & (1 << (p & 7))) === 0) continue;
      const start = p * RAM_PAGE;
      put(ram.subarray(start, Math.min(start + RAM_PAGE, ram.length)));
    }
  });
  return { pages, present, bytes: length };
}

/**
 * Fills `ram` (which must be zero, as a fresh guest RAM is) from section `s`; the section's
 * geometry must match `ram` exactly, so a 64 MiB snapshot is never poured into 128 MiB.
 */
export function readRam(file: string, s: Section, ram: Uint8Array): { present: number } {
  const p = s.payload;
  if (p.length < 8) throw new SnapshotError(file, `section ${s.name}: ${p.length} bytes, too short for RAM`);
  const view = Buffer.from(p.buffer, p.byteOffset, p.length);
  const pageSize = view.readUInt32LE(0);
  const pages = view.readUInt32LE(4);
  if (pageSize !== RAM_PAGE) throw new SnapshotError(file, `section ${s.name}: page size ${pageSize}, expected ${RAM_PAGE}`);
  const want = Math.ceil(ram.length / RAM_PAGE);
  if (pages !== want) {
    throw new SnapshotError(file, `section ${s.name}: RAM of ${pages} pages (${(pages * RAM_PAGE) / 2 ** 20} MiB); this VM has ${want} (${ram.length / 2 ** 20} MiB)`);
  }
  const mapBytes = Math.ceil(pages / 8);
  if (p.length < 8 + mapBytes) throw new SnapshotError(file, `section ${s.name}: the page map is cut short`);
  const bitmap = p.subarray(8, 8 + mapBytes);
  let at = 8 + mapBytes;
  let present = 0;
  for (let pg = 0; pg < pages; pg++) {
    if ((bitmap[pg >>> 3]! & (1 << (pg & 7))) === 0) continue;
    const start = pg * RAM_PAGE;
    const len = Math.min(RAM_PAGE, ram.length - start);
    if (at + len > p.length) throw new SnapshotError(file, `section ${s.name}: the map lists more pages than it holds`);
    ram.set(p.subarray(at, at + len), start);
    at += len;
    present++;
  }
  if (at !== p.length) throw new SnapshotError(file, `section ${s.name}: ${p.length - at} bytes beyond the pages its map lists`);
  return { present };
}
