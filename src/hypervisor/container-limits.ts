/**
 * Containers (docs/containers.md): everything the host checks before it asks the guest,
 * and the guest runtime's answers read back. Pure functions: no VM needed to test them.
 *
 * Inputs come from the daemon (user input): each is checked whole, with one message that
 * names what is wrong, before anything is sent. Answers come from the guest (hostile): a
 * line that does not parse is an error, never a crash.
 */

export const CONTAINER = {
  /** Names become guest paths and hostnames. */
  NAME_RE: /^[a-z0-9][a-z0-9-]{0,31}$/,
  /** cgroup v2 cpu.weight range (Documentation/admin-guide/cgroup-v2.rst). */
  WEIGHT_MIN: 1,
  WEIGHT_MAX: 10_000,
  /** cpu.max: the period and quota the kernel accepts, in µs (1 ms .. 1 s periods). */
  PERIOD_DEFAULT_US: 100_000,
  PERIOD_MIN_US: 1_000,
  PERIOD_MAX_US: 1_000_000,
  QUOTA_MIN_US: 1_000,
  /** Below this a busybox shell cannot even start in the container. */
  MEM_MIN_BYTES: 4 * 1024 * 1024,
  PIDS_MIN: 1,
  PIDS_MAX: 65_536,
  /** The whole command as sent (the agent's line limit is far above this). */
  CMD_MAX_BYTES: 64 * 1024,
  /** Block devices given to one container (the guest runtime has the same bound). */
  DEVICES_MAX: 8,
  /** A device is a guest path /dev/NAME: no subdirectories, nothing a shell or a path could bend. */
  DEVICE_RE: /^\/dev\/[a-z0-9]{1,32}$/,
} as const;

/**
 * A container's network: "bridge" (an eth0 with an address in CONTAINER_NET.SUBNET, routed by
 * the guest to the other bridge containers; no bridge device, see docs/containers.md),
 * "loopback" (only lo, up) or "none" (lo down).
 */
export type NetMode = "bridge" | "loopback" | "none";
export const NET_MODES: readonly NetMode[] = ["bridge", "loopback", "none"];
/** What run() uses when `net` is not given. */
export const NET_DEFAULT: NetMode = "bridge";

/** net=bridge addressing, as the guest runtime sets it up (its NET_* constants). */
export const CONTAINER_NET = {
  SUBNET: "10.88.0.0/24",
  /** The guest's end of every container's veth, and each container's route to the others. */
  GATEWAY: "10.88.0.1",
  /** An address the runtime hands out: 10.88.0.2 .. 10.88.0.254. */
  ADDRESS_RE: /^10\.88\.0\.(?:[2-9]|[1-9]\d|1\d\d|2[0-4]\d|25[0-4])$/,
} as const;

/** Limits as the user gives them. cpuMax: percent of one vCPU (number or "50%"), "QUOTA/PERIOD" in µs, or "max". */
export interface ContainerLimits {
  readonly cpuWeight?: number;
  readonly cpuMax?: number | string;
  /** Bytes, or a size string: "32M", "32MiB", "1G"; "max" for no limit. */
  readonly memMax?: number | string;
  readonly pidsMax?: number;
}

export interface RunOptions extends ContainerLimits {
  readonly name?: string;
  readonly cmd: readonly string[];
  readonly net?: NetMode;
  /** Guest block devices made available in the container's /dev under the same name (docker's --device), e.g. ["/dev/vda"]. */
  readonly devices?: readonly string[];
}

/** What the checks need to know about the host VM. */
export interface HostShape {
  readonly name: string;
  readonly memBytes: number;
  readonly cpus: number;
}

/** Bad input (usage: true) or a failure in the guest; `status` 127 when the command does not exist. */
export class ContainerError extends Error {
  constructor(
    message: string,
    readonly usage: boolean,
    readonly status?: number,
  ) {
    super(message);
    this.name = "ContainerError";
  }
}

const usage = (msg: string): ContainerError => new ContainerError(msg, true);
const MIB = 1024 * 1024;
const UNITS: Record<string, number> = { "": 1, k: 1024, m: MIB, g: 1024 * MIB };

export function checkName(name: unknown): string {
  if (typeof name !== "string" || !CONTAINER.NAME_RE.test(name)) {
    throw usage(`container name ${JSON.stringify(name)} must be 1-32 characters of [a-z0-9-], not starting with '-'`);
  }
  return name;
}

export function checkCmd(cmd: unknown): string[] {
  if (!Array.isArray(cmd) || cmd.length === 0) throw usage("cmd must be a non-empty list of strings (the program and its arguments)");
  let bytes = 0;
  cmd.forEach((a, i) => {
    if (typeof a !== "string") throw usage(`cmd[${i}] must be a string, not ${typeof a}`);
    if (a.includes("\0")) throw usage(`cmd[${i}] holds a NUL byte`);
    bytes += Buffer.byteLength(a) + 1;
  });
  if ((cmd[0] as string).length === 0) throw usage("cmd[0] (the program) is empty");
  if (bytes > CONTAINER.CMD_MAX_BYTES) throw usage(`cmd is ${bytes} bytes; at most ${CONTAINER.CMD_MAX_BYTES}`);
  return cmd as string[];
}

