/**
 * RV64C: expansion of 16-bit compressed instructions to their 32-bit RV64G equivalents.
 *
 * The decoder calls {@link expandCompressed} once per decoded instruction (results are
 * cached), so this file favours a direct transcription of the encoding tables in the
 * RISC-V unprivileged spec ("C" Standard Extension, RVC instruction set listings) over
 * speed. It allocates nothing and returns an int32.
 *
 * Field naming below follows the spec: rd'/rs1'/rs2' are the 3-bit register fields
 * (bits 4:2, 9:7, 4:2) that name x8..x15 (or f8..f15).
 */

// 32-bit major opcodes used by the expansions.
const OP_LOAD = 0x03;
const OP_LOAD_FP = 0x07;
const OP_IMM = 0x13;
const OP_IMM_32 = 0x1b;
const OP_STORE = 0x23;
const OP_STORE_FP = 0x27;
const OP_OP = 0x33;
const OP_LUI = 0x37;
const OP_OP_32 = 0x3b;
const OP_BRANCH = 0x63;
const OP_JALR = 0x67;
const OP_JAL = 0x6f;

/** EBREAK: the whole 32-bit instruction. */
const EBREAK = 0x00100073;

// ---------------------------------------------------------------------------
// 32-bit encoders. Immediates are passed as plain (possibly negative) integers;
// each encoder takes the bits it needs.

