/**
 * FADD/FSUB/FMUL/FDIV/FSQRT for S and D.
 *
 * Fast path: the host computes the round-to-nearest-even result (for S, in double, then
 * finishS re-rounds exactly, catching the double-rounding midpoint case); an error-free
 * transformation gives the exact error or its sign, which yields NX and the directed
 * rounding modes. Whenever the result may be tiny, overflow, or an EFT precondition is not
 * met, the exact slow path (fpu-soft) decides.
 */
import {
  DZ,
  type FpuHost,
  NV,
  RDN,
  f32FromBits,
  finishD,
  finishS,
  fixFlags,
  pow2,
  sBits,
  snanD,
  snanS,
  twoProdErr,
  twoSumErr,
  writeNaND,
  writeNaNS,
  writeRes,
  writeS,
} from "./fpu-core.js";
import { softAdd, softDiv, softMul, softSqrt } from "./fpu-soft.js";

// Ranges inside which Dekker's product error is exact and results are far from tiny/overflow.
const P2_M1000 = pow2(-1000);
const P2_M960 = pow2(-960);
const P2_990 = pow2(990);
const P2_995 = pow2(995);
const P2_1020 = pow2(1020);
/** Stand-in error of the right sign where a tie is impossible (division, square root). */
const TINY = 5e-324;

function bothPlusZero(a: number, b: number): boolean {
  return a === 0 && b === 0 && 1 / a > 0 && 1 / b > 0;
}

// ---------------------------------------------------------------------------------------
// double precision
// ---------------------------------------------------------------------------------------

export function addD(h: FpuHost, rd: number, rs1: number, rs2: number, sub: boolean, mode: number): void {
  const a = h.f[rs1];
  const b = sub ? -h.f[rs2] : h.f[rs2];
  const s = a + b;
  if (s - s === 0) {
    const e = twoSumErr(a, b, s);
    if (e === 0) {
      // exact (this includes every tiny sum); exact zero: -0 in RDN unless both are +0
      h.f[rd] = s === 0 && mode === RDN && !bothPlusZero(a, b) ? -0 : s;
      return;
    }
    h.f[rd] = finishD(s, e, mode);
    h.fflags |= fixFlags;
    return;
  }
  if (a !== a || b !== b) {
    h.fflags |= snanD(h, rs1) | snanD(h, rs2);
    writeNaND(h, rd);
  } else if (s !== s) {
    h.fflags |= NV; // inf - inf
    writeNaND(h, rd);
  } else if (a - a !== 0 || b - b !== 0) {
    h.f[rd] = s; // an infinite operand: exact
  } else {
    h.fflags |= softAdd(a, b, false, mode); // overflow
    writeRes(h, rd);
  }
}

export function mulD(h: FpuHost, rd: number, rs1: number, rs2: number, mode: number): void {
  const a = h.f[rs1];
  const b = h.f[rs2];
  const r = a * b;
  if (a - a === 0 && b - b === 0) {
    if (a === 0 || b === 0) {
      h.f[rd] = r;
      return;
    }
    const ar = Math.abs(r);
    const aa = Math.abs(a);
    const ab = Math.abs(b);
    if (ar >= P2_M960 && ar <= P2_1020 && aa >= P2_M1000 && aa <= P2_995 && ab >= P2_M1000 && ab <= P2_995) {
      const e = twoProdErr(a, b, r);
      if (e === 0) {
        h.f[rd] = r;
        return;
      }
      h.f[rd] = finishD(r, e, mode);
      h.fflags |= fixFlags;
      return;
    }
    h.fflags |= softMul(a, b, false, mode);
    writeRes(h, rd);
    return;
  }
  if (a !== a || b !== b) {
    h.fflags |= snanD(h, rs1) | snanD(h, rs2);
    writeNaND(h, rd);
  } else if (r !== r) {
    h.fflags |= NV; // inf * 0
    writeNaND(h, rd);
  } else {
    h.f[rd] = r; // inf * nonzero
  }
}

export function divD(h: FpuHost, rd: number, rs1: number, rs2: number, mode: number): void {
  const a = h.f[rs1];
  const b = h.f[rs2];
  if (a - a === 0 && b - b === 0) {
    if (b === 0) {
      if (a === 0) {
        h.fflags |= NV;
        writeNaND(h, rd);
      } else {
        h.fflags |= DZ;
        h.f[rd] = a / b;
      }
      return;
    }
    const q = a / b;
    if (a === 0) {
      h.f[rd] = q;
      return;
    }
    const aq = Math.abs(q);
    const aa = Math.abs(a);
    const ab = Math.abs(b);
    if (
      aq >= P2_M1000 && aq <= P2_990 &&
      ab >= P2_M1000 && ab <= P2_990 &&
      aa >= P2_M960 && aa <= P2_1020
    ) {
      const p = q * b;
      const rem = a - p - twoProdErr(q, b, p); // exact remainder a - q*b
      if (rem === 0) {
        h.f[rd] = q;
        return;
      }
      h.f[rd] = finishD(q, rem > 0 === b > 0 ? TINY : -TINY, mode);
      h.fflags |= fixFlags;
      return;
    }
    h.fflags |= softDiv(a, b, false, mode);
    writeRes(h, rd);
    return;
  }
  if (a !== a || b !== b) {
    h.fflags |= snanD(h, rs1) | snanD(h, rs2);
    writeNaND(h, rd);
    return;
  }
  const q = a / b;
  if (q !== q) {
    h.fflags |= NV; // inf / inf
    writeNaND(h, rd);
  } else {
    h.f[rd] = q; // inf / finite, finite / inf: exact
  }
}

