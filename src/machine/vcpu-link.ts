/**
 * What the vCPU threads of one VM share besides guest RAM: one small SharedArrayBuffer of
 * control words, so harts on different threads reach each other without messages.
 *
 * Threading model (see docs/threading.md): each hart runs in its own thread; the thread of
 * hart 0 — the *owner* — also holds every device. A hart on another thread reaches a
 * device through its mailbox here (`call`), which the owner serves between slices and
 * whenever it wakes; a device reaches another thread's hart through that hart's words:
 *
 *   - LEVELS: interrupt wires driven from the owner (PLIC SEIP/MEIP, CLINT MTIP/MSIP), as mip bits;
 *   - SOFT:   mip bits to set once (an SBI IPI sets SSIP), taken with Atomics.exchange;
 *   - FENCE_REQ / FENCE_ACK: remote sfence.vma / fence.i, counted, acknowledged after the flush;
 *   - START: an SBI HSM hart_start for a hart parked on another thread;
 *   - MBOX_*: one outstanding device access (read, write, console getchar) and its answer.
 *
 * Every writer then rings the target's doorbell (`ring`, wired by the hypervisor to the
 * scheduler's per-vCPU doorbell), so a thread asleep in WFI or waiting for a host core wakes.
 * A hart applies its words at slice boundaries (`absorb` in the machines), so a remote
 * interrupt is seen within one slice.
 *
 * The machine layer never imports the hypervisor: the doorbell is a callback.
 */
import type { Hart } from "../cpu/hart.js";
import type { Bus } from "../mem/bus.js";
import { StateReader } from "../devices/state.js";

/** VM-wide words. */
export const LINK = {
  /** What the guest asked for: 0 nothing, else a LinkStop code; first writer wins. */
  STOP: 0,
  /** SBI SRST reason or sifive-test code that came with STOP. */
  STOP_REASON: 1,
  /** Harts with a mailbox request outstanding (bit per hart), so the owner checks one word. */
  MBOX_PENDING: 2,
  HARTS: 3,
  /** First per-hart block. */
  HART_BASE: 16,
  HART_STRIDE: 22,
  /** HSM states (one byte per hart, Uint8Array view) start here, in bytes. */
} as const;

/** Per-hart words, relative to the hart's block. */
export const HART_WORD = {
  LEVELS: 0,
  SOFT: 1,
  FENCE_REQ: 2,
  FENCE_ACK: 3,
  START: 4,
  START_PC_LO: 5,
  START_PC_HI: 6,
  START_A1_LO: 7,
  START_A1_HI: 8,
  MBOX_STATE: 9,
  MBOX_OP: 10,
  MBOX_ADDR: 11,
  MBOX_WIDTH: 12,
  MBOX_VALUE: 13,
  MBOX_RESULT: 14,
  MBOX_FAULT: 15,
  /** FenceBits of the fences requested since the last acknowledgement. */
  FENCE_KINDS: 16,
  /**
   * One narrow sfence.vma in flight to this hart (FenceBits.RANGE): the slot's state
   * (SLOT_FREE, SLOT_WRITING, SLOT_READY), the range's start (low 39 bits as lo/hi), its
   * size in bytes (-1: the whole address space) and the ASID (-1: every ASID).
   */
  FENCE_SLOT: 17,
  FENCE_START_LO: 18,
  FENCE_START_HI: 19,
  FENCE_SIZE: 20,
  FENCE_ASID: 21,
} as const;

const SLOT_FREE = 0;
const SLOT_WRITING = 1;
const SLOT_READY = 2;

/** A narrow sfence.vma as the slot carries it (start: Sv39 low 39 bits; size -1: everything; asid -1: every ASID). */
export interface FenceRange {
  readonly start: number;
  readonly size: number;
  readonly asid: number;
}

/** What a remote fence asks of a hart on another thread. */
export const FenceBits = {
  /** sfence.vma: the translated TLB sets (the M set holds no translations). */
  TLB: 1,
  /** fence.i: re-check decoded code. */
  CODE: 2,
  /** sfence.vma of the range in the fence slot only. */
  RANGE: 4,
} as const;