const fmtMiB = (b: number): string => (b % MIB === 0 ? `${b / MIB} MiB` : `${b} bytes`);

/** Bytes from a number or "32M" / "32MiB" / "32m" / "1G" / "4096k"; "max" stays "max". */
export function parseMem(v: unknown, host: HostShape): number | "max" {
  let bytes: number;
  if (v === "max") return "max";
  if (typeof v === "number") bytes = v;
  else if (typeof v === "string") {
    const m = /^(\d+)\s*([kmg]?)(i?b)?$/i.exec(v.trim());
    if (!m) throw usage(`memMax ${JSON.stringify(v)} is not a size (bytes, or a number with K, M or G, e.g. "32M")`);
    bytes = Number(m[1]) * UNITS[m[2]!.toLowerCase()]!;
  } else throw usage(`memMax must be a number of bytes or a size string, not ${typeof v}`);
  if (!Number.isSafeInteger(bytes)) throw usage(`memMax ${String(v)} is not a whole number of bytes`);
  if (bytes < CONTAINER.MEM_MIN_BYTES) throw usage(`memMax ${fmtMiB(bytes)} is below the minimum of ${fmtMiB(CONTAINER.MEM_MIN_BYTES)}`);
  if (bytes > host.memBytes) throw usage(`memMax ${fmtMiB(bytes)} is more than VM ${host.name}'s RAM (${fmtMiB(host.memBytes)})`);
  return bytes;
}

/** cpu.max as the guest's QUOTA/PERIOD (µs) or "max". A percent is of one vCPU; at most all of the VM's. */
export function parseCpuMax(v: unknown, host: HostShape): string {
  if (v === "max") return "max";
  const most = 100 * host.cpus;
  let pct: number | null = null;
  if (typeof v === "number") pct = v;
  else if (typeof v === "string") {
    const p = /^(\d+(?:\.\d+)?)%$/.exec(v.trim());
    const q = /^(\d+)\/(\d+)$/.exec(v.trim());
    if (p) pct = Number(p[1]);
    else if (q) {
      const quota = Number(q[1]);
      const period = Number(q[2]);
      if (period < CONTAINER.PERIOD_MIN_US || period > CONTAINER.PERIOD_MAX_US) {
        throw usage(`cpuMax period ${period} µs is not in ${CONTAINER.PERIOD_MIN_US}..${CONTAINER.PERIOD_MAX_US}`);
      }
      if (quota < CONTAINER.QUOTA_MIN_US || quota > period * host.cpus) {
        throw usage(`cpuMax quota ${quota} µs is not in ${CONTAINER.QUOTA_MIN_US}..${period * host.cpus} (the period × VM ${host.name}'s ${host.cpus} vCPU(s))`);
      }
      return `${quota}/${period}`;
    } else throw usage(`cpuMax ${JSON.stringify(v)} is not a percent ("50%"), QUOTA/PERIOD in µs ("50000/100000") or "max"`);
  } else throw usage(`cpuMax must be a percent, "QUOTA/PERIOD" or "max", not ${typeof v}`);
  const minPct = (100 * CONTAINER.QUOTA_MIN_US) / CONTAINER.PERIOD_DEFAULT_US;
  if (!Number.isFinite(pct) || pct < minPct || pct > most) {
    throw usage(`cpuMax ${typeof v === "number" ? `${v}%` : String(v)} is not in ${minPct}..${most}% (100% = one vCPU; VM ${host.name} has ${host.cpus})`);
  }
  return `${Math.round((pct / 100) * CONTAINER.PERIOD_DEFAULT_US)}/${CONTAINER.PERIOD_DEFAULT_US}`;
}

function checkInt(what: string, v: unknown, lo: number, hi: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v > hi) {
    throw usage(`${what} ${JSON.stringify(v)} must be a whole number in ${lo}..${hi}`);
  }
  return v;
}

const LIMIT_KEYS = ["cpuWeight", "cpuMax", "memMax", "pidsMax"] as const;
const RUN_KEYS = new Set<string>([...LIMIT_KEYS, "name", "cmd", "net", "devices"]);

/** Limits as the guest's `K=V` words (cgroup file names), all checked first. */
export function limitWords(l: ContainerLimits, host: HostShape, what = "limits"): string[] {
  if (typeof l !== "object" || l === null) throw usage(`${what} must be an object`);
  const allowed: ReadonlySet<string> = what === "run options" ? RUN_KEYS : new Set(LIMIT_KEYS);
  for (const k of Object.keys(l)) {
    if (!allowed.has(k)) throw usage(`${what}: unknown option '${k}' (${[...allowed].join(", ")})`);
  }
  const words: string[] = [];
  if (l.cpuWeight !== undefined) words.push(`cpu.weight=${checkInt("cpuWeight", l.cpuWeight, CONTAINER.WEIGHT_MIN, CONTAINER.WEIGHT_MAX)}`);
  if (l.cpuMax !== undefined) words.push(`cpu.max=${parseCpuMax(l.cpuMax, host)}`);
  if (l.memMax !== undefined) words.push(`memory.max=${parseMem(l.memMax, host)}`);
  if (l.pidsMax !== undefined) words.push(`pids.max=${checkInt("pidsMax", l.pidsMax, CONTAINER.PIDS_MIN, CONTAINER.PIDS_MAX)}`);
  return words;
}

