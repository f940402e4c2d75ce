/**
 * The snapshot file (issue 15): versioned and self-describing, so a file from another
 * paravm, a truncated copy or a flipped bit is refused before anything is restored.
 *
 *   file    = header section*
 *   header  = MAGIC (8 bytes) · FORMAT_VERSION u32 · section count u32
 *   section = name length u8 · name (ASCII) · kind u8 · payload length u64 · CRC-32 u32 · payload
 *
 * All integers little-endian. A section's CRC-32 (zlib's, the one gzip uses) covers its
 * payload. Sections are read whole and checked before any of them is handed out, so a
 * caller never sees a half-valid file. `json` sections hold UTF-8 JSON (device states,
 * the VM's settings); `ram` sections hold guest RAM with zero pages left out (ram.ts).
 *
 * The writer streams: a section's length must be known before its payload (RAM's is, from
 * its page map), and its CRC is patched in after the payload with a positional write, so
 * a 256 MiB guest is never held twice in host memory.
 */
import { closeSync, fstatSync, openSync, readSync, writeSync } from "node:fs";
import { crc32 } from "node:zlib";

export const SNAPSHOT_FORMAT = {
  MAGIC: "PARAVMSN",
  VERSION: 1,
  HEADER_BYTES: 16,
  MAX_NAME: 64,
  /** Sections a file may hold: more is not a file this code wrote. */
  MAX_SECTIONS: 4096,
} as const;

export const SECTION_KIND = { JSON: 1, RAM: 2, BYTES: 3 } as const;
export type SectionKind = (typeof SECTION_KIND)[keyof typeof SECTION_KIND];

const KIND_NAMES: Readonly<Record<number, string>> = { 1: "json", 2: "ram", 3: "bytes" };

/** A snapshot that cannot be read: `file` and a sentence that says what is wrong with it. */
export class SnapshotError extends Error {
  constructor(
    readonly file: string,
    readonly why: string,
  ) {
    super(`snapshot ${file}: ${why}`);
    this.name = "SnapshotError";
  }
}

export interface Section {
  readonly name: string;
  readonly kind: SectionKind;
  readonly payload: Uint8Array;
}

/** Writes a snapshot file section by section. */
export class SnapshotWriter {
  private readonly fd: number;
  private pos: number = SNAPSHOT_FORMAT.HEADER_BYTES;
  private count = 0;
  private readonly names = new Set<string>();

  constructor(readonly file: string) {
    this.fd = openSync(file, "w");
  }

  /** A section whose payload is given whole. */
  section(name: string, kind: SectionKind, payload: Uint8Array): void {
    this.streamed(name, kind, payload.length, (put) => put(payload));
  }

  json(name: string, value: unknown): void {
    this.section(name, SECTION_KIND.JSON, new TextEncoder().encode(JSON.stringify(value)));
  }

  /**
   * A section of `length` bytes produced in pieces by `fill`; it must put exactly `length`
   * bytes (a mismatch is this program's bug, so it throws rather than writing a bad file).
   */
  streamed(name: string, kind: SectionKind, length: number, fill: (put: (chunk: Uint8Array) => void) => void): void {
    checkName(name);
    if (this.names.has(name)) throw new Error(`snapshot section ${name} written twice`);
    this.names.add(name);
    const nameBytes = new TextEncoder().encode(name);
    const head = Buffer.alloc(1 + nameBytes.length + 1 + 8 + 4);
    head.writeUInt8(nameBytes.length, 0);
    head.set(nameBytes, 1);
    head.writeUInt8(kind, 1 + nameBytes.length);
    head.writeBigUInt64LE(BigInt(length), 2 + nameBytes.length);
    const crcAt = this.pos + 10 + nameBytes.length;
    this.pos += writeSync(this.fd, head, 0, head.length, this.pos);
    let crc = 0;
    let put = 0;
    fill((chunk) => {
      crc = crc32(chunk, crc);
      let off = 0;
      while (off < chunk.length) off += writeSync(this.fd, chunk, off, chunk.length - off, this.pos + off);
      this.pos += chunk.length;
      put += chunk.length;
    });
    if (put !== length) throw new Error(`snapshot section ${name}: ${put} bytes written, ${length} declared`);
    const c = Buffer.alloc(4);
    c.writeUInt32LE(crc >>> 0, 0);
    writeSync(this.fd, c, 0, 4, crcAt);
    this.count++;
  }

