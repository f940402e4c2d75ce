/**
 * A whole machine, pv or full, as plain data plus its RAM bytes, and back into a fresh
 * machine that goes on exactly where the saved one was (issue 15, the machine layer; the
 * snapshot file is src/hypervisor/snapshot/, which this module never imports).
 *
 *   const { state, ram } = saveMachine(m);          // m stopped (between slices)
 *   const m2 = restorePv(options, { state, ram });   // or restoreFull; or loadMachine(m2, state, ram)
 *
 * `state` is JSON-able (MachineState: version, profile, RAM geometry, harts via saveHart,
 * every bus device's save() by its board name, the pv machine's SBI side or the full
 * board's own state, and the guest's time). `ram` is a view of the live guest RAM (no
 * copy: a caller that lets the machine run on must copy it or write it out first).
 *
 * Guest time: both profiles derive `time`/mtime from the host's monotonic clock minus an
 * epoch (pv-host.ts `now`, the CLINT's offset). The state records mtime at the save, and
 * the restore moves the new machine's epoch so that mtime reads that value at once: the
 * guest's clock and uptime go on from where they stopped, not jumping by the time the
 * snapshot lay on disk, as on a paused VM. Timer deadlines are absolute mtime values, so
 * they stay right.
 *
 * Host backends (disk files, switch ports, console streams) are not state: the restoring
 * caller passes them in the new machine's options, as for a fresh machine. The restore
 * checks what it can see of them (disk size and mode, the console's ports, the devices on
 * the bus). Refusals come before anything is applied for what the state says about the
 * machine itself (version, profile, RAM size, harts, devices present); a device state
 * found bad while loading throws too, and `restorePv`/`restoreFull` then drop the half
 * loaded machine (with `loadMachine` the caller must).
 */
import { hartStateProblem, loadHart, saveHart, type HartState } from "../cpu/hart-state.js";
import type { DeviceState } from "../devices/device.js";
import { StateError, StateReader, toBase64 } from "../devices/state.js";
import { FULL_DEFAULTS, FullMachine, type FullOptions } from "./full.js";
import { PV_DEFAULTS, PvMachine, type PvOptions } from "./pv.js";
import { loadPvSbi, readPvSbi, savePvSbi, type PvSbiState } from "./pv-state.js";

export const MACHINE_STATE = {
  VERSION: 1,
  /** The device loaded last: its pending/claimed bits are what the saved guest saw (devices re-driving their lines before it may not change them). */
  INTERRUPT_CONTROLLER: "plic",
} as const;

export type AnyMachine = PvMachine | FullMachine;

export interface FullBoardState {
  readonly secondariesHeld: boolean;
  /** Host console input not yet in the UART's FIFO (base64). */
  readonly pendingInput: string;
}

export interface MachineState {
  readonly v: number;
  readonly profile: "pv" | "full";
  readonly ramBase: number;
  readonly ramBytes: number;
  readonly cpus: number;
  /** Guest time at the save (mtime, 10 MHz ticks). */
  readonly mtime: number;
  readonly harts: readonly HartState[];
  /** Each device's save(), by its bus region name ("plic", "virtio-blk0", "uart0", "pcie-ecam", …). */
  readonly devices: Readonly<Record<string, DeviceState>>;
  /** pv only: the hypervisor's side of the SBI. */
  readonly sbi?: PvSbiState;
  /** full only. */
  readonly board?: FullBoardState;
}

export interface SavedMachine {
  readonly state: MachineState;
  readonly ram: Uint8Array;
}

/** A state that cannot be restored here; `message` says why in one sentence. */
export class MachineStateError extends Error {
  override readonly name = "MachineStateError";
}

/** The machine's guest time now (mtime ticks). */
function mtimeOf(m: AnyMachine): number {
  return m instanceof PvMachine ? m.host.now() : m.clint.mtime();
}

/**
 * Everything of `m` as plain data, plus its RAM (a live view). Call it between slices with
 * the machine not running (after `runAsync` returned, or from the thread that drives it).
 */
export function saveMachine(m: AnyMachine): SavedMachine {
  // A 1-hart machine built for a vCPU thread has everything on the thread that calls this.
  if (m.threaded && m.harts.length > 1) throw new MachineStateError("saveMachine: this machine's harts run on other threads; they must be stopped and saved by their owner");
  const mtime = mtimeOf(m);
  const devices: Record<string, DeviceState> = {};
  for (const r of m.bus.regions) devices[r.name] = r.device.save();
  const state: MachineState = {
    v: MACHINE_STATE.VERSION,
    profile: m.profile,
    ramBase: m.ram.base,
    ramBytes: m.ram.size,
    cpus: m.harts.length,
    mtime,
    harts: m.harts.map(saveHart),
    devices,
    ...(m instanceof PvMachine ? { sbi: savePvSbi(m) } : {}),
    ...(m instanceof FullMachine ? { board: fullBoard(m) } : {}),
  };
  return { state, ram: m.ram.u8 };
}

function fullBoard(m: FullMachine): FullBoardState {
  const b = m.boardState();
  return { secondariesHeld: b.secondariesHeld, pendingInput: toBase64(b.pendingInput) };
}

/**
 * Why `state` cannot be a machine with this profile, RAM size and hart count, or null:
 * checked before a machine is even built (restorePv/restoreFull) and again by loadMachine.
 */