/** SBI HSM states (sbi/hsm.ts HartState) the link starts with. */
const HSM_STARTED = 0;
const HSM_STOPPED = 1;

/** HOST: the hypervisor stops the VM (a thread waiting on another gives up at once). */
export const LinkStop = { NONE: 0, SHUTDOWN: 1, REBOOT: 2, HOST: 3 } as const;
export const MboxOp = { READ: 1, WRITE: 2, GETCHAR: 3 } as const;
const MBOX_IDLE = 0;
const MBOX_REQUEST = 1;
const MBOX_DONE = 2;

/** Interrupt-pending bits that other threads drive as levels (MSIP, MTIP, SEIP, MEIP). */
export const LEVEL_BITS = [3, 7, 9, 11] as const;
const LEVEL_MASK = LEVEL_BITS.reduce((m, b) => m | (1 << b), 0);
/** The standard interrupt bits of mip (software, timer, external at S and M): all a one-shot post may carry. */
const INTERRUPT_MASK = 0xaaa;

/** One hart's words in a paused VM's link (VcpuLink.saveState): u32 values travel as int32 halves. */
export interface LinkHartState {
  /** Interrupt levels driven from the owner (mip bits of LEVEL_BITS). */
  readonly levels: number;
  /** One-shot mip bits posted and not taken yet (an SBI IPI's SSIP). */
  readonly soft: number;
  /** An HSM start not taken yet: its pc and a1, each as [lo, hi]. */
  readonly start: { readonly pc: readonly [number, number]; readonly a1: readonly [number, number] } | null;
}

/** `v` as the link words of `harts` harts, checked whole (it comes from a file or another host); throws StateError. */
export function readLinkState(v: unknown, harts: number): LinkHartState[] {
  const r: StateReader = StateReader.of({ harts: v }, "link");
  const list = r.array("harts", harts);
  if (list.length !== harts) r.fail("harts", `${list.length} states for ${harts} harts`);
  const I32 = [-(2 ** 31), 2 ** 31 - 1] as const;
  return list.map((x, h) => {
    const e: StateReader = StateReader.of(x, `link: harts[${h}]`);
    const levels = e.int("levels", 0, LEVEL_MASK);
    if ((levels & ~LEVEL_MASK) !== 0) e.fail("levels", `0x${levels.toString(16)} has bits other threads do not drive`);
    const soft = e.int("soft", 0, INTERRUPT_MASK);
    if ((soft & ~INTERRUPT_MASK) !== 0) e.fail("soft", `0x${soft.toString(16)} is not interrupt bits`);
    let start: LinkHartState["start"] = null;
    if (e.has("start")) {
      const s: StateReader = e.obj("start");
      const pc = s.ints("pc", 2, I32[0], I32[1], 2);
      const a1 = s.ints("a1", 2, I32[0], I32[1], 2);
      start = { pc: [pc[0]!, pc[1]!], a1: [a1[0]!, a1[1]!] };
    }
    return { levels, soft, start };
  });
}

/** The owner's side of a device access from another thread. */
export interface MboxServer {
  /** `hart` made the access (devices that count per hart attribute it). */
  read(hart: number, addr: number, width: 1 | 2 | 4): number;
  write(hart: number, addr: number, width: 1 | 2 | 4, value: number): void;
  /** Whether the last read/write hit nothing (an access fault for the caller). */
  takeFault(): boolean;
  getchar(): number;
}

export class VcpuLink {
  readonly i32: Int32Array;
  /** HSM state per hart (SBI HartState values), shared by every thread's SBI. */
  readonly hsmStates: Uint8Array;
  readonly harts: number;
  /** Wakes hart i's thread (the scheduler's doorbell); set by the hypervisor, a no-op alone. */
  ring: (hart: number) => void = () => {};

