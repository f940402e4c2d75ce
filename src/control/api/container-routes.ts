/**
 * The container routes of docs/api.md (prefix /api/v1/containers): each turns its request
 * into a `container-*` VmmAction or a read of the container service, nothing more.
 */
import type { FastifyInstance } from "fastify";
import type { ContainerLimits } from "../../hypervisor/containers.js";
import {
  containerExecSchema,
  containerHostQuery,
  containerPatchSchema,
  containerRmQuery,
  containerRunSchema,
  containerStopSchema,
  containerWaitQuery,
} from "./container-schemas.js";
import { CONTAINER_API, type ContainerRunOptions } from "./containers.js";
import { VmmError } from "./errors.js";
import { API_PREFIX } from "./routes.js";
import { errors, nameParams } from "./schemas.js";
import type { Vmm } from "./vmm.js";

type Named = { Params: { name: string } };
const view = { $ref: "ContainerView#" } as const;

export function containerRoutes(app: FastifyInstance, vmm: Vmm): void {
  const p = `${API_PREFIX}/containers`;

  app.get<{ Querystring: { host?: string } }>(p, {
    schema: { summary: "every container (host=VM: those in that VM), statuses as its guest reports them", querystring: containerHostQuery, response: { 200: { type: "array", items: view }, ...errors(404) } },
  }, async (req) => vmm.containers.list(req.query.host));

  app.post<{ Body: ContainerRunOptions & { host?: string } }>(p, {
    schema: {
      summary: "run a container: in VM host (pv, running), or in the default host VM, created and started when needed; a command that does not exist is a 422 with exitStatus 127, and nothing is left behind",
      body: containerRunSchema,
      response: { 201: view, ...errors(400, 404, 409, 422, 502, 507) },
    },
  }, async (req, reply) => {
    const { host, ...options } = req.body;
    const v = await vmm.do({ kind: "container-run", ...(host !== undefined ? { host } : {}), options });
    return reply.code(201).send(v);
  });

  app.get<Named>(`${p}/:name`, { schema: { summary: "one container", params: nameParams, response: { 200: view, ...errors(404) } } }, async (req) => vmm.containers.get(req.params.name));

  app.patch<Named & { Body: ContainerLimits }>(`${p}/:name`, {
    schema: { summary: "change a running container's limits: all applied, or none", params: nameParams, body: containerPatchSchema, response: { 200: view, ...errors(400, 404, 409, 422, 502) } },
  }, async (req) => vmm.do({ kind: "container-set", name: req.params.name, limits: req.body }));

  app.delete<Named & { Querystring: { force?: string } }>(`${p}/:name`, {
    schema: {
      summary: "remove a container and everything it made in its guest (409 while it runs, unless force=true: stopped first); a lost one is forgotten",
      params: nameParams,
      querystring: containerRmQuery,
      response: { 204: { type: "null" }, ...errors(404, 409, 502) },
    },
  }, async (req, reply) => {
    await vmm.do({ kind: "container-rm", name: req.params.name, force: req.query.force === "true" });
    return reply.code(204).send();
  });

  app.post<Named & { Body: { cmd: string[]; timeoutS?: number } }>(`${p}/:name/exec`, {
    schema: {
      summary: "run a command inside a running container: its exit status (127: no such command) and output",
      params: nameParams,
      body: containerExecSchema,
      response: { 200: { type: "object", properties: { status: { type: "integer" }, output: { type: "string" } } }, ...errors(400, 404, 409, 422, 502) },
    },
  }, async (req) => vmm.do({ kind: "container-exec", name: req.params.name, cmd: req.body.cmd, ...(req.body.timeoutS !== undefined ? { timeoutS: req.body.timeoutS } : {}) }));

  app.get<Named>(`${p}/:name/logs`, {
    schema: { summary: "its stdout and stderr so far (text/plain; the guest keeps 1 MiB)", params: nameParams, response: { 200: { type: "string" }, ...errors(404, 409, 502) } },
  }, async (req, reply) => reply.type("text/plain; charset=utf-8").send(await vmm.containers.logs(req.params.name)));

  app.get<Named & { Querystring: { timeoutS?: string } }>(`${p}/:name/wait`, {
    schema: {
      summary: `long poll: the container once it has exited (or been lost), else after timeoutS (default ${CONTAINER_API.WAIT_DEFAULT_S}, at most ${CONTAINER_API.WAIT_MAX_S})`,
      params: nameParams,
      querystring: containerWaitQuery,
      response: { 200: view, ...errors(400, 404, 422) },
    },
  }, async (req) => {
    const t = req.query.timeoutS === undefined ? CONTAINER_API.WAIT_DEFAULT_S : Number(req.query.timeoutS);
    if (t > CONTAINER_API.WAIT_MAX_S) throw new VmmError("invalid", `timeoutS ${t} is more than ${CONTAINER_API.WAIT_MAX_S}`);
    return vmm.containers.wait(req.params.name, t);
  });

  app.post<Named & { Body: { graceS?: number } | undefined }>(`${p}/:name/stop`, {
    schema: { summary: "SIGTERM to its PID 1, SIGKILL to all of it after graceS; an exited container is left as it is", params: nameParams, body: containerStopSchema, response: { 200: view, ...errors(400, 404, 409, 422, 502) } },
  }, async (req) => vmm.do({ kind: "container-stop", name: req.params.name, ...(req.body?.graceS !== undefined ? { graceS: req.body.graceS } : {}) }));
}
