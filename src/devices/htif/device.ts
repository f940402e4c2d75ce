/**
 * HTIF, the Berkeley host-target interface that Spike and QEMU's `-M spike` give
 * bare-metal programs (riscv-tests, riscv-pk, small demos).
 *
 * Two 64-bit words in guest memory, found through the ELF symbols `tohost` and
 * `fromhost`. The guest writes a command to `tohost`:
 *
 *     bits 63:56 device, 55:48 command, 47:0 payload
 *
 * - device 0, command 0, payload odd: exit with status payload >> 1 (0 = pass; the
 *   riscv-tests write (TESTNUM << 1) | 1 on failure).
 * - device 0, command 0, payload even: payload is the address of a "magic memory"
 *   block of eight u64s {syscall number, a0..a6} (riscv-pk / riscv-tests benchmark
 *   convention). Supported: write (64) to fd 1 or 2, and exit (93). As in Spike, the
 *   return value goes to word 0 of the block and fromhost becomes 1.
 * - device 1 (console), command 1: putchar(payload & 0xff); fromhost becomes
 *   (1 << 56) | (1 << 48) | 0x100 | char, as both Spike and QEMU answer.
 * - device 1, command 0: getchar request; answered later by `receive(byte)`.
 * - anything else: ignored, answered with the device/command and a zero payload.
 *
 * The host clears `tohost` once it has taken a command. The bus splits a 64-bit store
 * into two 4-byte writes, low half first, so a command is taken when the high half of
 * `tohost` is written (an `sd`, or `sw` low then `sw` high). A zero value is no command.
 */
import type { DeviceState, MmioDevice } from "../device.js";

export const HTIF = {
  DEV_SYSTEM: 0,
  DEV_CONSOLE: 1,
  SYSTEM_CMD_SYSCALL: 0,
  CONSOLE_CMD_GETC: 0,
  CONSOLE_CMD_PUTC: 1,
  /** riscv-pk syscall numbers served through the magic-memory block. */
  SYS_WRITE: 64,
  SYS_EXIT: 93,
  /** Largest single write() the host copies out in one go. */
  MAX_WRITE: 1 << 20,
  EFAULT: 14,
  EBADF: 9,
} as const;

/** What the device needs from the board. */
export interface HtifHost {
  /** The guest asked to exit with `code` (the board stops the hart). */
  exit(code: number): void;
  /** Console output, one byte at a time. */
  putchar(byte: number): void;
  /** The guest made a request the host cannot serve; the board stops with this one-line message. */
  fatal(message: string): void;
  /** Guest physical memory for the syscall block; without it, syscalls are fatal. */
  readonly memory?: HtifMemory;
}

/** The part of GuestRam that syscalls use. */
export interface HtifMemory {
  contains(pa: number, len: number): boolean;
  readBytes(pa: number, len: number): Uint8Array;
  writeBytes(pa: number, bytes: Uint8Array): void;
}

/** Where the two registers sit inside one window; an offset of -1 means "not in this window". */
export interface HtifLayout {
  readonly tohostOffset: number;
  readonly fromhostOffset: number;
  readonly size: number;
}

const TWO32 = 0x1_0000_0000;

export class HtifDevice implements MmioDevice {
  readonly size: number;
  /** Register halves as unsigned 32-bit numbers. */
  private tohostLo = 0;
  private tohostHi = 0;
  private fromhostLo = 0;
  private fromhostHi = 0;
  /** High word of a console read request waiting for input, or -1. */
  private pendingGetcHi = -1;
  /** Commands taken, for metrics and tests. */
  commands = 0;

  constructor(
    private readonly host: HtifHost,
    readonly layout: HtifLayout = { tohostOffset: 0, fromhostOffset: 8, size: 16 },
  ) {
    this.size = layout.size;
  }

  get tohost(): bigint {
    return (BigInt(this.tohostHi) << 32n) | BigInt(this.tohostLo);
  }
  get fromhost(): bigint {
    return (BigInt(this.fromhostHi) << 32n) | BigInt(this.fromhostLo);
  }

  read(offset: number, width: 1 | 2 | 4): number {
    const { tohostOffset: t, fromhostOffset: f } = this.layout;
    if (t >= 0 && offset >= t && offset + width <= t + 8)
      return this.readReg(offset - t, width, this.tohostLo, this.tohostHi);
    if (f >= 0 && offset >= f && offset + width <= f + 8) {
      return this.readReg(offset - f, width, this.fromhostLo, this.fromhostHi);
    }
    return 0;
  }