export function configProblem(state: unknown, want: { profile: "pv" | "full"; memBytes: number; cpus: number }): string | null {
  if (typeof state !== "object" || state === null || Array.isArray(state)) return "the machine state is not an object";
  const s = state as Record<string, unknown>;
  if (s.v !== MACHINE_STATE.VERSION) return `machine state version ${String(s.v)}; this paravm restores version ${MACHINE_STATE.VERSION} only`;
  if (s.profile !== want.profile) return `a ${String(s.profile)} machine's state cannot be restored as a ${want.profile} machine`;
  if (s.ramBytes !== want.memBytes) {
    const mib = (b: unknown) => (typeof b === "number" ? `${b / 2 ** 20} MiB` : String(b));
    return `the saved machine had ${mib(s.ramBytes)} of RAM, this one has ${mib(want.memBytes)}`;
  }
  if (s.cpus !== want.cpus) return `the saved machine had ${String(s.cpus)} harts, this one has ${want.cpus}`;
  return null;
}

/** The state, checked whole against `m`: MachineStateError before anything is applied. */
function check(m: AnyMachine, state: unknown): { s: MachineState; sbi: ReturnType<typeof readPvSbi> | null; board: { secondariesHeld: boolean; pendingInput: Uint8Array } | null } {
  const why = configProblem(state, { profile: m.profile, memBytes: m.ram.size, cpus: m.harts.length });
  if (why !== null) throw new MachineStateError(why);
  const s = state as MachineState;
  try {
    const r: StateReader = StateReader.of(state, "machine state");
    if (r.int("ramBase", 0, Number.MAX_SAFE_INTEGER) !== m.ram.base) r.fail("ramBase", `0x${s.ramBase.toString(16)}, this machine's RAM is at 0x${m.ram.base.toString(16)}`);
    r.count("mtime");
    if (s.mtime > 2 ** 53) r.fail("mtime", "beyond 2^53 ticks");
    const harts = r.array("harts", m.harts.length);
    if (harts.length !== m.harts.length) r.fail("harts", `${harts.length} states for ${m.harts.length} harts`);
    harts.forEach((h, i) => {
      const p = hartStateProblem(h, i);
      if (p !== null) r.fail(`harts[${i}]`, p);
    });
    const devices: StateReader = r.obj("devices");
    const have = m.bus.regions.map((x) => x.name).sort();
    const saved = Object.keys(s.devices).sort();
    if (have.join(",") !== saved.join(",")) {
      r.fail("devices", `the snapshot's machine had ${saved.join(", ")}; this one has ${have.join(", ")} (give it the same disk, network and agent options)`);
    }
    for (const name of have) devices.obj(name);
    let sbi: ReturnType<typeof readPvSbi> | null = null;
    let board: { secondariesHeld: boolean; pendingInput: Uint8Array } | null = null;
    if (m instanceof PvMachine) sbi = readPvSbi(s.sbi, m);
    else {
      const b: StateReader = r.obj("board");
      board = { secondariesHeld: b.bool("secondariesHeld"), pendingInput: b.bytes("pendingInput", 1 << 20) };
    }
    return { s, sbi, board };
  } catch (e) {
    if (e instanceof StateError) throw new MachineStateError(e.message);
    throw e;
  }
}

/**
 * Load `state` and `ram` into `m`, a machine just built with the saved machine's profile
 * and configuration that has not run. `ram`: the saved bytes, a function that fills the
 * (zeroed) RAM itself, e.g. from a snapshot file's RAM section, or null when the RAM
 * already holds the saved bytes (a live migration wrote them while the source ran).
 */
export function loadMachine(m: AnyMachine, state: unknown, ram: Uint8Array | ((dst: Uint8Array) => void) | null): void {
  if (m.threaded && m.harts.length > 1) throw new MachineStateError("loadMachine: this machine's harts run on other threads; load it in-thread");
  const { s, sbi, board } = check(m, state);
  if (ram instanceof Uint8Array && ram.length !== m.ram.size) {
    throw new MachineStateError(`the saved RAM is ${ram.length} bytes, this machine has ${m.ram.size}`);
  }
  // The new machine wrote its kernel, initrd and device tree: the saved RAM replaces all of it.
  const dst = m.ram.u8;
  if (ram instanceof Uint8Array) dst.set(ram);
  else if (ram !== null) {
    dst.fill(0);
    ram(dst);
  }
  s.harts.forEach((h, i) => loadHart(m.harts[i]!, h));
  const last = MACHINE_STATE.INTERRUPT_CONTROLLER;
  const regions = [...m.bus.regions].sort((a, b) => Number(a.name === last) - Number(b.name === last));
  for (const r of regions) {
    try {
      r.device.load(s.devices[r.name]!);
    } catch (e) {
      throw new MachineStateError(`device ${r.name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  if (m instanceof PvMachine) {
    loadPvSbi(m, sbi!);
    m.host.setNow(s.mtime);
  } else {
    m.restoreBoardState(board!);
    m.clint.setMtime(s.mtime);
  }
}

/** A new pv machine from `options` (backends, kernel: as for a fresh one) continuing `saved`. */
export function restorePv(options: PvOptions, saved: { readonly state: unknown; readonly ram: Uint8Array | ((dst: Uint8Array) => void) }): PvMachine {
  const why = configProblem(saved.state, { profile: "pv", memBytes: options.memBytes ?? PV_DEFAULTS.MEM, cpus: options.cpus ?? 1 });
  if (why !== null) throw new MachineStateError(why);
  const m = new PvMachine(options);
  loadMachine(m, saved.state, saved.ram);
  return m;
}

/** A new full machine from `options` continuing `saved`. */
export function restoreFull(options: FullOptions, saved: { readonly state: unknown; readonly ram: Uint8Array | ((dst: Uint8Array) => void) }): FullMachine {
  const why = configProblem(saved.state, { profile: "full", memBytes: options.memBytes ?? FULL_DEFAULTS.MEM, cpus: options.cpus ?? 1 });
  if (why !== null) throw new MachineStateError(why);
  const m = new FullMachine(options);
  loadMachine(m, saved.state, saved.ram);
  return m;
}
