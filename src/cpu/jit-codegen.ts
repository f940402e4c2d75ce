/**
 * Source generation for the block compiler (jit.ts): a run of decoded instructions
 * becomes the body of one JavaScript function.
 *
 * A block is a run of instructions entered at its first one, contiguous except where a
 * direct jump (jal) is followed by its target: the jump then emits nothing. Branches and
 * jumps whose target is an instruction of the same block are internal, as structured JS:
 * a backward target j opens a loop `Lj: for(;;){` that runs to the end of the block
 * (`continue Lj`), a forward target t closes a labelled block `Ft:{ … }` just before it
 * (`break Ft`). So loops and if/else run inside one call with the registers in locals.
 * A forward jump that would enter a loop other than at its head is left as an exit, as
 * are all other control transfers.
 *
 * The generated function is `function (h, pc, ph, room)`: pc/ph is the 64-bit pc of the
 * block's first instruction and room the number of instructions it may execute. It is
 * only entered when room >= its length, which bounds any pass without backward jumps; a
 * backward internal jump continues only while another full pass fits in room. It sets
 * h.pcLo/h.pcHi to the next pc and returns either the number of instructions it executed
 * (>= 0) or, when a load or store misses the TLB fast path (miss, misaligned, MMIO, a
 * page holding code), `~k`: k instructions ran, pc is at the access, and the caller must
 * interpret that one instruction now. So the generated code never calls a slow path,
 * never traps and never sees self-modifying code: the interpreter does all of that with
 * its own exact accounting.
 *
 * Guest memory is shared with other threads (docs/memory-model.md): every guest load and
 * store is one typed-array access at its place in program order, executed again on every
 * pass of a loop; no RAM value is cached in a local (locals hold guest registers only). A
 * call runs at most `room` instructions and, on an smp hart, runBlocks caps room
 * (BLOCK_ROOM), so even a host compiler that kept a load across a back-edge would re-read
 * it within that many guest instructions: a spin-wait on a flag another thread sets ends.
 *
 * Register and immediate numbers are literals. Guest registers the block uses live in
 * locals a<r> (low half) and b<r> (high half), always int32, loaded at entry; the ones
 * the block writes are stored back in the one epilogue that every exit reaches (`break
 * o`). Exit sites only assign literals: V8 deoptimizes optimized code when it reaches an
 * operation that never ran before (no type feedback), and most exits are rare, so the
 * arithmetic of an exit (count correction, next pc) is done in the epilogue, which runs
 * every time. The semantics mirror hart.ts run() case by case. The source is kept terse
 * (no spaces, TLB checks in the helpers LA/SA, which V8 inlines) because V8's parse time
 * grows with its size and dominates compile time.
 */
import { Op } from "./decode.js";

