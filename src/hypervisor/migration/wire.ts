/**
 * The live-migration protocol between two paravm processes (issue 15; docs/snapshots.md,
 * "Live migration"). One ordered, reliable link carries two kinds of messages: text
 * messages are JSON control messages (Control), binary ones carry bulk data (RAM pages and
 * the images and overlay the machine is built from).
 *
 *   source                                   destination
 *   offer {protocol, versions, vm info} ─▶  checks everything it can before anything moves
 *                                       ◀─  accept | refuse {why}
 *   blob kernel, initrd, firmware        ─▶
 *   build                                ─▶  builds the machine, not running (Vm.start incoming)
 *                                       ◀─  built | fail {why}
 *   pages … (round 0: every page in use) ─▶  written into the new machine's RAM
 *   round {n, pages}                     ─▶  (the end of a round of dirty pages)
 *                                       ◀─  have {n, pages}   (so the source knows, before it
 *                                           pauses the guest, that everything so far arrived)
 *   pages …  (the VM paused: the last dirty pages)
 *   blob overlay (copy-on-write disk)    ─▶
 *   state {machine}                      ─▶  loads it, runs the guest, announces its MAC
 *                                       ◀─  running
 * Either side may send `fail {why}` and close at any point; the destination drops a VM
 * it had not started, the source resumes its own (see source.ts for the one ambiguous case).
 *
 * Binary messages, all integers little-endian:
 *   pages = 1 u8 · 0 u8 ×3 · count u32 · page number u32 × count · 4096 bytes × count
 *   zeros = 2 u8 · 0 u8 ×3 · count u32 · page number u32 × count      (pages now all zero)
 *   blob  = 3 u8 · name length u8 · 0 u8 ×2 · name · bytes   (a piece: pieces of one name append)
 * The destination treats the source as untrusted input: every count, page number and
 * length is checked, and a bad message fails the migration rather than the process.
 */
import type { VmSnapshotInfo } from "../snapshot/vm-file.js";

export const MIGRATION = {
  /** This code's protocol: a destination refuses any other. */
  PROTOCOL: 1,
  PAGE: 4096,
  /**
   * Pages per binary message: just under 1 MiB with its header, the daemon's largest
   * WebSocket message (server.ts), and small enough to interleave with control messages.
   */
  BATCH_PAGES: 240,
  /** A blob travels in pieces of at most this many bytes, appended in order. */
  BLOB_CHUNK: 960 * 1024,
  /** Largest blob (a kernel, an initrd, a disk overlay) a destination accepts. */
  MAX_BLOB_BYTES: 512 * 1024 * 1024,
  MAX_NAME: 32,
} as const;

export const FRAME = { PAGES: 1, ZEROS: 2, BLOB: 3 } as const;

/** The blobs a source may send. */
export const BLOB_NAMES = ["kernel", "initrd", "firmware", "overlay"] as const;
export type BlobName = (typeof BLOB_NAMES)[number];

/** JSON control messages. */
export type Control =
  | {
      t: "offer";
      protocol: number;
      /** VM_SNAPSHOT.VERSION and MACHINE_STATE.VERSION of the source: the state's formats. */
      vmVersion: number;
      machineVersion: number;
      paravm: string;
      info: VmSnapshotInfo;
      /** The network the VM's NIC is plugged into at the source (the destination plugs it into its own of that name). */
      network?: string;
      /** The control layer's own description of the VM (the daemon's entry), passed through untouched. */
      meta?: unknown;
    }
  | { t: "accept" }
  | { t: "refuse"; why: string }
  | { t: "build" }
  | { t: "built" }
  | { t: "round"; n: number; pages: number }
  /** The destination holds every page sent up to the end of round `n` (its answer to "round"). */
  | { t: "have"; n: number; pages: number }
  | { t: "state"; machine: unknown }
  | { t: "running" }
  | { t: "fail"; why: string };

export function controlText(c: Control): string {
  return JSON.stringify(c);
}

/** A text message as a Control, or a sentence saying why it is not one. */
export function parseControl(text: string): Control | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return "a control message that is not JSON";
  }
  if (typeof v !== "object" || v === null || typeof (v as { t?: unknown }).t !== "string") return "a control message without a type";
  const c = v as Control;
  switch (c.t) {
    case "offer":
      return typeof c.protocol === "number" && typeof c.info === "object" && c.info !== null ? c : "an offer without protocol or VM";
    case "refuse":
    case "fail":
      return typeof c.why === "string" ? c : `a ${c.t} message without a reason`;
    case "round":
    case "have":
      return Number.isInteger(c.n) && Number.isInteger(c.pages) ? c : "a round message without numbers";
    case "state":
      return "machine" in c ? c : "a state message without the machine";
    case "accept":
    case "build":
    case "built":
    case "running":
      return c;
    default:
      return `an unknown control message ${JSON.stringify((c as { t: string }).t).slice(0, 40)}`;
  }
}