export function sqrtD(h: FpuHost, rd: number, rs1: number, mode: number): void {
  const a = h.f[rs1];
  if (a > 0 && a - a === 0) {
    const s = Math.sqrt(a);
    if (a >= P2_M960 && a <= P2_990) {
      const p = s * s;
      const rem = a - p - twoProdErr(s, s, p);
      if (rem === 0) {
        h.f[rd] = s;
        return;
      }
      h.f[rd] = finishD(s, rem > 0 ? TINY : -TINY, mode);
      h.fflags |= fixFlags;
      return;
    }
    h.fflags |= softSqrt(a, false, mode);
    writeRes(h, rd);
    return;
  }
  if (a !== a) {
    h.fflags |= snanD(h, rs1);
    writeNaND(h, rd);
  } else if (a === 0 || a === Infinity) {
    h.f[rd] = a; // sqrt(+-0) = +-0, sqrt(+inf) = +inf
  } else {
    h.fflags |= NV; // negative
    writeNaND(h, rd);
  }
}

// ---------------------------------------------------------------------------------------
// single precision (operands are exact in double)
// ---------------------------------------------------------------------------------------

function sign(x: number): number {
  return x > 0 ? 1 : x < 0 ? -1 : 0;
}

export function addS(h: FpuHost, rd: number, rs1: number, rs2: number, sub: boolean, mode: number): void {
  const ab = sBits(h, rs1);
  const bb = sBits(h, rs2);
  const a = f32FromBits(ab);
  const b = sub ? -f32FromBits(bb) : f32FromBits(bb);
  if (a - a === 0 && b - b === 0) {
    const d = a + b;
    if (d === 0) {
      writeS(h, rd, mode === RDN && !bothPlusZero(a, b) ? -0 : d);
      return;
    }
    const r = finishS(d, sign(twoSumErr(a, b, d)), mode);
    if (r === r) {
      writeS(h, rd, r);
      h.fflags |= fixFlags;
    } else {
      h.fflags |= softAdd(a, b, true, mode);
      writeRes(h, rd);
    }
    return;
  }
  if (a !== a || b !== b) {
    h.fflags |= snanS(ab) | snanS(bb);
    writeNaNS(h, rd);
    return;
  }
  const s = a + b;
  if (s !== s) {
    h.fflags |= NV;
    writeNaNS(h, rd);
  } else {
    writeS(h, rd, s);
  }
}

export function mulS(h: FpuHost, rd: number, rs1: number, rs2: number, mode: number): void {
  const ab = sBits(h, rs1);
  const bb = sBits(h, rs2);
  const a = f32FromBits(ab);
  const b = f32FromBits(bb);
  const d = a * b; // exact: 24 x 24 bits
  if (a - a === 0 && b - b === 0) {
    if (d === 0) {
      writeS(h, rd, d);
      return;
    }
    const r = finishS(d, 0, mode);
    if (r === r) {
      writeS(h, rd, r);
      h.fflags |= fixFlags;
    } else {
      h.fflags |= softMul(a, b, true, mode);
      writeRes(h, rd);
    }
    return;
  }
  if (a !== a || b !== b) {
    h.fflags |= snanS(ab) | snanS(bb);
    writeNaNS(h, rd);
  } else if (d !== d) {
    h.fflags |= NV;
    writeNaNS(h, rd);
  } else {
    writeS(h, rd, d);
  }
}

export function divS(h: FpuHost, rd: number, rs1: number, rs2: number, mode: number): void {
  const ab = sBits(h, rs1);
  const bb = sBits(h, rs2);
  const a = f32FromBits(ab);
  const b = f32FromBits(bb);
  if (a - a === 0 && b - b === 0) {
    if (b === 0) {
      if (a === 0) {
        h.fflags |= NV;
        writeNaNS(h, rd);
      } else {
        h.fflags |= DZ;
        writeS(h, rd, a / b);
      }
      return;
    }
    const q = a / b;
    if (a === 0) {
      writeS(h, rd, q);
      return;
    }
    const p = q * b;
    const rem = a - p - twoProdErr(q, b, p);
    const r = finishS(q, rem === 0 ? 0 : rem > 0 === b > 0 ? 1 : -1, mode);
    if (r === r) {
      writeS(h, rd, r);
      h.fflags |= fixFlags;
    } else {
      h.fflags |= softDiv(a, b, true, mode);
      writeRes(h, rd);
    }
    return;
  }
  if (a !== a || b !== b) {
    h.fflags |= snanS(ab) | snanS(bb);
    writeNaNS(h, rd);
    return;
  }
  const q = a / b;
  if (q !== q) {
    h.fflags |= NV;
    writeNaNS(h, rd);
  } else {
    writeS(h, rd, q);
  }
}

export function sqrtS(h: FpuHost, rd: number, rs1: number, mode: number): void {
  const ab = sBits(h, rs1);
  const a = f32FromBits(ab);
  if (a > 0 && a - a === 0) {
    const s = Math.sqrt(a);
    const p = s * s;
    const rem = a - p - twoProdErr(s, s, p);
    const r = finishS(s, sign(rem), mode);
    if (r === r) {
      writeS(h, rd, r);
      h.fflags |= fixFlags;
    } else {
      h.fflags |= softSqrt(a, true, mode);
      writeRes(h, rd);
    }
    return;
  }
  if (a !== a) {
    h.fflags |= snanS(ab);
    writeNaNS(h, rd);
  } else if (a === 0 || a === Infinity) {
    writeS(h, rd, a);
  } else {
    h.fflags |= NV;
    writeNaNS(h, rd);
  }
}