  static create(harts: number): VcpuLink {
    const words = LINK.HART_BASE + harts * LINK.HART_STRIDE;
    const sab = new SharedArrayBuffer(words * 4 + Math.ceil(harts / 4) * 4);
    new Int32Array(sab)[LINK.HARTS] = harts;
    const link = new VcpuLink(sab);
    // SBI HSM: hart 0 boots, the others wait for hart_start (pv); full guests ignore these.
    link.hsmStates.fill(HSM_STOPPED);
    link.hsmStates[0] = HSM_STARTED;
    return link;
  }

  constructor(readonly sab: SharedArrayBuffer) {
    this.i32 = new Int32Array(sab);
    this.harts = this.i32[LINK.HARTS]! || Math.floor((sab.byteLength / 4 - LINK.HART_BASE) / LINK.HART_STRIDE);
    const hsmOffset = (LINK.HART_BASE + this.harts * LINK.HART_STRIDE) * 4;
    this.hsmStates = new Uint8Array(sab, hsmOffset, this.harts);
  }

  /** Hart `hart`'s link words and HSM state, read racily (diagnostics only). */
  peek(hart: number): { levels: number; soft: number; fenceReq: number; fenceAck: number; start: number; mbox: number; hsm: number; stop: number } {
    const word = (k: number): number => Atomics.load(this.i32, this.w(hart, k));
    return {
      levels: word(HART_WORD.LEVELS),
      soft: word(HART_WORD.SOFT),
      fenceReq: word(HART_WORD.FENCE_REQ),
      fenceAck: word(HART_WORD.FENCE_ACK),
      start: word(HART_WORD.START),
      mbox: word(HART_WORD.MBOX_STATE),
      hsm: this.hsmStates[hart] ?? -1,
      stop: Atomics.load(this.i32, LINK.STOP),
    };
  }

  private w(hart: number, word: number): number {
    return LINK.HART_BASE + hart * LINK.HART_STRIDE + word;
  }

  // ---- interrupts ----

  /** Drive interrupt-pending bit `bit` of `hart` to `on` (a wire from a device on the owner). */
  setLevel(hart: number, bit: number, on: boolean): void {
    const i = this.w(hart, HART_WORD.LEVELS);
    const old = on ? Atomics.or(this.i32, i, 1 << bit) : Atomics.and(this.i32, i, ~(1 << bit));
    if (((old >>> bit) & 1) !== (on ? 1 : 0)) this.ring(hart);
  }

  levels(hart: number): number {
    return Atomics.load(this.i32, this.w(hart, HART_WORD.LEVELS));
  }

  /** Set mip bits of `hart` once (SBI IPI: SSIP). */
  postSoft(hart: number, bits: number): void {
    Atomics.or(this.i32, this.w(hart, HART_WORD.SOFT), bits);
    this.ring(hart);
  }

  takeSoft(hart: number): number {
    const i = this.w(hart, HART_WORD.SOFT);
    return Atomics.load(this.i32, i) === 0 ? 0 : Atomics.exchange(this.i32, i, 0);
  }

  // ---- remote fences ----

  /**
   * Ask `hart` to fence (`kinds`: FenceBits); returns the ticket `fenceDone` waits for.
   * The kinds go first, so whoever sees the count also sees them.
   */
  requestFence(hart: number, kinds: number = FenceBits.TLB | FenceBits.CODE): number {
    Atomics.or(this.i32, this.w(hart, HART_WORD.FENCE_KINDS), kinds);
    return this.countFence(hart);
  }

  /**
   * Ask `hart` for one narrow sfence.vma. The range goes through the hart's fence slot if
   * no other request holds it; otherwise this becomes a whole TLB fence (still correct).
   */
  requestRangeFence(hart: number, r: FenceRange): number {
    const i = this.w(hart, 0);
    const a = this.i32;
    let kinds: number = FenceBits.TLB;
    if (Atomics.compareExchange(a, i + HART_WORD.FENCE_SLOT, SLOT_FREE, SLOT_WRITING) === SLOT_FREE) {
      Atomics.store(a, i + HART_WORD.FENCE_START_LO, r.start % 4294967296 | 0);
      Atomics.store(a, i + HART_WORD.FENCE_START_HI, Math.floor(r.start / 4294967296) & 0x7f);
      Atomics.store(a, i + HART_WORD.FENCE_SIZE, r.size);
      Atomics.store(a, i + HART_WORD.FENCE_ASID, r.asid);
      Atomics.store(a, i + HART_WORD.FENCE_SLOT, SLOT_READY);
      kinds = FenceBits.RANGE;
    }
    // The slot is ready before the kind bit is set, and the bit before the count.
    Atomics.or(a, i + HART_WORD.FENCE_KINDS, kinds);
    return this.countFence(hart);
  }

