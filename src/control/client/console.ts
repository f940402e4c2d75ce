/**
 * `vm console NAME` and `vm logs NAME --follow`: a VM's console WebSocket on this
 * terminal. The daemon sends the scroll-back first, then live bytes; the console takes
 * keystrokes back. Detaching leaves the VM running.
 */
import type WebSocket from "ws";
import { EXIT } from "../args.js";
import { EscapeFilter } from "../run-command.js";
import { ApiError, vmPath, type ApiClient } from "./api-client.js";

export const CONSOLE = {
  /**
   * With piped input, detach this long after the input ended and the guest last printed:
   * `printf 'ls\n' | paravm vm console web` shows the answer and returns (as `nc -q`).
   */
  EOF_QUIET_MS: 1000,
  /** The daemon's close code for an unknown VM (docs/api.md). */
  CLOSE_NOT_FOUND: 4404,
  /** RFC 6455 close codes: normal, and a close frame without a code (ours, from ws.close()). */
  CLOSE_NORMAL: 1000,
  CLOSE_NO_STATUS: 1005,
} as const;

/**
 * A close that was not ours as an error: 4404 (unknown VM) and other 4xxx as the API's
 * status, anything else (1001: the daemon is going away, or this viewer fell too far
 * behind) with its code and reason. Null for a normal close.
 */
function closeError(code: number, reason: string, name: string): ApiError | null {
  if (code === CONSOLE.CLOSE_NOT_FOUND) return new ApiError(404, "not-found", reason || `no VM named ${name}`);
  if (code >= 4000 && code < 5000) return new ApiError(code - 4000, "error", reason || `console closed (${code})`);
  if (code === CONSOLE.CLOSE_NORMAL || code === CONSOLE.CLOSE_NO_STATUS) return null;
  return new ApiError(0, "closed", `the daemon closed ${name}'s console (${code}${reason ? `: ${reason}` : ""})`);
}

/** Resolves when the socket closes: null when it closed normally, the API's error otherwise. */
function closed(ws: WebSocket, name: string): Promise<ApiError | null> {
  return new Promise((resolve) => ws.once("close", (code, reason) => resolve(closeError(code, reason.toString("utf8"), name))));
}

const writeOut = (data: WebSocket.RawData): void => {
  const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
  process.stdout.write(bytes);
};

/** `vm logs NAME --follow`: print the console (scroll-back, then live) until the VM's console closes or a signal. */
export async function followLogs(client: ApiClient, name: string): Promise<number> {
  const ws = await client.openSocket(vmPath(name, "/console"), writeOut);
  const stop = (): void => ws.close();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  const err = await closed(ws, name);
  process.off("SIGINT", stop);
  process.off("SIGTERM", stop);
  if (err) throw err;
  return EXIT.OK;
}

/**
 * `vm console NAME`: the terminal attached to the VM's console. On a TTY, stdin in raw
 * mode and Ctrl-A X detaches (Ctrl-A Ctrl-A sends a Ctrl-A); piped input is forwarded as
 * it is and the console detaches once it has ended and the guest has gone quiet.
 */
export async function attachConsole(client: ApiClient, name: string): Promise<number> {
  // The VM's own answer first: an unknown name gets the API's 404 message, not a close code.
  await client.json("GET", vmPath(name));
  const stdin = process.stdin;
  const tty = stdin.isTTY === true;
  let ws: WebSocket | null = null;
  let quietTimer: NodeJS.Timeout | null = null;
  let inputEnded = false;
  const detach = (): void => ws?.close();
  const armQuiet = (): void => {
    if (!inputEnded) return;
    if (quietTimer) clearTimeout(quietTimer);
    quietTimer = setTimeout(detach, CONSOLE.EOF_QUIET_MS);
  };
  // Before the scroll-back, which follows at once.
  if (tty) process.stderr.write(`paravm: attached to ${name}'s console (Ctrl-A X detaches)\n`);
  ws = await client.openSocket(vmPath(name, "/console"), (data) => {
    writeOut(data);
    armQuiet();
  });
  const open = ws;
  const esc = new EscapeFilter(detach);
  const restore = (): void => {
    if (tty && stdin.isTTY) stdin.setRawMode(false);
  };
  if (tty) {
    stdin.setRawMode(true);
    process.on("exit", restore);
  }
  stdin.on("data", (chunk: Buffer) => {
    const bytes = tty ? esc.filter(chunk) : chunk;
    if (bytes.length > 0 && open.readyState === open.OPEN) open.send(bytes);
  });
  stdin.on("end", () => {
    inputEnded = true;
    armQuiet();
  });
  stdin.on("error", () => {});
  stdin.resume();
  process.once("SIGTERM", detach);
  process.once("SIGHUP", detach);
  let err: ApiError | null;
  try {
    err = await closed(open, name);
  } finally {
    if (quietTimer) clearTimeout(quietTimer);
    process.off("SIGTERM", detach);
    process.off("SIGHUP", detach);
    restore();
    process.off("exit", restore);
    stdin.pause();
    stdin.destroy();
  }
  if (tty) process.stderr.write(`\r\nparavm: detached from ${name}\r\n`);
  if (err) throw err;
  return EXIT.OK;
}
