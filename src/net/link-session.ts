/**
 * One WebSocket carrying a trunk between two daemons' switches of the same network, and
 * the few rules both ends of it follow (links.ts decides who may link; this file moves
 * frames and notices a dead peer).
 *
 * The protocol on top of WebSocket:
 *  - the dialing daemon upgrades `GET /api/v1/networks/{net}/link` with the far daemon's
 *    token and two headers: `x-paravm-link: 1` (the protocol version) and
 *    `x-paravm-daemon: <its id>` (a random id per daemon process), so the far side can
 *    refuse a second link from the same daemon, or one from itself, before upgrading;
 *  - the accepting daemon's first message is a text hello,
 *    `{"link":1,"daemon":"<its id>","network":"<net>"}`, from which the dialer learns who
 *    it reached (it may have reached itself, or a daemon it is already linked to under
 *    another address);
 *  - after that, every message is binary: one frame each (trunk-frame.ts). A text
 *    message later on is a bad message, counted and dropped.
 *  - both ends ping every PING_MS; an end that has not heard a pong since its last ping
 *    drops the connection (a peer that vanished without closing its socket).
 */
import type WebSocket from "ws";
import type { VirtualSwitch } from "./switch.js";
import { TrunkPort } from "./trunk.js";

export const LINK_PROTOCOL = {
  VERSION: 1,
  HEADER_VERSION: "x-paravm-link",
  HEADER_DAEMON: "x-paravm-daemon",
  /** Close codes: 4000 + the HTTP status that would say it (as the console's 4404). */
  CLOSE_CONFLICT: 4409,
  CLOSE_BAD_HELLO: 4400,
  CLOSE_UNLINKED: 1000,
  CLOSE_GOING_AWAY: 1001,
} as const;

export const LINK_TIMING = {
  /** Keepalive: a peer silent for two of these is gone. */
  PING_MS: 5000,
  /** The far daemon must accept the upgrade within this… */
  CONNECT_TIMEOUT_MS: 5000,
  /** …and send its hello within this after it. */
  HELLO_TIMEOUT_MS: 5000,
} as const;

/** A daemon id: what `randomUUID` makes (and nothing a header could abuse). */
export const DAEMON_ID = /^[0-9a-f-]{8,64}$/;

export interface Hello {
  readonly daemon: string;
  readonly network: string;
}

export const helloText = (daemon: string, network: string): string => JSON.stringify({ link: LINK_PROTOCOL.VERSION, daemon, network });

/** The far daemon's hello, or why it is not one. */
export function parseHello(text: string): Hello | { readonly problem: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { problem: "its first message is not a link hello (not JSON)" };
  }
  const h = v as { link?: unknown; daemon?: unknown; network?: unknown } | null;
  if (typeof h !== "object" || h === null || h.link !== LINK_PROTOCOL.VERSION) return { problem: `its hello is not link protocol ${LINK_PROTOCOL.VERSION}` };
  if (typeof h.daemon !== "string" || !DAEMON_ID.test(h.daemon)) return { problem: "its hello has no daemon id" };
  if (typeof h.network !== "string") return { problem: "its hello names no network" };
  return { daemon: h.daemon, network: h.network };
}

/** A WebSocket message's bytes (ws hands over a Buffer, an ArrayBuffer or fragments). */
export function messageBytes(data: WebSocket.RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data;
}

/** The trunk on an open WebSocket: frames both ways, keepalive, and `onClose` once it ends. */
export class TrunkSession {
  readonly trunk: TrunkPort;
  readonly since = Date.now();
  private readonly pinger: NodeJS.Timeout;
  private heard = true;

  constructor(
    private readonly ws: WebSocket,
    sw: VirtualSwitch,
    portName: string,
    onClose: (why: string) => void,
  ) {
    this.trunk = new TrunkPort(sw, portName, {
      // A socket that is closing takes nothing more: the switch counts a no-buffer drop.
      send: (m) => ws.readyState === ws.OPEN && (ws.send(m), true),
      get bufferedAmount() {
        return ws.bufferedAmount;
      },
    });
    ws.on("message", (data: WebSocket.RawData, isBinary: boolean) => {
      if (isBinary) this.trunk.receive(messageBytes(data));
      else this.trunk.refuse("a text message after the hello");
    });
    ws.on("pong", () => (this.heard = true));
    this.pinger = setInterval(() => {
      if (!this.heard) {
        ws.terminate();
        return;
      }
      this.heard = false;
      ws.ping();
    }, LINK_TIMING.PING_MS);
    this.pinger.unref();
    ws.once("close", (code: number, reason: Buffer) => {
      clearInterval(this.pinger);
      this.trunk.close();
      const r = reason.toString("utf8");
      onClose(r !== "" ? `closed (${code}: ${r})` : `closed (${code})`);
    });
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }
}