/** The devices option: guest block device paths, each once. Whether each exists is the guest's to say. */
export function checkDevices(v: unknown): string[] {
  if (!Array.isArray(v)) throw usage(`devices must be a list of guest block device paths such as ["/dev/vda"], not ${typeof v}`);
  if (v.length > CONTAINER.DEVICES_MAX) throw usage(`devices lists ${v.length} devices; at most ${CONTAINER.DEVICES_MAX}`);
  const seen = new Set<string>();
  v.forEach((d, i) => {
    if (typeof d !== "string" || !CONTAINER.DEVICE_RE.test(d)) {
      throw usage(`devices[${i}] ${JSON.stringify(d)} must be a path /dev/NAME with NAME of 1-32 characters of [a-z0-9] (e.g. "/dev/vda")`);
    }
    if (seen.has(d)) throw usage(`devices[${i}] ${d} is listed twice`);
    seen.add(d);
  });
  return v as string[];
}

export interface CheckedRun {
  readonly name: string | undefined;
  readonly cmd: string[];
  readonly net: NetMode;
  readonly limits: string[];
  readonly devices: string[];
}

/** Every field of run()'s options, checked before anything happens in the guest. */
export function checkRun(o: RunOptions, host: HostShape): CheckedRun {
  if (typeof o !== "object" || o === null) throw usage("run() takes an options object with at least cmd");
  const net = o.net ?? NET_DEFAULT;
  if (!NET_MODES.includes(net)) throw usage(`net ${JSON.stringify(net)} must be one of ${NET_MODES.join(", ")}`);
  return {
    name: o.name === undefined ? undefined : checkName(o.name),
    cmd: checkCmd(o.cmd),
    net,
    limits: limitWords(o, host, "run options"),
    devices: o.devices === undefined ? [] : checkDevices(o.devices),
  };
}

/** One word for sh: single-quoted, so nothing in it is expanded. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export type ContainerState = "created" | "running" | "exited";

/** One `status` line of the guest runtime, parsed. */
export interface ContainerStatus {
  readonly id: string;
  readonly state: ContainerState;
  readonly exitStatus: number | null;
  /** The container's PID 1 as the guest's root namespace sees it. */
  readonly pid: number | null;
  readonly oomKills: number;
  readonly cpuUsec: number;
  readonly memBytes: number;
  readonly cpuWeight: number | null;
  readonly cpuMax: string;
  readonly memMax: number | "max" | null;
  readonly pidsMax: number | "max" | null;
  /** Its network mode (null before it started). */
  readonly net: NetMode | null;
  /** Its address on the container network (net "bridge", while it runs), else null. */
  readonly ip: string | null;
}

const STATES: readonly string[] = ["created", "running", "exited"];
const uint = (s: string | undefined): number | null => (s !== undefined && /^\d{1,15}$/.test(s) ? Number(s) : null);
const uintOrMax = (s: string | undefined): number | "max" | null => (s === "max" ? "max" : uint(s));

/** Parse `id=… state=… …`; null when the line is not one (a hostile or broken guest). */
export function parseStatus(line: string): ContainerStatus | null {
  const kv = new Map<string, string>();
  for (const w of line.trim().split(/\s+/)) {
    const i = w.indexOf("=");
    if (i > 0) kv.set(w.slice(0, i), w.slice(i + 1));
  }
  const id = kv.get("id");
  const state = kv.get("state");
  if (id === undefined || !CONTAINER.NAME_RE.test(id) || state === undefined || !STATES.includes(state)) return null;
  return {
    id,
    state: state as ContainerState,
    exitStatus: uint(kv.get("exit")),
    pid: uint(kv.get("pid")),
    oomKills: uint(kv.get("oom_kill")) ?? 0,
    cpuUsec: uint(kv.get("cpu_usec")) ?? 0,
    memBytes: uint(kv.get("mem_bytes")) ?? 0,
    cpuWeight: uint(kv.get("cpu.weight")),
    cpuMax: kv.get("cpu.max") ?? "",
    memMax: uintOrMax(kv.get("memory.max")),
    pidsMax: uintOrMax(kv.get("pids.max")),
    net: (NET_MODES as readonly string[]).includes(kv.get("net") ?? "") ? (kv.get("net") as NetMode) : null,
    ip: CONTAINER_NET.ADDRESS_RE.test(kv.get("ip") ?? "") ? kv.get("ip")! : null,
  };
}

/** The `error=…` line of a failed runtime command, or the whole output when there is none. */
export function errorText(output: string): string {
  const line = output.split("\n").find((l) => l.startsWith("error="));
  return (line !== undefined ? line.slice("error=".length) : output.trim()).slice(0, 500) || "no message";
}

export { fmtMiB };
