/**
 * The guest program the snapshot tests run (machine-restore.test.ts in one thread,
 * vm-snapshot.test.ts through the hypervisor): it writes a marker to its raw disk, then
 * counts on the console, each line with its uptime and the marker read back from the
 * device itself (O_DIRECT, so from the disk controller, not the page cache). A restored
 * guest must go on counting from where it was, with uptime continuing and the marker read.
 */
import type { Vm } from "../vm.js";

export const SNAP_MARKER = "snap-marker-42";
/** Sector the guest writes its marker to (/init is told not to mount the raw disk). */
export const SNAP_SECTOR = 2048;

/** The shell command: marker to `dev`, then a count every `intervalUs`. */
export function counterScript(dev: string, intervalUs: number): string {
  const read = `dd if=${dev} bs=512 skip=${SNAP_SECTOR} count=1 iflag=direct 2>/dev/null | head -c ${SNAP_MARKER.length}`;
  return [
    `echo ${SNAP_MARKER} | dd of=${dev} bs=512 seek=${SNAP_SECTOR} conv=sync oflag=direct 2>/dev/null`,
    `i=0; while :; do i=$((i+1)); m=$(${read}); echo "n=$i up=$(cut -d' ' -f1 /proc/uptime) m=$m"; usleep ${intervalUs}; done`,
  ].join("; ");
}

export interface CountLine {
  readonly n: number;
  readonly up: number;
  readonly m: string;
}

/** Every complete count line of a console transcript. */
export function countLines(text: string): CountLine[] {
  return [...text.matchAll(/n=(\d+) up=([\d.]+) m=(\S*)\r?\n/g)].map((x) => ({ n: Number(x[1]), up: Number(x[2]), m: x[3]! }));
}

/** A VM's console, parsed into counter lines as they come. */
export class CountingConsole {
  text = "";
  constructor(
    vm: Vm,
    private readonly waitMs = 240_000,
  ) {
    vm.on("output", (b: Uint8Array) => (this.text += Buffer.from(b).toString("latin1")));
  }

  counts(): CountLine[] {
    return countLines(this.text);
  }

  async until(what: string, ok: (c: CountLine[]) => boolean): Promise<CountLine[]> {
    const t0 = Date.now();
    while (!ok(this.counts())) {
      if (Date.now() - t0 > this.waitMs) throw new Error(`no ${what} within ${this.waitMs / 1000} s; console ends:\n${this.text.slice(-600)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return this.counts();
  }
}
