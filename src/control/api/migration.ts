/**
 * Live migration through the daemon (docs/snapshots.md, "Live migration"; docs/api.md):
 *
 *   POST /api/v1/vms/{name}/migrate {to: "HOST:PORT", token?, maxRounds?, downtimeMs?}
 *        this daemon dials the daemon at HOST:PORT and moves the running VM there; the
 *        answer is the migration's figures (hypervisor/migration/source.ts MigrationResult)
 *   GET  /api/v1/migrations/incoming   (WebSocket only)
 *        where a source daemon delivers a VM (the protocol: hypervisor/migration/wire.ts)
 *
 * The destination's token authenticates the source (the same bearer token as any API
 * call: whoever may create VMs there may send one). The VM's entry travels with it, so the
 * destination keeps it as its own (in vms.json) unless it was a restored VM (its machine
 * came from a snapshot file: such VMs are not kept, as on the source).
 *
 * A migration runs outside the daemon's action queue (it lasts seconds): the VM is marked
 * as migrating and every other action on it is refused with 409 until it ends.
 */
import type { FastifyInstance } from "fastify";
import { FLEET_DEFAULTS } from "../../hypervisor/fleet-run.js";
import { acceptMigration, type Offer } from "../../hypervisor/migration/dest.js";
import { MigrationError, migrateOut, type MigrationResult } from "../../hypervisor/migration/source.js";
import { bootAddress, takenAddresses } from "./address-book.js";
import { networkedVms } from "./clones.js";
import { checkEntry, entryConflicts, type VmEntry } from "./entry.js";
import { problemsMessage, VmmError } from "./errors.js";
import { API_PREFIX } from "./routes.js";
import { errors, nameParams } from "./schemas.js";
import { entryOf, SNAPSHOT_API } from "./snapshots.js";
import type { VmmAction, VmRecord, Vmm } from "./vmm.js";
import { dial, wsLink } from "./ws-link.js";

export const MIGRATION_API = {
  INCOMING: `${API_PREFIX}/migrations/incoming`,
  /** How long the source waits for the destination's WebSocket to open. */
  DIAL_MS: 10_000,
  MAX_ROUNDS: 1000,
  MAX_DOWNTIME_MS: 10_000,
} as const;

/**
 * Fault injection for tests (docs/snapshots.md): a destination daemon started with this
 * variable set to N exits abruptly once N pages of an incoming VM have arrived, as a host
 * that dies mid-transfer would.
 */
export const FAULT_EXIT_AFTER_PAGES_ENV = "PARAVM_FAULT_MIGRATION_EXIT_AFTER_PAGES";
const FAULT_EXIT_STATUS = 70;

function faultAfterPages(): ((n: number) => void) | undefined {
  const n = Number(process.env[FAULT_EXIT_AFTER_PAGES_ENV] ?? "");
  if (!Number.isInteger(n) || n <= 0) return undefined;
  return (received) => {
    if (received >= n) {
      process.stderr.write(`paravm serve: ${FAULT_EXIT_AFTER_PAGES_ENV}=${n}: exiting mid-migration (fault injection)\n`);
      process.exit(FAULT_EXIT_STATUS);
    }
  };
}

export type MigrateAction = Extract<VmmAction, { kind: "migrate" }>;

/** What the source sends along with the VM (wire.ts offer.meta). */
interface MigrationMeta {
  readonly entry: VmEntry;
  readonly restoredFrom: string | null;
  readonly createdAt: number;
}

/** `to` as the API takes it ("HOST:PORT", IPv6 in brackets), or a 400 saying why not. */
export function parseDestination(to: unknown): { host: string; port: number; url: string } {
  if (typeof to !== "string") throw new VmmError("bad-request", `to: must be a string "HOST:PORT", got ${to === null ? "null" : typeof to}`);
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(to);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || host === undefined || port < 1 || port > 65535) throw new VmmError("bad-request", `to: ${JSON.stringify(to)} is not HOST:PORT (127.0.0.1:8471, [::1]:8471)`);
  return { host, port, url: `ws://${m[1] !== undefined ? `[${host}]` : host}:${port}${MIGRATION_API.INCOMING}` };
}

