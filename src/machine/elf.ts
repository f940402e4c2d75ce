/**
 * ELF64 little-endian RISC-V loader for bare-metal programs (and later vmlinux).
 *
 * `parseElf` checks the headers and reads the program headers and the symbol table;
 * `loadElf` also copies every PT_LOAD segment into guest RAM at its physical address
 * (`p_paddr`, as QEMU and Spike do): `p_filesz` bytes from the file, the rest of
 * `p_memsz` zero-filled. Every offset and size read from the file is checked, and every
 * failure is an `ElfError` whose message is one line, ready for the CLI to print.
 */
import type { GuestRam } from "../mem/ram.js";

/** Thrown for anything wrong with the file; the message is one line and names the problem. */
export class ElfError extends Error {
  override readonly name = "ElfError";
}

export const ELF = {
  MAGIC: 0x464c457f, // "\x7fELF" read as a little-endian u32
  CLASS64: 2,
  DATA_LSB: 1,
  VERSION_CURRENT: 1,
  ET_REL: 1,
  ET_EXEC: 2,
  ET_DYN: 3,
  ET_CORE: 4,
  EM_RISCV: 243,
  PT_LOAD: 1,
  SHT_SYMTAB: 2,
  SHT_NOBITS: 8,
  EHDR_SIZE: 64,
  PHDR_SIZE: 56,
  SHDR_SIZE: 64,
  SYM_SIZE: 24,
} as const;

export interface ElfSegment {
  /** Index of the program header. */
  readonly index: number;
  /** Physical load address (`p_paddr`). */
  readonly paddr: number;
  readonly vaddr: number;
  readonly fileOffset: number;
  readonly fileSize: number;
  readonly memSize: number;
  /** PF_X = 1, PF_W = 2, PF_R = 4. */
  readonly flags: number;
}

export interface ElfSymbol {
  readonly name: string;
  readonly value: number;
  readonly size: number;
}

export interface ElfImage {
  readonly entry: number;
  /** The PT_LOAD segments with a non-zero memory size, in program-header order. */
  readonly segments: readonly ElfSegment[];
  /** Named symbols from .symtab (empty when the file is stripped). The first definition of a name wins. */
  readonly symbols: ReadonlyMap<string, ElfSymbol>;
  symbol(name: string): ElfSymbol | undefined;
}

const hex = (n: number): string => `0x${n.toString(16)}`;

/** Reads little-endian fields with bounds checks; 64-bit fields must fit a double exactly. */
class Reader {
  private readonly view: DataView;
  constructor(
    readonly bytes: Uint8Array,
    private readonly what: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  private check(off: number, len: number, field: string): void {
    if (off < 0 || off + len > this.bytes.length) {
      throw new ElfError(
        `${this.what}: truncated file (${field} at offset ${off} is past the end, ${this.bytes.length} bytes)`,
      );
    }
  }
  u8(off: number, field: string): number {
    this.check(off, 1, field);
    return this.view.getUint8(off);
  }
  u16(off: number, field: string): number {
    this.check(off, 2, field);
    return this.view.getUint16(off, true);
  }
  u32(off: number, field: string): number {
    this.check(off, 4, field);
    return this.view.getUint32(off, true);
  }
  u64(off: number, field: string): number {
    this.check(off, 8, field);
    const v = this.view.getBigUint64(off, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new ElfError(`${this.what}: ${field} 0x${v.toString(16)} is too large`);
    }
    return Number(v);
  }
  /** Like u64, but returns null instead of failing for values above 2^53 (symbol values, e.g. kernel addresses). */
  u64OrNull(off: number, field: string): number | null {
    this.check(off, 8, field);
    const v = this.view.getBigUint64(off, true);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? null : Number(v);
  }
}

/** Parse and validate an ELF64 LE RISC-V executable. `what` names the file in error messages. */
export function parseElf(bytes: Uint8Array, what = "ELF"): ElfImage {
  const r = new Reader(bytes, what);
  if (bytes.length < 4 || r.u32(0, "magic") !== ELF.MAGIC) {
    throw new ElfError(`${what}: not an ELF file (bad magic)`);
  }
  if (bytes.length < ELF.EHDR_SIZE) {
    throw new ElfError(`${what}: truncated file (${bytes.length} bytes, the ELF header needs ${ELF.EHDR_SIZE})`);
  }
  const cls = r.u8(4, "EI_CLASS");
  if (cls !== ELF.CLASS64) {
    throw new ElfError(
      `${what}: not a 64-bit ELF (EI_CLASS ${cls}${cls === 1 ? ", ELFCLASS32" : ""}); paravm runs RV64 only`,
    );
  }
  const data = r.u8(5, "EI_DATA");
  if (data !== ELF.DATA_LSB) {
    throw new ElfError(`${what}: not a little-endian ELF (EI_DATA ${data})`);
  }
  const version = r.u8(6, "EI_VERSION");
  if (version !== ELF.VERSION_CURRENT) {
    throw new ElfError(`${what}: unsupported ELF version ${version}`);
  }
  const type = r.u16(16, "e_type");
  if (type !== ELF.ET_EXEC && type !== ELF.ET_DYN) {
    const kind =
      type === ELF.ET_REL ? " (a relocatable object; link it first)" : type === ELF.ET_CORE ? " (a core dump)" : "";
    throw new ElfError(`${what}: not an executable: e_type ${type}${kind}`);
  }
  const machine = r.u16(18, "e_machine");
  if (machine !== ELF.EM_RISCV) {
    throw new ElfError(`${what}: not a RISC-V ELF (e_machine ${machine}, expected ${ELF.EM_RISCV})`);
  }
  const entry = r.u64(24, "e_entry");
  const phoff = r.u64(32, "e_phoff");
  const shoff = r.u64(40, "e_shoff");
  const phentsize = r.u16(54, "e_phentsize");
  const phnum = r.u16(56, "e_phnum");
  const shentsize = r.u16(58, "e_shentsize");
  const shnum = r.u16(60, "e_shnum");

  if (phnum === 0) throw new ElfError(`${what}: no program headers, nothing to load`);
  if (phentsize < ELF.PHDR_SIZE) throw new ElfError(`${what}: bad e_phentsize ${phentsize}`);
  if (phoff + phnum * phentsize > bytes.length) {
    throw new ElfError(
      `${what}: truncated file (program headers at ${phoff}, ${phnum}×${phentsize} bytes, end past ${bytes.length})`,
    );
  }

  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    if (r.u32(p, `program header ${i} p_type`) !== ELF.PT_LOAD) continue;
    const seg: ElfSegment = {
      index: i,
      flags: r.u32(p + 4, `segment ${i} p_flags`),
      fileOffset: r.u64(p + 8, `segment ${i} p_offset`),
      vaddr: r.u64OrNull(p + 16, `segment ${i} p_vaddr`) ?? -1,
      paddr: r.u64(p + 24, `segment ${i} p_paddr`),
      fileSize: r.u64(p + 32, `segment ${i} p_filesz`),
      memSize: r.u64(p + 40, `segment ${i} p_memsz`),
    };
    if (seg.fileSize > seg.memSize) {
      throw new ElfError(`${what}: segment ${i} has p_filesz ${seg.fileSize} larger than p_memsz ${seg.memSize}`);
    }
    if (seg.fileOffset + seg.fileSize > bytes.length) {
      throw new ElfError(
        `${what}: truncated file (segment ${i} needs bytes ${seg.fileOffset}..${seg.fileOffset + seg.fileSize}, file has ${bytes.length})`,
      );
    }
    if (seg.memSize > 0) segments.push(seg);
  }
  if (segments.length === 0) throw new ElfError(`${what}: no PT_LOAD segment, nothing to load`);

