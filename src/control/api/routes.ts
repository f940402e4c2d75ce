import { statSync } from "node:fs";
/**
 * The REST routes of docs/api.md (prefix /api/v1): each parses its request (the schema
 * has checked its shape) into a VmmAction or a read of the Vmm, nothing more.
 */
import type { FastifyInstance } from "fastify";
import type { AutoscaleLimits } from "../../hypervisor/autoscale-limits.js";
import { VmmError } from "./errors.js";
import { networkLinkRoutes, networkList } from "./network-links.js";
import { createBodySchema, errors, fleetBodySchema, nameParams, patchBodySchema, restoreBodySchema, snapshotBodySchema } from "./schemas.js";
import type { LifecycleKind, Vmm } from "./vmm.js";

export const API_PREFIX = "/api/v1";

type Named = { Params: { name: string } };
const LIFECYCLE: readonly Exclude<LifecycleKind, "destroy">[] = ["start", "stop", "pause", "resume", "reboot"];
const vmView = { $ref: "VmView#" } as const;

export function restRoutes(app: FastifyInstance, vmm: Vmm, version: string): void {
  const p = API_PREFIX;

  app.get(`${p}/host`, {
    schema: {
      summary: "the host: version, cores, memory budget, VM count",
      response: {
        200: {
          type: "object",
          properties: {
            version: { type: "string" },
            pcpus: { type: "integer" },
            memory: { type: "object", properties: { budgetBytes: { type: "integer" }, freeBytes: { type: "integer" }, source: { type: "string" } } },
            vms: { type: "integer" },
          },
        },
      },
    },
  }, async () => ({
    version,
    pcpus: vmm.hv.scheduler.pcpus,
    memory: { budgetBytes: vmm.hv.memory.budgetBytes, freeBytes: vmm.hv.memory.freeBytes, source: vmm.hv.memorySource },
    vms: vmm.records.size,
  }));

  app.get(`${p}/vms`, { schema: { summary: "every VM", response: { 200: { type: "array", items: vmView } } } }, async () => vmm.list());

  app.post<{ Body: Record<string, unknown> & { start?: boolean } }>(`${p}/vms`, {
    schema: { summary: "create a VM from a fleet-file VM entry (start: true to start it)", body: createBodySchema, response: { 201: vmView, ...errors(400, 409, 422, 507) } },
  }, async (req, reply) => {
    const { start, ...vm } = req.body;
    const view = await vmm.do({ kind: "create", vm, ...(start !== undefined ? { start } : {}) });
    return reply.code(201).send(view);
  });

  app.get<Named>(`${p}/vms/:name`, { schema: { summary: "one VM", params: nameParams, response: { 200: vmView, ...errors(404) } } }, async (req) => vmm.view(req.params.name));

  app.delete<Named>(`${p}/vms/:name`, { schema: { summary: "destroy a stopped VM", params: nameParams, response: { 204: { type: "null" }, ...errors(404, 409) } } }, async (req, reply) => {
    await vmm.do({ kind: "destroy", name: req.params.name });
    return reply.code(204).send();
  });

  for (const kind of LIFECYCLE) {
    app.post<Named>(`${p}/vms/:name/${kind}`, { schema: { summary: `${kind} a VM`, params: nameParams, response: { 200: vmView, ...errors(404, 409, 422, 507) } } }, async (req) =>
      vmm.do({ kind, name: req.params.name }),
    );
  }

  app.patch<Named & { Body: { weight?: number; cap?: number; vcpus?: number; memTargetBytes?: number; autoscale?: AutoscaleLimits | null } }>(`${p}/vms/:name`, {
    schema: { summary: "change live settings: all applied, or none", params: nameParams, body: patchBodySchema, response: { 200: vmView, ...errors(400, 404, 409, 422, 507) } },
  }, async (req) => vmm.do({ kind: "set", name: req.params.name, ...req.body }));

  app.post<Named & { Body: { file: string } }>(`${p}/vms/:name/snapshot`, {
    schema: {
      summary: "write a running or paused VM's snapshot to a file (the guest is paused for the write); docs/snapshots.md",
      params: nameParams,
      body: snapshotBodySchema,
      response: { 200: { $ref: "SnapshotResult#" }, ...errors(400, 404, 409, 422) },
    },
  }, async (req) => vmm.do({ kind: "snapshot", name: req.params.name, file: req.body.file }));

  app.post<{ Body: { file: string; name?: string; network?: string; clones?: number; ip?: string } }>(`${p}/vms/restore`, {
    schema: {
      summary: "continue the VM a snapshot file holds, as a new VM (running), or as N clones (clones: N); they are not kept across daemon restarts",
      body: restoreBodySchema,
      response: { 201: { anyOf: [vmView, { $ref: "CloneBatch#" }] }, ...errors(400, 409, 422, 507) },
    },
  }, async (req, reply) => {
    const { file, name, network, clones, ip } = req.body;
    const view = await vmm.do({
      kind: "restore",
      file,
      ...(name !== undefined ? { name } : {}),
      ...(network !== undefined ? { network } : {}),
      ...(clones !== undefined ? { clones } : {}),
      ...(ip !== undefined ? { ip } : {}),
    });
    return reply.code(201).send(view);
  });

  app.get<Named & { Querystring: { bytes?: string } }>(`${p}/vms/:name/metrics`, {
    schema: { summary: "the VM's latest metrics sample", params: nameParams, response: { 200: { $ref: "VmMetrics#" }, ...errors(404) } },
  }, async (req) => vmm.latestMetrics(req.params.name));

  app.get(`${p}/networks`, {
    schema: {
      summary: "networks, their switch ports' counters, and their links to other daemons",
      response: {
        200: {
          type: "array",
          items: {
            type: "object",
            additionalProperties: true,
            properties: {
              name: { type: "string" },
              subnet: { type: "string" },
              ports: { type: "array", items: { type: "object", additionalProperties: true } },
              links: { type: "array", items: { $ref: "NetworkLink#" } },
            },
          },
        },
      },
    },
  }, async () => networkList(vmm));
  networkLinkRoutes(app, vmm, p);

  app.get(`${p}/disks`, {
    schema: {
      summary: "disk images attached to VMs: path, size, how each VM opens it, and that VM's state",
      response: {
        200: {
          type: "array",
          items: {
            type: "object",
            properties: {
              path: { type: "string" },
              sizeBytes: { type: ["integer", "null"] },
              mode: { type: "string", enum: ["read-write", "readonly", "snapshot"] },
              vm: { type: "string" },
              state: { type: "string" },
            },
          },
        },
      },
    },
  }, async () =>
    [...vmm.records.values()].flatMap((r) =>
      (r.entry.disks ?? []).map((d) => {
        let sizeBytes: number | null = null;
        try {
          sizeBytes = statSync(d.path).size;
        } catch {
          // A disk removed behind the daemon's back: listed, with no size (starting the VM says why).
        }
        return { path: d.path, sizeBytes, mode: d.snapshot ? "snapshot" : d.readonly ? "readonly" : "read-write", vm: r.entry.name, state: vmm.view(r.entry.name).state };
      }),
    ),
  );

  app.get(`${p}/fleet`, {
    schema: { summary: "the fleet document that would recreate these VMs", response: { 200: { type: "object", properties: { networks: { type: "object", additionalProperties: true }, vms: { type: "array", items: { type: "object", additionalProperties: true } } } } } },
  }, async () => vmm.fleet());

  app.post<{ Body: unknown; Querystring: { start?: string } }>(`${p}/fleet`, {
    schema: {
      summary: "apply a fleet document: create what is new, leave what is equal, refuse changes to a running VM's machine; start the fleet's VMs (start=false: do not)",
      body: fleetBodySchema,
      querystring: { type: "object", additionalProperties: false, properties: { start: { type: "string", enum: ["true", "false"] } } },
      response: {
        200: { type: "object", properties: Object.fromEntries(["created", "replaced", "updated", "unchanged", "started"].map((k) => [k, { type: "array", items: { type: "string" } }])) },
        ...errors(400, 409, 422, 507),
      },
    },
  }, async (req) => vmm.do({ kind: "fleet-apply", fleet: req.body, start: req.query.start !== "false" }));

  // Unknown /api paths answer in the API's error shape.
  app.all(`${p}/*`, { schema: { hide: true } }, async (req) => {
    throw new VmmError("not-found", `no route ${req.method} ${req.url.split("?")[0]}`);
  });
}
