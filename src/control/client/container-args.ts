/**
 * `paravm container …` arguments: each option's form and the ranges that do not depend on
 * the host VM are checked here (a usage error, exit 2, naming the option), with the
 * container library's own constants, so the CLI and the daemon cannot disagree. What
 * depends on the host (memory.max up to its RAM, --cpus up to its vCPUs) is the daemon's
 * to refuse. Everything is turned into the API's bodies (docs/api.md, "Containers").
 */
import { InvalidArgumentError } from "commander";
import { checkName, CONTAINER, ContainerError, NET_MODES } from "../../hypervisor/container-limits.js";
import { UsageError } from "../args.js";

export const CONTAINER_EXIT = {
  /** The daemon refused or failed (docker's 125), so it cannot be mistaken for the command's own status. */
  REFUSED: 125,
  /** There is no such command in the container (sh's and docker's 127). */
  NO_SUCH_COMMAND: 127,
  /** 128 + SIGKILL (9): killed, by `stop` after its grace or by the OOM killer. */
  KILLED: 137,
} as const;

const MIB = 1024 * 1024;
const UNITS: Record<string, number> = { "": 1, k: 1024, m: MIB, g: 1024 * MIB };
/** docker's --cpus in vCPUs; the smallest the cgroup takes is one quota of the default period. */
const CPUS_MIN = CONTAINER.QUOTA_MIN_US / CONTAINER.PERIOD_DEFAULT_US;
const PERCENT = 100;

function wholeIn(text: string, lo: number, hi: number): number {
  if (!/^\s*\d{1,9}\s*$/.test(text) || Number(text) < lo || Number(text) > hi) throw new InvalidArgumentError(`must be a whole number in ${lo}..${hi}.`);
  return Number(text);
}

/** `--cpus X` as docker means it (1.5 = 150% of one vCPU), as the API's cpuMax ("150%"). */
export function parseCpus(text: string): string {
  if (!/^\s*\d+(\.\d+)?\s*$/.test(text)) throw new InvalidArgumentError("expected a number of vCPUs such as 0.5 or 1.5.");
  const cpus = Number(text);
  if (cpus < CPUS_MIN) throw new InvalidArgumentError(`must be at least ${CPUS_MIN} (1% of one vCPU).`);
  return `${Number((cpus * PERCENT).toFixed(2))}%`;
}

export function parseCpuWeight(text: string): number {
  return wholeIn(text, CONTAINER.WEIGHT_MIN, CONTAINER.WEIGHT_MAX);
}

export function parsePidsMax(text: string): number {
  return wholeIn(text, CONTAINER.PIDS_MIN, CONTAINER.PIDS_MAX);
}

/** `--mem-max`: bytes, K/M/G (powers of 1024, "MiB" too), or max; at least the library's minimum. */
export function parseMemMax(text: string): number | "max" {
  if (text.trim() === "max") return "max";
  const m = /^\s*(\d+)\s*([kmg]?)(i?b)?\s*$/i.exec(text);
  if (m === null) throw new InvalidArgumentError('expected a size such as 32M, 1G or 65536, or "max".');
  const bytes = Number(m[1]) * UNITS[m[2]!.toLowerCase()]!;
  if (!Number.isSafeInteger(bytes)) throw new InvalidArgumentError("not a whole number of bytes.");
  if (bytes < CONTAINER.MEM_MIN_BYTES) throw new InvalidArgumentError(`below the minimum of ${CONTAINER.MEM_MIN_BYTES / MIB} MiB (a shell cannot start in less).`);
  return bytes;
}

export function parseNet(text: string): string {
  if (!(NET_MODES as readonly string[]).includes(text)) throw new InvalidArgumentError(`must be one of ${NET_MODES.join(", ")}.`);
  return text;
}

export function parseName(text: string): string {
  try {
    return checkName(text);
  } catch (e) {
    if (e instanceof ContainerError) throw new InvalidArgumentError("must be 1-32 characters of [a-z0-9-], not starting with '-'.");
    throw e;
  }
}

/** Whole seconds in 0..max (`--grace`, `--timeout`). */
export const parseSeconds =
  (lo: number, hi: number) =>
  (text: string): number =>
    wholeIn(text, lo, hi);

/** --device PATH, repeated. */
export const collectDevice = (value: string, prev: string[] | undefined): string[] => {
  if (!value.startsWith("/")) throw new InvalidArgumentError("expected an absolute path such as /dev/fuse.");
  return [...(prev ?? []), value];
};

/**
 * `--host VM` names the container host here; the daemon's endpoint is --daemon (or
 * PARAVM_HOST). A URL given to --host out of habit from `paravm vm` is refused, not taken
 * for a VM name.
 */
export function checkHostVm(host: string | undefined): string | undefined {
  if (host !== undefined && (host.includes("://") || host.startsWith("unix:"))) {
    throw new UsageError(`--host '${host}': in \`paravm container\` --host names the container host VM; give the daemon with --daemon URL (or PARAVM_HOST)`);
  }
  return host;
}

export interface LimitFlags {
  cpus?: string;
  cpuWeight?: number;
  memMax?: number | "max";
  pidsMax?: number;
}

export interface RunFlags extends LimitFlags {
  host?: string;
  name?: string;
  net?: string;
  device?: string[];
}

function limits(f: LimitFlags): Record<string, unknown> {
  return {
    ...(f.cpus !== undefined ? { cpuMax: f.cpus } : {}),
    ...(f.cpuWeight !== undefined ? { cpuWeight: f.cpuWeight } : {}),
    ...(f.memMax !== undefined ? { memMax: f.memMax } : {}),
    ...(f.pidsMax !== undefined ? { pidsMax: f.pidsMax } : {}),
  };
}

/** POST /containers's body for `container run … -- CMD…`. */
export function runBody(cmd: readonly string[], f: RunFlags): Record<string, unknown> {
  if (cmd.length === 0) throw new UsageError("container run: no command (give it after --: paravm container run -- sh -c 'echo hi')");
  const host = checkHostVm(f.host);
  return {
    ...(host !== undefined ? { host } : {}),
    ...(f.name !== undefined ? { name: f.name } : {}),
    cmd,
    ...limits(f),
    ...(f.net !== undefined ? { net: f.net } : {}),
    ...(f.device !== undefined ? { devices: f.device } : {}),
  };
}

/** PATCH /containers/{name}'s body for `container set`; a usage error when it would change nothing. */
export function setBody(f: LimitFlags): Record<string, unknown> {
  const body = limits(f);
  if (Object.keys(body).length === 0) throw new UsageError("container set: nothing to change (give --cpus, --cpu-weight, --mem-max or --pids-max)");
  return body;
}
