/**
 * A daemon's network links: for a named network, a trunk (trunk.ts) to the same-named
 * network of another daemon, so VMs on both are on one L2 segment. A link is dialed by one
 * daemon (`out`: `paravm serve --link`, or the API) and accepted by the other (`in`); the
 * dialer keeps it up, reconnecting with backoff whenever it drops, until it is removed.
 *
 * No loops. The switches run no spanning tree, so a loop would flood broadcasts around
 * for ever. Two daemons' networks N may be joined by one link only: the accepting daemon
 * refuses a dialer it is already linked with on N (either way round) and a dialer that is
 * itself; the dialer checks the same against the hello (it may have reached a daemon it
 * already links to under another address). Loops through three or more daemons cannot be
 * seen from one daemon: links must form a tree (docs/api.md says so).
 *
 * Daemons know each other by an id made at start (random per process): a restarted
 * daemon is a new peer, and its old links have closed with its sockets.
 */
import { randomUUID } from "node:crypto";
import WebSocket from "ws";
import { LINK_PROTOCOL, LINK_TIMING, messageBytes, parseHello, TrunkSession, helloText } from "./link-session.js";
import { newPortStats, type Networks, type PortStats } from "./switch.js";
import { addPortStats } from "./trunk.js";
import { TRUNK } from "./trunk-frame.js";

export const LINK_RETRY = {
  /** The first retry after a link drops or a dial fails… */
  FIRST_MS: 250,
  /** …doubling up to this: a far daemon that restarts is back within seconds. */
  MAX_MS: 5000,
  /** ± this share of each delay, so daemons that lost each other do not redial in step. */
  JITTER: 0.2,
} as const;

/** The largest WebSocket message a link takes: over it `ws` closes the connection (a peer far out of line). */
export const LINK_MAX_PAYLOAD = 1024 * 1024;

/** Why a link cannot be made; `kind` is the API's error class for it. */
export class LinkError extends Error {
  override readonly name = "LinkError";
  constructor(
    readonly kind: "invalid" | "conflict" | "not-found",
    message: string,
  ) {
    super(message);
  }
}

/** `HOST:PORT` (IPv6 in brackets) of a far daemon. */
export function parseLinkTarget(text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || !(port >= 1 && port <= 65535)) throw new LinkError("invalid", `'${text}' is not HOST:PORT (127.0.0.1:8471, [::1]:8471, host.example:8470)`);
  return { host: m[1] ?? m[2]!, port };
}

export type LinkState = "up" | "connecting" | "waiting";

export interface LinkView {
  readonly network: string;
  /** out: this daemon dialed it (and keeps it up); in: the far daemon did. */
  readonly direction: "out" | "in";
  /** out: the HOST:PORT dialed; in: where the far daemon's connection comes from. */
  readonly address: string;
  /** The far daemon's id, once it has said it. */
  readonly peer: string | null;
  readonly state: LinkState;
  readonly up: boolean;
  /** When the current connection came up (ms since the epoch). */
  readonly upSince: number | null;
  /** How many times it has come up (a count past 1 means it reconnected). */
  readonly connects: number;
  /** Why it last went down or failed to come up. */
  readonly lastError: string | null;
  /** Switch counters of the link's port over all its connections: rx = from the far side. */
  readonly rxFrames: number;
  readonly rxBytes: number;
  readonly txFrames: number;
  readonly txBytes: number;
  readonly drops: { readonly malformed: number; readonly noBuffer: number };
  /** Messages from the far side that were not frames (also in drops.malformed). */
  readonly badMessages: number;
}

export interface LinksOptions {
  /** The far daemons' token when a link is given none (`--link-token`, PARAVM_LINK_TOKEN). */
  readonly defaultToken?: string | null;
  /** One line per link coming up or going down (the daemon prints them on stderr). */
  readonly log?: (line: string) => void;
}

/** What both directions share: counters over connections, the current session. */
abstract class Link {
  session: TrunkSession | null = null;
  peer: string | null = null;
  connects = 0;
  lastError: string | null = null;
  badMessages = 0;
  protected readonly totals: PortStats = newPortStats();
  abstract readonly direction: "out" | "in";
  abstract readonly address: string;

  constructor(readonly network: string) {}

  abstract get state(): LinkState;

  /** Fold the ended session's counters into the totals. */
  protected ended(): void {
    if (this.session) {
      addPortStats(this.totals, this.session.trunk.port.stats);
      this.badMessages += this.session.trunk.stats.badMessages;
    }
    this.session = null;
  }

