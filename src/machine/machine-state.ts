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
 * Threaded VMs (each hart on a vCPU thread of its own, hart 0's thread the owner of every
 * device: vcpu-link.ts): the owner saves with the parts its other threads handed over
 * while the VM was paused (hart-part.ts), plus the words still waiting in the link between
 * the threads, into the same one state; loadMachine on a new owner loads hart 0, the
 * devices and the link, and returns each other hart's part and the VM's time base for its
 * thread to load before that hart runs.
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
import type { HartPart, RemoteHarts, ThreadTime } from "./hart-part.js";
import { PV_DEFAULTS, PvMachine, type PvOptions } from "./pv.js";
import { loadPvSbi, pvHartOf, readPvSbi, savePvSbi, withPvHarts, type PvSbiState } from "./pv-state.js";
import { readLinkState, type LinkHartState } from "./vcpu-link.js";

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
  /** A VM whose harts ran on threads of their own: what waited in the link for each hart (vcpu-link.ts). */
  readonly link?: readonly LinkHartState[];
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
 * A threaded machine's owner passes the parts of its other harts (`parts[k]` for hart k),
 * which their threads handed over while the VM was paused and take nothing more until it
 * runs again.
 */
export function saveMachine(m: AnyMachine, parts: readonly (HartPart | null | undefined)[] = []): SavedMachine {
  const mine = localHarts(m);
  const n = m.harts.length;
  const remote: (HartPart | null)[] = m.harts.map(() => null);
  for (let k = mine; k < n; k++) remote[k] = partFor(m, k, parts[k]);
  let link: LinkHartState[] | undefined;
  if (mine < n) {
    try {
      link = m.threads!.link.saveState();
    } catch (e) {
      throw new MachineStateError(`saveMachine: ${(e as Error).message}`);
    }
  }
  const mtime = mtimeOf(m);
  const devices: Record<string, DeviceState> = {};
  for (const r of m.bus.regions) devices[r.name] = r.device.save();
  const state: MachineState = {
    v: MACHINE_STATE.VERSION,
    profile: m.profile,
    ramBase: m.ram.base,
    ramBytes: m.ram.size,
    cpus: n,
    mtime,
    harts: m.harts.map((h, k) => remote[k]?.hart ?? saveHart(h)),
    devices,
    ...(m instanceof PvMachine ? { sbi: withPvHarts(savePvSbi(m), remote.map((p) => p?.sbi)) } : {}),
    ...(m instanceof FullMachine ? { board: fullBoard(m) } : {}),
    ...(link ? { link } : {}),
  };
  return { state, ram: m.ram.u8 };
}

/** How many of `m`'s harts run on the calling thread: hart 0 alone on a threaded VM's owner, else all. */
function localHarts(m: AnyMachine): number {
  return m.threaded ? 1 : m.harts.length;
}

/** Hart k's part as its thread handed it over, checked to be that hart's (a part is plain data that crossed threads). */
function partFor(m: AnyMachine, k: number, p: HartPart | null | undefined): HartPart {
  if (!p) throw new MachineStateError(`saveMachine: hart ${k} runs on a thread of its own, and its state was not handed over`);
  const why = hartStateProblem(p.hart, k);
  if (why !== null) throw new MachineStateError(`saveMachine: hart ${k}'s state from its thread: ${why}`);
  if (m instanceof PvMachine && !p.sbi) throw new MachineStateError(`saveMachine: hart ${k}'s thread handed over no SBI share`);
  return p;
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
function check(
  m: AnyMachine,
  state: unknown,
): { s: MachineState; sbi: ReturnType<typeof readPvSbi> | null; board: { secondariesHeld: boolean; pendingInput: Uint8Array } | null; link: LinkHartState[] | null } {
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
    let link: LinkHartState[] | null = null;
    if (r.has("link")) {
      if (!m.threaded) r.fail("link", "the saved VM's harts ran on threads of their own, and this machine runs them on one: restore it as a VM (Hypervisor.restore)");
      link = readLinkState(r.raw("link"), m.harts.length);
    }
    return { s, sbi, board, link };
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
 *
 * On a threaded machine's owner with more than one hart, only hart 0 is loaded here: the
 * answer holds every other hart's part and the time base, for the threads that will run
 * them to load before they run (hart-part.ts). The whole state, every hart's part
 * included, is checked before anything is applied. Null for any other machine.
 */
export function loadMachine(m: AnyMachine, state: unknown, ram: Uint8Array | ((dst: Uint8Array) => void) | null): RemoteHarts | null {
  const { s, sbi, board, link } = check(m, state);
  if (ram instanceof Uint8Array && ram.length !== m.ram.size) {
    throw new MachineStateError(`the saved RAM is ${ram.length} bytes, this machine has ${m.ram.size}`);
  }
  // The new machine wrote its kernel, initrd and device tree: the saved RAM replaces all of it.
  const dst = m.ram.u8;
  if (ram instanceof Uint8Array) dst.set(ram);
  else if (ram !== null) {
    // Zeroed by handing every page back to the host (madvise, with the guest-RAM addon):
    // a fill would touch, and so commit, all of it; measured on a 64 MiB restore, 40–57 ms
    // of the restore's ~100 ms went to fill(0).
    m.ram.discard(m.ram.base, m.ram.size);
    ram(dst);
  }
  const mine = localHarts(m);
  for (let k = 0; k < mine; k++) loadHart(m.harts[k]!, s.harts[k]!);
  // Before the devices: loading them drives their interrupt lines again, the link's levels included.
  if (link !== null) m.threads!.link.loadState(link);
  const last = MACHINE_STATE.INTERRUPT_CONTROLLER;
  const regions = [...m.bus.regions].sort((a, b) => Number(a.name === last) - Number(b.name === last));
  for (const r of regions) {
    try {
      r.device.load(s.devices[r.name]!);
    } catch (e) {
      throw new MachineStateError(`device ${r.name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  let time: ThreadTime;
  if (m instanceof PvMachine) {
    loadPvSbi(m, sbi!);
    m.host.setNow(s.mtime);
    time = { epochMs: m.host.epochMs(), offsetTicks: 0 };
  } else {
    m.restoreBoardState(board!);
    m.clint.setMtime(s.mtime);
    time = m.clint.timeBase();
  }
  if (mine === m.harts.length) return null;
  const threadLink = m.threads!.link;
  const parts = s.harts.map((hart, k): HartPart => {
    if (sbi !== null) return { hart, sbi: pvHartOf(sbi, k) };
    // A secondary is in reset until it takes the owner's start request: held still, or the request not taken yet.
    return { hart, inReset: k !== 0 && (board!.secondariesHeld || threadLink.startPending(k)) };
  });
  return { time, parts };
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