  /** The range in `hart`'s fence slot, freeing the slot; null if it holds none. */
  takeFenceRange(hart: number): FenceRange | null {
    const i = this.w(hart, 0);
    const a = this.i32;
    if (Atomics.load(a, i + HART_WORD.FENCE_SLOT) !== SLOT_READY) return null;
    const r = {
      start: (Atomics.load(a, i + HART_WORD.FENCE_START_HI) & 0x7f) * 4294967296 + (Atomics.load(a, i + HART_WORD.FENCE_START_LO) >>> 0),
      size: Atomics.load(a, i + HART_WORD.FENCE_SIZE),
      asid: Atomics.load(a, i + HART_WORD.FENCE_ASID),
    };
    Atomics.store(a, i + HART_WORD.FENCE_SLOT, SLOT_FREE);
    return r;
  }

  private countFence(hart: number): number {
    const t = Atomics.add(this.i32, this.w(hart, HART_WORD.FENCE_REQ), 1) + 1;
    this.ring(hart);
    return t;
  }

  /** A fence request `hart` has not acknowledged yet: the request count to acknowledge, or 0. */
  fencePending(hart: number): number {
    const req = Atomics.load(this.i32, this.w(hart, HART_WORD.FENCE_REQ));
    return req !== Atomics.load(this.i32, this.w(hart, HART_WORD.FENCE_ACK)) ? req : 0;
  }

  /** Take the kinds of fence asked of `hart` so far (FenceBits). */
  takeFenceKinds(hart: number): number {
    return Atomics.exchange(this.i32, this.w(hart, HART_WORD.FENCE_KINDS), 0);
  }

  /** `hart` flushed for every request up to `req`. */
  ackFence(hart: number, req: number): void {
    const i = this.w(hart, HART_WORD.FENCE_ACK);
    Atomics.store(this.i32, i, req);
    Atomics.notify(this.i32, i);
  }

  fenceDone(hart: number, ticket: number): boolean {
    return Atomics.load(this.i32, this.w(hart, HART_WORD.FENCE_ACK)) - ticket >= 0;
  }

  /** Sleep until `hart` acknowledges something (or `ms` pass). */
  waitFenceAck(hart: number, ticket: number, ms: number): void {
    const i = this.w(hart, HART_WORD.FENCE_ACK);
    const seen = Atomics.load(this.i32, i);
    if (seen - ticket >= 0) return;
    Atomics.wait(this.i32, i, seen, ms);
  }

  // ---- HSM start ----

  requestStart(hart: number, pc: number, a1Lo: number, a1Hi: number): void {
    const i32 = this.i32;
    Atomics.store(i32, this.w(hart, HART_WORD.START_PC_LO), pc | 0);
    Atomics.store(i32, this.w(hart, HART_WORD.START_PC_HI), Math.floor(pc / 2 ** 32) | 0);
    Atomics.store(i32, this.w(hart, HART_WORD.START_A1_LO), a1Lo | 0);
    Atomics.store(i32, this.w(hart, HART_WORD.START_A1_HI), a1Hi | 0);
    Atomics.store(i32, this.w(hart, HART_WORD.START), 1);
    this.ring(hart);
  }

