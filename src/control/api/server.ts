/**
 * The daemon's HTTP server (fastify): the REST routes and streams of docs/api.md, auth,
 * `/metrics`, `/openapi.json` (generated from the route schemas by @fastify/swagger),
 * `/healthz`, and the dashboard's files at `/`. Every error answers
 * `{error, message, problems?}` with the status of its class (errors.ts).
 */
import fastifySwagger from "@fastify/swagger";
import fastifyWebsocket from "@fastify/websocket";
import Fastify, { type FastifyError, type FastifyInstance } from "fastify";
import { parseDocument } from "yaml";
import { authHook } from "./auth.js";
import { containerRoutes } from "./container-routes.js";
import { VmmError } from "./errors.js";
import { PROMETHEUS_CONTENT_TYPE, prometheusText } from "./prometheus.js";
import { API_PREFIX, restRoutes } from "./routes.js";
import { SHARED_SCHEMAS } from "./schemas.js";
import { DEFAULT_WEB_ROOT, staticFile } from "./static-files.js";
import { migrationRoutes } from "./migration.js";
import { streamRoutes } from "./streams.js";
import type { Vmm } from "./vmm.js";

export interface ServerOptions {
  readonly vmm: Vmm;
  /** Required on every protected route when set (auth.ts). */
  readonly token: string | null;
  readonly version: string;
  /** The dashboard's files (default dist/web/). */
  readonly webRoot?: string;
  /** Largest request body (a fleet document is the biggest). */
  readonly bodyLimit?: number;
}

const BODY_LIMIT_BYTES = 1024 * 1024;
const YAML_TYPES = ["application/yaml", "application/x-yaml", "text/yaml"];

/** A schema failure as one sentence naming each field: "body.weight: must be integer; body.colour: unknown field". */
function validationMessage(err: FastifyError): string {
  const where = err.validationContext ?? "body";
  const parts = (err.validation ?? []).map((v) => {
    const path = `${where}${v.instancePath.replace(/\//g, ".")}`;
    const extra = (v.params as { additionalProperty?: string }).additionalProperty;
    return extra !== undefined ? `${path}.${extra}: unknown field` : `${path}: ${v.message ?? "is not valid"}`;
  });
  return parts.length > 0 ? [...new Set(parts)].join("; ") : err.message;
}

export async function buildServer(o: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: o.bodyLimit ?? BODY_LIMIT_BYTES,
    // Types are checked, never coerced ("5" is not a weight), and an unknown field is refused, not dropped.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: true } },
  });
  for (const s of SHARED_SCHEMAS) app.addSchema(s);
  await app.register(fastifySwagger, {
    openapi: {
      openapi: "3.0.3",
      info: { title: "paravm", version: o.version, description: "The paravm daemon's API (docs/api.md)." },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
      security: [{ bearer: [] }],
    },
    refResolver: { buildLocalReference: (json, _base, _frag, i) => (typeof json.$id === "string" ? json.$id : `def-${i}`) },
  });
  await app.register(fastifyWebsocket, { options: { maxPayload: BODY_LIMIT_BYTES } });
  app.addHook("onRequest", authHook(o.token));

  app.addContentTypeParser(YAML_TYPES, { parseAs: "string" }, (_req, body, done) => {
    const doc = parseDocument(body as string, { uniqueKeys: true });
    if (doc.errors.length > 0) done(new VmmError("bad-request", `the YAML body does not parse: ${doc.errors[0]!.message.split("\n")[0]}`), undefined);
    else done(null, doc.toJS({ maxAliasCount: 100 }));
  });

  app.setErrorHandler((err: FastifyError | VmmError, _req, reply) => {
    if (err instanceof VmmError) return reply.code(err.status).send(err.body());
    if (err.validation) return reply.code(400).send({ error: "bad-request", message: validationMessage(err) });
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) return reply.code(status === 415 ? 415 : 400).send({ error: "bad-request", message: err.message });
    return reply.code(500).send({ error: "internal", message: err.message });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: "not-found", message: `no route ${req.method} ${req.url.split("?")[0]}` }));

  restRoutes(app, o.vmm, o.version);
  containerRoutes(app, o.vmm);
  streamRoutes(app, o.vmm);
  migrationRoutes(app, o.vmm);

  app.get("/metrics", { schema: { summary: "Prometheus text format", response: { 200: { type: "string" } } } }, async (_req, reply) =>
    reply.type(PROMETHEUS_CONTENT_TYPE).send(prometheusText(o.vmm)),
  );
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  app.get("/healthz", { schema: { summary: "liveness (no token needed)", security: [], response: { 200: { type: "object", properties: { ok: { type: "boolean" } } } } } }, async () => ({ ok: true }));

  const webRoot = o.webRoot ?? DEFAULT_WEB_ROOT;
  app.get("/*", { schema: { hide: true } }, async (req, reply) => {
    const path = req.url.split("?")[0]!;
    if (path.startsWith(`${API_PREFIX}/`)) throw new VmmError("not-found", `no route GET ${path}`);
    const f = staticFile(webRoot, path);
    if (!f) throw new VmmError("not-found", `no file ${path}`);
    return reply.type(f.type).send(f.body);
  });
  return app;
}
