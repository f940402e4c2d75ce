/**
 * Source generation for the block compiler (jit.ts): a run of decoded instructions
 * becomes the body of one JavaScript function.
 *
 * The generated function is `function (h, pc, ph, room)`: pc/ph is the 64-bit pc of the
 * block's first instruction and room the number of instructions it may execute (loop
 * blocks iterate while another full pass fits; other blocks are only entered when room
 * >= their length). It sets h.pcLo/h.pcHi to the next pc and returns either the number
 * of instructions it executed (>= 0) or, when a load or store misses the TLB fast path
 * (miss, misaligned, MMIO, a code page), `~k`: k instructions ran, pc is at the access,
 * and the caller must interpret that one instruction now. So the generated code never
 * calls a slow path, never traps and never sees self-modifying code: the interpreter
 * does all of that with its own exact accounting.
 *
 * Register and immediate numbers are literals. Guest registers the block uses live in
 * locals a<r> (low half) and b<r> (high half), always int32, loaded at entry; the ones
 * the block writes are stored back in one epilogue that every exit reaches (`break o`),
 * except jalr's, which has a dynamic target. The semantics mirror hart.ts run() case by case.
 */
import { Op } from "./decode.js";
import { TLB_MASK } from "./mmu.js";

/** Names the generated code sees (bound once per hart by jit.ts, in this order). */
export const CLOSURE_NAMES = [
  "x",
  "i32",
  "u8",
  "i8",
  "u16",
  "i16",
  "ltLo",
  "ltHi",
  "ltOff",
  "stLo",
  "stHi",
  "stOff",
  "mulhu32",
  "t2",
  "mulh64",
  "mulhsu64",
  "mulhu64",
  "div64",
  "divu64",
  "rem64",
  "remu64",
  "divw",
  "divuw",
  "remw",
  "remuw",
] as const;

/** One decoded instruction of a block: packed word, immediate, byte offset from the block start. */
export interface BlockInsn {
  w: number;
  imm: number;
  off: number;
}

const TWO32 = 4294967296;

/** Ops the compiler handles; anything else ends the block before it. */
export function compilable(op: number): boolean {
  return (op >= Op.Lui && op <= Op.Sraw) || op === Op.Fence || (op >= Op.Mul && op <= Op.Remuw) || op === Op.Li || op === Op.Mv;
}

export function isBranch(op: number): boolean {
  return op >= Op.Beq && op <= Op.Bgeu;
}

export function insnLen(w: number): number {
  return 4 - ((w >>> 26) & 2);
}

const M_HELPER: Record<number, string> = {
  [Op.Mulh]: "mulh64",
  [Op.Mulhsu]: "mulhsu64",
  [Op.Mulhu]: "mulhu64",
  [Op.Div]: "div64",
  [Op.Divu]: "divu64",
  [Op.Rem]: "rem64",
  [Op.Remu]: "remu64",
  [Op.Divw]: "divw",
  [Op.Divuw]: "divuw",
  [Op.Remw]: "remw",
  [Op.Remuw]: "remuw",
};

/**
 * Generate the function body for `insns`. `startOff` is the block's offset in its page
 * (so the compiler knows statically which pc additions can carry into the high half).
 * With `loop`, the last instruction branches back to the block start and the body runs
 * in a JS loop while `room` allows another full pass.
 */
export function generateBlock(insns: readonly BlockInsn[], startOff: number, loop: boolean): string {
  return new Gen(insns, startOff, loop).run();
}

class Gen {
  private readonly out: string[] = [];
  private readonly used = new Set<number>();
  private readonly written = new Set<number>();
  /** Instructions completed before the current one, as an expression. */
  private done = "";
  private readonly m: number;

  constructor(
    private readonly insns: readonly BlockInsn[],
    private readonly startOff: number,
    private readonly loop: boolean,
  ) {
    this.m = insns.length;
  }

