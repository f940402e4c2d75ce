/**
 * Decode once: a 32-bit instruction becomes an operation number plus pre-shifted
 * register indices and a ready immediate, stored in the hart's decoded-instruction cache.
 *
 * Packed word layout (never 0 for a decoded instruction, so 0 means "not decoded yet"):
 *   bits 0..7   op (Op below)
 *   bits 8..14  rd * 2   (x0 maps to the sink slot 32 → 64, so writes to x0 vanish)
 *   bits 15..20 rs1 * 2
 *   bits 21..26 rs2 * 2
 *   bit  27     compressed (instruction is 2 bytes long)
 * The second word holds the immediate (CSR number for CSR ops, funct5 for AMOs), the
 * third the raw instruction bits (for mtval and for the FPU, which decodes its own).
 */
import { expandCompressed } from "./compressed.js";

export const Op = {
  Undecoded: 0,
  Illegal: 1,
  Lui: 2,
  Auipc: 3,
  Jal: 4,
  Jalr: 5,
  Beq: 6,
  Bne: 7,
  Blt: 8,
  Bge: 9,
  Bltu: 10,
  Bgeu: 11,
  Lb: 12,
  Lh: 13,
  Lw: 14,
  Ld: 15,
  Lbu: 16,
  Lhu: 17,
  Lwu: 18,
  Sb: 19,
  Sh: 20,
  Sw: 21,
  Sd: 22,
  Addi: 23,
  Slti: 24,
  Sltiu: 25,
  Xori: 26,
  Ori: 27,
  Andi: 28,
  Slli: 29,
  Srli: 30,
  Srai: 31,
  Add: 32,
  Sub: 33,
  Sll: 34,
  Slt: 35,
  Sltu: 36,
  Xor: 37,
  Srl: 38,
  Sra: 39,
  Or: 40,
  And: 41,
  Addiw: 42,
  Slliw: 43,
  Srliw: 44,
  Sraiw: 45,
  Addw: 46,
  Subw: 47,
  Sllw: 48,
  Srlw: 49,
  Sraw: 50,
  Fence: 51,
  FenceI: 52,
  Ecall: 53,
  Ebreak: 54,
  Mret: 55,
  Sret: 56,
  Wfi: 57,
  SfenceVma: 58,
  Csrrw: 59,
  Csrrs: 60,
  Csrrc: 61,
  Csrrwi: 62,
  Csrrsi: 63,
  Csrrci: 64,
  Mul: 65,
  Mulh: 66,
  Mulhsu: 67,
  Mulhu: 68,
  Div: 69,
  Divu: 70,
  Rem: 71,
  Remu: 72,
  Mulw: 73,
  Divw: 74,
  Divuw: 75,
  Remw: 76,
  Remuw: 77,
  LrW: 78,
  ScW: 79,
  LrD: 80,
  ScD: 81,
  AmoW: 82,
  AmoD: 83,
  Flw: 84,
  Fld: 85,
  Fsw: 86,
  Fsd: 87,
  Fp: 88,
  /** addi rd, x0, imm: the most common instruction after loads, worth its own case. */
  Li: 89,
  /** addi rd, rs1, 0 */
  Mv: 90,
} as const;

/** AMO funct5 values (bits 31..27). */
export const Amo = {
  Add: 0x00,
  Swap: 0x01,
  Lr: 0x02,
  Sc: 0x03,
  Xor: 0x04,
  Or: 0x08,
  And: 0x0c,
  Min: 0x10,
  Max: 0x14,
  Minu: 0x18,
  Maxu: 0x1c,
} as const;

export const DECODED_RVC = 1 << 27;

function pack(op: number, rd: number, rs1: number, rs2: number): number {
  return packRaw(op, rd === 0 ? 32 : rd, rs1, rs2);
}

/** Like pack, but rd names an FP register (f0 is a real register, not a sink). */
function packRaw(op: number, rd: number, rs1: number, rs2: number): number {
  return op | ((rd * 2) << 8) | ((rs1 * 2) << 15) | ((rs2 * 2) << 21);
}

const immI = (i: number): number => i >> 20;
const immS = (i: number): number => ((i >> 25) << 5) | ((i >>> 7) & 31);
const immB = (i: number): number =>
  ((i >> 31) << 12) | (((i >>> 7) & 1) << 11) | (((i >>> 25) & 0x3f) << 5) | (((i >>> 8) & 0xf) << 1);
const immJ = (i: number): number =>
  ((i >> 31) << 20) | (((i >>> 12) & 0xff) << 12) | (((i >>> 20) & 1) << 11) | (((i >>> 21) & 0x3ff) << 1);