  const symbols = readSymbols(r, what, shoff, shentsize, shnum);
  return { entry, segments, symbols, symbol: (name) => symbols.get(name) };
}

function readSymbols(r: Reader, what: string, shoff: number, shentsize: number, shnum: number): Map<string, ElfSymbol> {
  const symbols = new Map<string, ElfSymbol>();
  if (shoff === 0 || shnum === 0) return symbols;
  if (shentsize < ELF.SHDR_SIZE) throw new ElfError(`${what}: bad e_shentsize ${shentsize}`);
  const shdr = (i: number) => {
    const s = shoff + i * shentsize;
    return {
      type: r.u32(s + 4, `section ${i} sh_type`),
      offset: r.u64(s + 24, `section ${i} sh_offset`),
      size: r.u64(s + 32, `section ${i} sh_size`),
      link: r.u32(s + 40, `section ${i} sh_link`),
      entsize: r.u64(s + 56, `section ${i} sh_entsize`),
    };
  };
  for (let i = 0; i < shnum; i++) {
    const sym = shdr(i);
    if (sym.type !== ELF.SHT_SYMTAB) continue;
    if (sym.link >= shnum) throw new ElfError(`${what}: .symtab links to section ${sym.link}, but there are ${shnum}`);
    const str = shdr(sym.link);
    if (str.offset + str.size > r.bytes.length)
      throw new ElfError(`${what}: truncated file (string table past the end)`);
    const entsize = sym.entsize >= ELF.SYM_SIZE ? sym.entsize : ELF.SYM_SIZE;
    const count = Math.floor(sym.size / entsize);
    const decoder = new TextDecoder();
    for (let k = 1; k < count; k++) {
      const e = sym.offset + k * entsize;
      const nameOff = r.u32(e, `symbol ${k} st_name`);
      if (nameOff === 0 || nameOff >= str.size) continue;
      const start = str.offset + nameOff;
      let end = start;
      const limit = str.offset + str.size;
      while (end < limit && r.bytes[end] !== 0) end++;
      const name = decoder.decode(r.bytes.subarray(start, end));
      const value = r.u64OrNull(e + 8, `symbol ${name} st_value`);
      const size = r.u64OrNull(e + 16, `symbol ${name} st_size`);
      // Values above 2^53 (sign-extended kernel addresses) are not needed by the bare board; skip them.
      if (value === null || size === null || symbols.has(name)) continue;
      symbols.set(name, { name, value, size });
    }
    break; // one .symtab per file
  }
  return symbols;
}

/** Parse `bytes`, then copy its PT_LOAD segments into `ram`. Fails before writing anything if a segment is outside RAM. */
export function loadElf(bytes: Uint8Array, ram: GuestRam, what = "ELF"): ElfImage {
  const image = parseElf(bytes, what);
  const ramEnd = ram.base + ram.size;
  for (const s of image.segments) {
    if (!ram.contains(s.paddr, s.memSize)) {
      throw new ElfError(
        `${what}: segment ${s.index} (${hex(s.paddr)}..${hex(s.paddr + s.memSize)}, ${s.memSize} bytes) ` +
          `is outside RAM ${hex(ram.base)}..${hex(ramEnd)}` +
          (s.paddr >= ram.base ? "; try a larger --mem" : ""),
      );
    }
  }
  for (const s of image.segments) {
    const off = s.paddr - ram.base;
    ram.u8.set(bytes.subarray(s.fileOffset, s.fileOffset + s.fileSize), off);
    ram.u8.fill(0, off + s.fileSize, off + s.memSize);
  }
  return image;
}