function iType(imm: number, rs1: number, funct3: number, rd: number, opcode: number): number {
  return ((imm & 0xfff) << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | opcode;
}

function sType(imm: number, rs2: number, rs1: number, funct3: number, opcode: number): number {
  return (
    (((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (funct3 << 12) | ((imm & 0x1f) << 7) | opcode
  );
}

function rType(funct7: number, rs2: number, rs1: number, funct3: number, rd: number, opcode: number): number {
  return (funct7 << 25) | (rs2 << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | opcode;
}

/** B-type: imm is the byte offset (bit 0 ignored). */
function bType(imm: number, rs2: number, rs1: number, funct3: number): number {
  return (
    (((imm >> 12) & 1) << 31) |
    (((imm >> 5) & 0x3f) << 25) |
    (rs2 << 20) |
    (rs1 << 15) |
    (funct3 << 12) |
    (((imm >> 1) & 0xf) << 8) |
    (((imm >> 11) & 1) << 7) |
    OP_BRANCH
  );
}

/** J-type (JAL): imm is the byte offset (bit 0 ignored). */
function jType(imm: number, rd: number): number {
  return (
    (((imm >> 20) & 1) << 31) |
    (((imm >> 1) & 0x3ff) << 21) |
    (((imm >> 11) & 1) << 20) |
    (((imm >> 12) & 0xff) << 12) |
    (rd << 7) |
    OP_JAL
  );
}

// ---------------------------------------------------------------------------
// Compressed field extraction.

/** Bit `i` of c, moved to bit position `to`. */
function bit(c: number, i: number, to: number): number {
  return ((c >> i) & 1) << to;
}

/** Sign-extend the low `bits` bits of v. */
function sext(v: number, bits: number): number {
  const s = 32 - bits;
  return (v << s) >> s;
}

/** 6-bit signed immediate imm[5] = c[12], imm[4:0] = c[6:2] (C.ADDI, C.ADDIW, C.LI, C.ANDI). */
function ciImm(c: number): number {
  return sext(bit(c, 12, 5) | ((c >> 2) & 0x1f), 6);
}

/** Unsigned 6-bit shift amount shamt[5] = c[12], shamt[4:0] = c[6:2]. */
function ciShamt(c: number): number {
  return bit(c, 12, 5) | ((c >> 2) & 0x1f);
}

/** Offset of C.LW/C.SW: uimm[5:3] = c[12:10], uimm[2] = c[6], uimm[6] = c[5]. */
function clwImm(c: number): number {
  return (((c >> 10) & 7) << 3) | bit(c, 6, 2) | bit(c, 5, 6);
}

/** Offset of C.LD/C.SD/C.FLD/C.FSD: uimm[5:3] = c[12:10], uimm[7:6] = c[6:5]. */
function cldImm(c: number): number {
  return (((c >> 10) & 7) << 3) | (((c >> 5) & 3) << 6);
}

/** Branch offset of C.BEQZ/C.BNEZ: imm[8|4:3] = c[12:10], imm[7:6|2:1|5] = c[6:2]. */
function cbImm(c: number): number {
  const v =
    bit(c, 12, 8) |
    (((c >> 10) & 3) << 3) |
    (((c >> 5) & 3) << 6) |
    (((c >> 3) & 3) << 1) |
    bit(c, 2, 5);
  return sext(v, 9);
}

/** Jump offset of C.J: imm[11|4|9:8|10|6|7|3:1|5] = c[12:2]. */
function cjImm(c: number): number {
  const v =
    bit(c, 12, 11) |
    bit(c, 11, 4) |
    (((c >> 9) & 3) << 8) |
    bit(c, 8, 10) |
    bit(c, 7, 6) |
    bit(c, 6, 7) |
    (((c >> 3) & 7) << 1) |
    bit(c, 2, 5);
  return sext(v, 12);
}

// ---------------------------------------------------------------------------

/**
 * Expand a 16-bit RV64C instruction (low 2 bits != 3) to the equivalent 32-bit RV64G
 * encoding. Returns 0 for illegal/reserved encodings (including 0x0000, C.ADDI4SPN with
 * nzuimm=0, C.LUI/C.ADDI16SP with imm=0, C.LWSP/C.LDSP with rd=0, C.JR with rs1=0,
 * C.ADDIW with rd=0, and the reserved RV64 encodings). HINT encodings (e.g. C.NOP with
 * nonzero imm, C.ADDI/C.LI/C.MV/C.ADD/C.LUI/C.SLLI with rd=0, C.SLLI/C.SRLI/C.SRAI with
 * shamt=0) are legal and expand to the corresponding 32-bit instruction.
 *
 * The result is an int32 (an instruction with bit 31 set comes back negative; use
 * `>>> 0` for the unsigned word). Only the low 16 bits of `c` are looked at; an input
 * whose low 2 bits are 3 is not a compressed instruction and gives 0.
 */
export function expandCompressed(c: number): number {
  c &= 0xffff;
  const funct3 = c >>> 13;
  const rd = (c >> 7) & 0x1f; // rd / rs1 (full 5-bit field, bits 11:7)
  const rs2 = (c >> 2) & 0x1f; // rs2 (bits 6:2)
  const rdP = 8 + ((c >> 2) & 7); // rd' / rs2' (bits 4:2)
  const rs1P = 8 + ((c >> 7) & 7); // rs1' / rd' (bits 9:7)

  switch (c & 3) {
    // ---------------------------------------------------------------- quadrant 0
    case 0:
      switch (funct3) {
        case 0: {
          // C.ADDI4SPN: addi rd', x2, nzuimm; nzuimm[5:4|9:6|2|3] = c[12:5]
          const nzuimm =
            (((c >> 11) & 3) << 4) | (((c >> 7) & 0xf) << 6) | bit(c, 6, 2) | bit(c, 5, 3);
          if (nzuimm === 0) return 0; // reserved (includes 0x0000)
          return iType(nzuimm, 2, 0, rdP, OP_IMM);
        }
        case 1: // C.FLD
          return iType(cldImm(c), rs1P, 3, rdP, OP_LOAD_FP);
        case 2: // C.LW
          return iType(clwImm(c), rs1P, 2, rdP, OP_LOAD);
        case 3: // C.LD (RV64)
          return iType(cldImm(c), rs1P, 3, rdP, OP_LOAD);
        case 4: // reserved
          return 0;
        case 5: // C.FSD
          return sType(cldImm(c), rdP, rs1P, 3, OP_STORE_FP);
        case 6: // C.SW
          return sType(clwImm(c), rdP, rs1P, 2, OP_STORE);
        default: // 7: C.SD (RV64)
          return sType(cldImm(c), rdP, rs1P, 3, OP_STORE);
      }

    // ---------------------------------------------------------------- quadrant 1
    case 1:
      switch (funct3) {
        case 0: // C.NOP (rd=0) / C.ADDI; rd=0 with imm!=0 and imm=0 with rd!=0 are HINTs
          return iType(ciImm(c), rd, 0, rd, OP_IMM);
        case 1: // C.ADDIW (RV64; the RV32 C.JAL slot); rd=0 reserved
          if (rd === 0) return 0;
          return iType(ciImm(c), rd, 0, rd, OP_IMM_32);
        case 2: // C.LI: addi rd, x0, imm; rd=0 HINT
          return iType(ciImm(c), 0, 0, rd, OP_IMM);
        case 3: {
          if (rd === 2) {
            // C.ADDI16SP: addi x2, x2, nzimm; nzimm[9] = c[12], nzimm[4|6|8:7|5] = c[6:2]
            const v =
              bit(c, 12, 9) | bit(c, 6, 4) | bit(c, 5, 6) | (((c >> 3) & 3) << 7) | bit(c, 2, 5);
            if (v === 0) return 0; // reserved
            return iType(sext(v, 10), 2, 0, 2, OP_IMM);
          }
          // C.LUI: lui rd, nzimm[17:12]; rd=0 HINT; nzimm=0 reserved
          const imm6 = bit(c, 12, 5) | ((c >> 2) & 0x1f);
          if (imm6 === 0) return 0;
          return ((sext(imm6, 6) & 0xfffff) << 12) | (rd << 7) | OP_LUI;
        }
        case 4:
          switch ((c >> 10) & 3) {
            case 0: // C.SRLI; shamt=0 HINT
              return iType(ciShamt(c), rs1P, 5, rs1P, OP_IMM);
            case 1: // C.SRAI; shamt=0 HINT
              return iType(0x400 | ciShamt(c), rs1P, 5, rs1P, OP_IMM);
            case 2: // C.ANDI
              return iType(ciImm(c), rs1P, 7, rs1P, OP_IMM);
            default: {
              const f2 = (c >> 5) & 3;
              if ((c & 0x1000) === 0) {
                // C.SUB, C.XOR, C.OR, C.AND
                switch (f2) {
                  case 0:
                    return rType(0x20, rdP, rs1P, 0, rs1P, OP_OP);
                  case 1:
                    return rType(0, rdP, rs1P, 4, rs1P, OP_OP);
                  case 2:
                    return rType(0, rdP, rs1P, 6, rs1P, OP_OP);
                  default:
                    return rType(0, rdP, rs1P, 7, rs1P, OP_OP);
                }
              }
              // C.SUBW, C.ADDW; the other two are reserved
              if (f2 === 0) return rType(0x20, rdP, rs1P, 0, rs1P, OP_OP_32);
              if (f2 === 1) return rType(0, rdP, rs1P, 0, rs1P, OP_OP_32);
              return 0;
            }
          }
        case 5: // C.J: jal x0, offset
          return jType(cjImm(c), 0);
        case 6: // C.BEQZ: beq rs1', x0, offset
          return bType(cbImm(c), 0, rs1P, 0);
        default: // 7: C.BNEZ: bne rs1', x0, offset
          return bType(cbImm(c), 0, rs1P, 1);
      }

    // ---------------------------------------------------------------- quadrant 2
    case 2:
      switch (funct3) {
        case 0: // C.SLLI; rd=0 or shamt=0 HINT
          return iType(ciShamt(c), rd, 1, rd, OP_IMM);
        case 1: {
          // C.FLDSP: uimm[5] = c[12], uimm[4:3|8:6] = c[6:2]
          const off = bit(c, 12, 5) | (((c >> 5) & 3) << 3) | (((c >> 2) & 7) << 6);
          return iType(off, 2, 3, rd, OP_LOAD_FP);
        }
        case 2: {
          // C.LWSP: uimm[5] = c[12], uimm[4:2|7:6] = c[6:2]; rd=0 reserved
          if (rd === 0) return 0;
          const off = bit(c, 12, 5) | (((c >> 4) & 7) << 2) | (((c >> 2) & 3) << 6);
          return iType(off, 2, 2, rd, OP_LOAD);
        }
        case 3: {
          // C.LDSP (RV64): same offset layout as C.FLDSP; rd=0 reserved
          if (rd === 0) return 0;
          const off = bit(c, 12, 5) | (((c >> 5) & 3) << 3) | (((c >> 2) & 7) << 6);
          return iType(off, 2, 3, rd, OP_LOAD);
        }
        case 4:
          if ((c & 0x1000) === 0) {
            if (rs2 === 0) {
              // C.JR: jalr x0, 0(rs1); rs1=0 reserved
              if (rd === 0) return 0;
              return iType(0, rd, 0, 0, OP_JALR);
            }
            // C.MV: add rd, x0, rs2; rd=0 HINT
            return rType(0, rs2, 0, 0, rd, OP_OP);
          }
          if (rs2 === 0) {
            // C.EBREAK (rs1=0) / C.JALR: jalr x1, 0(rs1)
            if (rd === 0) return EBREAK;
            return iType(0, rd, 0, 1, OP_JALR);
          }
          // C.ADD: add rd, rd, rs2; rd=0 HINT
          return rType(0, rs2, rd, 0, rd, OP_OP);
        case 5: {
          // C.FSDSP: uimm[5:3|8:6] = c[12:7]
          const off = (((c >> 10) & 7) << 3) | (((c >> 7) & 7) << 6);
          return sType(off, rs2, 2, 3, OP_STORE_FP);
        }
        case 6: {
          // C.SWSP: uimm[5:2|7:6] = c[12:7]
          const off = (((c >> 9) & 0xf) << 2) | (((c >> 7) & 3) << 6);
          return sType(off, rs2, 2, 2, OP_STORE);
        }
        default: {
          // 7: C.SDSP (RV64): same offset layout as C.FSDSP
          const off = (((c >> 10) & 7) << 3) | (((c >> 7) & 7) << 6);
          return sType(off, rs2, 2, 3, OP_STORE);
        }
      }

    default: // low bits 11: not a compressed instruction
      return 0;
  }
}
