/**
 * Command-line specs for VMs and their network interfaces (`paravm run --net`,
 * `paravm multi --vm`). Both are comma-separated `key=value` lists; a rate limit is a
 * key whose value is itself `bw=…,ops=…` (see parseRateLimit): the parts `bw=`, `ops=`,
 * `bw_burst=`, `ops_burst=` after a rate key belong to it. In a `--vm` spec `exec=` takes
 * the rest of the spec, commas included, so it must come last.
 *
 *     --net NAME[,mac=xx:xx:xx:xx:xx:xx][,rate=bw=1M,ops=1000]
 *     --vm name=a,net=lan0[,mac=…][,mem=256M][,cpus=1][,disk=FILE][,net-rate=…][,disk-rate=…],exec=CMD
 */
import { parseMac } from "../devices/virtio/net/mac.js";

/** A bad spec: the message is one line, for `paravm: error: …`. */
export class SpecError extends Error {
  override readonly name = "SpecError";
}

const RATE_PARTS = /^(bw|ops|bw_burst|ops_burst)=/;

/** Split "k=v,k=v" into ordered pairs, gluing rate parts onto the rate key before them. */
function splitSpec(spec: string, what: string, rateKeys: readonly string[], restKey?: string): [string, string][] {
  const out: [string, string][] = [];
  const parts = spec.split(",");
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const eq = part.indexOf("=");
    const key = eq < 0 ? part.trim() : part.slice(0, eq).trim();
    if (restKey !== undefined && key === restKey && eq >= 0) {
      out.push([key, parts.slice(i).join(",").slice(eq + 1)]);
      break;
    }
    const last = out[out.length - 1];
    if (RATE_PARTS.test(part.trim()) && last && rateKeys.includes(last[0])) {
      last[1] += `,${part.trim()}`;
      continue;
    }
    if (eq < 0) throw new SpecError(`${what} "${spec}": "${part}" is not key=value`);
    out.push([key, part.slice(eq + 1).trim()]);
  }
  return out;
}

export interface NetSpec {
  readonly network: string;
  readonly mac?: Uint8Array;
  /** parseRateLimit text, applied to each direction. */
  readonly rate?: string;
}

/** A VM or network name: letters, digits, '_', '.', '-', at most 32 (fleet files use it too). */
export const VM_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
const NAME = VM_NAME;

/** `--net NAME[,mac=…][,rate=…]`. */
export function parseNetSpec(spec: string): NetSpec {
  const [first, ...rest] = spec.split(",");
  const network = (first ?? "").trim();
  if (!NAME.test(network)) throw new SpecError(`--net "${spec}": network name must be letters, digits, '_', '.', '-' (at most 32)`);
  let mac: Uint8Array | undefined;
  let rate: string | undefined;
  // A bare network name has no options (regression: "--net lan" was refused as `"" is not key=value`).
  for (const [k, v] of rest.length === 0 ? [] : splitSpec(rest.join(","), "--net", ["rate"])) {
    if (k === "" && v === "") continue;
    if (k === "mac") mac = macOf(v, "--net");
    else if (k === "rate") rate = v;
    else throw new SpecError(`--net "${spec}": unknown key "${k}" (known: mac, rate)`);
  }
  return { network, ...(mac ? { mac } : {}), ...(rate !== undefined ? { rate } : {}) };
}

function macOf(v: string, what: string): Uint8Array {
  let mac: Uint8Array;
  try {
    mac = parseMac(v);
  } catch (e) {
    throw new SpecError(`${what}: ${(e as Error).message}`);
  }
  if ((mac[0]! & 1) !== 0) throw new SpecError(`${what}: MAC ${v} is multicast`);
  return mac;
}

export interface VmSpec {
  readonly name: string;
  readonly net?: string;
  readonly mac?: Uint8Array;
  readonly netRate?: string;
  /** Unparsed: the caller parses sizes and counts with its own option parsers. */
  readonly mem?: string;
  /** `mem-target=`: pv balloon target at boot (unparsed, as mem). */
  readonly memTarget?: string;
  readonly cpus?: string;
  /** Harts present, of which cpus= are online at boot (pv). */
  readonly maxCpus?: string;
  readonly disk?: string;
  readonly diskRate?: string;
  readonly exec?: string;
  /** "pv" (default) or "full". */
  readonly profile?: "pv" | "full";
  /** Credit scheduler: weight 1..65535 (default 256), cap in % of one host core (0 = none). */
  readonly weight?: number;
  readonly cap?: number;
}