  write(offset: number, width: 1 | 2 | 4, value: number): void {
    const { tohostOffset: t, fromhostOffset: f } = this.layout;
    if (t >= 0 && offset >= t && offset + width <= t + 8) {
      const rel = offset - t;
      [this.tohostLo, this.tohostHi] = merge(this.tohostLo, this.tohostHi, rel, width, value);
      if (rel + width > 4) this.take();
    } else if (f >= 0 && offset >= f && offset + width <= f + 8) {
      [this.fromhostLo, this.fromhostHi] = merge(this.fromhostLo, this.fromhostHi, offset - f, width, value);
    }
  }

  /**
   * A window of size 8 holding only `fromhost`, for programs whose `fromhost` is not next
   * to `tohost`. Build this device with `fromhostOffset: -1` and map both windows.
   */
  fromhostWindow(): MmioDevice {
    return {
      size: 8,
      read: (offset, width) => this.readReg(offset, width, this.fromhostLo, this.fromhostHi),
      write: (offset, width, value) => {
        [this.fromhostLo, this.fromhostHi] = merge(this.fromhostLo, this.fromhostHi, offset, width, value);
      },
      // State lives in (and is saved with) the owning device.
      reset: () => {},
      save: () => ({}),
      load: () => {},
    };
  }

  /** Deliver one byte of console input to a pending getchar request. Returns false when none is pending. */
  receive(byte: number): boolean {
    if (this.pendingGetcHi < 0) return false;
    this.setFromhost(this.pendingGetcHi & 0xffff0000, 0x100 | (byte & 0xff));
    this.pendingGetcHi = -1;
    return true;
  }

  reset(): void {
    this.tohostLo = this.tohostHi = this.fromhostLo = this.fromhostHi = 0;
    this.pendingGetcHi = -1;
    this.commands = 0;
  }

  save(): DeviceState {
    return {
      tohost: [this.tohostLo, this.tohostHi],
      fromhost: [this.fromhostLo, this.fromhostHi],
      pendingGetcHi: this.pendingGetcHi,
    };
  }

  load(s: DeviceState): void {
    const pair = (v: unknown): [number, number] =>
      Array.isArray(v) && v.length === 2 ? [Number(v[0]) >>> 0, Number(v[1]) >>> 0] : [0, 0];
    [this.tohostLo, this.tohostHi] = pair(s["tohost"]);
    [this.fromhostLo, this.fromhostHi] = pair(s["fromhost"]);
    const p = Number(s["pendingGetcHi"]);
    this.pendingGetcHi = Number.isInteger(p) && p >= 0 ? p >>> 0 : -1;
  }

  /** Read `width` bytes at byte `rel` (0..7) of the 64-bit register lo/hi (any alignment). */
  private readReg(rel: number, width: 1 | 2 | 4, lo: number, hi: number): number {
    let v = 0;
    for (let k = width - 1; k >= 0; k--) {
      const i = rel + k;
      v = (v << 8) | ((i < 4 ? lo >>> (i * 8) : hi >>> ((i - 4) * 8)) & 0xff);
    }
    return width === 4 ? v | 0 : v >>> 0;
  }

  private setFromhost(hi: number, lo: number): void {
    this.fromhostHi = hi >>> 0;
    this.fromhostLo = lo >>> 0;
  }

  /** The guest completed a store to tohost's high half: take the command in it. */
  private take(): void {
    const lo = this.tohostLo;
    const hi = this.tohostHi;
    if (lo === 0 && hi === 0) return;
    this.tohostLo = this.tohostHi = 0;
    this.commands++;
    const device = hi >>> 24;
    const cmd = (hi >>> 16) & 0xff;
    const payload = (hi & 0xffff) * TWO32 + lo;
    const answerHi = hi & 0xffff0000;

    if (device === HTIF.DEV_SYSTEM && cmd === HTIF.SYSTEM_CMD_SYSCALL) {
      if (lo & 1) {
        this.host.exit(Math.floor(payload / 2));
        return;
      }
      this.syscall(payload);
      return;
    }
    if (device === HTIF.DEV_CONSOLE && cmd === HTIF.CONSOLE_CMD_PUTC) {
      this.host.putchar(lo & 0xff);
      this.setFromhost(answerHi, 0x100 | (lo & 0xff));
      return;
    }
    if (device === HTIF.DEV_CONSOLE && cmd === HTIF.CONSOLE_CMD_GETC) {
      this.pendingGetcHi = hi;
      return;
    }
    // Unknown device or command: QEMU answers with the device/command and no payload.
    this.setFromhost(answerHi, 0);
  }

