/**
 * The bare-metal board behind `paravm elf`: one RV64GC hart, RAM at 0x8000_0000, a
 * CLINT at 0x0200_0000 and HTIF at the program's `tohost`/`fromhost` symbols — what
 * `qemu-system-riscv64 -M spike -bios none -kernel PROG` gives riscv-tests and small
 * demos.
 *
 * The run loop gives the hart slices of at most `SLICE` instructions; between slices it
 * flushes console output and lets the CLINT raise MTIP. A hart in WFI sleeps
 * (`Atomics.wait`) until the next timer deadline, so an idle guest costs no host CPU.
 */
import { ClintDevice } from "../devices/clint/device.js";
import { HtifDevice, htifWindows } from "../devices/htif/device.js";
import { Hart, RunStatus } from "../cpu/hart.js";
import { Bus } from "../mem/bus.js";
import { GuestRam } from "../mem/ram.js";
import { ElfError, type ElfImage, loadElf } from "./elf.js";

export const BARE_MAP = {
  CLINT_BASE: 0x0200_0000,
  RAM_BASE: 0x8000_0000,
  DEFAULT_RAM_SIZE: 256 * 1024 * 1024,
} as const;

export const BARE_RUN = {
  /** Instructions per slice: about a millisecond or two of guest time. */
  SLICE: 100_000,
  /** Longest single sleep in WFI, so the loop stays responsive to far-off deadlines. */
  MAX_SLEEP_MS: 1000,
  /** Console bytes buffered before a flush. */
  OUTPUT_BUFFER: 4096,
} as const;

export interface BareOptions {
  /** RAM size in bytes (a multiple of 4 KiB). */
  readonly memBytes?: number;
  /** Stop after this many instructions (`--max-insns`). */
  readonly maxInsns?: number;
  /** Print `core 0: 0x<pc> (0x<insn>)` for every instruction, one instruction per step. */
  readonly trace?: boolean;
  /** Console output (HTIF putchar), called with buffered chunks. */
  readonly output?: (bytes: Uint8Array) => void;
  /** Trace lines and warnings. */
  readonly log?: (line: string) => void;
  /** Name of the program in messages. */
  readonly name?: string;
}

/** Why the run ended. */
export type BareStop =
  /** The guest wrote an exit command to tohost. */
  | "exit"
  /** `maxInsns` instructions were executed. */
  | "maxInsns"
  /** The hart waits in WFI and nothing on this board can wake it (no timer armed). */
  | "wfiDeadlock"
  /** The guest asked HTIF for something the host cannot do; see `message`. */
  | "htifError";

export interface BareResult {
  readonly stop: BareStop;
  /** The HTIF exit code, or null when the guest did not exit. */
  readonly exitCode: number | null;
  /** True when the run hit `maxInsns`. */
  readonly timedOut: boolean;
  readonly message?: string;
  /** Instructions retired, in total and per privilege (M, S, U). */
  readonly instret: number;
  readonly instretByPriv: { readonly M: number; readonly S: number; readonly U: number };
  readonly wallMs: number;
}

export class BareBoard {
  readonly ram: GuestRam;
  readonly bus: Bus;
  readonly clint: ClintDevice;
  readonly hart: Hart;
  readonly htif: HtifDevice | null;
  readonly image: ElfImage;

  private exitCode: number | null = null;
  private fatal: string | null = null;
  private readonly out: Uint8Array = new Uint8Array(BARE_RUN.OUTPUT_BUFFER);
  private outLen = 0;
  private readonly output: (bytes: Uint8Array) => void;
  private readonly log: (line: string) => void;
  /** A word to Atomics.wait on: nobody notifies it, the timeout is the sleep. */
  private readonly sleepCell = new Int32Array(new SharedArrayBuffer(4));