  /** Writes the header last (a file cut short while writing has no valid magic). */
  close(): void {
    const h = Buffer.alloc(SNAPSHOT_FORMAT.HEADER_BYTES);
    h.write(SNAPSHOT_FORMAT.MAGIC, 0, "ascii");
    h.writeUInt32LE(SNAPSHOT_FORMAT.VERSION, 8);
    h.writeUInt32LE(this.count, 12);
    writeSync(this.fd, h, 0, h.length, 0);
    closeSync(this.fd);
  }

  /** Give up: close without a header, so the file is never mistaken for a snapshot. */
  abort(): void {
    closeSync(this.fd);
  }
}

function checkName(name: string): void {
  if (!/^[a-z0-9][a-z0-9._:-]*$/.test(name) || name.length > SNAPSHOT_FORMAT.MAX_NAME) {
    throw new Error(`snapshot section name ${JSON.stringify(name)} is not [a-z0-9._:-], ≤ ${SNAPSHOT_FORMAT.MAX_NAME} characters`);
  }
}

/** Reads `len` bytes at `pos` of the open snapshot, or throws a SnapshotError naming `what` was cut short. */
type Reader = (pos: number, len: number, what: string) => Buffer;

/** A section's head as read at its position, and where its payload starts. */
interface SectionHead {
  readonly name: string;
  readonly kind: number;
  readonly length: number;
  readonly crc: number;
  readonly payloadAt: number;
}

/**
 * Open `file`, check its header (magic, version, section count), and hand `f` a reader
 * bounded by the file's size, that size and the section count; the file is closed after.
 * Used to read one section without the rest (readOneSection).
 */
