/**
 * `paravm vm migrate NAME --to HOST:PORT`: move a running VM to another daemon, live
 * (docs/snapshots.md, "Live migration"). The source daemon does the work; this command
 * asks it, prints each pre-copy round as the daemon's events report it, then the result.
 */
import type { Command } from "commander";
import { EXIT, parseCount, UsageError } from "../args.js";
import type { MigrationResult } from "../../hypervisor/migration/source.js";
import { vmPath, type ApiClient } from "./api-client.js";
import { print, printJson, withClient, type SetStatus } from "./cli-common.js";

/** A migration that does not converge is stopped by its round limit; this bounds how long the request may take. */
const MIGRATE_TIMEOUT_MS = 30 * 60_000;

export interface MigrateFlags {
  to?: string;
  toToken?: string;
  maxRounds?: number;
  downtime?: number;
  host?: string;
  json?: boolean;
}

/** POST /vms/{name}/migrate's body from the flags; the destination's token from --to-token, else PARAVM_TO_TOKEN. */
export function migrateBody(f: MigrateFlags, env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  if (f.to === undefined || f.to === "") throw new UsageError("vm migrate: --to HOST:PORT is required (the destination daemon)");
  const token = f.toToken ?? (env.PARAVM_TO_TOKEN !== undefined && env.PARAVM_TO_TOKEN !== "" ? env.PARAVM_TO_TOKEN : undefined);
  return {
    to: f.to,
    ...(token !== undefined ? { token } : {}),
    ...(f.maxRounds !== undefined ? { maxRounds: f.maxRounds } : {}),
    ...(f.downtime !== undefined ? { downtimeMs: f.downtime } : {}),
  };
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** The result as lines: the headline, then one line per round. */
export function migrationLines(r: MigrationResult): string[] {
  const lines = [
    `${r.vm}: migrated to ${r.to} in ${Math.round(r.totalMs)} ms, downtime ${Math.round(r.downtimeMs)} ms, ${r.rounds.length} rounds, ${mib(r.bytesSent)} sent (${r.pagesSent} pages; RAM ${r.ramPages} pages)`,
    `  ${r.note}`,
  ];
  for (const x of r.rounds) lines.push(`  round ${x.round}: ${x.pages} pages, ${mib(x.bytes)}, ${Math.round(x.ms)} ms`);
  return lines;
}

/** Print the daemon's migration events for `name` while the request runs (best effort: the result is printed anyway). */
async function followRounds(c: ApiClient, name: string): Promise<() => void> {
  try {
    const ws = await c.openSocket(`/events`, (data) => {
      const e = JSON.parse(data.toString()) as { type?: string; vm?: string; phase?: string; round?: number | string; pages?: number; bytes?: number; ms?: number };
      if (e.type === "migration" && e.vm === name && e.phase === "round") {
        process.stderr.write(`${name}: round ${e.round}: ${e.pages} pages (${mib(e.bytes ?? 0)}) in ${e.ms} ms\n`);
      }
    });
    return () => ws.close();
  } catch {
    return () => undefined;
  }
}

export function registerMigrateCommand(vm: Command, setStatus: SetStatus, common: (cmd: Command) => Command): void {
  common(
    vm
      .command("migrate")
      .description("move a running VM to another paravm daemon while it runs (pre-copy of its RAM in rounds, then a short stop-and-copy); its network moves with it when the daemons' networks are linked")
      .argument("<name>", "the VM (1 vCPU)")
      .option("--to <host:port>", "the destination daemon (its --listen address)")
      .option("--to-token <token>", "the destination daemon's token (default: PARAVM_TO_TOKEN)")
      .option("--max-rounds <n>", "pre-copy rounds before the stop-and-copy is forced (default 30)", parseCount)
      .option("--downtime <ms>", "the downtime the last round is sized for, in ms (default 30)", parseCount),
  ).action((name: string, opts: MigrateFlags) =>
    withClient(setStatus, opts.host, async (c) => {
      const body = migrateBody(opts);
      const stop = opts.json ? () => undefined : await followRounds(c, name);
      try {
        const r = await c.json<MigrationResult>("POST", vmPath(name, "/migrate"), { body, timeoutMs: MIGRATE_TIMEOUT_MS });
        if (opts.json) printJson(r);
        else print(migrationLines(r));
      } finally {
        stop();
      }
      return EXIT.OK;
    }),
  );
}
