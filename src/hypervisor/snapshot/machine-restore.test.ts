/**
 * Snapshots of real Linux guests, in one thread (skipped without built guest images): a pv
 * and a full machine boot a command that counts, are saved (machine-state.ts), written to
 * a snapshot file (format.ts + ram.ts) and read back, and restored into a new machine whose
 * host clock is an hour ahead. The counter goes on from where it was (no reboot), uptime
 * goes on without the hour, and the disk the guest wrote before the save reads back through
 * the restored disk controller (O_DIRECT reads, so from the device, not the page cache).
 * Files and states that do not fit are refused with messages.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { defaultGuestDir } from "../../control/args.js";
import { MemoryBackend } from "../../devices/virtio/blk/device.js";
import { FULL_DEFAULTS, FullMachine, type FullOptions } from "../../machine/full.js";
import { MachineStateError, restoreFull, restorePv, saveMachine, type AnyMachine, type SavedMachine } from "../../machine/machine-state.js";
import { PvMachine, type PvOptions } from "../../machine/pv.js";
import { jsonOf, need, readSnapshot, SECTION_KIND, SnapshotError, SnapshotWriter } from "./format.js";
import { readRam, writeRam } from "./ram.js";
import { counterScript, SNAP_MARKER } from "./snapshot-testkit.js";

const guestDir = defaultGuestDir();
const skip = guestDir === null ? "no guest images in ~/.cache/paravm" : false;
const skipFull = skip || (!existsSync(FULL_DEFAULTS.FIRMWARE) ? `no ${FULL_DEFAULTS.FIRMWARE} (package opensbi)` : false);
const work = mkdtempSync(join(tmpdir(), "paravm-snaprestore-"));
after(() => rmSync(work, { recursive: true, force: true }));

const MiB = 1 << 20;
const MEM = 64 * MiB;
/** An hour: what the restored machine's host clock is ahead by. */
const HOUR_MS = 3_600_000;
/** Longest a run may take before the test gives up on it. */
const WATCHDOG_MS = 90_000;
const MARKER = SNAP_MARKER;
const counter = (dev: string): string => counterScript(dev, 100_000);

const bootargs = (console: string, dev: string) =>
  `console=${console} quiet paravm.nodisk paravm.noagent paravm.exec=${Buffer.from(counter(dev)).toString("base64")}`;

/** Console text collected while a machine runs; the machine stops once `until` matches. */
class Screen {
  text = "";
  machine: AnyMachine | null = null;
  constructor(private until: RegExp) {}
  output = (b: Uint8Array): void => {
    this.text += Buffer.from(b).toString("latin1");
    if (this.until.test(this.text)) this.machine?.stop();
  };
  /** Run `m` until `until` matches, or stop it after WATCHDOG_MS (a guest that hangs fails the test, not the run). */
  async runUntil(m: AnyMachine, until: RegExp): Promise<void> {
    this.machine = m;
    this.until = until;
    const watchdog = setTimeout(() => m.stop(), WATCHDOG_MS);
    try {
      await m.runAsync();
    } finally {
      clearTimeout(watchdog);
    }
  }
}

interface Line {
  n: number;
  up: number;
  m: string;
  /** Where the line ends in the text it was found in. */
  end: number;
}

const linesOf = (text: string): Line[] =>
  [...text.matchAll(/n=(\d+) up=([\d.]+) m=(\S*)/g)].map((x) => ({ n: Number(x[1]), up: Number(x[2]), m: x[3]!, end: x.index! + x[0].length }));

function writeFile(file: string, saved: SavedMachine): void {
  const w = new SnapshotWriter(file);
  w.json("machine", saved.state);
  writeRam(w, "ram", saved.ram);
  w.close();
}

function readFile(file: string): { state: unknown; ram: (dst: Uint8Array) => void } {
  const sections = readSnapshot(file);
  const ram = need(file, sections, "ram", SECTION_KIND.RAM);
  return { state: jsonOf(file, sections, "machine"), ram: (dst) => void readRam(file, ram, dst) };
}

/**
 * The counter over both runs: consecutive from 1 (no reboot: it never starts again; a
 * line the save cut in two counts once), at least two lines after the restore, uptime never backwards and never jumping by the
 * hour the host clock moved, and the marker read from the disk on every line.
 */
function checkContinues(before: string, afterText: string): void {
  const lines = linesOf(before + afterText);
  const restored = lines.filter((l) => l.end > before.length);
  assert.ok(restored.length >= 2, `the restored guest printed too little:\n${before}\n--- restored ---\n${afterText}`);
  lines.forEach((l, i) => assert.equal(l.n, i + 1, `line ${i + 1} says n=${l.n}: the count restarted or skipped\n${afterText}`));
  for (let i = 1; i < lines.length; i++) {
    const step = lines[i]!.up - lines[i - 1]!.up;
    assert.ok(step >= 0, `uptime went backwards: ${lines[i - 1]!.up} → ${lines[i]!.up}`);
    assert.ok(step < 60, `uptime jumped by ${step} s between n=${lines[i - 1]!.n} and n=${lines[i]!.n} (the host clock moved by an hour)`);
  }
  for (const l of lines) assert.equal(l.m, MARKER, `n=${l.n} read ${JSON.stringify(l.m)} from the disk`);
}