  /** A start request for `hart`, taken (null: none). */
  takeStart(hart: number): { pc: number; a1: bigint } | null {
    const i32 = this.i32;
    if (Atomics.load(i32, this.w(hart, HART_WORD.START)) === 0) return null;
    Atomics.store(i32, this.w(hart, HART_WORD.START), 0);
    const pc = (Atomics.load(i32, this.w(hart, HART_WORD.START_PC_HI)) >>> 0) * 2 ** 32 +
      (Atomics.load(i32, this.w(hart, HART_WORD.START_PC_LO)) >>> 0);
    const a1 =
      (BigInt(Atomics.load(i32, this.w(hart, HART_WORD.START_A1_HI)) >>> 0) << 32n) |
      BigInt(Atomics.load(i32, this.w(hart, HART_WORD.START_A1_LO)) >>> 0);
    return { pc, a1 };
  }

  // ---- the guest's power requests ----

  /** The guest powered off or reset (first request wins); every thread is rung. */
  requestStop(kind: number, reason: number): void {
    if (Atomics.compareExchange(this.i32, LINK.STOP, 0, kind) !== 0) return;
    Atomics.store(this.i32, LINK.STOP_REASON, reason);
    for (let h = 0; h < this.harts; h++) this.ring(h);
  }

  stopKind(): number {
    return Atomics.load(this.i32, LINK.STOP);
  }

  stopReason(): number {
    return Atomics.load(this.i32, LINK.STOP_REASON);
  }

  // ---- a paused VM's words, in a snapshot (machine-state.ts) ----

  /**
   * What the link holds for each hart that its thread has not taken yet: levels, one-shot
   * bits, a start request. Taken while the VM is paused, once every thread that runs a hart
   * has handed over its state and takes nothing more (so a bit is either in a hart's state
   * or here, never lost between the two). Fences need nothing: a restored hart starts with
   * its TLB and decoded code flushed. A device access in flight cannot be saved (a paused
   * VM has none: a thread pauses only between slices, and an access is inside one).
   */
  saveState(): LinkHartState[] {
    const a = this.i32;
    if (Atomics.load(a, LINK.MBOX_PENDING) !== 0) throw new Error("a device access is in flight: the VM is not paused");
    const out: LinkHartState[] = [];
    for (let h = 0; h < this.harts; h++) {
      const word = (k: number): number => Atomics.load(a, this.w(h, k));
      if (word(HART_WORD.MBOX_STATE) !== MBOX_IDLE) throw new Error(`hart ${h} has a device access in flight: the VM is not paused`);
      out.push({
        levels: word(HART_WORD.LEVELS) & LEVEL_MASK,
        soft: word(HART_WORD.SOFT) & INTERRUPT_MASK,
        start: word(HART_WORD.START) === 0 ? null : { pc: [word(HART_WORD.START_PC_LO), word(HART_WORD.START_PC_HI)], a1: [word(HART_WORD.START_A1_LO), word(HART_WORD.START_A1_HI)] },
      });
    }
    return out;
  }

  /** Put `saveState()` (checked: readLinkState) into this link, made for as many harts and not used yet. */
  loadState(harts: readonly LinkHartState[]): void {
    if (harts.length !== this.harts) throw new RangeError(`link: ${harts.length} hart states for ${this.harts} harts`);
    const a = this.i32;
    harts.forEach((s, h) => {
      Atomics.store(a, this.w(h, HART_WORD.LEVELS), s.levels);
      Atomics.store(a, this.w(h, HART_WORD.SOFT), s.soft);
      if (s.start !== null) {
        Atomics.store(a, this.w(h, HART_WORD.START_PC_LO), s.start.pc[0]);
        Atomics.store(a, this.w(h, HART_WORD.START_PC_HI), s.start.pc[1]);
        Atomics.store(a, this.w(h, HART_WORD.START_A1_LO), s.start.a1[0]);
        Atomics.store(a, this.w(h, HART_WORD.START_A1_HI), s.start.a1[1]);
      }
      Atomics.store(a, this.w(h, HART_WORD.START), s.start === null ? 0 : 1);
      this.ring(h);
    });
  }

  /** Whether `hart` has a start request it has not taken. */
  startPending(hart: number): boolean {
    return Atomics.load(this.i32, this.w(hart, HART_WORD.START)) !== 0;
  }

  // ---- device accesses from other threads ----