/**
 * Decode `raw` (a 32-bit instruction, or a 16-bit one when its low two bits are not 3)
 * into out[o] (packed), out[o+1] (immediate), out[o+2] (raw bits). Illegal encodings
 * decode to Op.Illegal, so the trap is raised when (and if) the instruction executes.
 */
export function decodeInto(raw: number, out: Int32Array, o: number): void {
  let insn = raw;
  let rvc = 0;
  if ((raw & 3) !== 3) {
    raw &= 0xffff;
    insn = expandCompressed(raw);
    rvc = DECODED_RVC;
    if (insn === 0) {
      out[o] = Op.Illegal | rvc;
      out[o + 1] = 0;
      out[o + 2] = raw;
      return;
    }
  }
  const [packed, imm] = decode32(insn);
  out[o] = packed | rvc;
  out[o + 1] = imm;
  out[o + 2] = raw;
}

/** Decoding runs once per cached instruction, so returning a small tuple is fine here. */
function decode32(i: number): [number, number] {
  const rd = (i >>> 7) & 31;
  const rs1 = (i >>> 15) & 31;
  const rs2 = (i >>> 20) & 31;
  const f3 = (i >>> 12) & 7;
  const f7 = i >>> 25;
  const ill: [number, number] = [Op.Illegal, 0];
  switch (i & 0x7f) {
    case 0x37:
      return [pack(Op.Lui, rd, 0, 0), i & 0xfffff000];
    case 0x17:
      return [pack(Op.Auipc, rd, 0, 0), i & 0xfffff000];
    case 0x6f:
      return [pack(Op.Jal, rd, 0, 0), immJ(i)];
    case 0x67:
      return f3 === 0 ? [pack(Op.Jalr, rd, rs1, 0), immI(i)] : ill;
    case 0x63: {
      const ops = [Op.Beq, Op.Bne, -1, -1, Op.Blt, Op.Bge, Op.Bltu, Op.Bgeu];
      const op = ops[f3]!;
      return op < 0 ? ill : [pack(op, 0, rs1, rs2), immB(i)];
    }
    case 0x03: {
      const ops = [Op.Lb, Op.Lh, Op.Lw, Op.Ld, Op.Lbu, Op.Lhu, Op.Lwu, -1];
      const op = ops[f3]!;
      return op < 0 ? ill : [pack(op, rd, rs1, 0), immI(i)];
    }
    case 0x23: {
      const ops = [Op.Sb, Op.Sh, Op.Sw, Op.Sd];
      return f3 > 3 ? ill : [pack(ops[f3]!, 0, rs1, rs2), immS(i)];
    }
    case 0x13: {
      const imm = immI(i);
      switch (f3) {
        case 0:
          if (rs1 === 0) return [pack(Op.Li, rd, 0, 0), imm];
          if (imm === 0) return [pack(Op.Mv, rd, rs1, 0), 0];
          return [pack(Op.Addi, rd, rs1, 0), imm];
        case 1:
          return i >>> 26 === 0 ? [pack(Op.Slli, rd, rs1, 0), (i >>> 20) & 63] : ill;
        case 2:
          return [pack(Op.Slti, rd, rs1, 0), imm];
        case 3:
          return [pack(Op.Sltiu, rd, rs1, 0), imm];
        case 4:
          return [pack(Op.Xori, rd, rs1, 0), imm];
        case 5:
          if (i >>> 26 === 0) return [pack(Op.Srli, rd, rs1, 0), (i >>> 20) & 63];
          if (i >>> 26 === 0x10) return [pack(Op.Srai, rd, rs1, 0), (i >>> 20) & 63];
          return ill;
        case 6:
          return [pack(Op.Ori, rd, rs1, 0), imm];
        default:
          return [pack(Op.Andi, rd, rs1, 0), imm];
      }
    }
    case 0x1b:
      switch (f3) {
        case 0:
          return [pack(Op.Addiw, rd, rs1, 0), immI(i)];
        case 1:
          return f7 === 0 ? [pack(Op.Slliw, rd, rs1, 0), rs2] : ill;
        case 5:
          if (f7 === 0) return [pack(Op.Srliw, rd, rs1, 0), rs2];
          if (f7 === 0x20) return [pack(Op.Sraiw, rd, rs1, 0), rs2];
          return ill;
        default:
          return ill;
      }
    case 0x33: {
      let op = -1;
      if (f7 === 0) op = [Op.Add, Op.Sll, Op.Slt, Op.Sltu, Op.Xor, Op.Srl, Op.Or, Op.And][f3]!;
      else if (f7 === 0x20) op = f3 === 0 ? Op.Sub : f3 === 5 ? Op.Sra : -1;
      else if (f7 === 1) op = [Op.Mul, Op.Mulh, Op.Mulhsu, Op.Mulhu, Op.Div, Op.Divu, Op.Rem, Op.Remu][f3]!;
      return op < 0 ? ill : [pack(op, rd, rs1, rs2), 0];
    }
    case 0x3b: {
      let op = -1;
      if (f7 === 0) op = f3 === 0 ? Op.Addw : f3 === 1 ? Op.Sllw : f3 === 5 ? Op.Srlw : -1;
      else if (f7 === 0x20) op = f3 === 0 ? Op.Subw : f3 === 5 ? Op.Sraw : -1;
      else if (f7 === 1) op = [Op.Mulw, -1, -1, -1, Op.Divw, Op.Divuw, Op.Remw, Op.Remuw][f3]!;
      return op < 0 ? ill : [pack(op, rd, rs1, rs2), 0];
    }
    case 0x0f:
      // FENCE ignores its reserved fields (they are hints); FENCE.I requires f3 = 1.
      // imm = 1 when the fence orders something (predecessor and successor sets both
      // non-empty): with several vCPU threads it is a host barrier (docs/memory-model.md).
      // PAUSE (fence w,0) and other empty-set fences order nothing: imm = 0.
      if (f3 === 0) return [pack(Op.Fence, 0, 0, 0), (i >>> 24) & 15 && (i >>> 20) & 15 ? 1 : 0];
      if (f3 === 1) return [pack(Op.FenceI, 0, 0, 0), 0];
      return ill;
    case 0x73:
      return decodeSystem(i, rd, rs1, rs2, f3, f7);
    case 0x2f: {
      const f5 = i >>> 27;
      if (f3 !== 2 && f3 !== 3) return ill;
      const d = f3 === 3;
      if (f5 === Amo.Lr) return rs2 === 0 ? [pack(d ? Op.LrD : Op.LrW, rd, rs1, 0), 0] : ill;
      if (f5 === Amo.Sc) return [pack(d ? Op.ScD : Op.ScW, rd, rs1, rs2), 0];
      const known = [Amo.Add, Amo.Swap, Amo.Xor, Amo.Or, Amo.And, Amo.Min, Amo.Max, Amo.Minu, Amo.Maxu] as number[];
      return known.includes(f5) ? [pack(d ? Op.AmoD : Op.AmoW, rd, rs1, rs2), f5] : ill;
    }
    case 0x07:
      if (f3 === 2) return [packRaw(Op.Flw, rd, rs1, 0), immI(i)];
      if (f3 === 3) return [packRaw(Op.Fld, rd, rs1, 0), immI(i)];
      return ill;
    case 0x27:
      if (f3 === 2) return [pack(Op.Fsw, 0, rs1, rs2), immS(i)];
      if (f3 === 3) return [pack(Op.Fsd, 0, rs1, rs2), immS(i)];
      return ill;
    case 0x43:
    case 0x47:
    case 0x4b:
    case 0x4f:
    case 0x53:
      // The FPU decodes its own fields from the raw bits (FP is rare in the integer hot path).
      return [Op.Fp, 0];
    default:
      return ill;
  }
}

