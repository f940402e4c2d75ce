/**
 * The routes that are also WebSocket streams (docs/api.md, "WebSocket"): a plain GET
 * answers with what is there now, an upgrade streams it.
 *
 * - `/api/v1/vms/{name}/console`: the scroll-back, then the console's bytes as they come
 *   (binary frames); what a viewer sends is typed into the guest. Any number of viewers.
 * - `/api/v1/events`: one JSON Event per frame.
 * - `/api/v1/metrics`: `{at, vms: [VmMetrics]}` once a second.
 */
import type { FastifyInstance } from "fastify";
import type { WebSocket } from "ws";
import { asVmmError } from "./errors.js";
import type { VmmEvent } from "./events.js";
import { API_PREFIX } from "./routes.js";
import { digits, errors, nameParams } from "./schemas.js";
import type { MetricsFrame } from "./telemetry.js";
import type { Vmm } from "./vmm.js";

/** The close code for an unknown VM: 4000 + the HTTP status, as WebSocket apps do. */
export const WS_CLOSE = { NOT_FOUND: 4404, GOING_AWAY: 1001 } as const;

/** Past this much unsent data a viewer is too slow to follow: it is dropped, not buffered without end. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

function sendTo(ws: WebSocket, data: string | Buffer | Uint8Array): void {
  if (ws.readyState !== ws.OPEN) return;
  if (ws.bufferedAmount > MAX_BUFFERED_BYTES) ws.close(WS_CLOSE.GOING_AWAY, "viewer too slow");
  else ws.send(data);
}

export function streamRoutes(app: FastifyInstance, vmm: Vmm): void {
  const sockets = new Set<WebSocket>();
  const track = (ws: WebSocket): void => {
    sockets.add(ws);
    ws.on("close", () => sockets.delete(ws));
  };
  app.addHook("onClose", async () => {
    for (const ws of sockets) ws.close(WS_CLOSE.GOING_AWAY, "the daemon is stopping");
  });

  app.route<{ Params: { name: string }; Querystring: { bytes?: string; token?: string } }>({
    method: "GET",
    url: `${API_PREFIX}/vms/:name/console`,
    schema: {
      summary: "the console's scroll-back (text/plain; bytes=N: the last N); a WebSocket here is the console, both ways",
      params: nameParams,
      querystring: { type: "object", properties: { bytes: digits, token: { type: "string" } } },
      response: { 200: { type: "string" }, ...errors(404) },
    },
    handler: async (req, reply) => {
      const bytes = req.query.bytes !== undefined ? Number(req.query.bytes) : undefined;
      return reply.type("text/plain; charset=utf-8").send(vmm.consoleTail(req.params.name, bytes));
    },
    wsHandler: (ws, req) => {
      const name = req.params.name;
      if (!vmm.records.has(name)) {
        ws.close(WS_CLOSE.NOT_FOUND, `no VM named "${name}"`);
        return;
      }
      track(ws);
      const tail = vmm.consoleTail(name);
      if (tail.length > 0) ws.send(tail);
      const onOutput = (vm: string, bytes: Uint8Array): void => {
        if (vm === name) sendTo(ws, bytes);
      };
      vmm.on("console", onOutput);
      ws.on("close", () => vmm.off("console", onOutput));
      ws.on("message", (data: Buffer | ArrayBuffer | Buffer[]) => {
        const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
        vmm.do({ kind: "console-input", name, data: bytes }).catch((e: unknown) => {
          // Typing into a stopped VM, or one destroyed meanwhile: say so on the console, keep the socket.
          sendTo(ws, `\r\n[paravm: ${asVmmError(e).message}]\r\n`);
        });
      });
    },
  });

  app.route<{ Querystring: { since?: string; token?: string } }>({
    method: "GET",
    url: `${API_PREFIX}/events`,
    schema: {
      summary: "the event log (the last 1000) after seq `since`; a WebSocket here streams every new event",
      querystring: { type: "object", properties: { since: digits, token: { type: "string" } } },
      response: { 200: { type: "array", items: { $ref: "Event#" } } },
    },
    handler: async (req) => vmm.events.since(req.query.since !== undefined ? Number(req.query.since) : 0),
    wsHandler: (ws, req) => {
      track(ws);
      if (req.query.since !== undefined) for (const e of vmm.events.since(Number(req.query.since))) ws.send(JSON.stringify(e));
      const onEvent = (e: VmmEvent): void => sendTo(ws, JSON.stringify(e));
      vmm.events.on("event", onEvent);
      ws.on("close", () => vmm.events.off("event", onEvent));
    },
  });

  app.route({
    method: "GET",
    url: `${API_PREFIX}/metrics`,
    schema: {
      summary: "the latest metrics of every VM; a WebSocket here sends them once a second",
      response: { 200: { type: "object", properties: { at: { type: "integer" }, vms: { type: "array", items: { $ref: "VmMetrics#" } } } } },
    },
    handler: async () => vmm.telemetry.latestFrame(),
    wsHandler: (ws) => {
      track(ws);
      const onMetrics = (f: MetricsFrame): void => sendTo(ws, JSON.stringify(f));
      vmm.on("metrics", onMetrics);
      ws.on("close", () => vmm.off("metrics", onMetrics));
    },
  });
}
