/**
 * Reading a saved device state (DeviceState, device.ts) that may come from anywhere: a
 * snapshot file from another paravm, a corrupted one, a hostile one. A device's load reads
 * every field it needs through a `StateReader` first, and only then applies them, so a bad
 * state throws a `StateError` that names the field and leaves the device as it was —
 * never a crash later, never a state half applied without a word.
 *
 * Byte strings travel as base64 (btoa/atob: the same code in Node and a browser).
 */

/** A saved state that cannot be loaded; the message names the device and the field. */
export class StateError extends Error {
  override readonly name = "StateError";
}

/** Bytes as base64 (in chunks: String.fromCharCode takes a bounded argument list). */
export function toBase64(b: Uint8Array): string {
  const CHUNK = 0x8000;
  let s = "";
  for (let i = 0; i < b.length; i += CHUNK) s += String.fromCharCode(...b.subarray(i, i + CHUNK));
  return btoa(s);
}

/** Base64 back to bytes; null when `s` is not base64. */
export function fromBase64(s: string): Uint8Array | null {
  let bin: string;
  try {
    bin = atob(s);
  } catch {
    return null;
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Checked reads of one saved object; `where` prefixes every error ("virtio-blk: held: …"). */
export class StateReader {
  private constructor(
    private readonly o: Record<string, unknown>,
    readonly where: string,
  ) {}

  /** `v` must be a plain object. */
  static of(v: unknown, where: string): StateReader {
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new StateError(`${where}: not an object`);
    return new StateReader(v as Record<string, unknown>, where);
  }

  fail(key: string, why: string): never {
    throw new StateError(`${this.where}: ${key}: ${why}`);
  }

  has(key: string): boolean {
    return this.o[key] !== undefined && this.o[key] !== null;
  }

  raw(key: string): unknown {
    return this.o[key];
  }

  int(key: string, lo: number, hi: number): number {
    const v = this.o[key];
    if (!Number.isInteger(v) || (v as number) < lo || (v as number) > hi) this.fail(key, `${String(v)} is not a whole number in ${lo}..${hi}`);
    return v as number;
  }

  /** A counter: a finite number ≥ 0 (counters may exceed 2^32 but never go negative). */
  count(key: string): number {
    const v = this.o[key];
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) this.fail(key, `${String(v)} is not a count`);
    return v;
  }

  bool(key: string): boolean {
    const v = this.o[key];
    if (typeof v !== "boolean") this.fail(key, `${String(v)} is not true or false`);
    return v;
  }

  str(key: string, maxLen: number): string {
    const v = this.o[key];
    if (typeof v !== "string" || v.length > maxLen) this.fail(key, `not a string of at most ${maxLen} characters`);
    return v;
  }

  /** Base64 bytes, at most `maxLen` of them. */
  bytes(key: string, maxLen: number): Uint8Array {
    const b = fromBase64(this.str(key, Math.ceil(maxLen / 3) * 4 + 4));
    if (b === null) this.fail(key, "not base64");
    if (b.length > maxLen) this.fail(key, `${b.length} bytes, at most ${maxLen}`);
    return b;
  }

  array(key: string, maxLen: number): unknown[] {
    const v = this.o[key];
    if (!Array.isArray(v) || v.length > maxLen) this.fail(key, `not a list of at most ${maxLen}`);
    return v;
  }

  /** A list of whole numbers in lo..hi, exactly `len` long when given. */
  ints(key: string, maxLen: number, lo: number, hi: number, len?: number): number[] {
    const a = this.array(key, maxLen);
    if (len !== undefined && a.length !== len) this.fail(key, `${a.length} entries, expected ${len}`);
    for (const e of a) if (!Number.isInteger(e) || (e as number) < lo || (e as number) > hi) this.fail(key, `${String(e)} is not in ${lo}..${hi}`);
    return a as number[];
  }

  obj(key: string): StateReader {
    return StateReader.of(this.o[key], `${this.where}: ${key}`);
  }

  /**
   * Counters shaped like `template` (numbers ≥ 0, nested objects alike, string-or-null
   * where the template has null or a string); returns a checked copy to assign.
   */
  counters<T extends object>(key: string, template: T): T {
    return checkCounters(this.o[key], template, `${this.where}: ${key}`);
  }
}

function checkCounters<T extends object>(v: unknown, template: T, where: string): T {
  const r = StateReader.of(v, where);
  const out: Record<string, unknown> = {};
  for (const [k, t] of Object.entries(template)) {
    if (typeof t === "number") out[k] = r.count(k);
    else if (t === null || typeof t === "string") {
      const x = r.raw(k);
      if (x !== null && typeof x !== "string") r.fail(k, "not a string or null");
      out[k] = typeof x === "string" ? x.slice(0, 1000) : null;
    } else if (typeof t === "object") out[k] = checkCounters(r.raw(k), t as object, `${where}: ${k}`);
  }
  return out as T;
}

