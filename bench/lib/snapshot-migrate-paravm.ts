/**
 * bench:snapshot's live migrations on paravm: two real `paravm serve` processes on
 * loopback (src/control/client/daemon-harness.ts), one pv VM per RAM size and workload
 * booted on the first, then moved A→B, B→A, … once per run with
 * `POST /vms/{name}/migrate`. The figures are the daemon's MigrationResult; the guest's
 * view is its console counter, read on both daemons' console WebSockets with the host
 * time each line arrived (a plain `GET …/console` has the lines but not when they came).
 */
import os from "node:os";
import type WebSocket from "ws";
import type { MigrationResult } from "../../src/hypervisor/migration/source.js";
import { ApiClient, parseEndpoint } from "../../src/control/client/api-client.js";
import { Daemon } from "../../src/control/client/daemon-harness.js";
import type { Stamped } from "./console-proc.js";
import {
  churnPlan,
  consoleGap,
  countArrivals,
  describeSample,
  dirtyRateMiBps,
  lapRateMiBps,
  counting,
  guestScript,
  switchCommand,
  workloadReady,
  type MigrateLoad,
  type MigrationCell,
  type MigrationSample,
} from "./snapshot-migrate.js";

const P = {
  BOOT_MS: 300_000,
  POLL_MS: 50,
  /** A migration that does not converge stops at its round limit: minutes at most. */
  MIGRATE_MS: 600_000,
  /** How often the destination is asked whether the incoming VM exists yet (its console is joined then). */
  JOIN_POLL_MS: 5,
  /** Counts at the destination that close a run: the one after the move and enough to read the pace there. */
  COUNTS_AFTER: 5,
  /** Counts seen live on the source's stream before the move starts: the pace before it. */
  COUNTS_BEFORE: 3,
  AFTER_MS: 20_000,
} as const;

interface Side {
  readonly d: Daemon;
  readonly c: ApiClient;
  readonly addr: string;
}