describe("snapshot of a real guest: saved to a file, restored into a new machine", () => {
  test("pv: the counter and uptime go on from the saved values, the virtio-blk disk written before the save reads back", { skip, timeout: 240_000 }, async () => {
    const kernel = readFileSync(join(guestDir!, "Image"));
    const initrd = readFileSync(join(guestDir!, "initramfs.cpio.gz"));
    const disk = new MemoryBackend(new Uint8Array(readFileSync(join(guestDir!, "disk.ext2"))));
    const first = new Screen(/n=3 /);
    const opts = (backend: MemoryBackend, screen: Screen, clockMs?: () => number): PvOptions => ({
      kernel,
      initrd,
      memBytes: MEM,
      bootargs: bootargs("hvc0", "/dev/vda"),
      disk: { backend },
      output: screen.output,
      ...(clockMs ? { clockMs } : {}),
    });
    const a = new PvMachine(opts(disk, first));
    await first.runUntil(a, /n=3 /);
    const saved = saveMachine(a);
    const file = join(work, "pv.snap");
    writeFile(file, saved);
    const inBefore = a.blk!.stats.requests.in;
    // What the caller keeps of its disk: the bytes as they were at the save.
    const diskCopy = new MemoryBackend(disk.bytes.slice());

    const second = new Screen(/$^/);
    const b = restorePv(opts(diskCopy, second, () => performance.now() + HOUR_MS), readFile(file));
    await second.runUntil(b, new RegExp(`n=${linesOf(first.text).at(-1)!.n + 3} `));
    checkContinues(first.text, second.text);
    assert.ok(b.blk!.stats.requests.in > inBefore, "the restored guest read its disk through the restored device");
    assert.ok(statSync(file).size < MEM / 2, "zero pages are left out of the file");
  });

  test("full: OpenSBI and Linux go on counting on the restored CLINT, UART and ATA disk", { skip: skipFull, timeout: 300_000 }, async () => {
    const kernel = readFileSync(join(guestDir!, "Image"));
    const initrd = readFileSync(join(guestDir!, "initramfs.cpio.gz"));
    const firmware = readFileSync(FULL_DEFAULTS.FIRMWARE);
    const disk = new MemoryBackend(new Uint8Array(readFileSync(join(guestDir!, "disk.ext2"))));
    const first = new Screen(/n=3 /);
    const opts = (backend: MemoryBackend, screen: Screen, clockMs?: () => number): FullOptions => ({
      kernel,
      initrd,
      firmware,
      memBytes: MEM,
      bootargs: bootargs("ttyS0", "/dev/sda"),
      disk: { backend },
      output: screen.output,
      ...(clockMs ? { clockMs } : {}),
    });
    const a = new FullMachine(opts(disk, first));
    await first.runUntil(a, /n=3 /);
    const file = join(work, "full.snap");
    writeFile(file, saveMachine(a));

    const second = new Screen(/$^/);
    const b = restoreFull(opts(new MemoryBackend(disk.bytes.slice()), second, () => performance.now() + HOUR_MS), readFile(file));
    await second.runUntil(b, /n=6 /);
    checkContinues(first.text, second.text);
    assert.ok(b.ata!.stats.sectorsRead > 0, "the restored guest read its disk through the restored ATA controller");
    assert.doesNotMatch(second.text, /OpenSBI v/, "no firmware banner: the machine did not boot again");
  });

  test("refused with a message: a corrupted file, a file cut short, another RAM size, another profile, another version", { skip, timeout: 60_000 }, () => {
    const file = join(work, "pv.snap");
    if (!existsSync(file)) return; // written by the pv test
    const bytes = readFileSync(file);
    const corrupt = join(work, "corrupt.snap");
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 100]! ^= 0x40;
    writeFileSync(corrupt, flipped);
    assert.throws(() => readFile(corrupt), (e: unknown) => e instanceof SnapshotError && /section ram is corrupt \(CRC-32/.test((e as Error).message));
    const cut = join(work, "cut.snap");
    writeFileSync(cut, bytes.subarray(0, bytes.length - 5000));
    assert.throws(() => readFile(cut), /truncated: section ram declares \d+ bytes/);

    const kernel = readFileSync(join(guestDir!, "Image"));
    const snap = readFile(file);
    const pv = (memBytes: number): PvOptions => ({ kernel, memBytes, disk: { backend: new MemoryBackend(64 * MiB) }, output: () => {} });
    const refused = (fn: () => unknown, re: RegExp) => assert.throws(fn, (e: unknown) => e instanceof MachineStateError && re.test((e as Error).message));
    refused(() => restorePv(pv(128 * MiB), snap), /the saved machine had 64 MiB of RAM, this one has 128 MiB/);
    refused(() => restoreFull({ kernel, firmware: new Uint8Array(64), memBytes: MEM, output: () => {} }, snap), /a pv machine's state cannot be restored as a full machine/);
    refused(() => restorePv(pv(MEM), { ...snap, state: { ...(snap.state as object), v: 2 } }), /machine state version 2; this paravm restores version 1 only/);
    refused(() => restorePv({ ...pv(MEM), disk: undefined }, snap), /the snapshot's machine had plic, virtio-balloon0, virtio-blk0, .*; this one has plic, virtio-balloon0, virtio-console0, virtio-rng0/);
  });
});
