/**
 * `paravm top`-like view of the daemon: the metrics WebSocket (one frame a second) drawn
 * with `paravm up`'s table (top-table.ts), the event stream under it. Without a terminal,
 * or with --json, one line per VM per frame instead.
 */
import type WebSocket from "ws";
import { EXIT } from "../args.js";
import { plainLine, renderTable, TOP } from "../top-table.js";
import { type ApiClient } from "./api-client.js";
import { eventLine, topMetrics, type ApiVmMetrics } from "./format.js";

const SCREEN = {
  HOME_CLEAR: "\x1b[H\x1b[2J",
  ALT_ON: "\x1b[?1049h\x1b[?25l",
  ALT_OFF: "\x1b[?25h\x1b[?1049l",
  /** Used when the terminal does not say how wide it is. */
  DEFAULT_COLUMNS: 120,
} as const;

export interface TopOptions {
  json?: boolean;
  /** Stop after this many metrics frames (scripts, tests); default: until q or a signal. */
  count?: number;
}

interface Frame {
  readonly at: number | string;
  readonly vms: readonly ApiVmMetrics[];
}

export async function runTop(client: ApiClient, opts: TopOptions): Promise<number> {
  const screen = process.stdout.isTTY === true && opts.json !== true;
  const events: string[] = [];
  const startMs = Date.now();
  let frames = 0;
  let metrics: WebSocket | null = null;
  let eventsWs: WebSocket | null = null;
  const stop = (): void => {
    metrics?.close();
    eventsWs?.close();
  };
  const onFrame = (data: WebSocket.RawData): void => {
    const frame = JSON.parse(data.toString()) as Frame;
    const rows = frame.vms.map((m) => topMetrics(m, startMs));
    if (opts.json === true) for (const m of frame.vms) process.stdout.write(`${JSON.stringify(m)}\n`);
    else if (!screen) for (const m of rows) process.stdout.write(`${plainLine(m)}\n`);
    else {
      const title = `paravm top: ${client.endpoint.shown}, ${rows.length} VM${rows.length === 1 ? "" : "s"}, ${new Date().toISOString().slice(11, 19)} UTC`;
      const lines = renderTable({ title, metrics: rows, selected: -1, events, keys: "q quits", columns: process.stdout.columns ?? SCREEN.DEFAULT_COLUMNS });
      process.stdout.write(`${SCREEN.HOME_CLEAR}${lines.join("\n")}`);
    }
    frames++;
    if (opts.count !== undefined && frames >= opts.count) stop();
  };
  if (screen) {
    // since=0: the kept events first, so the area shows what happened before top started.
    eventsWs = await client.openSocket("/events?since=0", (data) => {
      events.push(eventLine(JSON.parse(data.toString()) as Record<string, unknown>));
      if (events.length > TOP.EVENT_LINES) events.shift();
    });
  }
  try {
    metrics = await client.openSocket("/metrics", onFrame);
  } catch (e) {
    eventsWs?.close();
    throw e;
  }
  const open = metrics;
  const stdin = process.stdin;
  const keys = screen && stdin.isTTY === true;
  const onKey = (b: Buffer): void => {
    // q, Ctrl-C (raw mode delivers it as a byte, not a signal)
    if (b.includes(0x71) || b.includes(0x03)) stop();
  };
  if (screen) process.stdout.write(SCREEN.ALT_ON);
  if (keys) {
    stdin.setRawMode(true);
    stdin.on("data", onKey);
    stdin.resume();
  }
  const restore = (): void => {
    if (keys && stdin.isTTY) stdin.setRawMode(false);
    if (screen) process.stdout.write(SCREEN.ALT_OFF);
  };
  process.once("exit", restore);
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  await new Promise<void>((resolve) => open.once("close", () => resolve()));
  eventsWs?.close();
  process.off("SIGINT", stop);
  process.off("SIGTERM", stop);
  process.off("exit", restore);
  restore();
  if (keys) {
    stdin.off("data", onKey);
    stdin.pause();
  }
  return EXIT.OK;
}