const sideOf = (d: Daemon): Side => ({ d, c: new ApiClient(parseEndpoint(d.url), d.token), addr: d.url.replace(/^https?:\/\//, "") });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Two daemons for every paravm migration of the run. */
export class DaemonPair {
  private constructor(readonly a: Side, readonly b: Side) {}
  static async start(): Promise<DaemonPair> {
    const a = await Daemon.start();
    try {
      return new DaemonPair(sideOf(a), sideOf(await Daemon.start()));
    } catch (e) {
      await a.stop();
      throw e;
    }
  }
  async stop(): Promise<void> {
    for (const s of [this.a, this.b]) {
      s.c.close();
      await s.d.stop();
    }
  }
}

/** A console WebSocket whose frames are kept with their host arrival time. */
async function follow(s: Side, name: string, out: Stamped[], skipFirst: boolean): Promise<WebSocket> {
  let first = skipFirst;
  return s.c.openSocket(`/vms/${name}/console`, (data) => {
    // The daemon's first frame on a VM that has printed is its scroll-back: old lines, all stamped now.
    if (first) {
      first = false;
      return;
    }
    out.push({ atMs: performance.now(), text: Buffer.from(data as Buffer).toString("latin1") });
  });
}

/**
 * Join the destination's console as soon as the incoming VM exists there (it is built
 * before its pages come). Resolves with the socket, and with why its stream cannot be
 * trusted if it cannot: joined after the VM ran, its first frame would be a scroll-back
 * stamped late.
 */
async function joinIncoming(s: Side, name: string, out: Stamped[], done: () => boolean): Promise<{ ws: WebSocket | null; why: string | null }> {
  const state = async (): Promise<string | null> => (await s.c.json<{ state: string }>("GET", `/vms/${name}`).catch(() => null))?.state ?? null;
  while (!done()) {
    // The console of a VM that does not exist yet would open and close at once (4404): ask first.
    const before = await state();
    if (before === null) {
      await sleep(P.JOIN_POLL_MS);
      continue;
    }
    if (before === "running") break;
    const ws = await follow(s, name, out, false);
    // Not running after the socket opened: it printed nothing before, so every frame is live.
    if ((await state()) !== "running") return { ws, why: null };
    return { ws, why: "the destination's console was joined as the VM started there" };
  }
  return { ws: null, why: "the destination's console was not joined before the VM ran there" };
}

/** Wait until the VM's console text satisfies `ok`; resolves with that text. */
async function waitFor(s: Side, name: string, ok: (text: string) => boolean, what: string, ms: number): Promise<string> {
  const t0 = performance.now();
  for (;;) {
    const text = await s.c.text(`/vms/${name}/console`);
    if (ok(text)) return text;
    if (performance.now() - t0 > ms) throw new Error(`VM ${name}: ${what} did not show on its console within ${ms / 1000} s: ${JSON.stringify(text.slice(-200))}`);
    await sleep(P.POLL_MS);
  }
}

/** One move from `from` to `to`, with both consoles followed. */
async function migrateOnce(from: Side, to: Side, name: string, load: MigrateLoad, run: number): Promise<MigrationSample> {
  // The console here holds what the guest printed since it arrived (or booted): its laps give the churn's rate.
  const before = await waitFor(from, name, (t) => workloadReady(load, t), `its ${load} workload`, P.BOOT_MS);
  const wroteMiBps = load === "shell" ? null : lapRateMiBps([{ atMs: 0, text: before }], churnPlan(null).lapBytes);
  const src: Stamped[] = [];
  const dst: Stamped[] = [];
  const loadAvg = os.loadavg()[0]!;
  const srcWs = await follow(from, name, src, true);
  let finished = false;
  try {
    const t0 = performance.now();
    // A few live counts before the move: the pace at the source, and nothing from the scroll-back.
    while (countArrivals(src).length < P.COUNTS_BEFORE && performance.now() - t0 < P.AFTER_MS) await sleep(P.POLL_MS);
    const joining = joinIncoming(to, name, dst, () => finished);
    let r: MigrationResult | null = null;
    let failed: unknown = null;
    try {
      r = await from.c.json<MigrationResult>("POST", `/vms/${name}/migrate`, { body: { to: to.addr, token: to.d.token }, timeoutMs: P.MIGRATE_MS });
    } catch (e) {
      failed = e;
    }
    finished = true;
    const joined = await joining;
    if (r === null) {
      joined.ws?.close();
      throw failed;
    }
    try {
      const t0 = performance.now();
      // The counter's next lines at the destination: the one after the move and enough to read the pace there.
      while (countArrivals(dst).length < P.COUNTS_AFTER && performance.now() - t0 < P.AFTER_MS) await sleep(P.POLL_MS);
    } finally {
      joined.ws?.close();
    }
    const gap = consoleGap(src, dst);
    const round0 = r.rounds.find((x) => x.round === 0);
    return {
      run,
      totalMs: r.totalMs,
      downtimeMs: r.downtimeMs,
      rounds: r.rounds.length,
      mibSent: r.bytesSent / 2 ** 20,
      round0MiB: (round0?.bytes ?? NaN) / 2 ** 20,
      linkMiBps: round0 !== undefined && round0.ms > 0 ? round0.bytes / 2 ** 20 / (round0.ms / 1000) : null,
      converged: r.converged,
      note: r.note,
      dirtyMiBps: dirtyRateMiBps(r.rounds),
      wroteMiBps,
      gap: joined.why === null ? gap : { ...gap, crossMs: null, gapMs: null, gapAfter: null, paceAfterMs: null, problem: joined.why },
      loadAvg,
      detail: { rounds: r.rounds },
    };
  } finally {
    srcWs.close();
  }
}

/** Type a line into the VM's console (its shell reads it: switchCommand). */
async function typeLine(s: Side, name: string, line: string): Promise<void> {
  const ws = await s.c.openSocket(`/vms/${name}/console`, () => undefined);
  await new Promise<void>((resolve, reject) => ws.send(`${line}\n`, (e) => (e ? reject(e) : resolve())));
  ws.close();
}

/**
 * One VM of `mib` MiB booted on A, then for each workload in turn (typed on its console,
 * no new boot) `runs` moves, A→B then back; failures are kept as sentences.
 */
export async function paravmMigrations(
  pair: DaemonPair,
  mib: number,
  loads: readonly MigrateLoad[],
  opts: { runs: number; dirtyMiBps: number; log: (line: string) => void },
): Promise<MigrationCell[]> {
  const name = `mig-${mib}`;
  const cells: MigrationCell[] = [];
  let from = pair.a;
  let to = pair.b;
  await from.c.json("POST", "/vms", { body: { name, mem: `${mib}M`, exec: guestScript(), start: true } });
  try {
    await waitFor(from, name, counting, "the counter", P.BOOT_MS);
    for (const load of loads) {
      const samples: MigrationSample[] = [];
      const failures: string[] = [];
      try {
        await typeLine(from, name, switchCommand(load, opts.dirtyMiBps));
      } catch (e) {
        failures.push(`could not start the ${load} workload: ${(e as Error).message}`);
      }
      for (let k = 1; k <= opts.runs && failures.length === 0; k++) {
        try {
          const s = await migrateOnce(from, to, name, load, k);
          samples.push(s);
          opts.log(`paravm ${mib} MiB ${load} run ${k}: ${describeSample(s)}`);
          [from, to] = [to, from];
        } catch (e) {
          failures.push((e as Error).message);
          opts.log(`paravm ${mib} MiB ${load} run ${k}: ${(e as Error).message}`);
          // Where is the VM now? A failed move leaves it running at the source (or says otherwise).
          if ((await to.c.json("GET", `/vms/${name}`).catch(() => null)) !== null) [from, to] = [to, from];
        }
      }
      cells.push({ who: "paravm", mib, load, samples, failures });
    }
  } finally {
    for (const s of [pair.a, pair.b]) {
      await s.c.json("POST", `/vms/${name}/stop`).catch(() => undefined);
      await s.c.json("DELETE", `/vms/${name}`).catch(() => undefined);
    }
  }
  return cells;
}