  view(): LinkView {
    const s = newPortStats();
    addPortStats(s, this.totals);
    if (this.session) addPortStats(s, this.session.trunk.port.stats);
    return {
      network: this.network,
      direction: this.direction,
      address: this.address,
      peer: this.peer,
      state: this.state,
      up: this.state === "up",
      upSince: this.session?.since ?? null,
      connects: this.connects,
      lastError: this.lastError,
      rxFrames: s.rxFrames,
      rxBytes: s.rxBytes,
      txFrames: s.txFrames,
      txBytes: s.txBytes,
      drops: { malformed: s.drops.malformed, noBuffer: s.drops.noBuffer },
      badMessages: this.badMessages + (this.session?.trunk.stats.badMessages ?? 0),
    };
  }
}

/** A link the far daemon dialed. */
class InLink extends Link {
  readonly direction = "in";
  constructor(
    network: string,
    readonly address: string,
    peer: string,
  ) {
    super(network);
    this.peer = peer;
  }
  get state(): LinkState {
    return this.session ? "up" : "waiting";
  }
  end(why: string): void {
    this.ended();
    this.lastError = why;
  }
}

/** A link this daemon dials and keeps up. */
class OutLink extends Link {
  readonly direction = "out";
  removed = false;
  /** Failed attempts since it was last up (the backoff's exponent). */
  failures = 0;
  ws: WebSocket | null = null;
  retry: NodeJS.Timeout | null = null;
  /** Set while an `add` waits for the first outcome. */
  firstOutcome: ((e: LinkError | null) => void) | null = null;

  constructor(
    network: string,
    readonly address: string,
    readonly token: string | null,
  ) {
    super(network);
  }
  get state(): LinkState {
    return this.session ? "up" : this.ws ? "connecting" : "waiting";
  }
  /** The session ended (the next attempt is downOrRetry's to schedule). */
  end(): void {
    this.ended();
  }
}

const key = (network: string, address: string): string => `${network}\u0000${address}`;
const short = (id: string | null): string => (id === null ? "?" : id.slice(0, 8));

export class NetworkLinks {
  /** This daemon, as its peers know it. */
  readonly daemonId = randomUUID();
  private readonly out = new Map<string, OutLink>();
  private readonly incoming = new Set<InLink>();
  private closed = false;

  constructor(
    private readonly networks: Networks,
    private readonly opts: LinksOptions = {},
  ) {}

  /**
   * Keep `network` linked to the daemon at `to` (HOST:PORT), from now on: dialed at once
   * and again whenever it drops, for as long as this daemon runs or until removed. A
   * malformed `to` or a link that exists is refused.
   */
  keep(network: string, to: string, token: string | null = this.opts.defaultToken ?? null): LinkView {
    return this.start(network, to, token).view();
  }

  /**
   * As `keep`, but answered once the first attempt has an outcome: the link is up, or it
   * is refused — the far daemon cannot be reached or says no (wrong token, a loop) — and
   * nothing is kept.
   */
  async add(network: string, to: string, token: string | null = this.opts.defaultToken ?? null): Promise<LinkView> {
    const l = this.start(network, to, token);
    // Set before any socket event can fire (they come on later ticks).
    const err = await new Promise<LinkError | null>((resolve) => (l.firstOutcome = resolve));
    if (err) {
      this.stop(l, "refused");
      throw err;
    }
    return l.view();
  }

  private start(network: string, to: string, token: string | null): OutLink {
    parseLinkTarget(to);
    if (this.closed) throw new LinkError("conflict", "the daemon is shutting down");
    if (this.out.has(key(network, to))) throw new LinkError("conflict", `network ${network} is already linked to ${to}`);
    const l = new OutLink(network, to, token);
    this.out.set(key(network, to), l);
    this.dial(l);
    return l;
  }

  /** Unlink `network` from `to`: the connection is closed and not dialed again. */
  remove(network: string, to: string): void {
    const l = this.out.get(key(network, to));
    if (!l) throw new LinkError("not-found", `network ${network} has no link to ${to}${this.linkedTo(network)}`);
    this.stop(l, "unlinked");
  }

