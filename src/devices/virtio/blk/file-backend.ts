/**
 * A raw disk image file as a `BlockBackend`: synchronous positional reads and writes
 * (`fs.readSync` / `fs.writeSync`) straight from and into guest RAM.
 *
 * Cache modes (as QEMU names them):
 * - `writeback` (default): writes go to the host page cache; FLUSH runs `fdatasync`, so
 *   what the guest flushed survives a host crash or a killed paravm.
 * - `none`: the file is opened with O_DSYNC, so every write is on stable storage when
 *   the request completes (write-through; FLUSH is then nearly free). Slower.
 * - `readonly`: opened read-only; the device offers VIRTIO_BLK_F_RO and fails writes.
 *
 * Discard is a no-op (allowed: discarded sectors read back unspecified data; Node has no
 * hole punching); write-zeroes writes zeroes.
 */
import { closeSync, constants, fdatasyncSync, fstatSync, openSync, readSync, writeSync } from "node:fs";
import type { BlockBackend } from "./device.js";

export type CacheMode = "writeback" | "none";

export interface FileBackendOptions {
  readonly readonly?: boolean;
  readonly cache?: CacheMode;
}

/** A disk image that cannot be used: the message is one line naming the file. */
export class DiskError extends Error {
  override readonly name = "DiskError";
}

const SECTOR = 512;
const ZERO_CHUNK = new Uint8Array(1024 * 1024);

function why(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "EISDIR") return "is a directory";
  if (code === "EROFS") return "read-only file system (use ,readonly)";
  return e instanceof Error ? e.message : String(e);
}

export class FileBackend implements BlockBackend {
  readonly sectors: number;
  readonly readonly: boolean;
  readonly cache: CacheMode;
  private fd: number | null;

  /** Open `path`; throws DiskError with a one-line message if it cannot be a disk. */
  constructor(
    readonly path: string,
    opts: FileBackendOptions = {},
  ) {
    this.readonly = opts.readonly === true;
    this.cache = opts.cache ?? "writeback";
    const flags = this.readonly
      ? constants.O_RDONLY
      : constants.O_RDWR | (this.cache === "none" ? constants.O_DSYNC : 0);
    let fd: number;
    try {
      fd = openSync(path, flags);
    } catch (e) {
      throw new DiskError(`cannot open disk '${path}': ${why(e)}`);
    }
    try {
      const st = fstatSync(fd);
      if (st.isDirectory()) throw new DiskError(`cannot open disk '${path}': is a directory`);
      if (!st.isFile()) throw new DiskError(`disk '${path}': not a regular file`);
      if (st.size === 0) throw new DiskError(`disk '${path}': empty file`);
      if (st.size % SECTOR !== 0) {
        throw new DiskError(`disk '${path}': ${st.size} bytes is not a whole number of 512-byte sectors`);
      }
      this.sectors = st.size / SECTOR;
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    this.fd = fd;
  }

  private handle(): number {
    if (this.fd === null) throw new Error(`disk '${this.path}' is closed`);
    return this.fd;
  }

  read(offset: number, dst: Uint8Array): void {
    const fd = this.handle();
    let done = 0;
    while (done < dst.length) {
      const n = readSync(fd, dst, done, dst.length - done, offset + done);
      if (n <= 0) throw new Error(`disk '${this.path}': short read at ${offset + done} (file shrank?)`);
      done += n;
    }
  }

  write(offset: number, src: Uint8Array): void {
    if (this.readonly) throw new Error(`disk '${this.path}' is read-only`);
    const fd = this.handle();
    let done = 0;
    while (done < src.length) {
      done += writeSync(fd, src, done, src.length - done, offset + done);
    }
  }

  flush(): void {
    if (this.readonly || this.fd === null) return;
    fdatasyncSync(this.fd);
  }

  discard(_offset: number, _len: number): void {
    // A hint only: the data may stay.
  }

  writeZeroes(offset: number, len: number): void {
    for (let done = 0; done < len; ) {
      const n = Math.min(ZERO_CHUNK.length, len - done);
      this.write(offset + done, ZERO_CHUNK.subarray(0, n));
      done += n;
    }
  }

  /** Flush (unless read-only) and close; further I/O fails (IOERR). Idempotent. */
  close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    try {
      if (!this.readonly) fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

/**
 * Parse `--disk path[,readonly][,cache=writeback|none]` (also `ro`, `readonly=on|off`).
 * Throws DiskError with a one-line message on an unknown or malformed option.
 */
export function parseDiskSpec(spec: string): { path: string; snapshot: boolean } & Required<FileBackendOptions> {
  const parts = spec.split(",");
  const path = parts[0]!;
  if (path === "") throw new DiskError(`--disk '${spec}': no file name`);
  let readonly = false;
  let cache: CacheMode = "writeback";
  let snapshot = false;
  for (const p of parts.slice(1)) {
    const [key, value] = p.includes("=") ? [p.slice(0, p.indexOf("=")), p.slice(p.indexOf("=") + 1)] : [p, undefined];
    if (key === "readonly" || key === "ro") {
      if (value === undefined || value === "on" || value === "true") readonly = true;
      else if (value === "off" || value === "false") readonly = false;
      else throw new DiskError(`--disk: ${key}=${value}: expected on or off`);
    } else if (key === "snapshot" && value === undefined) {
      snapshot = true;
    } else if (key === "cache") {
      if (value === "writeback" || value === "none") cache = value;
      else throw new DiskError(`--disk: cache=${value ?? ""}: expected cache=writeback or cache=none`);
    } else {
      throw new DiskError(`--disk: unknown option '${p}' (expected readonly, snapshot, cache=writeback or cache=none)`);
    }
  }
  if (snapshot && readonly) throw new DiskError("--disk: readonly and snapshot together: pick one");
  return { path, readonly, cache, snapshot };
}
