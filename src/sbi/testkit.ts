/** Test support for the SBI tests: a fake host that records calls, and real ecalls on a Hart. */
import { Bus } from "../mem/bus.js";
import { GuestRam } from "../mem/ram.js";
import { Hart } from "../cpu/hart.js";
import { Priv } from "../cpu/constants.js";
import { pmpAllowAll } from "../cpu/pmp.js";
import type { FenceKindValue, SbiHost } from "./host.js";
import { SbiDispatcher } from "./dispatch.js";

export const RAM = 0x8000_0000;
export const RAM_SIZE = 1 << 20;
const ECALL = 0x00000073;

export type Call = [string, ...unknown[]];

export class FakeHost implements SbiHost {
  readonly calls: Call[] = [];
  readonly out: number[] = [];
  readonly input: number[] = [];
  startResult = 0;
  mtime = 1000;
  constructor(
    readonly ram: GuestRam,
    readonly harts: number,
  ) {}
  consolePutchar(byte: number): void {
    this.out.push(byte);
    this.calls.push(["putchar", byte]);
  }
  consoleWrite(bytes: Uint8Array): void {
    this.out.push(...bytes);
    this.calls.push(["write", bytes.length]);
  }
  consoleGetchar(): number {
    return this.input.shift() ?? -1;
  }
  setTimer(hartId: number, deadline: number): void {
    this.calls.push(["setTimer", hartId, deadline]);
  }
  now(): number {
    return this.mtime;
  }
  sendIpi(targets: number[]): void {
    this.calls.push(["sendIpi", targets]);
  }
  remoteFence(kind: FenceKindValue, harts: number[], start: number, size: number, asid: number): void {
    this.calls.push(["remoteFence", kind, harts, start, size, asid]);
  }
  hartStart(hartId: number, startAddr: number, opaque: bigint): number {
    this.calls.push(["hartStart", hartId, startAddr, opaque]);
    return this.startResult;
  }
  hartStop(hartId: number): void {
    this.calls.push(["hartStop", hartId]);
  }
  hartSuspend(hartId: number, type: number, resumeAddr: number, opaque: bigint): void {
    this.calls.push(["hartSuspend", hartId, type, resumeAddr, opaque]);
  }
  reset(type: number, reason: number): void {
    this.calls.push(["reset", type, reason]);
  }
  readGuest(pa: number, len: number): Uint8Array | null {
    return this.ram.contains(pa, len) ? this.ram.readBytes(pa, len) : null;
  }
  writeGuest(pa: number, bytes: Uint8Array): boolean {
    if (!this.ram.contains(pa, bytes.length)) return false;
    this.ram.writeBytes(pa, bytes);
    return true;
  }
}

export interface Rig {
  ram: GuestRam;
  host: FakeHost;
  sbi: SbiDispatcher;
  /** harts[i] has hartId i; all share the RAM and the dispatcher. */
  harts: Hart[];
}

export function rig(nharts = 4): Rig {
  const ram = new GuestRam(RAM, RAM_SIZE);
  ram.i32[0] = ECALL;
  const bus = new Bus(ram);
  const host = new FakeHost(ram, nharts);
  const sbi = new SbiDispatcher(host);
  const harts: Hart[] = [];
  for (let i = 0; i < nharts; i++) {
    const h = new Hart(bus, i, null);
    h.hypercalls = sbi;
    // One NAPOT PMP entry over all memory, RWX, as the pv machine configures it for S-mode.
    pmpAllowAll(h);
    harts.push(h);
  }
  return { ram, host, sbi, harts };
}

const TWO64 = 1n << 64n;
const MASK64 = TWO64 - 1n;

export function setReg(h: Hart, r: number, v: number | bigint): void {
  const u = BigInt.asUintN(64, BigInt(v));
  h.x[2 * r] = Number(u & 0xffffffffn) | 0;
  h.x[2 * r + 1] = Number(u >> 32n) | 0;
}
export function getReg(h: Hart, r: number): bigint {
  return BigInt.asIntN(64, (BigInt(h.x[2 * r + 1]! >>> 0) << 32n) | BigInt(h.x[2 * r]! >>> 0));
}

export interface Result {
  status: number;
  /** a0 (error), signed. */
  error: bigint;
  /** a1 (value), signed. */
  value: bigint;
}

/** Run one real S-mode ecall with a7 = eid, a6 = fid, a0.. = args on hart h. */
export function ecall(h: Hart, eid: number | bigint, fid: number | bigint, args: (number | bigint)[] = []): Result {
  h.priv = Priv.S;
  h.wfi = false;
  h.setPc(RAM);
  for (let i = 0; i < 6; i++) setReg(h, 10 + i, args[i] ?? 0);
  setReg(h, 17, eid);
  setReg(h, 16, fid);
  const status = h.run(1);
  return { status, error: getReg(h, 10), value: getReg(h, 11) };
}

export const ALL_ONES = MASK64;
