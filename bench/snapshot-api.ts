/**
 * Snapshot and restore through the daemon, measured as the CLI client sees them: a real
 * `paravm serve` child (free loopback port, token, temporary state dir) and one 64 MiB pv
 * guest counting on its console (`echo n=$i` every 200 ms), as in the tests.
 *
 *   snapshot  POST /vms/src/snapshot while the guest runs, --rounds times (each replaces
 *             the file): the file's size, the RAM pages written, the owner thread's write
 *             time, the guest's pause, and the request's round trip
 *   restore   with the source stopped, POST /vms/restore under a new name, --rounds times:
 *             the request's round trip (the VM is running when it answers), then the time
 *             from the request to the first new count on the restored VM's console (the
 *             guest's first output after it goes on); each restored VM is then removed
 *   clone N   POST /vms/restore with clones: N (addresses from 10.0.0.10/24) once: when
 *             every clone runs and when every one has answered through its agent (the
 *             daemon's figures, from the request's start), the request's round trip, and
 *             when every clone's console has shown a new count
 *
 *   npm run bench:snapshot-api [-- options]   (or: node dist/bench/snapshot-api.js [options])
 *
 * Options:
 *   --rounds N   snapshots and restores (default 5)
 *   --mem MIB    the guest's RAM in MiB (default 64)
 *   --clones N   the clone row's count (default 10; 0 leaves the row out)
 *   --no-json    do not write bench/results/snapshot-api-<date>.json
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { fixed, gitInfo, hostInfo, intOption, printHeaderHelp, runMain, table, writeResults } from "./lib/common.js";
import { ApiClient, parseEndpoint, vmPath } from "../src/control/client/api-client.js";
import { Daemon } from "../src/control/client/daemon-harness.js";
import type { SnapshotResult } from "../src/control/client/format.js";
import type { CloneBatch } from "../src/control/api/clones.js";
import { defaultGuestDir } from "../src/control/args.js";

const MiB = 1024 * 1024;
const BENCH = {
  COUNTER: "i=0; while :; do i=$((i+1)); echo n=$i; usleep 200000; done",
  BOOT_TIMEOUT_MS: 300_000,
  OUTPUT_TIMEOUT_MS: 30_000,
  /** How often the console is read while waiting for a count: the first-output figure is this coarse. */
  POLL_MS: 10,
  /** Counts the source prints before the first snapshot (it has booted and runs its loop). */
  WARM_COUNTS: 5,
  /** The network the source's NIC is on, and the clones' (they are given addresses from CLONE_IP on). */
  NETWORK: "lan",
  CLONE_IP: "10.0.0.10/24",
  /** A clone batch's request may take this long per clone (each is restored, then told its identity through its agent). */
  CLONE_REQUEST_MS: 90_000,
} as const;

interface Options {
  rounds: number;
  memMiB: number;
  clones: number;
  json: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: { rounds: { type: "string" }, mem: { type: "string" }, clones: { type: "string" }, "no-json": { type: "boolean" }, help: { type: "boolean" } },
  });
  if (values.help) printHeaderHelp("snapshot-api.ts");
  return {
    rounds: values.rounds !== undefined ? intOption("rounds", values.rounds, 1) : 5,
    memMiB: values.mem !== undefined ? intOption("mem", values.mem, 16) : 64,
    clones: values.clones !== undefined ? intOption("clones", values.clones, 0) : 10,
    json: values["no-json"] !== true,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const sec = (ms: number): string => fixed(ms / 1000, 2);
const countsIn = (text: string): number[] => [...text.matchAll(/^n=(\d+)\r?$/gm)].map((m) => Number(m[1]));

interface Stats {
  min: number;
  median: number;
  max: number;
}

function stats(xs: readonly number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const r1 = (x: number): number => Math.round(x * 10) / 10;
  return { min: r1(s[0]!), median: r1(s[Math.floor((s.length - 1) / 2)]!), max: r1(s[s.length - 1]!) };
}

/** Poll a VM's console until `ok` holds for its text; the time it took in ms. */
async function waitConsole(client: ApiClient, name: string, ok: (text: string) => boolean, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if (ok(await client.text(vmPath(name, "/console")))) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) throw new Error(`${name}: the console did not show what was awaited within ${timeoutMs / 1000} s`);
    await sleep(BENCH.POLL_MS);
  }
}

/**
 * One batch of `n` clones of `file`: the daemon's per-clone times (running, identity taken),
 * the request's round trip, and when every clone's console has shown a count it printed
 * after the restore.
 */
async function cloneBatch(client: ApiClient, file: string, n: number): Promise<{ count: number; runningMs: Stats; readyMs: Stats; requestMs: number; allCountingMs: number }> {
  const t = performance.now();
  const b = await client.json<CloneBatch>("POST", "/vms/restore", {
    body: { file, name: "clone", network: BENCH.NETWORK, clones: n, ip: BENCH.CLONE_IP },
    timeoutMs: n * BENCH.CLONE_REQUEST_MS,
  });
  const requestMs = performance.now() - t;
  for (const c of b.clones) await waitConsole(client, c.name, (text) => countsIn(text).length >= 1, BENCH.OUTPUT_TIMEOUT_MS);
  const allCountingMs = performance.now() - t;
  for (const c of b.clones) {
    await client.json("POST", vmPath(c.name, "/stop"));
    await client.json("DELETE", vmPath(c.name));
  }
  return { count: n, runningMs: stats(b.clones.map((c) => c.runningMs)), readyMs: stats(b.clones.map((c) => c.readyMs)), requestMs, allCountingMs };
}