function withSnapshot<T>(file: string, f: (read: Reader, size: number, count: number, fd: number) => T): T {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (e) {
    throw new SnapshotError(file, `cannot open it: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    const size = fstatSync(fd).size;
    const read: Reader = (pos, len, what) => {
      if (pos + len > size) throw new SnapshotError(file, `truncated: ${what} needs bytes ${pos}..${pos + len} of a ${size}-byte file`);
      const b = Buffer.allocUnsafe(len);
      readFully(file, fd, b, pos, what);
      return b;
    };
    return f(read, size, checkHeader(file, read, size), fd);
  } finally {
    closeSync(fd);
  }
}

/** Fills `b` from `fd` at `pos`; a file that ends first is truncated. */
function readFully(file: string, fd: number, b: Uint8Array, pos: number, what: string): void {
  let off = 0;
  while (off < b.length) {
    const n = readSync(fd, b, off, b.length - off, pos + off);
    if (n === 0) throw new SnapshotError(file, `truncated while reading ${what}`);
    off += n;
  }
}

/** The header's section count, once its magic and version are this paravm's. */
function checkHeader(file: string, read: Reader, size: number): number {
  if (size < SNAPSHOT_FORMAT.HEADER_BYTES) throw new SnapshotError(file, `not a paravm snapshot (${size} bytes, shorter than the header)`);
  const h = read(0, SNAPSHOT_FORMAT.HEADER_BYTES, "the header");
  if (h.toString("latin1", 0, 8) !== SNAPSHOT_FORMAT.MAGIC) {
    throw new SnapshotError(file, "not a paravm snapshot (no PARAVMSN magic: another kind of file, or one whose writing did not finish)");
  }
  const version = h.readUInt32LE(8);
  if (version !== SNAPSHOT_FORMAT.VERSION) {
    throw new SnapshotError(file, `format version ${version}; this paravm reads version ${SNAPSHOT_FORMAT.VERSION} only`);
  }
  const count = h.readUInt32LE(12);
  if (count > SNAPSHOT_FORMAT.MAX_SECTIONS) throw new SnapshotError(file, `claims ${count} sections (at most ${SNAPSHOT_FORMAT.MAX_SECTIONS})`);
  return count;
}

/**
 * The whole of `file` in one read, in shared memory: the sections handed out are views of
 * it, so a restore passes them to the VM's owner thread without copying or reading again.
 * The header is checked first, so a disk image given by mistake is not read whole.
 */
function readWhole(file: string): Buffer {
  return withSnapshot(file, (_read, size, _count, fd) => {
    const b = Buffer.from(new SharedArrayBuffer(size));
    readFully(file, fd, b, 0, "the file");
    return b;
  });
}

/** The head of section `i` (of `count`) at `pos`: its name checked, its length within the file. */
function readHead(file: string, read: Reader, size: number, pos: number, i: number, count: number): SectionHead {
  const what = `section ${i + 1} of ${count}`;
  const nameLen = read(pos, 1, what).readUInt8(0);
  if (nameLen === 0 || nameLen > SNAPSHOT_FORMAT.MAX_NAME) throw new SnapshotError(file, `${what}: a name of ${nameLen} bytes`);
  const head = read(pos + 1, nameLen + 13, what);
  const name = head.toString("latin1", 0, nameLen);
  const kind = head.readUInt8(nameLen);
  const len = head.readBigUInt64LE(nameLen + 1);
  const crc = head.readUInt32LE(nameLen + 9);
  if (!/^[a-z0-9][a-z0-9._:-]*$/.test(name)) throw new SnapshotError(file, `${what}: the name ${JSON.stringify(name)} is corrupt`);
  const payloadAt = pos + 1 + nameLen + 13;
  if (len > BigInt(size - payloadAt)) throw new SnapshotError(file, `truncated: section ${name} declares ${len} bytes, ${size - payloadAt} remain`);
  return { name, kind, length: Number(len), crc, payloadAt };
}

/** The payload of a section, its kind known and its CRC checked. */
function readPayload(file: string, read: Reader, h: SectionHead): Section {
  if (KIND_NAMES[h.kind] === undefined) throw new SnapshotError(file, `section ${h.name}: unknown kind ${h.kind}`);
  const payload = read(h.payloadAt, h.length, `section ${h.name}`);
  const crc = crc32(payload) >>> 0;
  if (crc !== h.crc) throw new SnapshotError(file, `section ${h.name} is corrupt (CRC-32 ${crc.toString(16)}, recorded ${h.crc.toString(16)})`);
  return { name: h.name, kind: h.kind as SectionKind, payload };
}

/**
 * Every section of `file`, each checked (magic, version, lengths, CRC, names) before any is
 * returned. The file is read whole into a SharedArrayBuffer; payloads are views of it.
 */
export function readSnapshot(file: string): Map<string, Section> {
  const whole = readWhole(file);
  const size = whole.length;
  const read: Reader = (pos, len, what) => {
    if (pos + len > size) throw new SnapshotError(file, `truncated: ${what} needs bytes ${pos}..${pos + len} of a ${size}-byte file`);
    return whole.subarray(pos, pos + len);
  };
  const count = checkHeader(file, read, size);
  const out = new Map<string, Section>();
  let pos: number = SNAPSHOT_FORMAT.HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    const h = readHead(file, read, size, pos, i, count);
    if (KIND_NAMES[h.kind] === undefined) throw new SnapshotError(file, `section ${h.name}: unknown kind ${h.kind}`);
    if (out.has(h.name)) throw new SnapshotError(file, `section ${h.name} appears twice`);
    out.set(h.name, readPayload(file, read, h));
    pos = h.payloadAt + h.length;
  }
  if (pos !== size) throw new SnapshotError(file, `${size - pos} bytes after the last section (a damaged or concatenated file)`);
  return out;
}

/**
 * One section of `file`, read and checked (its CRC) without reading the others: the
 * header and the section heads before it are walked, their payloads skipped. For a quick
 * look at a file's `vm` section before a restore reads (and checks) the whole file.
 */
export function readOneSection(file: string, want: string): Section {
  return withSnapshot(file, (read, size, count) => {
    let pos: number = SNAPSHOT_FORMAT.HEADER_BYTES;
    for (let i = 0; i < count; i++) {
      const h = readHead(file, read, size, pos, i, count);
      if (h.name === want) return readPayload(file, read, h);
      pos = h.payloadAt + h.length;
    }
    throw new SnapshotError(file, `has no section ${want}`);
  });
}

/** A section that must be there, of this kind. */
export function need(file: string, sections: ReadonlyMap<string, Section>, name: string, kind: SectionKind): Section {
  const s = sections.get(name);
  if (!s) throw new SnapshotError(file, `has no section ${name}`);
  if (s.kind !== kind) throw new SnapshotError(file, `section ${name} is ${KIND_NAMES[s.kind]}, expected ${KIND_NAMES[kind]}`);
  return s;
}

/** A json section's value (it parses, or the file is refused). */
export function jsonOf(file: string, sections: ReadonlyMap<string, Section>, name: string): unknown {
  const s = need(file, sections, name, SECTION_KIND.JSON);
  try {
    return JSON.parse(new TextDecoder().decode(s.payload));
  } catch (e) {
    throw new SnapshotError(file, `section ${name} is not JSON: ${(e as Error).message}`);
  }
}
