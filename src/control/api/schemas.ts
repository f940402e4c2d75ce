/**
 * The JSON schemas of every route (fastify validates requests with them, so a 400 names
 * the field; @fastify/swagger turns them into the OpenAPI document). Types only, no
 * ranges: a value of the right type that is out of range is the action's to refuse (422),
 * with the fleet file's own message.
 */
import { cloneBatchSchema } from "./clone-schemas.js";
import { containerViewSchema } from "./container-schemas.js";

const size = { anyOf: [{ type: "integer" }, { type: "string" }], description: 'bytes, or a size such as "256M"' } as const;
const range = { type: "object", required: ["min", "max"], additionalProperties: false, properties: { min: { type: "integer" }, max: { type: "integer" } } } as const;
const sizeRange = { type: "object", required: ["min", "max"], additionalProperties: false, properties: { min: size, max: size } } as const;

export const autoscaleSchema = {
  $id: "AutoscaleLimits",
  type: "object",
  additionalProperties: false,
  properties: {
    cpu: { type: "object", additionalProperties: false, properties: { weight: range, cap: range, vcpus: range } },
    memory: sizeRange,
  },
} as const;

const entryProperties = {
  name: { type: "string" },
  profile: { type: "string", enum: ["pv", "full"] },
  cpus: { type: "integer" },
  "max-cpus": { type: "integer" },
  mem: size,
  "mem-target": size,
  weight: { type: "integer" },
  cap: { type: "integer" },
  disks: {
    type: "array",
    items: { type: "object", required: ["path"], additionalProperties: false, properties: { path: { type: "string" }, readonly: { type: "boolean" }, snapshot: { type: "boolean" } } },
  },
  nics: {
    type: "array",
    items: { type: "object", required: ["network"], additionalProperties: false, properties: { network: { type: "string" }, mac: { type: "string" } } },
  },
  exec: { type: "string" },
  workload: { type: "string" },
  autoscale: { $ref: "AutoscaleLimits#" },
} as const;

/** One item of a fleet file's `vms:` list. */
export const vmEntrySchema = {
  $id: "VmEntry",
  type: "object",
  required: ["name"],
  additionalProperties: false,
  properties: entryProperties,
} as const;

/** POST /vms: an entry, and whether to start it at once. */
export const createBodySchema = {
  type: "object",
  required: ["name"],
  additionalProperties: false,
  properties: { ...entryProperties, start: { type: "boolean" } },
} as const;

export const patchBodySchema = {
  type: "object",
  minProperties: 1,
  additionalProperties: false,
  properties: {
    weight: { type: "integer" },
    cap: { type: "integer" },
    vcpus: { type: "integer" },
    memTargetBytes: { type: "integer" },
    autoscale: { anyOf: [{ $ref: "AutoscaleLimits#" }, { type: "null" }] },
  },
} as const;

export const fleetBodySchema = {
  type: "object",
  description: "a fleet document (the fleet file's format), as JSON or YAML (content-type application/yaml)",
  required: ["vms"],
  properties: {
    networks: { type: ["object", "null"], additionalProperties: { anyOf: [{ type: "object", properties: { subnet: { type: "string" } } }, { type: "null" }] } },
    vms: { type: "array", items: { $ref: "VmEntry#" } },
  },
} as const;

const snapshotFile = {
  type: "string",
  minLength: 1,
  description: "an absolute path on the daemon's host (no NUL bytes); docs/snapshots.md",
} as const;

/** POST /vms/{name}/snapshot. */
export const snapshotBodySchema = {
  type: "object",
  required: ["file"],
  additionalProperties: false,
  properties: { file: snapshotFile },
} as const;

/** POST /vms/restore. */
export const restoreBodySchema = {
  type: "object",
  required: ["file"],
  additionalProperties: false,
  properties: {
    file: snapshotFile,
    name: { type: "string", description: "the new VM's name (default: the name saved in the file)" },
    network: { type: "string", description: "the network the VM's NIC joins (default: restored); only for a VM with a NIC" },
    clones: { type: "integer", description: "make this many clones (1..64) named NAME-1..NAME-N instead of one restored VM; the answer is a CloneBatch" },
    ip: { type: "string", description: "with clones: the first clone's address (CIDR, such as 10.0.0.10/24); the others get the next ones in its subnet" },
  },
} as const;

export const snapshotResultSchema = {
  $id: "SnapshotResult",
  type: "object",
  required: ["name", "file", "bytes", "ramPages", "ramPresent", "writeMs", "pausedMs"],
  properties: {
    name: { type: "string" },
    file: { type: "string" },
    bytes: { type: "integer", description: "the file's size" },
    ramPages: { type: "integer", description: "guest RAM pages (4 KiB)" },
    ramPresent: { type: "integer", description: "pages written (the rest were zero)" },
    writeMs: { type: "number", description: "the owner thread's time to save and write the file" },
    pausedMs: { type: "number", description: "how long the guest did not run because of the snapshot" },
  },
} as const;

