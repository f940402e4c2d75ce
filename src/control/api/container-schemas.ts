/**
 * The JSON schemas of the container routes (docs/api.md, "Containers"). As for VMs, they
 * check types and names of fields only: ranges depend on the host VM (memory.max up to its
 * RAM, cpu.max up to its vCPUs) and are the container library's to refuse (422), with its
 * own message. The list of network modes is the library's too (NET_MODES), so a mode it
 * gains needs no change here.
 */
const sizeOrMax = { anyOf: [{ type: "integer" }, { type: "string" }], description: 'bytes, a size such as "32M", or "max"' } as const;
const cpuMax = {
  anyOf: [{ type: "number" }, { type: "string" }],
  description: 'a percent of one vCPU (150 or "150%"), "QUOTA/PERIOD" in µs, or "max"',
} as const;
const limitProperties = {
  cpuWeight: { type: "integer", description: "cpu.weight, 1..10000 (default 100)" },
  cpuMax,
  memMax: sizeOrMax,
  pidsMax: { type: "integer", description: "pids.max, 1..65536 (default 512)" },
} as const;
const strings = { type: "array", items: { type: "string" } } as const;

/** POST /containers. */
export const containerRunSchema = {
  type: "object",
  required: ["cmd"],
  additionalProperties: false,
  properties: {
    host: { type: "string", description: "the pv VM to run it in (default: the VM `containers`, created and started on demand)" },
    name: { type: "string", description: "[a-z0-9-], 1-32 characters; default c-<8 hex digits>" },
    cmd: { ...strings, minItems: 1, description: "the program and its arguments (no shell in between)" },
    ...limitProperties,
    net: { type: "string", description: "the network mode (docs/containers.md; default loopback)" },
    devices: { ...strings, description: "device paths of the host's guest to give the container" },
  },
} as const;

/** PATCH /containers/{name}. */
export const containerPatchSchema = { type: "object", minProperties: 1, additionalProperties: false, properties: limitProperties } as const;

export const containerExecSchema = {
  type: "object",
  required: ["cmd"],
  additionalProperties: false,
  properties: { cmd: { ...strings, minItems: 1 }, timeoutS: { type: "integer", description: "seconds, 1..3600 (default 60)" } },
} as const;

export const containerStopSchema = {
  // No body at all is the default grace.
  type: ["object", "null"],
  additionalProperties: false,
  properties: { graceS: { type: "integer", description: "seconds between SIGTERM and SIGKILL, 0..600 (default 3)" } },
} as const;

const nullableInt = { type: ["integer", "null"] } as const;
const intOrMax = { anyOf: [{ type: "integer" }, { type: "string", enum: ["max"] }, { type: "null" }] } as const;

export const containerViewSchema = {
  $id: "ContainerView",
  type: "object",
  required: ["name", "host", "state", "cmd", "createdAt"],
  properties: {
    name: { type: "string" },
    host: { type: "string", description: "the pv VM it runs in" },
    state: { type: "string", enum: ["creating", "created", "running", "exited", "lost"] },
    exitStatus: { ...nullableInt, description: "128+N when killed by signal N (137: SIGKILL, the OOM killer's)" },
    pid: { ...nullableInt, description: "its PID 1 as the host's guest sees it" },
    cmd: strings,
    net: { type: "string" },
    devices: strings,
    ip: { type: ["string", "null"] },
    limits: {
      type: "object",
      properties: { cpuWeight: nullableInt, cpuMax: { type: ["string", "null"], description: '"QUOTA/PERIOD" or "max/PERIOD" as cpu.max holds it' }, memMax: intOrMax, pidsMax: intOrMax },
    },
    usage: {
      type: "object",
      properties: { cpuSeconds: { type: ["number", "null"], description: "cpu.stat usage_usec" }, memBytes: { ...nullableInt, description: "memory.current" } },
    },
    oomKills: { type: "integer" },
    oomMessage: { type: ["string", "null"] },
    lostReason: { type: ["string", "null"] },
    createdAt: { type: "integer", description: "ms since the epoch" },
    updatedAt: { ...nullableInt, description: "when its host's guest last reported its status (ms since the epoch)" },
    hostStarted: { type: "boolean", description: "POST only: the host VM was created or started for this run" },
  },
} as const;

export const containerHostQuery = { type: "object", additionalProperties: false, properties: { host: { type: "string" } } } as const;
export const containerWaitQuery = {
  type: "object",
  additionalProperties: false,
  properties: { timeoutS: { type: "string", pattern: "^[0-9]{1,4}$", description: "seconds, 0..600 (default 30)" } },
} as const;
export const containerRmQuery = { type: "object", additionalProperties: false, properties: { force: { type: "string", enum: ["true", "false"] } } } as const;