function decodeSystem(i: number, rd: number, rs1: number, rs2: number, f3: number, f7: number): [number, number] {
  const ill: [number, number] = [Op.Illegal, 0];
  const csr = i >>> 20;
  switch (f3) {
    case 0:
      if (rd !== 0) return ill;
      if (f7 === 0x09) return [pack(Op.SfenceVma, 0, rs1, rs2), 0];
      if (rs1 !== 0) return ill;
      switch (i >>> 20) {
        case 0x000:
          return [pack(Op.Ecall, 0, 0, 0), 0];
        case 0x001:
          return [pack(Op.Ebreak, 0, 0, 0), 0];
        case 0x302:
          return [pack(Op.Mret, 0, 0, 0), 0];
        case 0x102:
          return [pack(Op.Sret, 0, 0, 0), 0];
        case 0x105:
          return [pack(Op.Wfi, 0, 0, 0), 0];
        default:
          return ill;
      }
    case 1:
      return [pack(Op.Csrrw, rd, rs1, 0), csr];
    case 2:
      return [pack(Op.Csrrs, rd, rs1, 0), csr];
    case 3:
      return [pack(Op.Csrrc, rd, rs1, 0), csr];
    case 5:
      return [pack(Op.Csrrwi, rd, rs1, 0), csr];
    case 6:
      return [pack(Op.Csrrsi, rd, rs1, 0), csr];
    case 7:
      return [pack(Op.Csrrci, rd, rs1, 0), csr];
    default:
      return ill;
  }
}