  /** Why the daemon `peer` may not link `network` to this one now, or null. */
  acceptProblem(network: string, peer: string): LinkError | null {
    if (this.closed) return new LinkError("conflict", "the daemon is shutting down");
    if (peer === this.daemonId) return new LinkError("conflict", `a link from this daemon to itself would loop network ${network} back onto its own switch`);
    const other = this.upLinkWith(network, peer, null);
    if (other) return new LinkError("conflict", loopMessage(network, other));
    return null;
  }

  /** Take the far daemon's link on an open WebSocket (its upgrade passed `acceptProblem`). */
  accept(network: string, peer: string, ws: WebSocket, address: string): void {
    const problem = this.acceptProblem(network, peer);
    if (problem) {
      ws.close(LINK_PROTOCOL.CLOSE_CONFLICT, problem.message);
      return;
    }
    const l = new InLink(network, address, peer);
    this.incoming.add(l);
    ws.send(helloText(this.daemonId, network));
    l.session = new TrunkSession(ws, this.networks.get(network), `link<-${address}`, (why) => {
      l.end(why);
      this.incoming.delete(l);
      this.log(`link ${network} <- ${address}: down, ${why}`);
    });
    l.connects = 1;
    this.log(`link ${network} <- ${address}: up (daemon ${short(peer)})`);
  }

  /** Every link, or those of `network`: dialed ones first, by address. */
  list(network?: string): LinkView[] {
    const all: Link[] = [...this.out.values(), ...this.incoming];
    return all
      .filter((l) => network === undefined || l.network === network)
      .map((l) => l.view())
      .sort((a, b) => a.network.localeCompare(b.network) || (a.direction === b.direction ? a.address.localeCompare(b.address) : a.direction === "out" ? -1 : 1));
  }

  /** Networks that have a link (dialed or accepted). */
  networkNames(): string[] {
    return [...new Set([...this.out.values(), ...this.incoming].map((l) => l.network))];
  }

  /** Close every link (the daemon is stopping); nothing is dialed again. */
  close(): void {
    this.closed = true;
    for (const l of [...this.out.values()]) this.stop(l, "the daemon is stopping");
    for (const l of this.incoming) l.session?.close(LINK_PROTOCOL.CLOSE_GOING_AWAY, "the daemon is stopping");
  }