/** The `migrate` action: checked, then the VM moves; on success its record is gone from here. */
export async function migrateVm(vmm: Vmm, a: MigrateAction, version: string): Promise<MigrationResult> {
  const dest = parseDestination(a.to);
  const to = a.to as string;
  const rec = vmm.record(a.name);
  if (rec.migrating) throw new VmmError("conflict", `VM ${a.name} is being migrated already`);
  if (rec.vm.state !== "running") throw new VmmError("conflict", `VM ${a.name} is ${vmm.view(a.name).state}: only a running VM is migrated`);
  rec.migrating = true;
  try {
    let ws;
    try {
      ws = await dial(dest.url, a.token, MIGRATION_API.DIAL_MS);
    } catch (e) {
      throw new VmmError("bad-gateway", `cannot reach the daemon at ${to}: ${(e as Error).message}`);
    }
    const meta: MigrationMeta = { entry: rec.entry, restoredFrom: rec.restoredFrom, createdAt: rec.createdAt };
    vmm.events.add("migration", a.name, { phase: "start", to: to });
    let r: MigrationResult;
    try {
      r = await migrateOut(vmm.hv, a.name, wsLink(ws), {
        to: to,
        paravm: version,
        meta,
        ...(a.maxRounds !== undefined ? { maxRounds: a.maxRounds } : {}),
        ...(a.downtimeMs !== undefined ? { downtimeMs: a.downtimeMs } : {}),
        onProgress: (p) => vmm.events.add("migration", a.name, { phase: "round", to: to, round: p.round, pages: p.pages, bytes: p.bytes, ms: Math.round(p.ms) }),
      });
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      vmm.events.add("migration", a.name, { phase: "failed", to: to, message, ...(e instanceof MigrationError ? { vmLeft: e.vmLeft } : {}) });
      if (e instanceof MigrationError && e.refused) throw new VmmError("conflict", message);
      throw new VmmError("bad-gateway", message);
    }
    vmm.records.delete(a.name);
    vmm.events.add("migration", a.name, { phase: "done", to: to, downtimeMs: Math.round(r.downtimeMs), totalMs: Math.round(r.totalMs), converged: r.converged });
    vmm.events.add("destroyed", a.name, { reason: `migrated to ${to}` });
    vmm.persist();
    return r;
  } finally {
    rec.migrating = false;
  }
}

/** The destination's checks of an offer beyond the hypervisor's: the entry, its name and conflicts. Returns the entry to keep. */
export function checkIncomingOffer(vmm: Vmm, offer: Offer): { entry: VmEntry; restoredFrom: string | null; createdAt: number; network: string | undefined } {
  const info = offer.info;
  const meta = offer.meta as Partial<MigrationMeta> | undefined;
  const network = info.net ? (offer.network ?? SNAPSHOT_API.RESTORE_NETWORK) : undefined;
  const restoredFrom = typeof meta?.restoredFrom === "string" ? meta.restoredFrom : null;
  // The source's entry when it checks here (the VM is then kept like any other), else one that describes it.
  const raw = restoredFrom === null && meta?.entry !== undefined ? meta.entry : entryOf(info, info.name, network);
  const c = checkEntry(raw, { networks: { ...vmm.networks, ...(network !== undefined && !(network in vmm.networks) ? { [network]: FLEET_DEFAULTS.SUBNET } : {}) }, baseDir: vmm.baseDir });
  if (!c.ok) throw new Error(problemsMessage(`VM ${info.name} does not check here`, c.problems));
  if (c.vm.entry.name !== info.name) throw new Error(`the entry names VM ${c.vm.entry.name}, the machine ${info.name}`);
  if (vmm.records.has(info.name)) throw new Error(`a VM named "${info.name}" exists here already`);
  const conflicts = entryConflicts(c.vm.entry, vmm.entries());
  if (conflicts.length > 0) throw new Error(problemsMessage(`VM ${info.name} conflicts with a VM here`, conflicts));
  // Its guest keeps the address it has: one a VM here holds on the same network would answer twice.
  const address = network !== undefined ? bootAddress(info.bootargs) : null;
  if (address !== null) {
    const held = takenAddresses([address], network!, vmm.addresses.holders(networkedVms(vmm)));
    if (held.length > 0) throw new Error(problemsMessage(`VM ${info.name}'s address conflicts with a VM here`, held));
  }
  return { entry: c.vm.entry, restoredFrom, createdAt: typeof meta?.createdAt === "number" ? meta.createdAt : Date.now(), network };
}

