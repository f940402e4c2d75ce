/**
 * Network links through the API (docs/api.md, "Network links"): the actions that add and
 * remove a link (part of the VmmAction union), the routes for them, the listing of
 * networks with their ports and links, and the WebSocket another daemon's link arrives on
 * (`GET /api/v1/networks/{net}/link`, upgraded; src/net/link-session.ts has the protocol).
 *
 * A far daemon that may not link is refused before the upgrade, with the API's error
 * shape (a 409 for a loop, a 400 for a request that is not a link), so the dialing
 * daemon can say why; links.ts makes the decisions.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { FLEET_DEFAULTS } from "../../hypervisor/fleet-run.js";
import { VM_NAME } from "../../hypervisor/vm-spec.js";
import { DAEMON_ID, LINK_PROTOCOL } from "../../net/link-session.js";
import { LinkError, type LinkView, type NetworkLinks } from "../../net/links.js";
import { addressOf } from "./clones.js";
import { VmmError } from "./errors.js";
import { errors, linkBodySchema, nameParams } from "./schemas.js";
import type { Vmm } from "./vmm.js";

export type LinkAction =
  /** Link `network` to the same-named network of the daemon at `to` (HOST:PORT); answered once it is up. */
  | { readonly kind: "link-add"; readonly network: string; readonly to: string; readonly token?: string }
  /** Remove the link this daemon dialed from `network` to `to`. */
  | { readonly kind: "link-remove"; readonly network: string; readonly to: string };

export function isLinkAction(a: { readonly kind: string }): a is LinkAction {
  return a.kind === "link-add" || a.kind === "link-remove";
}

/** A refusal of the links as the API's error. */
function asApiError(e: unknown): unknown {
  return e instanceof LinkError ? new VmmError(e.kind, e.message) : e;
}

function checkNetworkName(name: string): void {
  if (!VM_NAME.test(name)) throw new VmmError("invalid", `network ${JSON.stringify(name)}: a network name is letters, digits, '_', '.', '-' (at most 32)`);
}

/** Apply a link action: a LinkView for an added link, null for a removed one. */
export async function applyLinkAction(links: NetworkLinks, a: LinkAction): Promise<LinkView | null> {
  try {
    checkNetworkName(a.network);
    if (a.kind === "link-add") return await (a.token !== undefined ? links.add(a.network, a.to, a.token) : links.add(a.network, a.to));
    links.remove(a.network, a.to);
    return null;
  } catch (e) {
    throw asApiError(e);
  }
}

export interface NetworkView {
  readonly name: string;
  readonly subnet: string;
  readonly ports: readonly Record<string, unknown>[];
  readonly links: readonly LinkView[];
}

/** Every network the daemon knows (from its VMs, or because it has a link), with its ports and links. */
export function networkList(vmm: Vmm): NetworkView[] {
  const names = [...new Set([...Object.keys(vmm.networks), ...vmm.links.networkNames()])];
  return names.map((name) => ({
    name,
    // A network known only through a link has the subnet a VM joining it would get.
    subnet: vmm.networks[name] ?? FLEET_DEFAULTS.SUBNET,
    ports: [...vmm.records.values()]
      .filter((r) => r.entry.nics?.[0]?.network === name)
      .map((r) => {
        const s = vmm.hv.port(r.entry.name)?.port.stats;
        const drops = s ? s.drops.malformed + s.drops.noBuffer + s.drops.rateLimited : 0;
        return { vm: r.entry.name, mac: r.entry.nics![0]!.mac, ip: addressOf(vmm, r.entry.name), rxFrames: s?.rxFrames ?? 0, txFrames: s?.txFrames ?? 0, rxBytes: s?.rxBytes ?? 0, txBytes: s?.txBytes ?? 0, drops };
      }),
    links: vmm.links.list(name),
  }));
}

type Named = { Params: { name: string } };
const linkView = { $ref: "NetworkLink#" } as const;

