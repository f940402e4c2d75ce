/**
 * A MigrationLink (hypervisor/migration/link.ts) over a WebSocket: text frames are
 * control messages, binary frames pages and blobs. Both daemons' ends use it: the
 * destination's route gets the socket from fastify, the source dials with `ws`.
 */
import WebSocket from "ws";
import type { MigrationLink } from "../../hypervisor/migration/link.js";

/** The largest message a daemon accepts on its WebSockets (server.ts): the migration's batches fit under it. */
export const WS_MAX_PAYLOAD = 1024 * 1024;

export function wsLink(ws: WebSocket): MigrationLink {
  let closed = false;
  let onClose: ((why: string) => void) | null = null;
  const ended = (why: string): void => {
    if (closed) return;
    closed = true;
    onClose?.(why);
  };
  ws.on("close", (code, reason) => ended(reason.length > 0 ? reason.toString() : `closed (${code})`));
  ws.on("error", (e) => ended(e.message));
  return {
    send(msg) {
      if (ws.readyState !== ws.OPEN) return false;
      ws.send(msg, { binary: typeof msg !== "string" });
      return true;
    },
    bufferedBytes: () => ws.bufferedAmount,
    onMessage(cb) {
      ws.on("message", (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
        const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
        cb(isBinary ? new Uint8Array(buf.buffer, buf.byteOffset, buf.length) : buf.toString("utf8"));
      });
    },
    onClose(cb) {
      onClose = cb;
      if (closed) cb("closed");
    },
    close(why) {
      // A close reason is at most 123 bytes.
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(1000, Buffer.from(why).subarray(0, 120).toString());
    },
  };
}

/** Dial `url` (with a bearer token); resolves once open, rejects with the reason it could not. */
export function dial(url: string, token: string | undefined, timeoutMs: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { maxPayload: WS_MAX_PAYLOAD, handshakeTimeout: timeoutMs, ...(token !== undefined ? { headers: { authorization: `Bearer ${token}` } } : {}) });
    const fail = (why: string): void => {
      ws.removeAllListeners();
      ws.on("error", () => undefined);
      ws.terminate();
      reject(new Error(why));
    };
    ws.once("open", () => {
      ws.removeAllListeners("error");
      ws.removeAllListeners("unexpected-response");
      resolve(ws);
    });
    ws.once("error", (e: NodeJS.ErrnoException) => fail(e.code === "ECONNREFUSED" ? "nothing listens there (connection refused)" : e.message));
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => {
        let msg = body;
        try {
          msg = (JSON.parse(body) as { message?: string }).message ?? body;
        } catch {
          // not JSON: the body as it is
        }
        fail(`HTTP ${res.statusCode}: ${msg.trim().slice(0, 200)}`);
      });
    });
  });
}