  private dial(l: OutLink): void {
    l.retry = null;
    const { host, port } = parseLinkTarget(l.address);
    const url = `ws://${host.includes(":") ? `[${host}]` : host}:${port}/api/v1/networks/${encodeURIComponent(l.network)}/link`;
    const ws = new WebSocket(url, {
      headers: {
        [LINK_PROTOCOL.HEADER_VERSION]: String(LINK_PROTOCOL.VERSION),
        [LINK_PROTOCOL.HEADER_DAEMON]: this.daemonId,
        ...(l.token !== null ? { authorization: `Bearer ${l.token}` } : {}),
      },
      handshakeTimeout: LINK_TIMING.CONNECT_TIMEOUT_MS,
      maxPayload: Math.max(LINK_MAX_PAYLOAD, TRUNK.MAX_MESSAGE),
      perMessageDeflate: false,
    });
    l.ws = ws;
    let failed: LinkError | null = null;
    let helloTimer: NodeJS.Timeout | null = null;
    const fail = (e: LinkError): void => {
      failed ??= e;
      ws.terminate();
    };
    ws.on("unexpected-response", (_req, res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        let message = body.slice(0, 200);
        try {
          message = String((JSON.parse(body) as { message?: unknown }).message ?? message);
        } catch {
          // not the API's JSON: shown as it is
        }
        const status = res.statusCode ?? 0;
        const what = status === 401 ? "refused the token" : "refused the link";
        fail(new LinkError(status === 409 ? "conflict" : "invalid", `the daemon at ${l.address} ${what} (HTTP ${status}): ${message}`));
      });
    });
    ws.on("error", (err) => {
      failed ??= new LinkError("invalid", `cannot reach a paravm daemon at ${l.address}: ${err.message}`);
    });
    ws.on("open", () => {
      helloTimer = setTimeout(() => fail(new LinkError("invalid", `the daemon at ${l.address} sent no hello within ${LINK_TIMING.HELLO_TIMEOUT_MS} ms`)), LINK_TIMING.HELLO_TIMEOUT_MS);
    });
    ws.on("message", (data: WebSocket.RawData, isBinary: boolean) => {
      if (l.session || failed) return; // after the hello, the session's own listener takes messages
      clearTimeout(helloTimer!);
      const h = isBinary ? { problem: "its first message is binary, not a hello" } : parseHello(Buffer.from(messageBytes(data)).toString("utf8"));
      if ("problem" in h) return fail(new LinkError("invalid", `the daemon at ${l.address}: ${h.problem}`));
      if (h.network !== l.network) return fail(new LinkError("invalid", `the daemon at ${l.address} answered for network ${h.network}, not ${l.network}`));
      if (h.daemon === this.daemonId) return this.refuse(ws, fail, `${l.address} is this daemon: a link to itself would loop network ${l.network} back onto its own switch`);
      const other = this.upLinkWith(l.network, h.daemon, l);
      if (other) return this.refuse(ws, fail, loopMessage(l.network, other));
      this.up(l, ws, h.daemon);
    });
    // Registered before the session's own close listener (made at the hello), so it runs
    // first and sees the session still there: a link that was up is retried by the session's.
    ws.once("close", () => {
      clearTimeout(helloTimer!);
      l.ws = null;
      if (l.session === null && !l.removed) this.downOrRetry(l, failed ?? new LinkError("invalid", `the daemon at ${l.address} closed the connection before its hello`));
    });
  }

  private refuse(ws: WebSocket, fail: (e: LinkError) => void, message: string): void {
    ws.close(LINK_PROTOCOL.CLOSE_CONFLICT, message.slice(0, 120));
    fail(new LinkError("conflict", message));
  }

  private up(l: OutLink, ws: WebSocket, peer: string): void {
    l.peer = peer;
    l.failures = 0;
    l.connects++;
    l.lastError = null;
    l.session = new TrunkSession(ws, this.networks.get(l.network), `link->${l.address}`, (why) => {
      l.end();
      l.ws = null;
      if (!l.removed) this.downOrRetry(l, new LinkError("invalid", why), true);
    });
    this.log(`link ${l.network} -> ${l.address}: up (daemon ${short(peer)}${l.connects > 1 ? `, reconnect ${l.connects - 1}` : ""})`);
    this.settle(l, null);
  }

  /** A failed attempt or a dropped link: an `add` still waiting is answered; otherwise try again later. */
  private downOrRetry(l: OutLink, e: LinkError, wasUp = false): void {
    // Said once per cause: a far daemon that stays away is not logged every 5 s.
    const say = wasUp || l.lastError !== e.message;
    l.lastError = e.message;
    if (l.firstOutcome) return this.settle(l, e);
    if (this.closed || l.removed) return;
    const delay = Math.min(LINK_RETRY.MAX_MS, LINK_RETRY.FIRST_MS * 2 ** l.failures) * (1 + LINK_RETRY.JITTER * (2 * Math.random() - 1));
    l.failures++;
    if (say) this.log(`link ${l.network} -> ${l.address}: down, ${e.message}; retrying (every ${LINK_RETRY.MAX_MS / 1000} s at most)`);
    l.retry = setTimeout(() => this.dial(l), delay);
    l.retry.unref();
  }

  private settle(l: OutLink, e: LinkError | null): void {
    const f = l.firstOutcome;
    l.firstOutcome = null;
    f?.(e);
  }

  private stop(l: OutLink, why: string): void {
    if (l.removed) return;
    l.removed = true;
    // An `add` still waiting for this link hears that it is gone.
    this.settle(l, new LinkError("conflict", `the link of network ${l.network} to ${l.address} was removed while it was being made`));
    if (l.retry) clearTimeout(l.retry);
    l.retry = null;
    this.out.delete(key(l.network, l.address));
    l.session?.close(LINK_PROTOCOL.CLOSE_UNLINKED, why);
    if (!l.session) l.ws?.terminate();
  }

  /** A link of `network` that is up with daemon `peer`, other than `except`. */
  private upLinkWith(network: string, peer: string, except: Link | null): Link | null {
    for (const l of [...this.out.values(), ...this.incoming]) if (l !== except && l.network === network && l.session && l.peer === peer) return l;
    return null;
  }

  private linkedTo(network: string): string {
    const to = [...this.out.values()].filter((l) => l.network === network).map((l) => l.address);
    return to.length > 0 ? ` (it is linked to ${to.join(", ")})` : "";
  }

  private log(line: string): void {
    this.opts.log?.(line);
  }
}

function loopMessage(network: string, other: Link): string {
  const via = other.direction === "out" ? `this daemon's link to ${other.address}` : `its link from ${other.address}`;
  return `network ${network} is already linked with that daemon (${via}): a second link would make a loop, and the switches run no spanning tree`;
}