const migrateBodySchema = {
  type: "object",
  required: ["to"],
  additionalProperties: false,
  properties: {
    to: { type: "string", minLength: 1, description: "the destination daemon's HOST:PORT" },
    token: { type: "string", description: "the destination daemon's token (when it has one)" },
    maxRounds: { type: "integer", minimum: 1, maximum: MIGRATION_API.MAX_ROUNDS, description: "pre-copy rounds before the stop-and-copy is forced (default 30)" },
    downtimeMs: { type: "integer", minimum: 1, maximum: MIGRATION_API.MAX_DOWNTIME_MS, description: "the downtime the last round is sized for (default 30)" },
  },
} as const;

const roundSchema = {
  type: "object",
  properties: { round: { type: ["integer", "string"] }, pages: { type: "integer" }, bytes: { type: "integer" }, ms: { type: "number" } },
} as const;

const migrationResultSchema = {
  type: "object",
  required: ["vm", "to", "totalMs", "downtimeMs", "rounds", "bytesSent", "pagesSent", "ramPages", "converged", "note"],
  properties: {
    vm: { type: "string" },
    to: { type: "string" },
    totalMs: { type: "number" },
    downtimeMs: { type: "number", description: "from the pause here to the destination's running" },
    rounds: { type: "array", items: roundSchema },
    bytesSent: { type: "integer" },
    pagesSent: { type: "integer" },
    ramPages: { type: "integer" },
    converged: { type: "boolean", description: "false: the stop-and-copy was forced (see note)" },
    note: { type: "string" },
  },
} as const;

/** POST /vms/{name}/migrate, and GET /migrations/incoming: a WebSocket on which one VM arrives. */
export function migrationRoutes(app: FastifyInstance, vmm: Vmm): void {
  app.post<{ Params: { name: string }; Body: { to: string; token?: string; maxRounds?: number; downtimeMs?: number } }>(`${API_PREFIX}/vms/:name/migrate`, {
    schema: {
      summary: "move a running VM to another paravm daemon, live (pre-copy, then a short stop-and-copy); docs/snapshots.md",
      params: nameParams,
      body: migrateBodySchema,
      response: { 200: migrationResultSchema, ...errors(400, 404, 409, 502) },
    },
  }, async (req) => vmm.do({ kind: "migrate", name: req.params.name, ...req.body }));

  app.route({
    method: "GET",
    url: MIGRATION_API.INCOMING,
    schema: { summary: "where a source daemon delivers a VM being migrated here (WebSocket only; the protocol is in docs/snapshots.md)" },
    handler: async () => {
      throw new VmmError("bad-request", "this is a WebSocket endpoint for paravm daemons migrating a VM here (paravm vm migrate NAME --to HOST:PORT)");
    },
    wsHandler: (ws, req) => {
      const from = `${req.socket.remoteAddress ?? "?"}:${req.socket.remotePort ?? "?"}`;
      let rec: VmRecord | null = null;
      let made: string | null = null;
      let kept: ReturnType<typeof checkIncomingOffer> | null = null;
      const fault = faultAfterPages();
      acceptMigration(vmm.hv, wsLink(ws), {
        from,
        ...(fault ? { onPages: fault } : {}),
        check: (offer) => {
          try {
            kept = checkIncomingOffer(vmm, offer);
            return null;
          } catch (e) {
            return e instanceof Error ? e.message : String(e);
          }
        },
        onCreate: (vm, offer) => {
          const k = kept!;
          if (k.network !== undefined && !(k.network in vmm.networks)) {
            vmm.networks[k.network] = FLEET_DEFAULTS.SUBNET;
            made = k.network;
          }
          rec = vmm.adopt(vm, k.entry, k.createdAt, k.restoredFrom);
          vmm.events.add("created", vm.name, { entry: k.entry, migratedFrom: from, paravm: offer.paravm });
        },
      }).then(
        (r) => {
          const held = rec as VmRecord | null;
          if (held) void held.vm.wait().then((o) => (held.lastRun = o));
          vmm.events.add("migration", r.vm.name, { phase: "arrived", from, pages: r.pages, bytes: r.bytes, ms: Math.round(r.ms) });
          vmm.persist();
        },
        (e: unknown) => {
          const held = rec as VmRecord | null;
          if (held) {
            vmm.records.delete(held.vm.name);
            vmm.events.add("destroyed", held.vm.name, { reason: e instanceof Error ? e.message : String(e) });
          }
          if (made !== null && ![...vmm.records.values()].some((r) => r.entry.nics?.some((n) => n.network === made))) delete vmm.networks[made];
        },
      );
    },
  });
}