  /**
   * Hart `hart` (not the owner) performs a device access on the owner's thread and waits
   * for the answer. `whileWaiting` runs between short sleeps (the hart keeps acknowledging
   * fences meanwhile, so two threads waiting on each other cannot deadlock).
   */
  call(hart: number, op: number, addr: number, width: number, value: number, whileWaiting: () => void): { result: number; fault: boolean } {
    const i32 = this.i32;
    const state = this.w(hart, HART_WORD.MBOX_STATE);
    Atomics.store(i32, this.w(hart, HART_WORD.MBOX_OP), op);
    Atomics.store(i32, this.w(hart, HART_WORD.MBOX_ADDR), addr | 0);
    Atomics.store(i32, this.w(hart, HART_WORD.MBOX_WIDTH), width);
    Atomics.store(i32, this.w(hart, HART_WORD.MBOX_VALUE), value | 0);
    Atomics.store(i32, state, MBOX_REQUEST);
    Atomics.or(i32, LINK.MBOX_PENDING, 1 << hart);
    this.ring(0);
    // The owner answers within its slice; spin briefly, then sleep in short waits.
    for (let spin = 0; spin < 2000 && Atomics.load(i32, state) !== MBOX_DONE; spin++);
    while (Atomics.load(i32, state) !== MBOX_DONE) {
      // The VM is ending: the owner may never answer. The access reads 0; the hart stops next.
      if (Atomics.load(i32, LINK.STOP) !== LinkStop.NONE && Atomics.compareExchange(i32, state, MBOX_REQUEST, MBOX_IDLE) === MBOX_REQUEST) {
        return { result: 0, fault: false };
      }
      Atomics.wait(i32, state, MBOX_REQUEST, 1);
      whileWaiting();
    }
    const result = Atomics.load(i32, this.w(hart, HART_WORD.MBOX_RESULT));
    const fault = Atomics.load(i32, this.w(hart, HART_WORD.MBOX_FAULT)) !== 0;
    Atomics.store(i32, state, MBOX_IDLE);
    return { result, fault };
  }

  /** Owner: serve every outstanding device access. Cheap when none is pending (one load). */
  serve(server: MboxServer): void {
    const i32 = this.i32;
    if (Atomics.load(i32, LINK.MBOX_PENDING) === 0) return;
    const pending = Atomics.exchange(i32, LINK.MBOX_PENDING, 0);
    for (let h = 1; h < this.harts; h++) {
      if ((pending & (1 << h)) === 0) continue;
      const state = this.w(h, HART_WORD.MBOX_STATE);
      if (Atomics.load(i32, state) !== MBOX_REQUEST) continue;
      const op = i32[this.w(h, HART_WORD.MBOX_OP)]!;
      const addr = i32[this.w(h, HART_WORD.MBOX_ADDR)]! >>> 0;
      const width = i32[this.w(h, HART_WORD.MBOX_WIDTH)]! as 1 | 2 | 4;
      let result = 0;
      let fault = false;
      if (op === MboxOp.READ) {
        result = server.read(h, addr, width);
        fault = server.takeFault();
      } else if (op === MboxOp.WRITE) {
        server.write(h, addr, width, i32[this.w(h, HART_WORD.MBOX_VALUE)]!);
        fault = server.takeFault();
      } else if (op === MboxOp.GETCHAR) {
        result = server.getchar();
      }
      Atomics.store(i32, this.w(h, HART_WORD.MBOX_RESULT), result);
      Atomics.store(i32, this.w(h, HART_WORD.MBOX_FAULT), fault ? 1 : 0);
      Atomics.store(i32, state, MBOX_DONE);
      Atomics.notify(i32, state);
    }
  }
}

/**
 * A device window on a hart that is not the owner: every access is a mailbox call to the
 * owner's thread, where the real device answers.
 */
export class RemoteDevice {
  constructor(
    private readonly link: VcpuLink,
    private readonly hart: number,
    private readonly base: number,
    readonly size: number,
    private readonly whileWaiting: () => void,
    private readonly onFault: () => void,
  ) {}