/** The far daemon's id from a link upgrade, after every check a link must pass here. */
function linkPeer(req: FastifyRequest<Named>, vmm: Vmm): string {
  const name = req.params.name;
  if (req.headers.upgrade?.toLowerCase() !== "websocket") {
    throw new VmmError("bad-request", "this is where another paravm daemon's link connects (a WebSocket): use POST /api/v1/networks/{name}/links to make one");
  }
  const version = req.headers[LINK_PROTOCOL.HEADER_VERSION];
  if (version !== String(LINK_PROTOCOL.VERSION)) {
    throw new VmmError("bad-request", `${LINK_PROTOCOL.HEADER_VERSION}: this daemon speaks link protocol ${LINK_PROTOCOL.VERSION}, the dialer ${typeof version === "string" ? version : "none"}`);
  }
  const peer = req.headers[LINK_PROTOCOL.HEADER_DAEMON];
  if (typeof peer !== "string" || !DAEMON_ID.test(peer)) throw new VmmError("bad-request", `${LINK_PROTOCOL.HEADER_DAEMON}: the dialing daemon's id is missing or malformed`);
  checkNetworkName(name);
  const problem = vmm.links.acceptProblem(name, peer);
  if (problem) throw asApiError(problem);
  return peer;
}

export function networkLinkRoutes(app: FastifyInstance, vmm: Vmm, prefix: string): void {
  app.get<Named>(`${prefix}/networks/:name/links`, {
    schema: { summary: "a network's links to other daemons: dialed (out) and accepted (in), up or not, with their counters", params: nameParams, response: { 200: { type: "array", items: linkView }, ...errors(404) } },
  }, async (req) => {
    const name = req.params.name;
    if (!(name in vmm.networks) && !vmm.links.networkNames().includes(name)) throw new VmmError("not-found", `no network named ${JSON.stringify(name)} (no VM joins it and it has no link)`);
    return vmm.links.list(name);
  });

  app.post<Named & { Body: { to: string; token?: string } }>(`${prefix}/networks/:name/links`, {
    schema: {
      summary: "link this network to the same-named network of the daemon at `to` (HOST:PORT); answered once the link is up, kept up (reconnecting) until removed",
      params: nameParams,
      body: linkBodySchema,
      response: { 201: linkView, ...errors(400, 409, 422) },
    },
  }, async (req, reply) => {
    const { to, token } = req.body;
    const view = await vmm.do({ kind: "link-add", network: req.params.name, to, ...(token !== undefined ? { token } : {}) });
    return reply.code(201).send(view);
  });

  app.delete<Named & { Querystring: { to: string } }>(`${prefix}/networks/:name/links`, {
    schema: {
      summary: "remove the link this daemon dialed from this network to `to`",
      params: nameParams,
      querystring: { type: "object", required: ["to"], additionalProperties: false, properties: { to: { type: "string", description: "HOST:PORT, as the link was made" } } },
      response: { 204: { type: "null" }, ...errors(400, 404, 422) },
    },
  }, async (req, reply) => {
    await vmm.do({ kind: "link-remove", network: req.params.name, to: req.query.to });
    return reply.code(204).send();
  });

  app.route<Named>({
    method: "GET",
    url: `${prefix}/networks/:name/link`,
    schema: {
      summary: "where another paravm daemon's link arrives (a WebSocket with x-paravm-link and x-paravm-daemon headers); refused before the upgrade if it would loop",
      params: nameParams,
      response: errors(400, 409, 422),
    },
    preValidation: async (req) => void linkPeer(req, vmm),
    // Only reached by a request that passed linkPeer, which refuses anything but an upgrade.
    handler: async () => {
      throw new VmmError("bad-request", "a link is a WebSocket");
    },
    wsHandler: (ws, req) => {
      const peer = req.headers[LINK_PROTOCOL.HEADER_DAEMON] as string;
      vmm.links.accept(req.params.name, peer, ws, `${req.socket.remoteAddress ?? "?"}:${req.socket.remotePort ?? 0}`);
    },
  });
}
