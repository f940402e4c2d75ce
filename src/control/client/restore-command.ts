/**
 * `paravm vm restore FILE [--name NEW] [--net NETWORK]` and, with `--clones N [--ip CIDR]`,
 * N clones of the snapshot through the daemon (docs/snapshots.md): the request is
 * `POST /vms/restore`; for clones the command follows the daemon's event stream while the
 * request runs and prints one line per clone as it comes up (the daemon makes them one
 * after another, several seconds each), then one line for the batch.
 */
import { isAbsolute, resolve } from "node:path";
import type { Command } from "commander";
import type WebSocket from "ws";
import type { CloneBatch, CloneResult } from "../api/clones.js";
import { EXIT, UsageError } from "../args.js";
import type { ApiClient } from "./api-client.js";
import { print, printJson } from "./cli-common.js";
import { vmLine, type VmView } from "./format.js";
import { parseWholeNumber } from "./vm-args.js";

export const RESTORE_CLIENT = {
  /**
   * What one clone may take before the request is given up: the daemon's restore (well
   * under a second) plus the clone's agent telling it its identity (the daemon allows 60 s;
   * the first request after a restore runs on a cold code cache, ~5 s measured).
   */
  PER_CLONE_MS: 90_000,
  /** Beyond the clones: reading and checking the file, the answer. */
  SLACK_MS: 30_000,
} as const;

/** A snapshot FILE made absolute against here: the daemon shares this machine, not this working directory. */
export function snapshotPath(file: string, cwd: string = process.cwd()): string {
  if (file === "") throw new UsageError("FILE is empty: give the snapshot file's path");
  return isAbsolute(file) ? file : resolve(cwd, file);
}

export interface RestoreFlags {
  name?: string;
  net?: string;
  clones?: number;
  ip?: string;
}

/** POST /vms/restore's body for `vm restore FILE [--name NEW] [--net NETWORK] [--clones N] [--ip CIDR]`: only what was given. */
export function restoreBody(file: string, f: RestoreFlags, cwd: string = process.cwd()): Record<string, string | number> {
  return {
    file: snapshotPath(file, cwd),
    ...(f.name !== undefined ? { name: f.name } : {}),
    ...(f.net !== undefined ? { network: f.net } : {}),
    ...(f.clones !== undefined ? { clones: f.clones } : {}),
    ...(f.ip !== undefined ? { ip: f.ip } : {}),
  };
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

/** One clone as it comes up: "web-1: clone 1 of 3 running, 10.0.0.10/24 on lan, MAC 92:aa:…, running after 0.58 s, ready after 6.25 s". */
export function cloneLine(c: CloneResult, index: number, of: number, network: string | null): string {
  const where = c.ip !== null ? `, ${c.ip}${network !== null ? ` on ${network}` : ""}` : network !== null ? `, on ${network} (no address given)` : "";
  const mac = c.mac !== null ? `, MAC ${c.mac}` : "";
  return `${c.name}: clone ${index} of ${of} running${where}${mac}, running after ${seconds(c.runningMs)}, ready after ${seconds(c.readyMs)}`;
}

/** The batch in one line, after its clones' lines. */
export function cloneSummary(b: CloneBatch): string {
  const n = b.clones.length;
  return `${n} ${n === 1 ? "clone" : "clones"} of ${b.file} running and ready in ${seconds(b.totalMs)}`;
}

/** Is this event the coming up of a clone of this request's batch (same file, count, and prefix when one was given)? */
export function isOurClone(e: Record<string, unknown>, body: Record<string, unknown>): boolean {
  return e.type === "clone" && e.file === body.file && e.of === body.clones && (body.name === undefined || e.prefix === body.name);
}

/**
 * Clones: the request, with the clones' lines printed from the event stream as they come
 * (without --json); any the stream missed are printed from the answer.
 */
async function restoreClones(c: ApiClient, body: Record<string, string | number>, json: boolean): Promise<number> {
  const shown = new Set<string>();
  let ws: WebSocket | null = null;
  if (!json) {
    try {
      ws = await c.openSocket("/events", (data) => {
        let e: Record<string, unknown>;
        try {
          e = JSON.parse(data.toString()) as Record<string, unknown>;
        } catch {
          return;
        }
        if (!isOurClone(e, body) || typeof e.vm !== "string" || shown.has(e.vm)) return;
        shown.add(e.vm);
        print(cloneLine(e as unknown as CloneResult, Number(e.index), Number(e.of), typeof e.network === "string" ? e.network : null));
      });
    } catch {
      // No stream: the lines come from the answer instead, all at the end.
    }
  }
  const n = Number(body.clones);
  let b: CloneBatch;
  try {
    b = await c.json<CloneBatch>("POST", "/vms/restore", { body, timeoutMs: n * RESTORE_CLIENT.PER_CLONE_MS + RESTORE_CLIENT.SLACK_MS });
  } finally {
    ws?.close();
  }
  if (json) {
    printJson(b);
    return EXIT.OK;
  }
  b.clones.forEach((x, i) => {
    if (!shown.has(x.name)) print(cloneLine(x, i + 1, b.clones.length, b.network));
  });
  print(cloneSummary(b));
  return EXIT.OK;
}

/** `vm restore` on the `vm` command: `common` adds --host and --json, `run` runs the action with a client. */
export function registerRestoreCommand(
  vm: Command,
  common: (cmd: Command) => Command,
  run: (opts: { host?: string }, f: (c: ApiClient) => Promise<number>) => void,
): void {
  common(
    vm
      .command("restore")
      .description(
        "continue the VM saved in FILE as a new VM of the daemon, running, or as N clones with --clones (each its own name, MAC and address); they live until the daemon stops (they are not kept across restarts)",
      )
      .argument("<file>", "a snapshot file (from `vm snapshot` or `paravm run --snapshot-to`), relative to here")
      .option("--name <new>", "the new VM's name (default: the name saved in the file); with --clones the prefix: NEW-1..NEW-N")
      .option("--net <network>", "the daemon's network its NIC joins (default: restored)")
      .option("--clones <n>", "make N clones of the snapshot (1..64), all or none", parseWholeNumber)
      .option("--ip <cidr>", "with --clones: the first clone's address, such as 10.0.0.10/24; the others get the next ones in its subnet"),
  ).action((file: string, opts: RestoreFlags & { host?: string; json?: boolean }) =>
    run(opts, async (c) => {
      const body = restoreBody(file, opts);
      if (opts.clones !== undefined) return restoreClones(c, body, opts.json === true);
      const v = await c.json<VmView>("POST", "/vms/restore", { body });
      if (opts.json) printJson(v);
      else print(vmLine(v));
      return EXIT.OK;
    }),
  );
}