async function main(): Promise<number> {
  const opts = parseOptions();
  if (defaultGuestDir() === null) throw new Error("guest images are not built (node scripts/build-guests.mjs)");
  const host = hostInfo();
  console.log(`bench:snapshot-api: one ${opts.memMiB} MiB pv guest counting on its console under paravm serve, ${opts.rounds} rounds, ${opts.clones} clones (${host.cpuCount} host cores)`);
  const daemon = await Daemon.start();
  const client = new ApiClient(parseEndpoint(daemon.url), daemon.token);
  const file = join(daemon.dir, "src.snap");
  try {
    // A NIC, so that its clones can be given addresses (the plain restores join the network "restored").
    await client.json("POST", "/vms", { body: { name: "src", mem: opts.memMiB * MiB, exec: BENCH.COUNTER, nics: [{ network: BENCH.NETWORK }], start: true } });
    const bootMs = await waitConsole(client, "src", (t) => countsIn(t).length >= BENCH.WARM_COUNTS, BENCH.BOOT_TIMEOUT_MS);
    console.log(`  src counting after ${fixed(bootMs / 1000, 1)} s`);

    const snaps: (SnapshotResult & { requestMs: number })[] = [];
    for (let i = 0; i < opts.rounds; i++) {
      const t = performance.now();
      const r = await client.json<SnapshotResult>("POST", vmPath("src", "/snapshot"), { body: { file } });
      snaps.push({ ...r, requestMs: performance.now() - t });
      await sleep(500); // let it print between snapshots
    }
    await client.json("POST", vmPath("src", "/stop"));

    const restores: { requestMs: number; firstOutputMs: number }[] = [];
    for (let i = 0; i < opts.rounds; i++) {
      const name = `r${i}`;
      const t = performance.now();
      await client.json("POST", "/vms/restore", { body: { file, name } });
      const requestMs = performance.now() - t;
      await waitConsole(client, name, (text) => countsIn(text).length >= 1, BENCH.OUTPUT_TIMEOUT_MS);
      restores.push({ requestMs, firstOutputMs: performance.now() - t });
      await client.json("POST", vmPath(name, "/stop"));
      await client.json("DELETE", vmPath(name));
    }

    const clones = opts.clones > 0 ? await cloneBatch(client, file, opts.clones) : null;

    const last = snaps[snaps.length - 1]!;
    const row = (label: string, s: Stats): string[] => [label, fixed(s.min, 1), fixed(s.median, 1), fixed(s.max, 1)];
    const result = {
      snapshot: {
        fileMiB: Math.round((last.bytes / MiB) * 10) / 10,
        ramPages: last.ramPages,
        ramPresent: last.ramPresent,
        writeMs: stats(snaps.map((s) => s.writeMs)),
        pausedMs: stats(snaps.map((s) => s.pausedMs)),
        requestMs: stats(snaps.map((s) => s.requestMs)),
      },
      restore: {
        requestMs: stats(restores.map((r) => r.requestMs)),
        firstOutputMs: stats(restores.map((r) => r.firstOutputMs)),
      },
      ...(clones !== null ? { clones } : {}),
    };
    console.log();
    console.log(`snapshot file: ${fixed(result.snapshot.fileMiB, 1)} MiB, ${result.snapshot.ramPresent} of ${result.snapshot.ramPages} RAM pages written (the rest were zero)`);
    console.log();
    console.log(
      table(
        ["ms", "min", "median", "max"],
        [
          row("snapshot: owner thread writes the file", result.snapshot.writeMs),
          row("snapshot: guest paused", result.snapshot.pausedMs),
          row("snapshot: POST round trip", result.snapshot.requestMs),
          row("restore: POST round trip (VM running)", result.restore.requestMs),
          row(`restore: to the first count on its console (±${BENCH.POLL_MS} ms)`, result.restore.firstOutputMs),
        ],
      ),
    );
    if (clones !== null) {
      const n = clones.count;
      console.log();
      console.log(`clone ${n}: one POST /vms/restore with clones: ${n}, the source stopped (seconds from the request's start)`);
      console.log();
      console.log(
        table(
          ["s", `first of ${n}`, "median", `all ${n}`],
          [
            [`clone ${n}: running`, ...[clones.runningMs.min, clones.runningMs.median, clones.runningMs.max].map(sec)],
            [`clone ${n}: answered through its agent (identity taken)`, ...[clones.readyMs.min, clones.readyMs.median, clones.readyMs.max].map(sec)],
            [`clone ${n}: a new count on its console (each polled in turn)`, "", "", sec(clones.allCountingMs)],
            [`clone ${n}: POST round trip`, "", "", sec(clones.requestMs)],
          ],
        ),
      );
    }
    if (opts.json) {
      const out = writeResults("snapshot-api", { bench: "snapshot-api", date: new Date().toISOString(), host, git: gitInfo(), options: opts, ...result });
      console.log(`\nresults: ${out}`);
    }
    return 0;
  } catch (e) {
    console.log(`bench:snapshot-api: the daemon's log ends:\n${daemon.log().split("\n").slice(-20).join("\n")}`);
    throw e;
  } finally {
    client.close();
    await daemon.stop();
  }
}

runMain("bench:snapshot-api", main);
