/**
 * Flattened device tree (DTB, format version 17): a writer and a parser.
 *
 * `FdtBuilder` emits a blob in the layout the Devicetree Specification (v0.4, chapter 5)
 * describes and dtc produces: a 40-byte big-endian header, the memory reservation block,
 * the structure block (FDT_BEGIN_NODE / FDT_PROP / FDT_END_NODE … FDT_END tokens, each
 * item padded to 4 bytes) and the strings block (property names, each stored once). Every
 * block starts on an 8-byte boundary. Phandles are allocated by name: `phandle("plic")`
 * gives the number to reference before or after the node that owns it declares it with
 * `propPhandle("plic")`, and `finish()` refuses a reference that no node declared.
 *
 * `parseFdt` reads a blob back into a tree of `FdtNode`s whose properties are raw bytes
 * with typed readers. It bounds-checks every offset and length, so it is safe on a blob
 * that did not come from the builder; every failure is an `FdtError` with a one-line
 * message.
 *
 * Why not a library: no maintained npm package writes DTBs (the npm registry has DTS
 * parsers such as tree-sitter-devicetree, nothing that emits a blob; the maintained
 * writers are libfdt in C, Rust's vm-fdt / cros_fdt and Python's fdt), and the format is
 * small enough that a self-contained writer is less code than an adapter.
 */

/** Thrown for a malformed blob or a misuse of the builder; the message is one line. */
export class FdtError extends Error {
  override readonly name = "FdtError";
}

export const FDT = {
  MAGIC: 0xd00dfeed,
  VERSION: 17,
  LAST_COMP_VERSION: 16,
  HEADER_SIZE: 40,
  BEGIN_NODE: 1,
  END_NODE: 2,
  PROP: 3,
  NOP: 4,
  END: 9,
  /** Longest node name (without the NUL) that the spec allows: 31 + "@" + unit address. */
  MAX_NODE_NAME: 63,
  MAX_PROP_NAME: 31,
} as const;

/** Header field offsets (each a big-endian u32). */
const HDR = {
  MAGIC: 0,
  TOTALSIZE: 4,
  OFF_DT_STRUCT: 8,
  OFF_DT_STRINGS: 12,
  OFF_MEM_RSVMAP: 16,
  VERSION: 20,
  LAST_COMP_VERSION: 24,
  BOOT_CPUID_PHYS: 28,
  SIZE_DT_STRINGS: 32,
  SIZE_DT_STRUCT: 36,
} as const;

const TWO32 = 0x1_0000_0000;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false });

const align = (n: number, a: number): number => Math.ceil(n / a) * a;

function checkU32(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v >= TWO32) throw new FdtError(`${what}: ${v} is not a u32`);
}

function toU64(v: number | bigint, what: string): bigint {
  const b = typeof v === "bigint" ? v : Number.isSafeInteger(v) ? BigInt(v) : -1n;
  if (b < 0n || b > 0xffff_ffff_ffff_ffffn) throw new FdtError(`${what}: ${String(v)} is not a u64`);
  return b;
}

/** Big-endian encoders for property values, usable without a builder. */
export const fdtValue = {
  u32s(values: readonly number[], what = "value"): Uint8Array {
    const out = new Uint8Array(values.length * 4);
    const view = new DataView(out.buffer);
    values.forEach((v, i) => {
      checkU32(v, what);
      view.setUint32(i * 4, v);
    });
    return out;
  },
  u64s(values: readonly (number | bigint)[], what = "value"): Uint8Array {
    const out = new Uint8Array(values.length * 8);
    const view = new DataView(out.buffer);
    values.forEach((v, i) => view.setBigUint64(i * 8, toU64(v, what)));
    return out;
  },
  strings(values: readonly string[], what = "value"): Uint8Array {
    const parts = values.map((s) => {
      if (s.includes("\0")) throw new FdtError(`${what}: string contains a NUL character`);
      return encoder.encode(s);
    });
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length + 1, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length + 1;
    }
    return out;
  },
};

