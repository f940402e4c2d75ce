/**
 * What the SBI hypercall layer needs from the machine that wires it (the pv board).
 * Everything here is host-side; the SBI code never touches devices directly.
 * Numbers are JS numbers: mtime ticks and guest-physical addresses stay below 2^53.
 */
export const FenceKind = {
  FenceI: 0,
  SfenceVma: 1,
  SfenceVmaAsid: 2,
} as const;
export type FenceKindValue = (typeof FenceKind)[keyof typeof FenceKind];

export interface SbiHost {
  /** Number of harts on the machine (hart ids 0..harts-1). */
  readonly harts: number;

  // ---- console (DBCN, legacy putchar/getchar) ----
  consolePutchar(byte: number): void;
  consoleWrite(bytes: Uint8Array): void;
  /** Next input byte, or -1 when none is waiting. */
  consoleGetchar(): number;

  // ---- time (TIME, legacy set_timer) ----
  /** Arm hart `hartId`'s supervisor timer: raise STIP when mtime >= deadline (10 MHz ticks). */
  setTimer(hartId: number, deadlineTicks: number): void;
  /** Current mtime (10 MHz ticks). */
  now(): number;

  // ---- IPI / RFENCE ----
  /** Set SSIP on each target hart (ids already validated). */
  sendIpi(targets: number[]): void;
  /**
   * Make each of `harts` (never the calling hart: the SBI flushes that one itself) execute
   * the fence before it next runs guest code, as narrow as asked (a wider one is also correct):
   * start is the address's low 39 bits (argVa39), size in bytes, asid for SfenceVmaAsid.
   */
  remoteFence(kind: FenceKindValue, harts: number[], start: number, size: number, asid: number): void;

  // ---- HSM (state machine is kept by the SBI; the host makes it happen) ----
  /**
   * Start a stopped hart in S-mode at startAddr (checked: in RAM, 2-byte aligned) with a0 = hartId,
   * a1 = opaque (exact unsigned 64-bit), satp = 0, sstatus.SIE = 0. Returns an SBI error (0 = started).
   */
  hartStart(hartId: number, startAddr: number, opaque: bigint): number;
  /** The calling hart stopped itself: park it until a later hartStart. */
  hartStop(hartId: number): void;
  /**
   * The calling hart suspended. Retentive (type bit 31 clear): the SBI has set `hart.wfi`, it resumes
   * after the ecall on an interrupt. Non-retentive: on wake the host restarts it at resumeAddr
   * (a0 = hartId, a1 = opaque, satp = 0, S-mode). Either way call `SbiDispatcher.hsm.resumed(hartId)`.
   */
  hartSuspend(hartId: number, suspendType: number, resumeAddr: number, opaque: bigint): void;

  // ---- SRST, legacy shutdown ----
  /** type: 0 shutdown, 1 cold reboot, 2 warm reboot; reason: 0 none, 1 system failure. */
  reset(type: number, reason: number): void;

  // ---- guest memory (physical; DBCN buffers, HSM address checks, STA records) ----
  /** A copy of [pa, pa+len) if it lies entirely in RAM, else null. */
  readGuest(pa: number, len: number): Uint8Array | null;
  /** Write bytes at pa if [pa, pa+len) lies entirely in RAM; false otherwise. */
  writeGuest(pa: number, bytes: Uint8Array): boolean;
}