  run(): string {
    for (const ins of this.insns) {
      const w = ins.w;
      const op = w & 0xff;
      const rd = ((w >>> 8) & 127) >>> 1;
      for (const r of srcRegs(op, ((w >>> 15) & 63) >>> 1, ((w >>> 21) & 63) >>> 1)) if (r !== 0) this.used.add(r);
      if (writesRd(op) && rd !== 32) {
        this.used.add(rd);
        this.written.add(rd);
      }
    }
    const o = this.out;
    o.push("return function blk(h, pc, ph, room) {");
    // Every register the block touches lives in a local; written ones go back at the exit.
    const decl = [...this.used].sort((p, q) => p - q).map((r) => `a${r} = x[${2 * r}], b${r} = x[${2 * r + 1}]`);
    decl.push("r = 0", "d = 0");
    if (this.loop) decl.push("c = 0");
    o.push(`let ${decl.join(", ")};`);
    o.push("o: {");
    if (this.loop) o.push("for (;;) {");
    for (let k = 0; k < this.m; k++) {
      this.done = this.loop ? (k === 0 ? "c" : `c + ${k}`) : `${k}`;
      this.insn(k, this.insns[k]!);
    }
    if (this.loop) o.push("}");
    o.push("}");
    o.push(this.writeback());
    o.push("const t = (pc + d) | 0; h.pcLo = t; h.pcHi = (ph + (d >> 31) + ((t >>> 0) < (pc >>> 0) ? 1 : 0)) | 0;");
    o.push("return r;", "};");
    return o.join("\n");
  }

  // ---- operands ----
  private A(r: number): string {
    return r === 0 ? "0" : `a${r}`;
  }
  private B(r: number): string {
    return r === 0 ? "0" : `b${r}`;
  }

  private writeback(): string {
    return [...this.written]
      .sort((p, q) => p - q)
      .map((r) => `x[${2 * r}] = a${r}; x[${2 * r + 1}] = b${r};`)
      .join(" ");
  }

  /** Leave the block: return `ret`, next pc = block start + d. */
  private exit(ret: string, d: number): string {
    return `r = ${ret}; d = ${d}; break o;`;
  }

  /** Expressions for (lo, hi) of block start + d; carry code only when the page can change. */
  private pcPlus(d: number): [string, string] {
    const page = this.startOff + d;
    if (page >= 0 && page < 4096) return [`(pc + ${d}) | 0`, "ph"];
    const dlo = d | 0;
    const dhi = Math.floor(d / TWO32) | 0;
    return [`(pc + ${dlo}) | 0`, `(ph + ${dhi} + ((((pc + ${dlo}) | 0) >>> 0) < (pc >>> 0) ? 1 : 0)) | 0`];
  }

  /** Assign a (lo, hi) pair of expressions to register rd; `hi` may use `t`, the new low half. */
  private set(rd: number, lo: string, hi: string): void {
    if (rd === 32) return;
    this.out.push(`{ const t = ${lo}; b${rd} = ${hi}; a${rd} = t; }`);
  }

  /** rd = sign-extended int32 expression v. */
  private setW(rd: number, v: string): void {
    if (rd === 32) return;
    this.out.push(`a${rd} = ${v}; b${rd} = a${rd} >> 31;`);
  }