/** Encodes pages `list[from..from+count)` of `ram` as one `pages` message. */
export function encodePages(list: Uint32Array, from: number, count: number, ram: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + count * 4 + count * MIGRATION.PAGE);
  const view = new DataView(out.buffer);
  view.setUint8(0, FRAME.PAGES);
  view.setUint32(4, count, true);
  let at = 8 + count * 4;
  for (let i = 0; i < count; i++) {
    const p = list[from + i]!;
    view.setUint32(8 + i * 4, p, true);
    out.set(ram.subarray(p * MIGRATION.PAGE, (p + 1) * MIGRATION.PAGE), at);
    at += MIGRATION.PAGE;
  }
  return out;
}

/** Encodes the pages of `list[from..from+count)` as now all zero. */
export function encodeZeros(list: Uint32Array, from: number, count: number): Uint8Array {
  const out = new Uint8Array(8 + count * 4);
  const view = new DataView(out.buffer);
  view.setUint8(0, FRAME.ZEROS);
  view.setUint32(4, count, true);
  for (let i = 0; i < count; i++) view.setUint32(8 + i * 4, list[from + i]!, true);
  return out;
}

/** A blob as messages of at most BLOB_CHUNK bytes of it each (at least one, for an empty blob). */
export function encodeBlobPieces(name: BlobName, bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at === 0 || at < bytes.length; at += MIGRATION.BLOB_CHUNK) out.push(encodeBlob(name, bytes.subarray(at, at + MIGRATION.BLOB_CHUNK)));
  return out;
}

export function encodeBlob(name: BlobName, bytes: Uint8Array): Uint8Array {
  const nameBytes = new TextEncoder().encode(name);
  const out = new Uint8Array(4 + nameBytes.length + bytes.length);
  out[0] = FRAME.BLOB;
  out[1] = nameBytes.length;
  out.set(nameBytes, 4);
  out.set(bytes, 4 + nameBytes.length);
  return out;
}

export type BinaryMessage =
  | { kind: "pages"; pages: Uint32Array; data: Uint8Array }
  | { kind: "zeros"; pages: Uint32Array }
  | { kind: "blob"; name: BlobName; bytes: Uint8Array };

/** A binary message checked against a RAM of `ramPages` pages, or a sentence saying what is wrong with it. */
export function parseBinary(msg: Uint8Array, ramPages: number): BinaryMessage | string {
  if (msg.length < 4) return `a ${msg.length}-byte binary message`;
  const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  const kind = msg[0];
  if (kind === FRAME.BLOB) {
    const n = msg[1]!;
    const name = new TextDecoder().decode(msg.subarray(4, 4 + n));
    if (4 + n > msg.length || !(BLOB_NAMES as readonly string[]).includes(name)) return `a blob named ${JSON.stringify(name.slice(0, MIGRATION.MAX_NAME))}`;
    if (msg.length - 4 - n > MIGRATION.MAX_BLOB_BYTES) return `a blob ${name} of ${msg.length - 4 - n} bytes`;
    return { kind: "blob", name: name as BlobName, bytes: msg.subarray(4 + n) };
  }
  if (kind !== FRAME.PAGES && kind !== FRAME.ZEROS) return `a binary message of unknown kind ${kind}`;
  if (msg.length < 8) return "a page message without its count";
  const count = view.getUint32(4, true);
  const want = 8 + count * 4 + (kind === FRAME.PAGES ? count * MIGRATION.PAGE : 0);
  if (count === 0 || count > ramPages || msg.length !== want) return `a page message of ${msg.length} bytes for ${count} pages (expected ${want})`;
  const pages = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const p = view.getUint32(8 + i * 4, true);
    if (p >= ramPages) return `page ${p} is beyond the ${ramPages} pages of RAM`;
    pages[i] = p;
  }
  if (kind === FRAME.ZEROS) return { kind: "zeros", pages };
  return { kind: "pages", pages, data: msg.subarray(8 + count * 4) };
}
