/**
 * Bearer-token auth (docs/api.md, "Auth"). With a token set, every API route, WebSocket,
 * `/metrics` and `/openapi.json` needs it; the dashboard's page and `/healthz` do not.
 * Browsers cannot put headers on a WebSocket, so an upgrade may carry `?token=` instead.
 * Tokens are compared as SHA-256 digests with timingSafeEqual: equal lengths, constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";

/** Bytes of randomness in a generated token (printed as hex). */
const TOKEN_BYTES = 24;

export function generateToken(): string {
  return randomBytes(TOKEN_BYTES).toString("hex");
}

const digest = (s: string): Buffer => createHash("sha256").update(s, "utf8").digest();

export function tokenMatches(given: string, token: string): boolean {
  return timingSafeEqual(digest(given), digest(token));
}

/** Paths that need the token: the API, its streams, the metrics, the schema. */
export function isProtected(path: string): boolean {
  return path.startsWith("/api/") || path === "/metrics" || path === "/openapi.json";
}

function givenToken(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (typeof h === "string" && h.startsWith("Bearer ")) return h.slice("Bearer ".length);
  if (req.headers.upgrade?.toLowerCase() === "websocket") {
    const q = (req.query as Record<string, unknown> | undefined)?.token;
    if (typeof q === "string") return q;
  }
  return null;
}

/** An onRequest hook refusing protected paths without the token (none: everything is open). */
export function authHook(token: string | null) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (token === null) return;
    const path = req.url.split("?")[0]!;
    if (!isProtected(path)) return;
    const given = givenToken(req);
    if (given !== null && tokenMatches(given, token)) return;
    await reply
      .code(401)
      .header("www-authenticate", 'Bearer realm="paravm"')
      .send({ error: "unauthorized", message: given === null ? "this daemon needs a token: Authorization: Bearer <token> (or ?token= on a WebSocket)" : "wrong token" });
  };
}