const VM_KEYS = ["name", "profile", "net", "mac", "mem", "mem-target", "cpus", "max-cpus", "weight", "cap", "disk", "net-rate", "disk-rate", "exec"] as const;

/** A whole number in [min, max] for key `k` of VM `name`. */
function intKey(name: string, k: string, v: string, min: number, max: number): number {
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new SpecError(`--vm ${name}: ${k}=${v}: expected a whole number from ${min} to ${max}`);
  return Number(v);
}

/** One `--vm` spec. */
export function parseVmSpec(spec: string): VmSpec {
  const seen = new Map<string, string>();
  for (const [k, v] of splitSpec(spec, "--vm", ["net-rate", "disk-rate"], "exec")) {
    if (!(VM_KEYS as readonly string[]).includes(k)) {
      throw new SpecError(`--vm "${spec}": unknown key "${k}" (known: ${VM_KEYS.join(", ")})`);
    }
    if (seen.has(k)) throw new SpecError(`--vm "${spec}": "${k}" given twice`);
    seen.set(k, v);
  }
  const name = seen.get("name");
  if (name === undefined) throw new SpecError(`--vm "${spec}": missing name=`);
  if (!NAME.test(name)) throw new SpecError(`--vm "${spec}": name must be letters, digits, '_', '.', '-' (at most 32)`);
  const net = seen.get("net");
  if (net !== undefined && !NAME.test(net)) throw new SpecError(`--vm ${name}: bad network name "${net}"`);
  const g = (k: string): string | undefined => seen.get(k);
  if (g("mac") !== undefined && net === undefined) throw new SpecError(`--vm ${name}: mac= without net=`);
  if (g("net-rate") !== undefined && net === undefined) throw new SpecError(`--vm ${name}: net-rate= without net=`);
  if (g("disk-rate") !== undefined && g("disk") === undefined) throw new SpecError(`--vm ${name}: disk-rate= without disk=`);
  if (g("exec") !== undefined && g("exec")!.trim() === "") throw new SpecError(`--vm ${name}: empty exec=`);
  const profile = g("profile");
  if (profile !== undefined && profile !== "pv" && profile !== "full") {
    throw new SpecError(`--vm ${name}: profile=${profile}: expected pv or full`);
  }
  if (profile === "full" && g("net-rate") !== undefined) throw new SpecError(`--vm ${name}: net-rate= is pv only (the e1000 has no rate limiter)`);
  if (profile === "full" && g("disk-rate") !== undefined) throw new SpecError(`--vm ${name}: disk-rate= is pv only (the ATA disk has no rate limiter)`);
  return {
    name,
    ...(profile !== undefined ? { profile } : {}),
    ...(net !== undefined ? { net } : {}),
    ...(g("mac") !== undefined ? { mac: macOf(g("mac")!, `--vm ${name}`) } : {}),
    ...(g("net-rate") !== undefined ? { netRate: g("net-rate")! } : {}),
    ...(g("mem") !== undefined ? { mem: g("mem")! } : {}),
    ...(g("mem-target") !== undefined ? { memTarget: g("mem-target")! } : {}),
    ...(g("cpus") !== undefined ? { cpus: g("cpus")! } : {}),
    ...(g("max-cpus") !== undefined ? { maxCpus: g("max-cpus")! } : {}),
    ...(g("disk") !== undefined ? { disk: g("disk")! } : {}),
    ...(g("disk-rate") !== undefined ? { diskRate: g("disk-rate")! } : {}),
    ...(g("exec") !== undefined ? { exec: g("exec")! } : {}),
    ...(g("weight") !== undefined ? { weight: intKey(name, "weight", g("weight")!, 1, 65535) } : {}),
    ...(g("cap") !== undefined ? { cap: intKey(name, "cap", g("cap")!, 0, 25600) } : {}),
  };
}

/** Several `--vm` specs (for `paravm multi`): names distinct, each with exec=. */
export function parseVmSpecs(specs: readonly string[]): VmSpec[] {
  if (specs.length === 0) throw new SpecError("multi: give at least one --vm");
  const vms = specs.map(parseVmSpec);
  const names = new Set<string>();
  for (const v of vms) {
    if (names.has(v.name)) throw new SpecError(`--vm: duplicate name "${v.name}"`);
    names.add(v.name);
    if (v.exec === undefined) throw new SpecError(`--vm ${v.name}: missing exec= (the command the VM runs; it must come last)`);
  }
  return vms;
}
