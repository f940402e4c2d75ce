/**
 * Source generation for the block compiler (jit.ts): a run of decoded instructions
 * becomes the body of one JavaScript function.
 *
 * The generated function is `function (h, pc, ph, n, room)`: pc/ph is the 64-bit pc of
 * the block's first instruction, n the run() slice count before the block, room the
 * number of instructions the block may execute (loop blocks use it; straight blocks are
 * only entered when room >= their length). It returns the number of instructions it
 * executed (retired plus a faulting one), OR-ed with EXIT_SLOW when it stopped after a
 * slow-path access that raised an event or dropped the executing page, or EXIT_TRAP when
 * a slow path took a trap. On return h.pcLo/h.pcHi hold the next pc (or the handler).
 *
 * Register and immediate numbers are literals; guest registers the block uses live in
 * locals a<r> (low half) and b<r> (high half), kept as int32 at all times, loaded at entry
 * and written back at every exit. The body mirrors hart.ts run() case for case.
 */
import { Op } from "./decode.js";

export const EXIT_SLOW = 1 << 24;
export const EXIT_TRAP = 1 << 25;
export const EXIT_COUNT = EXIT_SLOW - 1;

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
  "loadSlow",
  "storeSlow",
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
  const g = new Gen(insns, startOff, loop);
  return g.run();
}