  private insn(k: number, ins: BlockInsn): void {
    const o = this.out;
    const w = ins.w;
    const imm = ins.imm;
    const op = w & 0xff;
    const rd = ((w >>> 8) & 127) >>> 1;
    const r1 = ((w >>> 15) & 63) >>> 1;
    const r2 = ((w >>> 21) & 63) >>> 1;
    const len = insnLen(w);
    const ih = imm >> 31;
    const A1 = this.A(r1);
    const B1 = this.B(r1);
    const A2 = this.A(r2);
    const B2 = this.B(r2);
    const last = k === this.m - 1;
    const off = ins.off;
    switch (op) {
      case Op.Li:
      case Op.Lui:
        this.set(rd, `${imm}`, `${ih}`);
        break;
      case Op.Mv:
        if (rd !== r1) this.set(rd, A1, B1);
        break;
      case Op.Addi:
        this.set(rd, `(${A1} + ${imm}) | 0`, `(${B1} + ${ih} + ((t >>> 0) < (${A1} >>> 0) ? 1 : 0)) | 0`);
        break;
      case Op.Addiw:
        this.setW(rd, `(${A1} + ${imm}) | 0`);
        break;
      case Op.Slti:
        this.set(rd, `${B1} < ${ih} || (${B1} === ${ih} && (${A1} >>> 0) < ${imm >>> 0}) ? 1 : 0`, "0");
        break;
      case Op.Sltiu:
        this.set(rd, `(${B1} >>> 0) < ${ih >>> 0} || (${B1} === ${ih} && (${A1} >>> 0) < ${imm >>> 0}) ? 1 : 0`, "0");
        break;
      case Op.Xori:
        this.set(rd, `${A1} ^ ${imm}`, `${B1} ^ ${ih}`);
        break;
      case Op.Ori:
        this.set(rd, `${A1} | ${imm}`, `${B1} | ${ih}`);
        break;
      case Op.Andi:
        this.set(rd, `${A1} & ${imm}`, `${B1} & ${ih}`);
        break;
      case Op.Slli:
        if (imm >= 32) this.set(rd, "0", `${A1} << ${imm - 32}`);
        else if (imm !== 0) this.set(rd, `${A1} << ${imm}`, `(${B1} << ${imm}) | (${A1} >>> ${32 - imm})`);
        else this.set(rd, A1, B1);
        break;
      case Op.Srli:
        if (imm >= 32) this.set(rd, `(${B1} >>> ${imm - 32}) | 0`, "0");
        else if (imm !== 0) this.set(rd, `(${A1} >>> ${imm}) | (${B1} << ${32 - imm})`, `(${B1} >>> ${imm}) | 0`);
        else this.set(rd, A1, B1);
        break;
      case Op.Srai:
        if (imm >= 32) this.set(rd, `${B1} >> ${imm - 32}`, `${B1} >> 31`);
        else if (imm !== 0) this.set(rd, `(${A1} >>> ${imm}) | (${B1} << ${32 - imm})`, `${B1} >> ${imm}`);
        else this.set(rd, A1, B1);
        break;
      case Op.Slliw:
        this.setW(rd, `${A1} << ${imm}`);
        break;
      case Op.Srliw:
        this.setW(rd, `(${A1} >>> ${imm}) | 0`);
        break;
      case Op.Sraiw:
        this.setW(rd, `${A1} >> ${imm}`);
        break;
      case Op.Auipc: {
        const [lo, hi] = this.pcPlus(off + imm);
        this.set(rd, lo, hi);
        break;
      }
      case Op.Add:
        this.set(rd, `(${A1} + ${A2}) | 0`, `(${B1} + ${B2} + ((t >>> 0) < (${A1} >>> 0) ? 1 : 0)) | 0`);
        break;
      case Op.Sub:
        this.set(rd, `(${A1} - ${A2}) | 0`, `(${B1} - ${B2} - ((${A1} >>> 0) < (${A2} >>> 0) ? 1 : 0)) | 0`);
        break;
      case Op.Sll:
      case Op.Srl:
      case Op.Sra: {
        if (rd === 32) break;
        o.push(`{ const s = ${A2} & 63, l = ${A1}, u = ${B1}; let p = 0, q = 0;`);
        if (op === Op.Sll) o.push("if (s >= 32) { q = l << (s - 32); p = 0; } else if (s !== 0) { q = (u << s) | (l >>> (32 - s)); p = l << s; } else { q = u; p = l; }");
        else if (op === Op.Srl) o.push("if (s >= 32) { p = (u >>> (s - 32)) | 0; q = 0; } else if (s !== 0) { p = (l >>> s) | (u << (32 - s)); q = (u >>> s) | 0; } else { q = u; p = l; }");
        else o.push("if (s >= 32) { p = u >> (s - 32); q = u >> 31; } else if (s !== 0) { p = (l >>> s) | (u << (32 - s)); q = u >> s; } else { q = u; p = l; }");
        o.push(`a${rd} = p; b${rd} = q; }`);
        break;
      }
      case Op.Slt:
        this.set(rd, `${B1} < ${B2} || (${B1} === ${B2} && (${A1} >>> 0) < (${A2} >>> 0)) ? 1 : 0`, "0");
        break;
      case Op.Sltu:
        this.set(rd, `(${B1} >>> 0) < (${B2} >>> 0) || (${B1} === ${B2} && (${A1} >>> 0) < (${A2} >>> 0)) ? 1 : 0`, "0");
        break;
      case Op.Xor:
        this.set(rd, `${A1} ^ ${A2}`, `${B1} ^ ${B2}`);
        break;
      case Op.Or:
        this.set(rd, `${A1} | ${A2}`, `${B1} | ${B2}`);
        break;
      case Op.And:
        this.set(rd, `${A1} & ${A2}`, `${B1} & ${B2}`);
        break;
      case Op.Addw:
        this.setW(rd, `(${A1} + ${A2}) | 0`);
        break;
      case Op.Subw:
        this.setW(rd, `(${A1} - ${A2}) | 0`);
        break;
      case Op.Sllw:
        this.setW(rd, `${A1} << (${A2} & 31)`);
        break;
      case Op.Srlw:
        this.setW(rd, `(${A1} >>> (${A2} & 31)) | 0`);
        break;
      case Op.Sraw:
        this.setW(rd, `${A1} >> (${A2} & 31)`);
        break;
      case Op.Mul:
        this.set(rd, `Math.imul(${A1}, ${A2})`, `(mulhu32(${A1}, ${A2}) + Math.imul(${A1}, ${B2}) + Math.imul(${B1}, ${A2})) | 0`);
        break;
      case Op.Mulw:
        this.setW(rd, `Math.imul(${A1}, ${A2})`);
        break;
      case Op.Mulh:
      case Op.Mulhsu:
      case Op.Mulhu:
      case Op.Div:
      case Op.Divu:
      case Op.Rem:
      case Op.Remu:
        if (rd !== 32) o.push(`${M_HELPER[op]}(t2, 0, ${A1}, ${B1}, ${A2}, ${B2}); a${rd} = t2[0]; b${rd} = t2[1];`);
        break;
      case Op.Divw:
      case Op.Divuw:
      case Op.Remw:
      case Op.Remuw:
        if (rd !== 32) o.push(`${M_HELPER[op]}(t2, 0, ${A1}, ${A2}); a${rd} = t2[0]; b${rd} = t2[1];`);
        break;
      case Op.Fence:
        break;
      case Op.Lb:
      case Op.Lbu:
      case Op.Lh:
      case Op.Lhu:
      case Op.Lw:
      case Op.Lwu:
      case Op.Ld:
        this.load(op, rd, r1, imm, off);
        break;
      case Op.Sb:
      case Op.Sh:
      case Op.Sw:
      case Op.Sd:
        this.store(op, r1, r2, imm, off);
        break;
      case Op.Jal: {
        const [llo, lhi] = this.pcPlus(off + len);
        this.set(rd, llo, lhi);
        this.branch("", off + imm, off + len, last);
        break;
      }
      case Op.Jalr: {
        // Always last: the target is dynamic, so this exit writes back and sets pc itself.
        o.push(`{ const p = ${A1}; const v = (p + ${imm}) | 0; const vh = (${B1} + ${ih} + ((v >>> 0) < (p >>> 0) ? 1 : 0)) | 0;`);
        const [llo, lhi] = this.pcPlus(off + len);
        this.set(rd, llo, lhi);
        o.push(`${this.writeback()} h.pcLo = v & -2; h.pcHi = vh; return ${this.done} + 1; }`);
        break;
      }
      case Op.Beq:
        this.branch(`${A1} === ${A2} && ${B1} === ${B2}`, off + imm, off + len, last);
        break;
      case Op.Bne:
        this.branch(`${A1} !== ${A2} || ${B1} !== ${B2}`, off + imm, off + len, last);
        break;
      case Op.Blt:
        this.branch(`${B1} < ${B2} || (${B1} === ${B2} && (${A1} >>> 0) < (${A2} >>> 0))`, off + imm, off + len, last);
        break;
      case Op.Bge:
        this.branch(`!(${B1} < ${B2} || (${B1} === ${B2} && (${A1} >>> 0) < (${A2} >>> 0)))`, off + imm, off + len, last);
        break;
      case Op.Bltu:
        this.branch(`(${B1} >>> 0) < (${B2} >>> 0) || (${B1} === ${B2} && (${A1} >>> 0) < (${A2} >>> 0))`, off + imm, off + len, last);
        break;
      case Op.Bgeu:
        this.branch(`!((${B1} >>> 0) < (${B2} >>> 0) || (${B1} === ${B2} && (${A1} >>> 0) < (${A2} >>> 0)))`, off + imm, off + len, last);
        break;
      default:
        throw new Error(`jit: op ${op} is not compilable`);
    }
    if (last && !isBranch(op) && op !== Op.Jal && op !== Op.Jalr) {
      // The block ran into something it does not compile, its length limit or the page end.
      o.push(`r = ${this.done} + 1; d = ${off + len};`);
    }
  }

