/**
 * A copy-on-write overlay in host memory over a read-only disk (`--disk FILE,snapshot`,
 * QEMU's `-snapshot`): the guest sees a writable disk, its writes live in this process
 * and vanish when it exits, and the file is never modified.
 *
 * Why the full profile needs it: an ATA disk cannot tell the guest it is read-only (libata
 * never sets the SCSI write-protect bit for ATA disks), so the kernel mounts the shared
 * pristine image read-write and every write fails; a snapshot makes that harmless.
 */
import type { BlockBackend } from "./device.js";

const SECTOR = 512;

export class OverlayBackend implements BlockBackend {
  readonly sectors: number;
  readonly readonly = false;
  /** Sectors written by the guest, by sector number. */
  private readonly written = new Map<number, Uint8Array>();

  constructor(private readonly base: BlockBackend) {
    this.sectors = base.sectors;
  }

  /** Bytes of host memory the overlay holds. */
  get overlayBytes(): number {
    return this.written.size * SECTOR;
  }

  read(offset: number, dst: Uint8Array): void {
    this.base.read(offset, dst);
    if (this.written.size === 0) return;
    // Devices transfer whole sectors at sector offsets; patch the ones the guest wrote.
    const first = Math.floor(offset / SECTOR);
    const last = Math.floor((offset + dst.length - 1) / SECTOR);
    for (let s = first; s <= last; s++) {
      const data = this.written.get(s);
      if (data === undefined) continue;
      const at = s * SECTOR - offset;
      const from = Math.max(0, -at);
      const to = Math.min(SECTOR, dst.length - at);
      dst.set(data.subarray(from, to), at + from);
    }
  }

  write(offset: number, src: Uint8Array): void {
    const first = Math.floor(offset / SECTOR);
    const last = Math.floor((offset + src.length - 1) / SECTOR);
    for (let s = first; s <= last; s++) {
      let data = this.written.get(s);
      if (data === undefined) {
        data = new Uint8Array(SECTOR);
        this.base.read(s * SECTOR, data);
        this.written.set(s, data);
      }
      const at = s * SECTOR - offset;
      const from = Math.max(0, -at);
      const to = Math.min(SECTOR, src.length - at);
      data.set(src.subarray(at + from, at + to), from);
    }
  }

  /** Nothing to make durable: the overlay is discarded at exit by design. */
  flush(): void {}

  /**
   * The written sectors as bytes, for a VM snapshot (the overlay is the disk's only copy of
   * them): a count u32, then per sector its number u32 and its 512 bytes, little-endian.
   */
  save(): Uint8Array {
    const out = new Uint8Array(4 + this.written.size * (4 + SECTOR));
    const v = new DataView(out.buffer);
    v.setUint32(0, this.written.size, true);
    let at = 4;
    for (const [s, data] of [...this.written].sort((a, b) => a[0] - b[0])) {
      v.setUint32(at, s, true);
      out.set(data, at + 4);
      at += 4 + SECTOR;
    }
    return out;
  }

  /** Replaces the overlay with `bytes` from save(), checked whole first (a bad one throws and changes nothing). */
  load(bytes: Uint8Array): void {
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length < 4) throw new RangeError(`disk overlay: ${bytes.length} bytes, too short`);
    const n = v.getUint32(0, true);
    if (bytes.length !== 4 + n * (4 + SECTOR)) throw new RangeError(`disk overlay: ${bytes.length} bytes for ${n} sectors`);
    const next = new Map<number, Uint8Array>();
    for (let i = 0, at = 4; i < n; i++, at += 4 + SECTOR) {
      const s = v.getUint32(at, true);
      if (s >= this.sectors) throw new RangeError(`disk overlay: sector ${s} is beyond the disk's ${this.sectors}`);
      if (next.has(s)) throw new RangeError(`disk overlay: sector ${s} twice`);
      next.set(s, bytes.slice(at + 4, at + 4 + SECTOR));
    }
    this.written.clear();
    for (const [s, d] of next) this.written.set(s, d);
  }
}
