/**
 * The sending side of a live migration (wire.ts has the protocol): the VM keeps running
 * while its RAM is copied in rounds — first every page in use, then the pages written
 * since the previous round (mem/dirty-log.ts) — until what is left can be sent within the
 * downtime target; then the VM is paused, the last dirty pages and its state are sent,
 * and once the destination says its copy runs, this one is destroyed.
 *
 * A guest that writes memory faster than the link carries it never gets there: after
 * MAX_ROUNDS rounds, or when rounds stop shrinking, the stop-and-copy happens anyway and
 * the result says so (converged: false) with the two rates.
 *
 * Failure before the state is sent (the destination refuses, dies, or a hart does not
 * answer): the VM is resumed here and nothing is lost. After the state is sent and before
 * "running" comes back, the outcome is unknown — the destination may be running the
 * guest — so the VM is left paused here rather than risk two copies running; the error
 * says so and the user decides (resume it, or destroy it).
 */
import type { DirtyLog } from "../../mem/dirty-log.js";
import { MACHINE_STATE } from "../../machine/machine-state.js";
import type { Hypervisor } from "../hypervisor.js";
import { vmInfo, VM_SNAPSHOT } from "../snapshot/vm-file.js";
import type { Vm } from "../vm.js";
import type { MigrationLink } from "./link.js";
import { controlText, encodeBlobPieces, encodePages, type BlobName, encodeZeros, MIGRATION, parseControl, type Control } from "./wire.js";

export const MIGRATE_DEFAULTS = {
  /** Pre-copy rounds before the stop-and-copy happens whatever is left. */
  MAX_ROUNDS: 30,
  /** Rounds in a row that did not shrink the dirty set before giving up on converging. */
  STALL_ROUNDS: 4,
  /** Downtime the last round is sized for (ms of the measured link rate). */
  DOWNTIME_MS: 30,
  /** Bytes queued on the link before the sender waits. */
  HIGH_WATER: 8 * 1024 * 1024,
  /** How long the destination has to answer an offer, a build, and the final state. */
  ANSWER_MS: 60_000,
  /** How long every hart has to acknowledge a dirty-log flush. */
  FLUSH_MS: 5_000,
} as const;

export interface MigrateOptions {
  readonly maxRounds?: number;
  readonly downtimeMs?: number;
  /** Where the VM goes, for messages ("127.0.0.1:8471"). */
  readonly to?: string;
  readonly onProgress?: (p: MigrationRound) => void;
  /** This paravm's version, told to the destination (its messages name it). */
  readonly paravm?: string;
  /** Passed to the destination with the offer (wire.ts Control "offer".meta). */
  readonly meta?: unknown;
}

export interface MigrationRound {
  /** 0: every page in use; then the pages dirtied during the previous round; "final": with the VM paused. */
  readonly round: number | "final";
  readonly pages: number;
  readonly bytes: number;
  readonly ms: number;
}

export interface MigrationResult {
  readonly vm: string;
  readonly to: string;
  readonly totalMs: number;
  /** From the pause here to the destination's "running". */
  readonly downtimeMs: number;
  readonly rounds: readonly MigrationRound[];
  readonly bytesSent: number;
  readonly pagesSent: number;
  readonly ramPages: number;
  /** False when the stop-and-copy was forced (round limit or no progress): `note` says why, with the rates. */
  readonly converged: boolean;
  readonly note: string;
}

/** A migration that did not happen, or whose end is unknown (`vmLeft`: what became of the VM here). */
export class MigrationError extends Error {
  override readonly name = "MigrationError";
  constructor(
    message: string,
    readonly vmLeft: "running" | "paused" | "unchanged",
    /** The destination refused before anything moved (a user error: 4xx). */
    readonly refused = false,
  ) {
    super(message);
  }
}

const ZERO_PAGE = Buffer.alloc(MIGRATION.PAGE);

/** Waits for control messages from the link one at a time. */
class Answers {
  private queue: Control[] = [];
  private waiter: ((c: Control | string) => void) | null = null;
  closed: string | null = null;

  constructor(link: MigrationLink) {
    link.onMessage((m) => {
      if (typeof m !== "string") return this.push("the destination sent data it should not");
      this.push(parseControl(m));
    });
    link.onClose((why) => {
      this.closed = why;
      this.push(`the link closed: ${why}`);
    });
  }