/** A growable big-endian byte buffer. */
class ByteSink {
  private buf = new Uint8Array(1024);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, v);
    this.length += 4;
  }
  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  /** Zero bytes up to the next multiple of `a`. */
  pad(a: number): void {
    const n = align(this.length, a) - this.length;
    this.reserve(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  contents(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

/** A memory reservation entry (the /memreserve/ block): physical address and size. */
export interface FdtReservation {
  readonly address: number;
  readonly size: number;
}

export interface FdtFinishOptions {
  /** The physical id of the boot CPU (header field `boot_cpuid_phys`); default 0. */
  readonly bootCpuId?: number;
  /**
   * Free bytes to leave at the end of the blob (counted in `totalsize`), like `dtc -p`:
   * room for a firmware such as OpenSBI to add nodes in place. Default 0.
   */
  readonly extraSpace?: number;
}

const NODE_NAME = /^[A-Za-z0-9,._+-]+(@[A-Za-z0-9,._+-]+)?$/;
const PROP_NAME = /^[A-Za-z0-9,._+?#-]+$/;

interface OpenNode {
  readonly name: string;
  readonly props: Set<string>;
  readonly children: Set<string>;
}

/**
 * Writes a device tree top-down:
 *
 * ```ts
 * const t = new FdtBuilder();
 * t.beginNode("");
 * t.propU32("#address-cells", 2);
 * t.beginNode("cpus"); … t.endNode();
 * t.endNode();
 * const dtb = t.finish();
 * ```
 *
 * A node's properties must come before its children (the spec requires it). Misuse —
 * unbalanced nodes, a duplicate property or child, a bad name, a property after a child —
 * throws `FdtError` at the call that did it.
 */
export class FdtBuilder {
  private readonly struct = new ByteSink();
  private readonly strings = new ByteSink();
  private readonly stringOffsets = new Map<string, number>();
  private readonly stack: OpenNode[] = [];
  private readonly reservations: FdtReservation[] = [];
  private readonly phandles = new Map<string, number>();
  private readonly declared = new Set<string>();
  private rootDone = false;
  private finished = false;

  /** Adds a memory reservation entry. */
  reserve(address: number, size: number): this {
    toU64(address, "reservation address");
    toU64(size, "reservation size");
    this.reservations.push({ address, size });
    return this;
  }

  /** The phandle number for `ref`, allocated (1, 2, …) on first use. */
  phandle(ref: string): number {
    let n = this.phandles.get(ref);
    if (n === undefined) {
      n = this.phandles.size + 1;
      this.phandles.set(ref, n);
    }
    return n;
  }

  /** The path of the node being written ("/" for the root). */
  get currentPath(): string {
    return this.stack.length <= 1 ? "/" : "/" + this.stack.slice(1).map((n) => n.name).join("/");
  }

  beginNode(name: string): this {
    this.checkOpen();
    if (this.stack.length === 0) {
      if (this.rootDone) throw new FdtError("the tree already has a root node");
      if (name !== "") throw new FdtError(`the root node's name must be empty, not "${name}"`);
    } else {
      if (name.length > FDT.MAX_NODE_NAME || !NODE_NAME.test(name)) {
        throw new FdtError(`invalid node name "${name}" under ${this.currentPath}`);
      }
      const parent = this.stack[this.stack.length - 1]!;
      if (parent.children.has(name)) throw new FdtError(`duplicate node ${this.childPath(name)}`);
      parent.children.add(name);
    }
    this.struct.u32(FDT.BEGIN_NODE);
    this.struct.bytes(encoder.encode(name));
    this.struct.bytes(new Uint8Array(1));
    this.struct.pad(4);
    this.stack.push({ name, props: new Set(), children: new Set() });
    return this;
  }

  endNode(): this {
    this.checkOpen();
    if (this.stack.length === 0) throw new FdtError("endNode() without a matching beginNode()");
    this.stack.pop();
    if (this.stack.length === 0) this.rootDone = true;
    this.struct.u32(FDT.END_NODE);
    return this;
  }

  /** A property with raw bytes as its value. */
  propBytes(name: string, value: Uint8Array): this {
    this.checkOpen();
    const node = this.stack[this.stack.length - 1];
    if (!node) throw new FdtError(`property "${name}" outside any node`);
    if (name.length > FDT.MAX_PROP_NAME || !PROP_NAME.test(name)) {
      throw new FdtError(`invalid property name "${name}" in ${this.currentPath}`);
    }
    if (node.children.size > 0) {
      throw new FdtError(`property "${name}" in ${this.currentPath} comes after a child node`);
    }
    if (node.props.has(name)) throw new FdtError(`duplicate property "${name}" in ${this.currentPath}`);
    node.props.add(name);
    this.struct.u32(FDT.PROP);
    this.struct.u32(value.length);
    this.struct.u32(this.stringOffset(name));
    this.struct.bytes(value);
    this.struct.pad(4);
    return this;
  }

  /** A property with no value (a boolean such as `interrupt-controller`). */
  propEmpty(name: string): this {
    return this.propBytes(name, new Uint8Array(0));
  }

  propU32(name: string, value: number): this {
    return this.propBytes(name, fdtValue.u32s([value], this.what(name)));
  }

  /** A list of 32-bit cells. */
  propU32s(name: string, values: readonly number[]): this {
    return this.propBytes(name, fdtValue.u32s(values, this.what(name)));
  }

  propU64(name: string, value: number | bigint): this {
    return this.propBytes(name, fdtValue.u64s([value], this.what(name)));
  }

  /** A list of 64-bit values, each as two cells (e.g. `reg` with #address-cells = #size-cells = 2). */
  propU64s(name: string, values: readonly (number | bigint)[]): this {
    return this.propBytes(name, fdtValue.u64s(values, this.what(name)));
  }

  propString(name: string, value: string): this {
    return this.propBytes(name, fdtValue.strings([value], this.what(name)));
  }

  /** A string list (`compatible = "a", "b"`): NUL-terminated strings back to back. */
  propStrings(name: string, values: readonly string[]): this {
    if (values.length === 0) throw new FdtError(`${this.what(name)}: empty string list`);
    return this.propBytes(name, fdtValue.strings(values, this.what(name)));
  }

  /** Declares this node's `phandle` as the one allocated for `ref`. */
  propPhandle(ref: string): this {
    if (this.declared.has(ref)) throw new FdtError(`phandle "${ref}" is declared twice (again in ${this.currentPath})`);
    this.declared.add(ref);
    return this.propU32("phandle", this.phandle(ref));
  }

  /** The finished blob. The builder cannot be used afterwards. */
  finish(opts: FdtFinishOptions = {}): Uint8Array {
    this.checkOpen();
    if (!this.rootDone) {
      throw new FdtError(
        this.stack.length > 0 ? `node ${this.currentPath} is still open` : "the tree has no root node",
      );
    }
    for (const ref of this.phandles.keys()) {
      if (!this.declared.has(ref)) throw new FdtError(`phandle "${ref}" is referenced but no node declares it`);
    }
    const bootCpuId = opts.bootCpuId ?? 0;
    checkU32(bootCpuId, "boot CPU id");
    const extra = opts.extraSpace ?? 0;
    if (!Number.isSafeInteger(extra) || extra < 0) throw new FdtError(`extra space: ${extra} is not a byte count`);
    this.finished = true;
    this.struct.u32(FDT.END);

    const rsvOff = align(FDT.HEADER_SIZE, 8);
    const rsvSize = (this.reservations.length + 1) * 16;
    const structOff = align(rsvOff + rsvSize, 8);
    const structSize = this.struct.length;
    const stringsOff = align(structOff + structSize, 8);
    const stringsSize = this.strings.length;
    const used = align(stringsOff + stringsSize, 8);
    const total = used + extra;
    if (total >= TWO32) throw new FdtError(`the blob would be ${total} bytes, more than a u32 can describe`);

    const out = new Uint8Array(total);
    const view = new DataView(out.buffer);
    view.setUint32(HDR.MAGIC, FDT.MAGIC);
    view.setUint32(HDR.TOTALSIZE, total);
    view.setUint32(HDR.OFF_DT_STRUCT, structOff);
    view.setUint32(HDR.OFF_DT_STRINGS, stringsOff);
    view.setUint32(HDR.OFF_MEM_RSVMAP, rsvOff);
    view.setUint32(HDR.VERSION, FDT.VERSION);
    view.setUint32(HDR.LAST_COMP_VERSION, FDT.LAST_COMP_VERSION);
    view.setUint32(HDR.BOOT_CPUID_PHYS, bootCpuId);
    view.setUint32(HDR.SIZE_DT_STRINGS, stringsSize);
    view.setUint32(HDR.SIZE_DT_STRUCT, structSize);
    this.reservations.forEach((r, i) => {
      view.setBigUint64(rsvOff + i * 16, BigInt(r.address));
      view.setBigUint64(rsvOff + i * 16 + 8, BigInt(r.size));
    });
    out.set(this.struct.contents(), structOff);
    out.set(this.strings.contents(), stringsOff);
    return out;
  }

  private stringOffset(name: string): number {
    let off = this.stringOffsets.get(name);
    if (off === undefined) {
      off = this.strings.length;
      this.strings.bytes(encoder.encode(name));
      this.strings.bytes(new Uint8Array(1));
      this.stringOffsets.set(name, off);
    }
    return off;
  }

  private checkOpen(): void {
    if (this.finished) throw new FdtError("the builder is finished");
  }

  private childPath(name: string): string {
    const p = this.currentPath;
    return p === "/" ? `/${name}` : `${p}/${name}`;
  }

  private what(prop: string): string {
    return `${this.currentPath}:${prop}`;
  }
}

// ---------------------------------------------------------------------------------------
// Parser

/** One node of a parsed tree. Property values are the raw bytes from the blob. */
export class FdtNode {
  readonly props = new Map<string, Uint8Array>();
  readonly children: FdtNode[] = [];

  constructor(
    /** The node's name with its unit address ("cpu@0"); "" for the root. */
    readonly name: string,
    /** Full path ("/cpus/cpu@0"; "/" for the root). */
    readonly path: string,
    readonly parent: FdtNode | undefined,
  ) {}

  has(prop: string): boolean {
    return this.props.has(prop);
  }

  /** The raw value; throws if the property is missing. */
  prop(name: string): Uint8Array {
    const v = this.props.get(name);
    if (v === undefined) throw new FdtError(`${this.path} has no property "${name}"`);
    return v;
  }

  u32(name: string): number {
    const v = this.u32s(name);
    if (v.length !== 1) throw new FdtError(`${this.path}:${name} is ${v.length * 4} bytes, not one cell`);
    return v[0]!;
  }

  u32s(name: string): number[] {
    const b = this.prop(name);
    if (b.length % 4 !== 0) throw new FdtError(`${this.path}:${name} is ${b.length} bytes, not whole cells`);
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    return Array.from({ length: b.length / 4 }, (_, i) => view.getUint32(i * 4));
  }

  /** A 64-bit value (two cells); throws if it does not fit a double exactly. */
  u64(name: string): number {
    const v = this.u64s(name);
    if (v.length !== 1) throw new FdtError(`${this.path}:${name} is ${v.length * 8} bytes, not one u64`);
    return v[0]!;
  }

  u64s(name: string): number[] {
    const b = this.prop(name);
    if (b.length % 8 !== 0) throw new FdtError(`${this.path}:${name} is ${b.length} bytes, not whole u64s`);
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    return Array.from({ length: b.length / 8 }, (_, i) => {
      const v = view.getBigUint64(i * 8);
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new FdtError(`${this.path}:${name} holds ${v}, too big`);
      return Number(v);
    });
  }

  /** A single NUL-terminated string. */
  string(name: string): string {
    const list = this.strings(name);
    if (list.length !== 1) throw new FdtError(`${this.path}:${name} is not a single string`);
    return list[0]!;
  }

  /** A string list: the value split at NULs (the last byte must be a NUL). */
  strings(name: string): string[] {
    const b = this.prop(name);
    if (b.length === 0 || b[b.length - 1] !== 0) {
      throw new FdtError(`${this.path}:${name} is not a NUL-terminated string list`);
    }
    return decoder.decode(b.subarray(0, b.length - 1)).split("\0");
  }

  child(name: string): FdtNode | undefined {
    return this.children.find((c) => c.name === name);
  }

  /** A descendant by relative path ("cpus/cpu@0"), or by absolute path from the root. */
  node(path: string): FdtNode | undefined {
    let at: FdtNode = this;
    if (path.startsWith("/")) while (at.parent) at = at.parent;
    for (const part of path.split("/")) {
      if (part === "") continue;
      const next = at.child(part);
      if (!next) return undefined;
      at = next;
    }
    return at;
  }

  /** This node and every descendant, depth first in blob order. */
  *walk(): IterableIterator<FdtNode> {
    yield this;
    for (const c of this.children) yield* c.walk();
  }
}

export interface FdtTree {
  readonly version: number;
  readonly lastCompVersion: number;
  readonly bootCpuId: number;
  readonly totalSize: number;
  readonly reservations: readonly FdtReservation[];
  readonly root: FdtNode;
  /** The node at an absolute path, or undefined. */
  node(path: string): FdtNode | undefined;
  /** The node whose `phandle` (or legacy `linux,phandle`) is `ph`. */
  byPhandle(ph: number): FdtNode | undefined;
}

/** Parses a DTB (versions 16 and 17). Throws `FdtError` on anything malformed. */
export function parseFdt(bytes: Uint8Array): FdtTree {
  if (bytes.length < FDT.HEADER_SIZE) throw new FdtError(`blob is ${bytes.length} bytes, shorter than a header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hdr = (off: number): number => view.getUint32(off);
  const magic = hdr(HDR.MAGIC);
  if (magic !== FDT.MAGIC) throw new FdtError(`bad magic 0x${magic.toString(16)} (expected 0xd00dfeed)`);
  const version = hdr(HDR.VERSION);
  const lastComp = hdr(HDR.LAST_COMP_VERSION);
  if (version < 16 || lastComp > FDT.VERSION) {
    throw new FdtError(`unsupported version ${version} (last compatible ${lastComp})`);
  }
  const total = hdr(HDR.TOTALSIZE);
  if (total > bytes.length || total < FDT.HEADER_SIZE) {
    throw new FdtError(`totalsize ${total} does not fit the ${bytes.length}-byte buffer`);
  }
  const structOff = hdr(HDR.OFF_DT_STRUCT);
  const stringsOff = hdr(HDR.OFF_DT_STRINGS);
  const rsvOff = hdr(HDR.OFF_MEM_RSVMAP);
  const structSize = version >= 17 ? hdr(HDR.SIZE_DT_STRUCT) : total - structOff;
  const stringsSize = hdr(HDR.SIZE_DT_STRINGS);
  const inside = (off: number, size: number): boolean => off >= FDT.HEADER_SIZE && off + size <= total;
  if (!inside(structOff, structSize) || structOff % 4 !== 0) {
    throw new FdtError(`structure block [${structOff}, +${structSize}) is outside the blob or misaligned`);
  }
  if (!inside(stringsOff, stringsSize)) {
    throw new FdtError(`strings block [${stringsOff}, +${stringsSize}) is outside the blob`);
  }
  if (!inside(rsvOff, 16) || rsvOff % 8 !== 0) throw new FdtError(`reservation block at ${rsvOff} is invalid`);

  const reservations: FdtReservation[] = [];
  for (let off = rsvOff; ; off += 16) {
    if (off + 16 > total) throw new FdtError("reservation block has no terminating entry");
    const address = view.getBigUint64(off);
    const size = view.getBigUint64(off + 8);
    if (address === 0n && size === 0n) break;
    if (address + size > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new FdtError(`reservation [0x${address.toString(16)}, +0x${size.toString(16)}) is too big`);
    }
    reservations.push({ address: Number(address), size: Number(size) });
  }

  const structEnd = structOff + structSize;
  const cstring = (start: number, end: number, what: string): [string, number] => {
    const nul = bytes.indexOf(0, start);
    if (nul < 0 || nul >= end) throw new FdtError(`${what} at offset ${start} is not NUL-terminated`);
    return [decoder.decode(bytes.subarray(start, nul)), nul + 1];
  };

  let root: FdtNode | undefined;
  let cur: FdtNode | undefined;
  let pos = structOff;
  const token = (): number => {
    if (pos + 4 > structEnd) throw new FdtError(`structure block ends inside a token at offset ${pos}`);
    const t = view.getUint32(pos);
    pos += 4;
    return t;
  };
  for (;;) {
    const at = pos;
    const t = token();
    if (t === FDT.BEGIN_NODE) {
      const [name, next] = cstring(pos, structEnd, "node name");
      pos = align(next, 4);
      if (!cur) {
        if (root) throw new FdtError(`second root node at offset ${at}`);
        if (name !== "") throw new FdtError(`root node is named "${name}"`);
        root = cur = new FdtNode("", "/", undefined);
      } else {
        const node = new FdtNode(name, cur.path === "/" ? `/${name}` : `${cur.path}/${name}`, cur);
        cur.children.push(node);
        cur = node;
      }
    } else if (t === FDT.END_NODE) {
      if (!cur) throw new FdtError(`FDT_END_NODE outside any node at offset ${at}`);
      cur = cur.parent;
    } else if (t === FDT.PROP) {
      if (!cur) throw new FdtError(`FDT_PROP outside any node at offset ${at}`);
      const len = token();
      const nameOff = token();
      if (len > structEnd - pos) throw new FdtError(`property at offset ${at} runs past the structure block`);
      if (nameOff >= stringsSize) {
        throw new FdtError(`property at offset ${at} has name offset ${nameOff} out of range`);
      }
      const [name] = cstring(stringsOff + nameOff, stringsOff + stringsSize, "property name");
      if (cur.props.has(name)) throw new FdtError(`duplicate property "${name}" in ${cur.path}`);
      cur.props.set(name, bytes.slice(pos, pos + len));
      pos = align(pos + len, 4);
    } else if (t === FDT.NOP) {
      continue;
    } else if (t === FDT.END) {
      if (cur) throw new FdtError(`FDT_END while ${cur.path} is still open`);
      break;
    } else {
      throw new FdtError(`unknown token 0x${t.toString(16)} at offset ${at}`);
    }
  }
  if (!root) throw new FdtError("the blob has no root node");

  const tree = root;
  const phandles = new Map<number, FdtNode>();
  for (const n of tree.walk()) {
    for (const key of ["phandle", "linux,phandle"]) {
      const v = n.props.get(key);
      if (v && v.length === 4) phandles.set(new DataView(v.buffer, v.byteOffset, 4).getUint32(0), n);
    }
  }
  return {
    version,
    lastCompVersion: lastComp,
    bootCpuId: hdr(HDR.BOOT_CPUID_PHYS),
    totalSize: total,
    reservations,
    root: tree,
    node: (path) => tree.node(path),
    byPhandle: (ph) => phandles.get(ph),
  };
}
