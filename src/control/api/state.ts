/**
 * The daemon's durable state: `vms.json` in the state directory holds every VM's
 * normalized entry (with its live settings folded in) and the networks. It is rewritten
 * whole on every change, atomically (a temp file, fsync, rename), so a crash or `kill -9`
 * at any moment leaves either the old file or the new one, never half of one. At start
 * the daemon lists every VM from it, stopped; the VMs' disks are their own files,
 * untouched here.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { VmEntry } from "./entry.js";

export const STATE_FILE = "vms.json";
const STATE_VERSION = 1;

export interface StoredVm {
  readonly entry: VmEntry;
  readonly createdAt: number;
}

export interface StoredState {
  readonly version: number;
  readonly networks: Record<string, string>;
  readonly vms: readonly StoredVm[];
}

/** `$XDG_STATE_HOME/paravm`, else `~/.local/state/paravm`. */
export function defaultStateDir(): string {
  const xdg = process.env.XDG_STATE_HOME;
  return join(xdg !== undefined && xdg !== "" ? xdg : join(homedir(), ".local", "state"), "paravm");
}

export class StateStore {
  readonly file: string;

  constructor(readonly dir: string) {
    this.file = join(dir, STATE_FILE);
  }

  /** The stored state (empty when there is none yet); a file that is not ours is an error, never overwritten silently. */
  load(): StoredState {
    let text: string;
    try {
      text = readFileSync(this.file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return { version: STATE_VERSION, networks: {}, vms: [] };
      throw e;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new Error(`${this.file}: not JSON (${(e as Error).message}); move it away to start with no VMs`);
    }
    const d = doc as Partial<StoredState>;
    if (typeof d !== "object" || d === null || d.version !== STATE_VERSION || !Array.isArray(d.vms)) {
      throw new Error(`${this.file}: not a paravm state file of version ${STATE_VERSION}; move it away to start with no VMs`);
    }
    return { version: STATE_VERSION, networks: d.networks ?? {}, vms: d.vms };
  }

  save(networks: Record<string, string>, vms: readonly StoredVm[]): void {
    mkdirSync(this.dir, { recursive: true });
    const text = `${JSON.stringify({ version: STATE_VERSION, networks, vms } satisfies StoredState, null, 2)}\n`;
    const tmp = `${this.file}.${process.pid}.tmp`;
    const fd = openSync(tmp, "w", 0o600);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
  }
}
