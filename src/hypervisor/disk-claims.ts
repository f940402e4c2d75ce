/**
 * Which running VM holds which disk file, per Hypervisor: a file one VM writes is not
 * given to another VM while the first runs (two guests writing one ext2 image corrupt it,
 * and each would read the other's data). Any number of VMs may read one file (",readonly"
 * or ",snapshot", whose writes stay in host memory), but none while a VM writes it: a reader
 * would see the file change under its page cache. QEMU's image locking makes the same
 * rules with fcntl locks; here one table in the process that runs every VM is enough.
 *
 * A file is known by its device and inode, so another path to it (a symlink, a hard
 * link, "./x" against "x") is the same file.
 */
import { statSync } from "node:fs";
import type { DiskSpecData } from "./machine-spec.js";

interface Holders {
  /** The path as the first holder gave it (for messages). */
  readonly path: string;
  writer: string | null;
  readonly readers: Set<string>;
}

/** A disk is written by the guest unless it is read-only or copy-on-write. */
export const writesDisk = (d: Pick<DiskSpecData, "readonly" | "snapshot">): boolean => !d.readonly && !d.snapshot;

export class DiskClaims {
  /** By "dev:ino". */
  private readonly files = new Map<string, Holders>();
  /** What each VM holds, so release needs only the name. */
  private readonly byVm = new Map<string, string>();

  /**
   * Claim `disk` for `vm` as it starts. Returns why it cannot have it (a message naming the
   * file and the VM that holds it), or null when it now holds it. A file that cannot be
   * looked at is not claimed: opening it fails later with its own message.
   */
  claim(vm: string, disk: Pick<DiskSpecData, "path" | "readonly" | "snapshot"> | undefined): string | null {
    if (disk === undefined) return null;
    if (this.byVm.has(vm)) return `VM ${vm} already holds the disk ${this.files.get(this.byVm.get(vm)!)?.path ?? "?"}`;
    let key: string;
    try {
      const st = statSync(disk.path);
      key = `${st.dev}:${st.ino}`;
    } catch {
      return null;
    }
    const h = this.files.get(key) ?? { path: disk.path, writer: null, readers: new Set<string>() };
    const same = h.path === disk.path ? "" : ` (as ${h.path})`;
    if (h.writer !== null) {
      return `disk ${disk.path}${same} is in use: VM ${h.writer} is running with it writable; a disk one VM writes cannot be given to another while it runs (give VM ${vm} a copy of the file)`;
    }
    if (writesDisk(disk) && h.readers.size > 0) {
      const many = h.readers.size > 1;
      const rs = [...h.readers].join(", ");
      return `disk ${disk.path}${same} is in use: ${many ? "VMs" : "VM"} ${rs} ${many ? "are" : "is"} reading it; VM ${vm} cannot write it while ${many ? "they run" : "it runs"} (use ,snapshot or ,readonly, or a copy of the file)`;
    }
    if (writesDisk(disk)) h.writer = vm;
    else h.readers.add(vm);
    this.files.set(key, h);
    this.byVm.set(vm, key);
    return null;
  }

  /** The VM stopped (or never got going): its disk is free for others. */
  release(vm: string): void {
    const key = this.byVm.get(vm);
    if (key === undefined) return;
    this.byVm.delete(vm);
    const h = this.files.get(key)!;
    if (h.writer === vm) h.writer = null;
    h.readers.delete(vm);
    if (h.writer === null && h.readers.size === 0) this.files.delete(key);
  }

  /** Who holds the file at `path` now (tests, diagnostics). */
  holders(path: string): { writer: string | null; readers: string[] } | null {
    try {
      const st = statSync(path);
      const h = this.files.get(`${st.dev}:${st.ino}`);
      return h ? { writer: h.writer, readers: [...h.readers] } : null;
    } catch {
      return null;
    }
  }
}