  /**
   * A control transfer (cond "" = always). Conditional branches in the middle of a block
   * are side exits; the last transfer ends the block, or loops when it targets the start.
   */
  private branch(cond: string, target: number, fall: number, last: boolean): void {
    const o = this.out;
    const count = `${this.done} + 1`;
    if (!last) {
      o.push(`if (${cond}) { ${this.exit(count, target)} }`);
      return;
    }
    if (this.loop && target === 0) {
      const again = `c += ${this.m}; if (c + ${this.m} <= room) continue; ${this.exit("c", 0)}`;
      if (cond === "") o.push(again);
      else o.push(`if (${cond}) { ${again} }`, this.exit(count, fall));
      return;
    }
    if (cond === "") o.push(this.exit(count, target));
    else o.push(`if (${cond}) { ${this.exit(count, target)} }`, this.exit(count, fall));
  }

  /** Effective address (lo, hi) of rs1 + imm into consts `lo`, `hi`. */
  private addr(r1: number, imm: number): string {
    if (r1 === 0) return `const lo = ${imm}, hi = ${imm >> 31};`;
    if (imm === 0) return `const lo = a${r1}, hi = b${r1};`;
    return `const lo = (a${r1} + ${imm}) | 0, hi = (b${r1} + ${imm >> 31} + ((lo >>> 0) < (a${r1} >>> 0) ? 1 : 0)) | 0;`;
  }