  /** Build the board and load `elf` into it. Throws `ElfError` for a file that cannot run here. */
  constructor(
    elf: Uint8Array,
    private readonly options: BareOptions = {},
  ) {
    const name = options.name ?? "ELF";
    this.output = options.output ?? (() => {});
    this.log = options.log ?? (() => {});
    this.ram = new GuestRam(BARE_MAP.RAM_BASE, options.memBytes ?? BARE_MAP.DEFAULT_RAM_SIZE);
    this.bus = new Bus(this.ram);
    this.image = loadElf(elf, this.ram, name);
    if (!this.ram.contains(this.image.entry, 2)) {
      throw new ElfError(`${name}: entry point 0x${this.image.entry.toString(16)} is outside RAM`);
    }

    // The hart and the CLINT refer to each other: the CLINT drives the hart's mip, the
    // hart reads time from the CLINT. Break the cycle with a forwarding TimeSource.
    let clint: ClintDevice | null = null;
    // Like QEMU's spike board (the oracle for programs run this way), the hart has no
    // `time` CSR: programs read mtime from the CLINT.
    this.hart = new Hart(this.bus, 0, null);
    clint = new ClintDevice([this.hart]);
    this.clint = clint;
    this.bus.map(BARE_MAP.CLINT_BASE, this.clint, "clint");

    const tohost = this.image.symbol("tohost");
    const fromhost = this.image.symbol("fromhost");
    if (tohost === undefined) {
      this.htif = null;
      this.log(`paravm: warning: ${name} has no 'tohost' symbol: it cannot print or exit through HTIF`);
    } else {
      if (fromhost !== undefined && Math.abs(fromhost.value - tohost.value) < 8) {
        throw new ElfError(
          `${name}: 'tohost' (0x${tohost.value.toString(16)}) and 'fromhost' (0x${fromhost.value.toString(16)}) overlap`,
        );
      }
      const { device, windows } = htifWindows(
        {
          exit: (code) => {
            this.exitCode = code;
            this.hart.requestStop();
          },
          putchar: (byte) => this.putchar(byte),
          fatal: (message) => {
            this.fatal = message;
            this.hart.requestStop();
          },
          memory: this.ram,
        },
        tohost.value,
        fromhost?.value,
      );
      for (const w of windows) {
        try {
          this.bus.map(w.base, w.device, w.name);
        } catch (e) {
          throw new ElfError(`${name}: cannot place HTIF at 0x${w.base.toString(16)}: ${(e as Error).message}`);
        }
      }
      this.htif = device;
    }
    this.hart.setPc(this.image.entry);
  }

  /** Run until the guest exits, `maxInsns` is reached, or nothing can wake the hart. */
  run(): BareResult {
    const { maxInsns, trace = false } = this.options;
    const hart = this.hart;
    const clint = this.clint;
    const start = performance.now();
    const startInstret = hart.instret;
    /** Budget spent: instructions retired, counting a whole budget when the hart says it ran out. */
    let spent = 0;
    let idleStrikes = 0;
    let stop: BareStop | null = null;

    while (stop === null) {
      if (maxInsns !== undefined && spent >= maxInsns) {
        stop = "maxInsns";
        break;
      }
      let budget = trace ? 1 : BARE_RUN.SLICE;
      if (maxInsns !== undefined) budget = Math.min(budget, maxInsns - spent);
      if (trace && !hart.wfi) this.traceLine();

      const before = hart.instret;
      const status = hart.run(budget);
      const retired = Math.max(0, hart.instret - before);
      spent += status === RunStatus.Budget ? Math.max(budget, retired) : Math.min(retired, budget);

      this.flush();
      clint.update();
      if (this.fatal !== null) stop = "htifError";
      else if (this.exitCode !== null) stop = "exit";
      else if (status === RunStatus.Wfi) {
        const wait = clint.nextDeadline();
        if (wait === Infinity) {
          // Nothing armed: give the hart one more look (update() may just have raised MTIP),
          // then conclude it sleeps forever.
          idleStrikes = retired === 0 ? idleStrikes + 1 : 0;
          if (idleStrikes >= 2) stop = "wfiDeadlock";
        } else {
          idleStrikes = 0;
          if (wait > 0) this.sleep(Math.min(wait, BARE_RUN.MAX_SLEEP_MS));
          clint.update();
        }
      } else {
        idleStrikes = 0;
      }
    }
    this.flush();

    const wallMs = performance.now() - start;
    const byPriv = hart.instretByPriv;
    const base = {
      instret: hart.instret - startInstret,
      instretByPriv: { M: byPriv[3]!, S: byPriv[1]!, U: byPriv[0]! },
      wallMs,
    };
    switch (stop) {
      case "exit":
        return { ...base, stop, exitCode: this.exitCode, timedOut: false };
      case "maxInsns":
        return { ...base, stop, exitCode: null, timedOut: true };
      case "htifError":
        return { ...base, stop, exitCode: null, timedOut: false, message: this.fatal ?? "htif error" };
      case "wfiDeadlock":
        return {
          ...base,
          stop,
          exitCode: null,
          timedOut: false,
          message: `hart 0 waits in WFI at 0x${hart.getPc().toString(16)} with no timer armed: nothing can wake it`,
        };
    }
  }

  private traceLine(): void {
    const pc = this.hart.getPc().toString(16).padStart(16, "0");
    const insn = this.hart.peekInsn();
    const bits = insn < 0 ? "????????" : (insn >>> 0).toString(16).padStart(8, "0");
    this.log(`core 0: 0x${pc} (0x${bits})`);
  }

  private putchar(byte: number): void {
    this.out[this.outLen++] = byte;
    if (this.outLen === this.out.length) this.flush();
  }

  /** Hand buffered console output to the sink (between slices and at the end). */
  flush(): void {
    if (this.outLen === 0) return;
    this.output(this.out.slice(0, this.outLen));
    this.outLen = 0;
  }

  private sleep(ms: number): void {
    Atomics.wait(this.sleepCell, 0, 0, ms);
  }
}