  private push(c: Control | string): void {
    if (typeof c === "string" || c.t === "fail") {
      // Failures are kept for the next wait even when nobody waits now.
      const why = typeof c === "string" ? c : `the destination failed: ${c.why}`;
      this.closed ??= why;
    }
    if (typeof c !== "string") this.queue.push(c);
    const w = this.waiter;
    this.waiter = null;
    w?.(typeof c === "string" ? c : c);
  }

  /** The next control message, or why none will come. */
  async next(ms: number): Promise<Control | string> {
    const q = this.queue.shift();
    if (q) return q;
    if (this.closed !== null) return this.closed;
    let timer: NodeJS.Timeout | undefined;
    const r = await new Promise<Control | string>((resolve) => {
      this.waiter = (c) => resolve(typeof c === "string" ? c : (this.queue.shift() ?? c));
      timer = setTimeout(() => resolve(`no answer from the destination within ${ms / 1000} s`), ms);
    });
    clearTimeout(timer);
    this.waiter = null;
    return r;
  }

  /** The failure that arrived while we were not waiting, if any. */
  failure(): string | null {
    return this.closed;
  }
}

/** Migrates VM `name` of `hv` over `link`; resolves once the destination runs it and it is gone here. */
export async function migrateOut(hv: Hypervisor, name: string, link: MigrationLink, opts: MigrateOptions = {}): Promise<MigrationResult> {
  const vm = hv.get(name);
  const to = opts.to ?? "the destination";
  if (vm.state !== "running") throw new MigrationError(`VM ${name} is ${vm.state}: only a running VM is migrated`, "unchanged", true);
  const log = vm.dirtyLog();
  const ram = vm.guestRam();
  if (log === null || ram === null) throw new MigrationError(`VM ${name} has no RAM to migrate yet`, "unchanged", true);
  const answers = new Answers(link);
  const t0 = performance.now();
  let paused = false;
  let stateSent = false;
  try {
    // 1. Offer: the destination checks everything it can before anything moves.
    const info = vmInfo(name, vm.liveSpec(), vm.settings, vm.agentHello());
    const network = hv.networkOf(name);
    link.send(
      controlText({ t: "offer", protocol: MIGRATION.PROTOCOL, vmVersion: VM_SNAPSHOT.VERSION, machineVersion: MACHINE_STATE.VERSION, paravm: opts.paravm ?? "unknown", info, ...(network !== undefined ? { network } : {}), ...(opts.meta !== undefined ? { meta: opts.meta } : {}) }),
    );
    const answer = await answers.next(MIGRATE_DEFAULTS.ANSWER_MS);
    if (typeof answer === "string") throw new MigrationError(`migration of ${name} to ${to}: ${answer}`, "unchanged");
    if (answer.t === "refuse") throw new MigrationError(`${to} refused VM ${name}: ${answer.why}`, "unchanged", true);
    if (answer.t !== "accept") throw new MigrationError(`migration of ${name} to ${to}: unexpected answer ${answer.t}`, "unchanged");
    // 2. The images, then the destination builds the machine (not running).
    const blob = async (name: BlobName, bytes: Uint8Array): Promise<void> => {
      for (const piece of encodeBlobPieces(name, bytes)) {
        link.send(piece);
        await paced(link, answers);
      }
    };
    await blob("kernel", vm.spec.kernel);
    if (vm.spec.initrd) await blob("initrd", vm.spec.initrd);
    if (vm.spec.firmware) await blob("firmware", vm.spec.firmware);
    link.send(controlText({ t: "build" }));
    const built = await answers.next(MIGRATE_DEFAULTS.ANSWER_MS);
    if (typeof built === "string" || built.t !== "built") {
      throw new MigrationError(`${to} could not build VM ${name}: ${typeof built === "string" ? built : built.t === "fail" ? built.why : built.t}`, "unchanged");
    }
    // 3. Pre-copy rounds while the guest runs.
    const pages = log.pages;
    const u8 = Buffer.from(ram);
    const list = new Uint32Array(pages);
    const rounds: MigrationRound[] = [];
    let bytesSent = 0;
    let pagesSent = 0;
    const send = async (n: number): Promise<number> => {
      let bytes = 0;
      for (let at = 0; at < n; at += MIGRATION.BATCH_PAGES) {
        const count = Math.min(MIGRATION.BATCH_PAGES, n - at);
        const msg = encodePages(list, at, count, u8);
        link.send(msg);
        bytes += msg.length;
        await paced(link, answers);
      }
      return bytes;
    };
    log.start();
    await flush(vm, log);
    let rs = performance.now();
    let n = 0;
    for (let p = 0; p < pages; p++) if (!isZeroPage(u8, p)) list[n++] = p;
    let bytes = await send(n);
    let round: MigrationRound = { round: 0, pages: n, bytes, ms: performance.now() - rs };
    const record = (r: MigrationRound): void => {
      rounds.push(r);
      bytesSent += r.bytes;
      pagesSent += r.pages;
      opts.onProgress?.(r);
      link.send(controlText({ t: "round", n: rounds.length - 1, pages: r.pages }));
    };
    record(round);
    const maxRounds = opts.maxRounds ?? MIGRATE_DEFAULTS.MAX_ROUNDS;
    const target = opts.downtimeMs ?? MIGRATE_DEFAULTS.DOWNTIME_MS;
    let converged = false;
    let note = "";
    let best = Infinity;
    let stalled = 0;
    for (let k = 1; ; k++) {
      // Bytes per ms the link carried in the last round that had enough to measure.
      const rate = round.bytes / Math.max(round.ms, 1);
      rs = performance.now();
      n = log.take(list);
      await flush(vm, log);
      if ((n * MIGRATION.PAGE) / rate <= target) {
        converged = true;
        note = `converged after ${k} round${k === 1 ? "" : "s"}: ${n} pages left, about ${Math.ceil((n * MIGRATION.PAGE) / rate)} ms at ${mibps(rate)}`;
        // These pages go in the final round, with the VM paused.
        break;
      }
      if (n < best) {
        best = n;
        stalled = 0;
      } else stalled++;
      if (k >= maxRounds || stalled >= MIGRATE_DEFAULTS.STALL_ROUNDS) {
        const dirtyRate = (n * MIGRATION.PAGE) / Math.max(round.ms, 1);
        note =
          `did not converge: the guest dirtied ${mibps(dirtyRate)} while the link carried ${mibps(rate)}; ` +
          `stop-and-copy forced after ${k} round${k === 1 ? "" : "s"} (${k >= maxRounds ? `round limit ${maxRounds}` : `no progress for ${stalled} rounds`}) with ${n} pages left`;
        break;
      }
      bytes = await send(n);
      round = { round: k, pages: n, bytes, ms: performance.now() - rs };
      record(round);
    }
    // 4. Before the guest stops here: everything sent so far has arrived (a destination that
    // died meanwhile is found now, while resuming here is still the whole answer).
    const lastRound = rounds.length - 1;
    for (;;) {
      const have = await answers.next(MIGRATE_DEFAULTS.ANSWER_MS);
      if (typeof have === "string") throw new MigrationError(`migration of ${name} to ${to}: ${have}`, "running");
      if (have.t !== "have") throw new MigrationError(`migration of ${name} to ${to}: unexpected answer ${have.t}`, "running");
      if (have.n >= lastRound) break;
    }
    // 5. Stop-and-copy: pause, take the state (after which the owner takes no message that
    // could write RAM), then every page dirtied since the last round, then the state.
    vm.holdIo = true;
    const pauseAt = performance.now();
    await vm.pause();
    paused = true;
    const state = await vm.machineState();
    rs = performance.now();
    // The pages taken when the loop ended are still in `list[0..n)`; add those dirtied since.
    const more = new Uint32Array(pages);
    const m = log.take(more);
    const merged = mergePages(list, n, more, m);
    const zero: number[] = [];
    let nonZero = 0;
    for (let i = 0; i < merged.length; i++) {
      const p = merged[i]!;
      if (isZeroPage(u8, p)) zero.push(p);
      else list[nonZero++] = p;
    }
    bytes = await send(nonZero);
    for (let at = 0; at < zero.length; at += MIGRATION.BATCH_PAGES) {
      const msg = encodeZeros(Uint32Array.from(zero.slice(at, at + MIGRATION.BATCH_PAGES)), 0, Math.min(MIGRATION.BATCH_PAGES, zero.length - at));
      link.send(msg);
      bytes += msg.length;
    }
    if (state.overlay !== null) await blob("overlay", state.overlay);
    // Let a close or failure that is already on its way land before the one step that cannot be taken back.
    await new Promise((r) => setImmediate(r));
    const late = answers.failure();
    if (late !== null) throw new MigrationError(`migration of ${name} to ${to}: ${late}`, "running");
    if (!link.send(controlText({ t: "state", machine: state.machine }))) throw new MigrationError(`migration of ${name} to ${to}: the link closed before the state was sent`, "running");
    stateSent = true;
    const final: MigrationRound = { round: "final", pages: merged.length, bytes, ms: performance.now() - rs };
    rounds.push(final);
    bytesSent += bytes;
    pagesSent += merged.length;
    opts.onProgress?.(final);
    const running = await answers.next(MIGRATE_DEFAULTS.ANSWER_MS);
    if (typeof running === "string" || running.t !== "running") {
      const why = typeof running === "string" ? running : running.t === "fail" ? running.why : `unexpected answer ${running.t}`;
      // Did the destination get the state before it failed? A "fail" says it did not run it.
      if (typeof running !== "string" && running.t === "fail") {
        stateSent = false;
        throw new MigrationError(`${to} could not run VM ${name}: ${why}`, "running");
      }
      throw new MigrationError(
        `migration of ${name} to ${to}: ${why} after its state was sent: ${to} may be running it, so it stays paused here (resume it, or destroy it)`,
        "paused",
      );
    }
    const downtimeMs = performance.now() - pauseAt;
    log.stop();
    link.close("migrated");
    await hv.destroy(name);
    return { vm: name, to, totalMs: performance.now() - t0, downtimeMs, rounds, bytesSent, pagesSent, ramPages: pages, converged, note };
  } catch (e) {
    log.stop();
    if (!stateSent) {
      vm.holdIo = false;
      if (paused && (vm.state as string) === "paused") vm.resume();
      link.send(controlText({ t: "fail", why: e instanceof Error ? e.message : String(e) }));
      link.close("failed");
    }
    if (e instanceof MigrationError) {
      if (!stateSent && e.vmLeft !== "unchanged") throw new MigrationError(`${e.message}; VM ${name} keeps running here`, "running", e.refused);
      throw e;
    }
    throw new MigrationError(`migration of ${name} to ${to} failed: ${e instanceof Error ? e.message : String(e)}${stateSent ? "" : `; VM ${name} keeps running here`}`, stateSent ? "paused" : "running");
  }
}