  /** riscv-pk "magic memory" syscall: eight u64s at `addr`. */
  private syscall(addr: number): void {
    const mem = this.host.memory;
    if (mem === undefined || !mem.contains(addr, 64)) {
      this.host.fatal(`htif: syscall block at 0x${addr.toString(16)} is outside RAM`);
      return;
    }
    const block = new DataView(mem.readBytes(addr, 64).buffer);
    const word = (i: number) => block.getBigUint64(i * 8, true);
    const n = word(0);
    let ret: bigint;
    if (n === BigInt(HTIF.SYS_WRITE)) {
      ret = this.sysWrite(mem, word(1), word(2), word(3));
    } else if (n === BigInt(HTIF.SYS_EXIT)) {
      this.host.exit(Number(word(1) & 0xffff_ffffn));
      return;
    } else {
      this.host.fatal(`htif: syscall ${n} is not supported (only write=64 and exit=93)`);
      return;
    }
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigInt64(0, ret, true);
    mem.writeBytes(addr, out);
    this.setFromhost(0, 1);
  }

  private sysWrite(mem: HtifMemory, fd: bigint, buf: bigint, len: bigint): bigint {
    if (fd !== 1n && fd !== 2n) return -BigInt(HTIF.EBADF);
    if (len === 0n) return 0n;
    if (len > BigInt(HTIF.MAX_WRITE) || buf > BigInt(Number.MAX_SAFE_INTEGER)) return -BigInt(HTIF.EFAULT);
    const pa = Number(buf);
    const n = Number(len);
    if (!mem.contains(pa, n)) return -BigInt(HTIF.EFAULT);
    const bytes = mem.readBytes(pa, n);
    for (let i = 0; i < bytes.length; i++) this.host.putchar(bytes[i]!);
    return len;
  }
}

/** Replace `width` bytes at byte `rel` (0..7) of the 64-bit register lo/hi; returns the new halves. */
function merge(lo: number, hi: number, rel: number, width: 1 | 2 | 4, value: number): [number, number] {
  if (width === 4 && rel === 0) return [value >>> 0, hi];
  if (width === 4 && rel === 4) return [lo, value >>> 0];
  for (let k = 0; k < width; k++) {
    const i = rel + k;
    const b = (value >>> (k * 8)) & 0xff;
    if (i < 4) lo = ((lo & ~(0xff << (i * 8))) | (b << (i * 8))) >>> 0;
    else hi = ((hi & ~(0xff << ((i - 4) * 8))) | (b << ((i - 4) * 8))) >>> 0;
  }
  return [lo, hi];
}

/**
 * The bus windows for a program's `tohost`/`fromhost` (fromhost may be absent or not
 * adjacent): one 16-byte window when they are neighbours, otherwise one per register.
 * Returns the device (for `receive`, metrics) and the windows to map.
 */
export function htifWindows(
  host: HtifHost,
  tohost: number,
  fromhost: number | undefined,
): { device: HtifDevice; windows: { base: number; device: MmioDevice; name: string }[] } {
  if (fromhost === tohost + 8) {
    const device = new HtifDevice(host, { tohostOffset: 0, fromhostOffset: 8, size: 16 });
    return { device, windows: [{ base: tohost, device, name: "htif" }] };
  }
  if (fromhost === tohost - 8) {
    const device = new HtifDevice(host, { tohostOffset: 8, fromhostOffset: 0, size: 16 });
    return { device, windows: [{ base: fromhost, device, name: "htif" }] };
  }
  const device = new HtifDevice(host, { tohostOffset: 0, fromhostOffset: -1, size: 8 });
  const windows: { base: number; device: MmioDevice; name: string }[] = [{ base: tohost, device, name: "htif.tohost" }];
  if (fromhost !== undefined) windows.push({ base: fromhost, device: device.fromhostWindow(), name: "htif.fromhost" });
  return { device, windows };
}