/** POST /networks/{name}/links. */
export const linkBodySchema = {
  type: "object",
  required: ["to"],
  additionalProperties: false,
  properties: {
    to: { type: "string", description: "the far daemon, HOST:PORT (its API's address)" },
    token: { type: "string", description: "the far daemon's token (default: this daemon's --link-token or PARAVM_LINK_TOKEN); never shown back" },
  },
} as const;

const linkCount = { type: "integer" } as const;

/** One link of a network (src/net/links.ts LinkView). */
export const linkViewSchema = {
  $id: "NetworkLink",
  type: "object",
  required: ["network", "direction", "address", "peer", "state", "up", "connects"],
  properties: {
    network: { type: "string" },
    direction: { type: "string", enum: ["out", "in"], description: "out: this daemon dialed it and keeps it up; in: the far daemon did" },
    address: { type: "string", description: "out: the HOST:PORT dialed; in: where the far daemon connects from" },
    peer: { type: ["string", "null"], description: "the far daemon's id (random per daemon process), once it has said it" },
    state: { type: "string", enum: ["up", "connecting", "waiting"], description: "waiting: down, the next attempt is scheduled" },
    up: { type: "boolean" },
    upSince: { type: ["integer", "null"], description: "ms since the epoch" },
    connects: { type: "integer", description: "times it has come up; more than 1: it reconnected" },
    lastError: { type: ["string", "null"], description: "why it last went down or failed to come up" },
    rxFrames: linkCount,
    rxBytes: linkCount,
    txFrames: linkCount,
    txBytes: linkCount,
    drops: { type: "object", properties: { malformed: linkCount, noBuffer: linkCount } },
    badMessages: { type: "integer", description: "messages from the far side that were not frames (also in drops.malformed)" },
  },
} as const;

export const errorSchema = {
  $id: "Error",
  type: "object",
  required: ["error", "message"],
  properties: {
    error: { type: "string", enum: ["bad-request", "unauthorized", "not-found", "conflict", "invalid", "internal", "guest-error", "bad-gateway", "no-capacity"] },
    message: { type: "string" },
    problems: { type: "array", items: { type: "string" } },
    exitStatus: { type: "integer", description: "a container's command that does not exist: 127" },
  },
} as const;

const vcpus = { type: "object", properties: { online: { type: "integer" }, max: { type: "integer" } } } as const;

export const vmViewSchema = {
  $id: "VmView",
  type: "object",
  required: ["name", "state", "profile", "entry", "settings", "createdAt"],
  properties: {
    name: { type: "string" },
    state: { type: "string", enum: ["created", "running", "paused", "stopped", "crashed"] },
    reason: { type: "string" },
    profile: { type: "string", enum: ["pv", "full"] },
    entry: { type: "object", additionalProperties: true },
    settings: {
      type: "object",
      properties: { weight: { type: "integer" }, cap: { type: "integer" }, vcpus, memTargetBytes: { type: "integer" } },
    },
    autoscale: { type: ["object", "null"], additionalProperties: true },
    createdAt: { type: "integer", description: "ms since the epoch" },
    restoredFrom: { type: "string", description: "the snapshot file the VM was restored from; such a VM is not kept across daemon restarts" },
  },
} as const;

const nullableNumber = { type: ["number", "null"] } as const;

export const vmMetricsSchema = {
  $id: "VmMetrics",
  type: "object",
  properties: {
    vm: { type: "string" },
    at: { type: "integer" },
    state: { type: "string" },
    cpuPct: nullableNumber,
    entitlementPct: nullableNumber,
    stealPct: nullableNumber,
    weight: nullableNumber,
    cap: nullableNumber,
    vcpus,
    ramBytes: { type: "integer" },
    balloonBytes: nullableNumber,
    availableBytes: nullableNumber,
    netRxBps: nullableNumber,
    netTxBps: nullableNumber,
    exitsPerS: { type: ["object", "null"], additionalProperties: { type: "number" } },
    diskReadBps: nullableNumber,
    diskWriteBps: nullableNumber,
    mips: nullableNumber,
  },
} as const;

export const eventSchema = {
  $id: "Event",
  type: "object",
  required: ["seq", "at", "type", "vm"],
  additionalProperties: true,
  properties: {
    seq: { type: "integer" },
    at: { type: "integer" },
    type: { type: "string", enum: ["state", "decision", "created", "destroyed", "settings", "snapshot", "clone", "migration", "container"] },
    vm: { type: "string" },
  },
} as const;

export const nameParams = { type: "object", required: ["name"], properties: { name: { type: "string" } } } as const;
export const digits = { type: "string", pattern: "^[0-9]{1,15}$" } as const;

export const SHARED_SCHEMAS = [autoscaleSchema, vmEntrySchema, errorSchema, vmViewSchema, vmMetricsSchema, eventSchema, containerViewSchema, snapshotResultSchema, cloneBatchSchema, linkViewSchema] as const;

/** Error answers a route may give, for the OpenAPI document. */
export function errors(...codes: number[]): Record<number, { $ref: string }> {
  return Object.fromEntries(codes.map((c) => [c, { $ref: "Error#" }]));
}