/** Ask every hart to drop its live store entries and wait until all have (mem/dirty-log.ts). */
async function flush(vm: Vm, log: DirtyLog): Promise<void> {
  const n = vm.requestDirtyFlush();
  const t0 = performance.now();
  while (!log.flushedAll(n, vm.spec.cpus)) {
    const st: string = vm.state;
    if (st !== "running" && st !== "paused") throw new Error(`VM ${vm.name} is ${vm.state}`);
    if (performance.now() - t0 > MIGRATE_DEFAULTS.FLUSH_MS) throw new Error(`a vCPU of ${vm.name} did not answer a dirty-log flush within ${MIGRATE_DEFAULTS.FLUSH_MS} ms`);
    await new Promise((r) => setTimeout(r, 0));
  }
}

/**
 * Wait while the link holds more than HIGH_WATER bytes; throw when it has failed. It looks
 * again every millisecond, not at every turn of the event loop: spinning would take a host
 * core from the guest and, on one host, from the destination (8 MiB drain in a few ms).
 */
async function paced(link: MigrationLink, answers: Answers): Promise<void> {
  for (;;) {
    const why = answers.failure();
    if (why !== null) throw new Error(why);
    if (link.bufferedBytes() <= MIGRATE_DEFAULTS.HIGH_WATER) return;
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** The sorted union of a[0..na) and b[0..nb), both sorted ascending (take() gives them so). */
function mergePages(a: Uint32Array, na: number, b: Uint32Array, nb: number): Uint32Array {
  const out = new Uint32Array(na + nb);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < na || j < nb) {
    const x = i < na ? a[i]! : Infinity;
    const y = j < nb ? b[j]! : Infinity;
    if (x === y) {
      out[k++] = x;
      i++;
      j++;
    } else if (x < y) {
      out[k++] = a[i++]!;
    } else out[k++] = b[j++]!;
  }
  return out.subarray(0, k);
}

/** One memcmp against a zero page: how a 256 MiB scan stays in the tens of milliseconds. */
function isZeroPage(ram: Buffer, p: number): boolean {
  return ram.compare(ZERO_PAGE, 0, MIGRATION.PAGE, p * MIGRATION.PAGE, (p + 1) * MIGRATION.PAGE) === 0;
}

const mibps = (bytesPerMs: number): string => `${((bytesPerMs * 1000) / 2 ** 20).toFixed(1)} MiB/s`;