/** Names the generated code sees (bound once per hart by jit.ts, in this order). */
export const CLOSURE_NAMES = [
  "x",
  "i32",
  "u8",
  "i8",
  "u16",
  "i16",
  /** LA(lo, hi, imm, alignMask) / SA(...): RAM byte offset of rs1 + imm on a load / store TLB hit, else -1. */
  "LA",
  "SA",
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

/**
 * One decoded instruction of a block: packed word, immediate, byte offset from the block
 * start (negative for code before the start that a followed jump reached; unique).
 */
export interface BlockInsn {
  w: number;
  imm: number;
  off: number;
}

const TWO32 = 4294967296;

/** Ops the compiler handles; anything else ends the block before it. */
export function compilable(op: number): boolean {
  const rv64i = op >= Op.Lui && op <= Op.Sraw;
  return rv64i || op === Op.Fence || (op >= Op.Mul && op <= Op.Remuw) || op === Op.Li || op === Op.Mv;
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

/** Load ops: [width, fast-path code with D = rd]. `q` is the RAM byte offset. */
const LOADS: Record<number, [number, string]> = {
  [Op.Lb]: [1, "aD=i8[q];bD=aD>>31;"],
  [Op.Lbu]: [1, "aD=u8[q];bD=0;"],
  [Op.Lh]: [2, "aD=i16[q>>1];bD=aD>>31;"],
  [Op.Lhu]: [2, "aD=u16[q>>1];bD=0;"],
  [Op.Lw]: [4, "aD=i32[q>>2];bD=aD>>31;"],
  [Op.Lwu]: [4, "aD=i32[q>>2];bD=0;"],
  [Op.Ld]: [8, "q>>=2;aD=i32[q];bD=i32[q+1];"],
};

/** Store ops: [width, fast-path code with S = rs2]. */
const STORES: Record<number, [number, string]> = {
  [Op.Sb]: [1, "u8[q]=aS;"],
  [Op.Sh]: [2, "u16[q>>1]=aS;"],
  [Op.Sw]: [4, "i32[q>>2]=aS;"],
  [Op.Sd]: [8, "q>>=2;i32[q]=aS;i32[q+1]=bS;"],
};

/** Branch conditions over A/B (rs1 halves) and C/E (rs2 halves). */
const BRANCH: Record<number, string> = {
  [Op.Beq]: "A===C&&B===E",
  [Op.Bne]: "A!==C||B!==E",
  [Op.Blt]: "B<E||B===E&&(A>>>0)<(C>>>0)",
  [Op.Bge]: "!(B<E||B===E&&(A>>>0)<(C>>>0))",
  [Op.Bltu]: "(B>>>0)<(E>>>0)||B===E&&(A>>>0)<(C>>>0)",
  [Op.Bgeu]: "!((B>>>0)<(E>>>0)||B===E&&(A>>>0)<(C>>>0))",
};

/**
 * Generate the function body for `insns` (in execution order from `off` 0; see BlockInsn). `startOff`
 * is the block's offset in its page (so the compiler knows statically which pc additions
 * can carry into the high half).
 */
export function generateBlock(insns: readonly BlockInsn[], startOff: number): string {
  return new Gen(insns, startOff).run();
}

/**
 * Internal jumps of a block: instruction index of the jump → index of its target. Backward
 * targets become loop heads; a forward jump is kept only if no loop head lies strictly
 * between it and its target (it would enter that loop in the middle).
 */
export function internalJumps(insns: readonly BlockInsn[]): Map<number, number> {
  const index = new Map<number, number>();
  insns.forEach((ins, k) => index.set(ins.off, k));
  const jumps = new Map<number, number>();
  const heads = new Set<number>();
  insns.forEach((ins, k) => {
    const op = ins.w & 0xff;
    const j = isBranch(op) || op === Op.Jal ? index.get(ins.off + ins.imm) : undefined;
    // A jal followed by its own target (a jump the compiler followed) needs no jump.
    if (j === undefined || (op === Op.Jal && j === k + 1)) return;
    jumps.set(k, j);
    if (j <= k) heads.add(j);
  });
  for (const [k, j] of jumps) {
    if (j > k) for (const hd of heads) if (hd > k && hd < j) jumps.delete(k);
  }
  return jumps;
}

class Gen {
  private out = "";
  /** Bit r set: register r is used / written by the block. */
  private used = 0;
  private written = 0;
  private readonly m: number;
  /** Internal jumps: instruction index → target index. */
  private readonly jumps: Map<number, number>;
  /** Loop heads (backward targets), and forward targets with the index where their label opens. */
  private readonly heads = new Set<number>();
  private readonly fwdOpen = new Map<number, number>();
  /** True when the block has internal jumps, so the executed count is c + index. */
  private readonly dyn: boolean;

  constructor(
    private readonly insns: readonly BlockInsn[],
    private readonly startOff: number,
  ) {
    this.m = insns.length;
    this.jumps = internalJumps(insns);
    this.dyn = this.jumps.size > 0;
    for (const [k, j] of this.jumps) if (j <= k) this.heads.add(j);
    for (const [k, j] of this.jumps) {
      if (j <= k) continue;
      // The label must enclose every jump to j and nest with the loops: open it at the
      // innermost loop head at or before the first such jump (or at the block start).
      let open = 0;
      for (const hd of this.heads) if (hd <= k && hd > open) open = hd;
      const prev = this.fwdOpen.get(j);
      this.fwdOpen.set(j, prev === undefined ? open : Math.min(prev, open));
    }
  }

  /** Structure at instruction k: close forward labels ending here, open a loop, open labels. */
  private structure(k: number): void {
    if (!this.dyn) return;
    for (const [j] of this.fwdOpen) if (j === k) this.out += "}";
    if (this.heads.has(k)) this.out += `L${k}:for(;;){`;
    const opening = [...this.fwdOpen].filter(([, open]) => open === k).sort((p, q) => q[0] - p[0]);
    for (const [j] of opening) this.out += `F${j}:{`;
  }

  run(): string {
    for (const ins of this.insns) {
      const w = ins.w;
      const op = w & 0xff;
      const rd = ((w >>> 8) & 127) >>> 1;
      const r1 = ((w >>> 15) & 63) >>> 1;
      const r2 = ((w >>> 21) & 63) >>> 1;
      const src = srcCount(op);
      if (src >= 1) this.used |= 1 << r1;
      if (src >= 2) this.used |= 1 << r2;
      if (writesRd(op) && rd !== 32) this.written |= 1 << rd;
    }
    this.used = (this.used | this.written) & ~1;
    // Every register the block touches lives in a local; written ones go back at the exit.
    let decl = "r=0,d=0,q=0";
    const jalr = this.insns.some((i) => (i.w & 0xff) === Op.Jalr);
    if (jalr) decl += ",vl=0,vh=0";
    for (let r = 1; r < 32; r++) if ((this.used >>> r) & 1) decl += `,a${r}=x[${2 * r}],b${r}=x[${2 * r + 1}]`;
    // With internal jumps, c + k = instructions executed before instruction k (c changes at each jump).
    if (this.dyn) decl += ",c=0";
    this.out = `return function(h,pc,ph,room){let ${decl};o:{`;
    for (let k = 0; k < this.m; k++) {
      this.structure(k);
      this.insn(k, this.insns[k]!);
    }
    // Close the loops (every path through the last instruction has left with break or continue).
    if (this.dyn) this.out += "break o;" + "}".repeat(this.heads.size);
    // The one epilogue. Exit sites only assign literals (code V8 has never run deoptimizes
    // when first reached if it needs type feedback, and most exits are rarely taken), so
    // the count correction for internal jumps (c) and the pc arithmetic happen here.
    this.out += `}${this.writeback()}`;
    if (this.dyn) this.out += "r+=((r>>31)|1)*c;";
    this.out += "const t=(pc+d)|0,u=(ph+(d>>31)+((t>>>0)<(pc>>>0)?1:0))|0;";
    // d = 1 (odd, never a real distance): jalr's dynamic target in vl/vh.
    this.out += jalr ? "h.pcLo=d===1?vl:t;h.pcHi=d===1?vh:u;return r}" : "h.pcLo=t;h.pcHi=u;return r}";
    return this.out;
  }

  private writeback(): string {
    let s = "";
    for (let r = 1; r < 32; r++) if ((this.written >>> r) & 1) s += `x[${2 * r}]=a${r};x[${2 * r + 1}]=b${r};`;
    return s;
  }

  /**
   * Leave the block: return `ret` (plus or, when negative, minus the internal-jump
   * correction c), next pc = block start + d.
   */
  private exit(ret: number, d: number): string {
    return `r=${ret};d=${d};break o;`;
  }

  /** Expressions for (lo, hi) of block start + d; carry code only when the page can change. */
  private pcPlus(d: number): [string, string] {
    const page = this.startOff + d;
    if (page >= 0 && page < 4096) return [`(pc+${d})|0`, "ph"];
    const dlo = d | 0;
    const dhi = Math.floor(d / TWO32) | 0;
    return [`(pc+${dlo})|0`, `(ph+${dhi}+((((pc+${dlo})|0)>>>0)<(pc>>>0)?1:0))|0`];
  }

  /**
   * rd = (lo, hi). `hi` may use `T` for the new low half. Sources are read before rd is
   * written (a temporary when rd is also a source).
   */
  private set(rd: number, lo: string, hi: string, srcs: number[]): void {
    if (rd === 32) return;
    if (srcs.includes(rd)) this.out += `{const t=${lo};b${rd}=${hi.replaceAll("T", "t")};a${rd}=t}`;
    else this.out += `a${rd}=${lo};b${rd}=${hi.replaceAll("T", `a${rd}`)};`;
  }

  /** rd = sign-extended int32 expression v. */
  private setW(rd: number, v: string): void {
    if (rd !== 32) this.out += `a${rd}=${v};b${rd}=a${rd}>>31;`;
  }

  private insn(k: number, ins: BlockInsn): void {
    const w = ins.w;
    const imm = ins.imm;
    const op = w & 0xff;
    const rd = ((w >>> 8) & 127) >>> 1;
    const r1 = ((w >>> 15) & 63) >>> 1;
    const r2 = ((w >>> 21) & 63) >>> 1;
    const len = insnLen(w);
    const ih = imm >> 31;
    const A = r1 === 0 ? "0" : `a${r1}`;
    const B = r1 === 0 ? "0" : `b${r1}`;
    const C = r2 === 0 ? "0" : `a${r2}`;
    const E = r2 === 0 ? "0" : `b${r2}`;
    const s1 = [r1];
    const s2 = [r1, r2];
    const last = k === this.m - 1;
    const off = ins.off;
    switch (op) {
      case Op.Li:
      case Op.Lui:
        this.set(rd, `${imm}`, `${ih}`, []);
        break;
      case Op.Mv:
        if (rd !== r1) this.set(rd, A, B, s1);
        break;
      case Op.Addi:
        this.set(rd, `(${A}+${imm})|0`, `(${B}${ih < 0 ? "-1" : ""}+((T>>>0)<(${A}>>>0)?1:0))|0`, s1);
        break;
      case Op.Addiw:
        this.setW(rd, `(${A}+${imm})|0`);
        break;
      case Op.Slti:
        this.set(rd, `${B}<${ih}||${B}===${ih}&&(${A}>>>0)<${imm >>> 0}?1:0`, "0", s1);
        break;
      case Op.Sltiu:
        this.set(rd, `(${B}>>>0)<${ih >>> 0}||${B}===${ih}&&(${A}>>>0)<${imm >>> 0}?1:0`, "0", s1);
        break;
      case Op.Xori:
        this.set(rd, `${A}^${imm}`, ih < 0 ? `~${B}` : B, s1);
        break;
      case Op.Ori:
        this.set(rd, `${A}|${imm}`, ih < 0 ? "-1" : B, s1);
        break;
      case Op.Andi:
        this.set(rd, `${A}&${imm}`, ih < 0 ? B : "0", s1);
        break;
      case Op.Slli:
        if (imm >= 32) this.set(rd, "0", `${A}<<${imm - 32}`, s1);
        else if (imm !== 0) this.set(rd, `${A}<<${imm}`, `${B}<<${imm}|${A}>>>${32 - imm}`, s1);
        else this.set(rd, A, B, s1);
        break;
      case Op.Srli:
        if (imm >= 32) this.set(rd, `(${B}>>>${imm - 32})|0`, "0", s1);
        else if (imm !== 0) this.set(rd, `${A}>>>${imm}|${B}<<${32 - imm}`, `(${B}>>>${imm})|0`, s1);
        else this.set(rd, A, B, s1);
        break;
      case Op.Srai:
        if (imm >= 32) this.set(rd, `${B}>>${imm - 32}`, `${B}>>31`, s1);
        else if (imm !== 0) this.set(rd, `${A}>>>${imm}|${B}<<${32 - imm}`, `${B}>>${imm}`, s1);
        else this.set(rd, A, B, s1);
        break;
      case Op.Slliw:
        this.setW(rd, `${A}<<${imm}`);
        break;
      case Op.Srliw:
        this.setW(rd, `(${A}>>>${imm})|0`);
        break;
      case Op.Sraiw:
        this.setW(rd, `${A}>>${imm}`);
        break;
      case Op.Auipc: {
        const [lo, hi] = this.pcPlus(off + imm);
        this.set(rd, lo, hi, []);
        break;
      }
      case Op.Add:
        this.set(rd, `(${A}+${C})|0`, `(${B}+${E}+((T>>>0)<(${A}>>>0)?1:0))|0`, s2);
        break;
      case Op.Sub:
        this.set(rd, `(${A}-${C})|0`, `(${B}-${E}-((${A}>>>0)<(${C}>>>0)?1:0))|0`, s2);
        break;
      case Op.Sll:
      case Op.Srl:
      case Op.Sra: {
        if (rd === 32) break;
        this.out += `{const s=${C}&63,l=${A},u=${B};let p=0,q=0;`;
        if (op === Op.Sll) {
          this.out += "if(s>=32){q=l<<(s-32)}else if(s!==0){q=u<<s|l>>>(32-s);p=l<<s}else{q=u;p=l}";
        } else if (op === Op.Srl) {
          this.out += "if(s>=32){p=(u>>>(s-32))|0}else if(s!==0){p=l>>>s|u<<(32-s);q=(u>>>s)|0}else{q=u;p=l}";
        } else {
          this.out += "if(s>=32){p=u>>(s-32);q=u>>31}else if(s!==0){p=l>>>s|u<<(32-s);q=u>>s}else{q=u;p=l}";
        }
        this.out += `a${rd}=p;b${rd}=q}`;
        break;
      }
      case Op.Slt:
        this.set(rd, `${B}<${E}||${B}===${E}&&(${A}>>>0)<(${C}>>>0)?1:0`, "0", s2);
        break;
      case Op.Sltu:
        this.set(rd, `(${B}>>>0)<(${E}>>>0)||${B}===${E}&&(${A}>>>0)<(${C}>>>0)?1:0`, "0", s2);
        break;
      case Op.Xor:
        this.set(rd, `${A}^${C}`, `${B}^${E}`, s2);
        break;
      case Op.Or:
        this.set(rd, `${A}|${C}`, `${B}|${E}`, s2);
        break;
      case Op.And:
        this.set(rd, `${A}&${C}`, `${B}&${E}`, s2);
        break;
      case Op.Addw:
        this.setW(rd, `(${A}+${C})|0`);
        break;
      case Op.Subw:
        this.setW(rd, `(${A}-${C})|0`);
        break;
      case Op.Sllw:
        this.setW(rd, `${A}<<(${C}&31)`);
        break;
      case Op.Srlw:
        this.setW(rd, `(${A}>>>(${C}&31))|0`);
        break;
      case Op.Sraw:
        this.setW(rd, `${A}>>(${C}&31)`);
        break;
      case Op.Mul:
        this.set(rd, `Math.imul(${A},${C})`, `(mulhu32(${A},${C})+Math.imul(${A},${E})+Math.imul(${B},${C}))|0`, s2);
        break;
      case Op.Mulw:
        this.setW(rd, `Math.imul(${A},${C})`);
        break;
      case Op.Mulh:
      case Op.Mulhsu:
      case Op.Mulhu:
      case Op.Div:
      case Op.Divu:
      case Op.Rem:
      case Op.Remu:
        if (rd !== 32) this.out += `${M_HELPER[op]}(t2,0,${A},${B},${C},${E});a${rd}=t2[0];b${rd}=t2[1];`;
        break;
      case Op.Divw:
      case Op.Divuw:
      case Op.Remw:
      case Op.Remuw:
        if (rd !== 32) this.out += `${M_HELPER[op]}(t2,0,${A},${C});a${rd}=t2[0];b${rd}=t2[1];`;
        break;
      case Op.Fence:
        // A fence that orders something is a host barrier while other threads share RAM
        // (hart.ts; docs/memory-model.md). h.smp is read at run time: it may change after compiling.
        if (imm !== 0) this.out += "if(h.smp)Atomics.add(h.fenceWord,0,1);";
        break;
      case Op.Lb:
      case Op.Lbu:
      case Op.Lh:
      case Op.Lhu:
      case Op.Lw:
      case Op.Lwu:
      case Op.Ld: {
        // On a TLB miss (or misalignment) the block stops before the access; the interpreter runs it.
        const [width, fast] = LOADS[op]!;
        const call = `LA(${A},${B},${imm},${width - 1})`;
        if (rd === 32) this.out += `if(${call}<0){${this.exit(~k, off)}}`;
        else this.out += `if((q=${call})<0){${this.exit(~k, off)}}${fast.replaceAll("D", `${rd}`)}`;
        break;
      }
      case Op.Sb:
      case Op.Sh:
      case Op.Sw:
      case Op.Sd: {
        const [width, fast] = STORES[op]!;
        this.out += `if((q=SA(${A},${B},${imm},${width - 1}))<0){${this.exit(~k, off)}}`;
        this.out += fast.replaceAll("aS", C).replaceAll("bS", E);
        break;
      }
      case Op.Jal: {
        const [llo, lhi] = this.pcPlus(off + len);
        this.set(rd, llo, lhi, []);
        // Followed by its target (jit.ts compile): the block simply goes on.
        if (last || this.insns[k + 1]!.off !== off + imm) this.branch(k, "", off + imm, off + len, last);
        break;
      }
      case Op.Jalr: {
        // The target is dynamic: it goes to the epilogue in vl/vh, flagged by d = 1.
        this.out += `{const p=${A},v=(p+${imm})|0;vh=(${B}+${ih}+((v>>>0)<(p>>>0)?1:0))|0;vl=v&-2;`;
        const [llo, lhi] = this.pcPlus(off + len);
        this.set(rd, llo, lhi, []);
        this.out += `${this.exit(k + 1, 1)}}`;
        break;
      }
      case Op.Beq:
      case Op.Bne:
      case Op.Blt:
      case Op.Bge:
      case Op.Bltu:
      case Op.Bgeu: {
        const cond = BRANCH[op]!.replace(/[ABCE]/g, (v) => (v === "A" ? A : v === "B" ? B : v === "C" ? C : E));
        this.branch(k, cond, off + imm, off + len, last);
        break;
      }
      default:
        throw new Error(`jit: op ${op} is not compilable`);
    }
    if (last && !isBranch(op) && op !== Op.Jal && op !== Op.Jalr) {
      // The block ran into something it does not compile, its length limit or the page end.
      this.out += `r=${k + 1};d=${off + len};`;
    }
  }

  /**
   * A control transfer (cond "" = always) at instruction k: an internal jump when the
   * target is an instruction of this block, else an exit.
   */
  private branch(k: number, cond: string, target: number, fall: number, last: boolean): void {
    const count = k + 1;
    const j = this.jumps.get(k);
    let go: string;
    if (j !== undefined) {
      // c + k + 1 instructions have run; the target is instruction j: keep c + j equal to that.
      const delta = k + 1 - j;
      go = delta === 0 ? "" : `c+=${delta};`;
      // A backward jump may repeat: continue only while a whole further pass fits in room.
      if (j <= k) go += `if(c+${this.m}>room){${this.exit(j, target)}}continue L${j};`;
      else go += `break F${j};`;
    } else {
      go = this.exit(count, target);
    }
    if (cond === "") this.out += go;
    else this.out += `if(${cond}){${go}}`;
    // Falling off the end of the block.
    if (last && cond !== "") this.out += this.exit(count, fall);
  }
}

/** How many source registers (rs1, then rs2) an op reads. */
function srcCount(op: number): number {
  switch (op) {
    case Op.Li:
    case Op.Lui:
    case Op.Auipc:
    case Op.Jal:
    case Op.Fence:
      return 0;
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
      return 1;
    default:
      return 2;
  }
}

function writesRd(op: number): boolean {
  return !(isBranch(op) || op === Op.Sb || op === Op.Sh || op === Op.Sw || op === Op.Sd || op === Op.Fence);
}