  /** On a TLB miss (or misaligned access) the block stops before the access and the interpreter runs it. */
  private miss(off: number): string {
    return this.exit(`~(${this.done})`, off);
  }

  private load(op: number, rd: number, r1: number, imm: number, off: number): void {
    const width = op === Op.Lb || op === Op.Lbu ? 1 : op === Op.Lh || op === Op.Lhu ? 2 : op === Op.Ld ? 8 : 4;
    const align = width > 1 ? ` && (lo & ${width - 1}) === 0` : "";
    let fast: string;
    switch (op) {
      case Op.Lb:
        fast = `a${rd} = i8[q]; b${rd} = a${rd} >> 31;`;
        break;
      case Op.Lbu:
        fast = `a${rd} = u8[q]; b${rd} = 0;`;
        break;
      case Op.Lh:
        fast = `a${rd} = i16[q >> 1]; b${rd} = a${rd} >> 31;`;
        break;
      case Op.Lhu:
        fast = `a${rd} = u16[q >> 1]; b${rd} = 0;`;
        break;
      case Op.Lw:
        fast = `a${rd} = i32[q >> 2]; b${rd} = a${rd} >> 31;`;
        break;
      case Op.Lwu:
        fast = `a${rd} = i32[q >> 2]; b${rd} = 0;`;
        break;
      default:
        fast = `a${rd} = i32[q >> 2]; b${rd} = i32[(q >> 2) + 1];`;
    }
    const head = `{ ${this.addr(r1, imm)} const e = (lo >>> 12) & ${TLB_MASK};`;
    const hit = `ltLo[e] === (lo >>> 12) && ltHi[e] === hi${align}`;
    if (rd === 32) this.out.push(`${head} if (!(${hit})) { ${this.miss(off)} } }`);
    else this.out.push(`${head} if (${hit}) { const q = ltOff[e] + (lo & 4095); ${fast} } else { ${this.miss(off)} } }`);
  }

  private store(op: number, r1: number, r2: number, imm: number, off: number): void {
    const width = op === Op.Sb ? 1 : op === Op.Sh ? 2 : op === Op.Sw ? 4 : 8;
    const align = width > 1 ? ` && (lo & ${width - 1}) === 0` : "";
    const v = this.A(r2);
    let fast: string;
    switch (width) {
      case 1:
        fast = `u8[q] = ${v};`;
        break;
      case 2:
        fast = `u16[q >> 1] = ${v};`;
        break;
      case 4:
        fast = `i32[q >> 2] = ${v};`;
        break;
      default:
        fast = `i32[q >> 2] = ${v}; i32[(q >> 2) + 1] = ${this.B(r2)};`;
    }
    this.out.push(
      `{ ${this.addr(r1, imm)} const e = (lo >>> 12) & ${TLB_MASK};` +
        ` if (stLo[e] === (lo >>> 12) && stHi[e] === hi${align}) { const q = stOff[e] + (lo & 4095); ${fast} } else { ${this.miss(off)} } }`,
    );
  }
}

/** Source registers (numbers 0..31) an op reads. */
function srcRegs(op: number, r1: number, r2: number): number[] {
  switch (op) {
    case Op.Li:
    case Op.Lui:
    case Op.Auipc:
    case Op.Jal:
    case Op.Fence:
      return [];
    case Op.Mv:
    case Op.Addi:
    case Op.Addiw:
    case Op.Slti:
    case Op.Sltiu:
    case Op.Xori:
    case Op.Ori:
    case Op.Andi:
    case Op.Slli:
    case Op.Srli:
    case Op.Srai:
    case Op.Slliw:
    case Op.Srliw:
    case Op.Sraiw:
    case Op.Jalr:
    case Op.Lb:
    case Op.Lbu:
    case Op.Lh:
    case Op.Lhu:
    case Op.Lw:
    case Op.Lwu:
    case Op.Ld:
      return [r1];
    default:
      return [r1, r2];
  }
}

function writesRd(op: number): boolean {
  return !(isBranch(op) || op === Op.Sb || op === Op.Sh || op === Op.Sw || op === Op.Sd || op === Op.Fence);
}