class Gen {
  private readonly out: string[] = [];
  /** Registers (1..31) written so far in program order. */
  private readonly dirty = new Set<number>();
  private readonly read = new Set<number>();
  private readonly written = new Set<number>();
  private readonly liveIn = new Set<number>();
  /** Instructions executed so far, including the current one, as an expression. */
  private cnt = "";
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
      const r1 = ((w >>> 15) & 63) >>> 1;
      const r2 = ((w >>> 21) & 63) >>> 1;
      for (const r of srcRegs(op, r1, r2)) if (r !== 0 && !this.written.has(r)) this.liveIn.add(r);
      for (const r of srcRegs(op, r1, r2)) if (r !== 0) this.read.add(r);
      if (writesRd(op) && rd !== 32) this.written.add(rd);
    }
    if (this.loop) {
      for (const r of this.written) this.liveIn.add(r);
      for (const r of this.written) this.dirty.add(r);
    }
    const decl: string[] = [];
    for (const r of new Set([...this.read, ...this.written])) {
      if (this.liveIn.has(r)) decl.push(`a${r} = x[${2 * r}] | 0, b${r} = x[${2 * r + 1}] | 0`);
      else decl.push(`a${r} = 0, b${r} = 0`);
    }
    const o = this.out;
    o.push("return function blk(h, pc, ph, n, room) {");
    if (decl.length > 0) o.push(`let ${decl.join(", ")};`);
    if (this.loop) o.push("let c = 0;", "for (;;) {");
    for (let k = 0; k < this.m; k++) {
      this.cnt = this.loop ? `c + ${k + 1}` : `${k + 1}`;
      this.insn(k, this.insns[k]!);
    }
    if (this.loop) o.push("}");
    o.push("};");
    return o.join("\n");
  }

  // ---- operands ----
  private A(r: number): string {
    return r === 0 ? "0" : `a${r}`;
  }
  private B(r: number): string {
    return r === 0 ? "0" : `b${r}`;
  }

  private writeback(extra: number = -1): string {
    const s: string[] = [];
    for (const r of this.dirty) s.push(`x[${2 * r}] = a${r}; x[${2 * r + 1}] = b${r};`);
    if (extra > 0 && extra !== 32 && !this.dirty.has(extra)) s.push(`x[${2 * extra}] = a${extra}; x[${2 * extra + 1}] = b${extra};`);
    return s.join(" ");
  }

  /** Statements that set h.pcLo/h.pcHi to block start + d (d a byte distance, any sign). */
  private setPc(d: number): string {
    const [lo, hi] = this.pcPlus(d);
    return `h.pcLo = ${lo}; h.pcHi = ${hi};`;
  }

  /** Expressions for (lo, hi) of block start + d; carry code only when the page can change. */
  private pcPlus(d: number): [string, string] {
    const page = this.startOff + d;
    if (page >= 0 && page < 4096) return [`(pc + ${d}) | 0`, "ph"];
    const dlo = d | 0;
    const dhi = Math.floor(d / TWO32) | 0;
    return [`(pc + ${dlo}) | 0`, `(ph + ${dhi} + ((((pc + ${dlo}) | 0) >>> 0) < (pc >>> 0) ? 1 : 0)) | 0`];
  }

  /** Assign a (lo, hi) pair of expressions to register rd (lo evaluated first into a temp). */
  private set(rd: number, lo: string, hi: string): void {
    if (rd === 32 || rd === 0) return;
    this.out.push(`{ const t = ${lo}; b${rd} = ${hi}; a${rd} = t; }`);
    this.dirty.add(rd);
  }

  /** rd = sign-extended int32 expression v. */
  private setW(rd: number, v: string): void {
    if (rd === 32 || rd === 0) return;
    this.out.push(`a${rd} = ${v}; b${rd} = a${rd} >> 31;`);
    this.dirty.add(rd);
  }

  private exitTo(d: number, count: string): string {
    return `${this.writeback()} ${this.setPc(d)} return ${count};`;
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
    o.push(`// ${k}: op ${op} +${ins.off}`);
    switch (op) {
      case Op.Li:
      case Op.Lui:
        this.set(rd, `${imm}`, `${ih}`);
        break;
      case Op.Mv:
        if (rd !== r1) this.set(rd, A1, B1);
        break;
      case Op.Addi:
        this.set(rd, `(${A1} + ${imm}) | 0`, `(${B1} + ${ih} + (((t >>> 0) < (${A1} >>> 0)) ? 1 : 0)) | 0`);
        break;
      case Op.Addiw:
        this.setW(rd, `(${A1} + ${imm}) | 0`);
        break;
      case Op.Slti:
        this.set(rd, `(${B1} < ${ih} || (${B1} === ${ih} && (${A1} >>> 0) < ${imm >>> 0})) ? 1 : 0`, "0");
        break;
      case Op.Sltiu:
        this.set(rd, `((${B1} >>> 0) < ${ih >>> 0} || (${B1} === ${ih} && (${A1} >>> 0) < ${imm >>> 0})) ? 1 : 0`, "0");
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
        const [lo, hi] = this.pcPlus(ins.off + imm);
        this.set(rd, lo, hi);
        break;
      }
      case Op.Add:
        this.set(rd, `(${A1} + ${A2}) | 0`, `(${B1} + ${B2} + (((t >>> 0) < (${A1} >>> 0)) ? 1 : 0)) | 0`);
        break;
      case Op.Sub:
        this.set(rd, `(${A1} - ${A2}) | 0`, `(${B1} - ${B2} - (((${A1} >>> 0) < (${A2} >>> 0)) ? 1 : 0)) | 0`);
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
        this.dirty.add(rd);
        break;
      }
      case Op.Slt:
        this.set(rd, `(${B1} < ${B2} || (${B1} === ${B2} && (${A1} >>> 0) < (${A2} >>> 0))) ? 1 : 0`, "0");
        break;
      case Op.Sltu:
        this.set(rd, `((${B1} >>> 0) < (${B2} >>> 0) || (${B1} === ${B2} && (${A1} >>> 0) < (${A2} >>> 0))) ? 1 : 0`, "0");
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
        this.set(
          rd,
          `Math.imul(${A1}, ${A2})`,
          `(mulhu32(${A1}, ${A2}) + Math.imul(${A1}, ${B2}) + Math.imul(${B1}, ${A2})) | 0`,
        );
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
        if (rd === 32) break;
        o.push(`${M_HELPER[op]}(t2, 0, ${A1}, ${B1}, ${A2}, ${B2}); a${rd} = t2[0]; b${rd} = t2[1];`);
        this.dirty.add(rd);
        break;
      case Op.Divw:
      case Op.Divuw:
      case Op.Remw:
      case Op.Remuw:
        if (rd === 32) break;
        o.push(`${M_HELPER[op]}(t2, 0, ${A1}, ${A2}); a${rd} = t2[0]; b${rd} = t2[1];`);
        this.dirty.add(rd);
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
        this.load(op, rd, r1, imm, ins.off, len);
        break;
      case Op.Sb:
      case Op.Sh:
      case Op.Sw:
      case Op.Sd:
        this.store(op, r1, r2, imm, ins.off, len);
        break;
      case Op.Jal: {
        const [llo, lhi] = this.pcPlus(ins.off + len);
        this.set(rd, llo, lhi);
        this.branchEnd(k, "true", ins.off + imm, ins.off + len, last);
        break;
      }
      case Op.Jalr: {
        o.push(`{ const p = ${A1}; const t = (p + ${imm}) | 0; const th = (${B1} + ${ih} + ((t >>> 0) < (p >>> 0) ? 1 : 0)) | 0;`);
        const [llo, lhi] = this.pcPlus(ins.off + len);
        this.set(rd, llo, lhi);
        o.push(`${this.writeback()} h.pcLo = t & -2; h.pcHi = th; return ${this.cnt}; }`);
        break;
      }
      case Op.Beq:
        this.branchEnd(k, `${A1} === ${A2} && ${B1} === ${B2}`, ins.off + imm, ins.off + len, last);
        break;
      case Op.Bne:
        this.branchEnd(k, `${A1} !== ${A2} || ${B1} !== ${B2}`, ins.off + imm, ins.off + len, last);
        break;
      case Op.Blt:
        this.branchEnd(k, `${B1} < ${B2} || (${B1} === ${B2} && (${A1} >>> 0) < (${A2} >>> 0))`, ins.off + imm, ins.off + len, last);
        break;
      case Op.Bge:
        this.branchEnd(k, `!(${B1} < ${B2} || (${B1} === ${B2} && (${A1} >>> 0) < (${A2} >>> 0)))`, ins.off + imm, ins.off + len, last);
        break;
      case Op.Bltu:
        this.branchEnd(k, `(${B1} >>> 0) < (${B2} >>> 0) || (${B1} === ${B2} && (${A1} >>> 0) < (${A2} >>> 0))`, ins.off + imm, ins.off + len, last);
        break;
      case Op.Bgeu:
        this.branchEnd(k, `!((${B1} >>> 0) < (${B2} >>> 0) || (${B1} === ${B2} && (${A1} >>> 0) < (${A2} >>> 0)))`, ins.off + imm, ins.off + len, last);
        break;
      default:
        throw new Error(`jit: op ${op} is not compilable`);
    }
    if (last && !isBranch(op) && op !== Op.Jal && op !== Op.Jalr) {
      // The block ran into something it does not compile, its length limit or the page end.
      o.push(this.exitTo(ins.off + len, this.cnt));
    }
  }

  /**
   * A control transfer: conditional branches in the middle of a block are side exits;
   * the last one ends the block (and loops when it targets the block start).
   */
  private branchEnd(k: number, cond: string, target: number, fall: number, last: boolean): void {
    const o = this.out;
    if (!last) {
      o.push(`if (${cond}) { ${this.exitTo(target, this.cnt)} }`);
      return;
    }
    if (this.loop && target === 0) {
      o.push(`if (${cond}) { c += ${this.m}; if (c + ${this.m} <= room) continue; ${this.exitTo(0, "c")} }`);
      if (cond !== "true") o.push(this.exitTo(fall, this.cnt));
      return;
    }
    if (cond === "true") {
      o.push(this.exitTo(target, this.cnt));
      return;
    }
    o.push(`if (${cond}) { ${this.exitTo(target, this.cnt)} }`);
    o.push(this.exitTo(fall, this.cnt));
    void k;
  }

  /** Effective address (lo, hi) of rs1 + imm into consts `lo`, `hi`. */
  private addr(r1: number, imm: number): string {
    if (r1 === 0) return `const lo = ${imm}, hi = ${imm >> 31};`;
    if (imm === 0) return `const lo = a${r1}, hi = b${r1};`;
    return `const lo = (a${r1} + ${imm}) | 0, hi = (b${r1} + ${imm >> 31} + ((lo >>> 0) < (a${r1} >>> 0) ? 1 : 0)) | 0;`;
  }

  private load(op: number, rd: number, r1: number, imm: number, off: number, len: number): void {
    const o = this.out;
    const width = op === Op.Lb || op === Op.Lbu ? 1 : op === Op.Lh || op === Op.Lhu ? 2 : op === Op.Ld ? 8 : 4;
    const align = width > 1 ? ` && (lo & ${width - 1}) === 0` : "";
    const sink = rd === 32;
    let fast: string;
    let slow: string;
    switch (op) {
      case Op.Lb:
        fast = `a${rd} = i8[o]; b${rd} = a${rd} >> 31;`;
        slow = `a${rd} = (h.memLo << 24) >> 24; b${rd} = a${rd} >> 31;`;
        break;
      case Op.Lbu:
        fast = `a${rd} = u8[o]; b${rd} = 0;`;
        slow = `a${rd} = h.memLo | 0; b${rd} = 0;`;
        break;
      case Op.Lh:
        fast = `a${rd} = i16[o >> 1]; b${rd} = a${rd} >> 31;`;
        slow = `a${rd} = (h.memLo << 16) >> 16; b${rd} = a${rd} >> 31;`;
        break;
      case Op.Lhu:
        fast = `a${rd} = u16[o >> 1]; b${rd} = 0;`;
        slow = `a${rd} = h.memLo | 0; b${rd} = 0;`;
        break;
      case Op.Lw:
        fast = `a${rd} = i32[o >> 2]; b${rd} = a${rd} >> 31;`;
        slow = `a${rd} = h.memLo | 0; b${rd} = a${rd} >> 31;`;
        break;
      case Op.Lwu:
        fast = `a${rd} = i32[o >> 2]; b${rd} = 0;`;
        slow = `a${rd} = h.memLo | 0; b${rd} = 0;`;
        break;
      default:
        fast = `a${rd} = i32[o >> 2]; b${rd} = i32[(o >> 2) + 1];`;
        slow = `a${rd} = h.memLo | 0; b${rd} = h.memHi | 0;`;
    }
    const head = `{ ${this.addr(r1, imm)} const e = (lo >>> 12) & 1023;`;
    const hit = `ltLo[e] === (lo >>> 12) && ltHi[e] === hi${align}`;
    const call =
      `${this.writeback()} h.pcLo = (pc + ${off}) | 0; h.pcHi = ph; h.liveCount = n + ${this.cnt};` +
      ` if (!loadSlow(h, lo, hi, ${width})) return (${this.cnt}) | ${EXIT_TRAP};`;
    if (sink) {
      o.push(`${head} if (!(${hit})) { ${call} if (h.event) { ${this.setPc(off + len)} return (${this.cnt}) | ${EXIT_SLOW}; } } }`);
      return;
    }
    o.push(`${head} if (${hit}) { const o = ltOff[e] + (lo & 4095); ${fast} } else { ${call} ${slow}`);
    o.push(`if (h.event) { ${this.writeback(rd)} ${this.setPc(off + len)} return (${this.cnt}) | ${EXIT_SLOW}; } } }`);
    this.dirty.add(rd);
  }

  private store(op: number, r1: number, r2: number, imm: number, off: number, len: number): void {
    const width = op === Op.Sb ? 1 : op === Op.Sh ? 2 : op === Op.Sw ? 4 : 8;
    const align = width > 1 ? ` && (lo & ${width - 1}) === 0` : "";
    const vlo = this.A(r2);
    const vhi = this.B(r2);
    let fast: string;
    switch (width) {
      case 1:
        fast = `u8[o] = ${vlo};`;
        break;
      case 2:
        fast = `u16[o >> 1] = ${vlo};`;
        break;
      case 4:
        fast = `i32[o >> 2] = ${vlo};`;
        break;
      default:
        fast = `i32[o >> 2] = ${vlo}; i32[(o >> 2) + 1] = ${vhi};`;
    }
    this.out.push(
      `{ ${this.addr(r1, imm)} const e = (lo >>> 12) & 1023;` +
        ` if (stLo[e] === (lo >>> 12) && stHi[e] === hi${align}) { const o = stOff[e] + (lo & 4095); ${fast} } else {` +
        ` ${this.writeback()} h.pcLo = (pc + ${off}) | 0; h.pcHi = ph; h.liveCount = n + ${this.cnt};` +
        ` if (!storeSlow(h, lo, hi, ${width}, ${vlo}, ${width === 8 ? vhi : "0"})) return (${this.cnt}) | ${EXIT_TRAP};` +
        ` if (h.event || h.fetchVpnLo === -1) { ${this.setPc(off + len)} return (${this.cnt}) | ${EXIT_SLOW}; } } }`,
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