  read(offset: number, width: 1 | 2 | 4): number {
    const r = this.link.call(this.hart, MboxOp.READ, this.base + offset, width, 0, this.whileWaiting);
    if (r.fault) this.onFault();
    return r.result;
  }

  write(offset: number, width: 1 | 2 | 4, value: number): void {
    const r = this.link.call(this.hart, MboxOp.WRITE, this.base + offset, width, value, this.whileWaiting);
    if (r.fault) this.onFault();
  }

  reset(): void {}
  save(): Record<string, never> {
    return {};
  }
  load(): void {}
}

/** The device windows of the owner's bus, as other threads map them. */
export interface RegionInfo {
  readonly base: number;
  readonly size: number;
  readonly name: string;
}

/**
 * Apply what other threads left for hart `self` in the link: interrupt levels (the bits in
 * `levelMask`), one-shot bits (IPIs), remote fences (acknowledged after the flush).
 * Returns the one-shot bits taken, for the caller's interrupt counters.
 */
export function absorbLink(h: Hart, link: VcpuLink, self: number, levelMask: number): number {
  if (levelMask !== 0) {
    const lv = link.levels(self);
    for (const bit of LEVEL_BITS) {
      if ((levelMask & (1 << bit)) === 0) continue;
      const on = (lv & (1 << bit)) !== 0;
      const now = bit === 9 ? h.seipWire : (h.mip & (1 << bit)) !== 0;
      if (on !== now) h.setInterruptPending(bit, on);
    }
  }
  const soft = link.takeSoft(self);
  if (soft !== 0) {
    h.mip |= soft;
    h.event = true;
  }
  ackFences(h, link, self);
  return soft;
}

/**
 * Fence hart `self` as other threads asked, and acknowledge: only the kinds asked for (a
 * remote fence.i leaves the TLB alone, a remote sfence.vma the decoded code). The kinds are
 * taken after the count, so every counted request's kinds are among them.
 */
export function ackFences(h: Hart, link: VcpuLink, self: number): void {
  const req = link.fencePending(self);
  if (req !== 0) {
    const kinds = link.takeFenceKinds(self);
    if ((kinds & FenceBits.RANGE) !== 0) {
      // Taken even when TLB is set too: the slot must be freed for the next request.
      const r = link.takeFenceRange(self);
      if ((kinds & FenceBits.TLB) === 0) {
        if (r === null) h.tlb.flushTranslated("remoteFence");
        else h.tlb.sfenceRange(r.start, r.size < 0 ? 2 ** 64 : r.size, r.asid);
      }
    }
    if ((kinds & FenceBits.TLB) !== 0) h.tlb.flushTranslated("remoteFence");
    if ((kinds & FenceBits.CODE) !== 0) h.flushDecoded();
    link.ackFence(self, req);
  }
}

/**
 * The owner's answer to mailbox calls: the access goes to its bus (the window counters
 * there are not this thread's hart's exits: the caller counts them on its own bus).
 * `current` tells devices that count per hart whose access it is.
 */
export function busServer(bus: Bus, current: { current: number }, getchar: () => number): MboxServer {
  return {
    read(hart, addr, width) {
      current.current = hart;
      const v = bus.read(addr, width);
      current.current = 0;
      return v;
    },
    write(hart, addr, width, value) {
      current.current = hart;
      bus.write(addr, width, value);
      current.current = 0;
    },
    takeFault() {
      const f = bus.fault;
      bus.fault = false;
      return f;
    },
    getchar,
  };
}

/** The threads of one VM as a machine sees them. */
export interface MachineThreads {
  readonly link: VcpuLink;
  /** mtime 0 at this clockMs value, the same on every thread. */
  readonly epochMs: number;
  /** Instructions per slice on a thread (small enough for a scheduler decision every ~ms). */
  readonly slice: number;
}

/** The guest's power request from another thread, as a run-loop stop. */
export function linkStop(link: VcpuLink): "shutdown" | "reboot" | null {
  const k = link.stopKind();
  return k === LinkStop.SHUTDOWN ? "shutdown" : k === LinkStop.REBOOT ? "reboot" : null;
}
