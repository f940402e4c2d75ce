/**
 * `paravm container run` and `exec` against the daemon: the run request (which may boot the
 * default host VM: its progress goes to stderr from the daemon's events while it waits),
 * then in the foreground the container's output as it comes and its exit status as ours,
 * as docker does (127: no such command; 137: killed, with the OOM killer's message when
 * it was that).
 */
import type WebSocket from "ws";
import { CONTAINER_API, DEFAULT_HOST } from "../api/containers.js";
import { EXIT } from "../args.js";
import { ApiError, containerPath, type ApiClient } from "./api-client.js";
import { print } from "./cli-common.js";
import { CONTAINER_EXIT } from "./container-args.js";
import { containerEventLine, type ContainerView } from "./container-format.js";

export const RUN_CLIENT = {
  /** A run may boot the host VM first (20-60 s on a loaded host; the daemon gives its agent 180 s). */
  RUN_TIMEOUT_MS: 300_000,
  /** One long poll of the container's end; its output is printed after each. */
  WAIT_SLICE_S: 5,
  /** What a request may take beyond the time it asks the daemon to wait. */
  SLACK_MS: 30_000,
  /** docker's and the shells' status for a command ended by Ctrl-C (128 + SIGINT). */
  INTERRUPTED: 130,
} as const;

export interface RunOptions {
  readonly detach: boolean;
  readonly rm: boolean;
  readonly json: boolean;
}

const note = (line: string): void => void process.stderr.write(`paravm: ${line}\n`);

/** Print the daemon's events about `host` (its VM and its containers' host events) on stderr, until closed. */
async function followHost(c: ApiClient, host: string): Promise<() => void> {
  let ws: WebSocket | null = null;
  try {
    ws = await c.openSocket("/events", (data) => {
      let e: Record<string, unknown>;
      try {
        e = JSON.parse(data.toString()) as Record<string, unknown>;
      } catch {
        return;
      }
      const line = e.vm === host && (e.type !== "container" || e.kind === "host") ? containerEventLine(e) : null;
      if (line !== null) note(line);
    });
  } catch {
    // No progress lines then; the run itself says what went wrong.
  }
  return () => ws?.close();
}

/** The log's bytes after the first `shown` ones, written to stdout; the new count. */
async function printNewOutput(c: ApiClient, name: string, shown: number): Promise<number> {
  const a = await c.request("GET", `/api/v1${containerPath(name, "/logs")}`, {});
  if (a.body.length > shown) process.stdout.write(a.body.subarray(shown));
  return Math.max(shown, a.body.length);
}

/** Resolves once on Ctrl-C (then removes itself), so a foreground run can say how to find its container. */
function interrupted(): { promise: Promise<"interrupted">; off: () => void } {
  let on: () => void = () => undefined;
  const promise = new Promise<"interrupted">((r) => (on = () => r("interrupted")));
  process.once("SIGINT", on);
  return { promise, off: () => process.off("SIGINT", on) };
}

export async function runContainer(c: ApiClient, body: Record<string, unknown>, o: RunOptions): Promise<number> {
  const host = typeof body.host === "string" ? body.host : DEFAULT_HOST.NAME;
  const stop = await followHost(c, host);
  let v: ContainerView;
  try {
    v = await c.json<ContainerView>("POST", "/containers", { body, timeoutMs: RUN_CLIENT.RUN_TIMEOUT_MS });
  } catch (e) {
    if (e instanceof ApiError && e.exitStatus === CONTAINER_EXIT.NO_SUCH_COMMAND) {
      note(`error: ${e.message}`);
      return CONTAINER_EXIT.NO_SUCH_COMMAND;
    }
    throw e;
  } finally {
    stop();
  }
  if (o.detach) {
    print(o.json ? JSON.stringify(v, null, 2) : v.name);
    return EXIT.OK;
  }
  const sigint = interrupted();
  let shown = 0;
  try {
    for (;;) {
      const waited = c.json<ContainerView>("GET", containerPath(v.name, `/wait?timeoutS=${RUN_CLIENT.WAIT_SLICE_S}`), {
        timeoutMs: RUN_CLIENT.WAIT_SLICE_S * 1000 + RUN_CLIENT.SLACK_MS,
      });
      const r = await Promise.race([waited, sigint.promise]);
      if (r === "interrupted") {
        note(`container ${v.name} keeps running (paravm container logs ${v.name}; paravm container stop ${v.name})`);
        return RUN_CLIENT.INTERRUPTED;
      }
      v = r;
      // A lost container has no log left to read.
      if (v.state !== "lost") shown = await printNewOutput(c, v.name, shown);
      if (v.state === "exited" || v.state === "lost") break;
    }
  } finally {
    sigint.off();
  }
  if (v.state === "lost") {
    note(`error: container ${v.name} was lost: ${v.lostReason ?? "no reason given"}`);
    return CONTAINER_EXIT.REFUSED;
  }
  if (v.oomMessage !== null && v.exitStatus === CONTAINER_EXIT.KILLED) note(v.oomMessage);
  if (o.rm) await c.json("DELETE", containerPath(v.name));
  return v.exitStatus ?? CONTAINER_EXIT.REFUSED;
}

/** `container exec`: its output on stdout, its status ours. */
export async function execContainer(c: ApiClient, name: string, cmd: readonly string[], timeoutS: number | undefined): Promise<number> {
  const waitS = timeoutS ?? CONTAINER_API.EXEC_DEFAULT_S;
  const r = await c.json<{ status: number; output: string }>("POST", containerPath(name, "/exec"), {
    body: { cmd, ...(timeoutS !== undefined ? { timeoutS } : {}) },
    timeoutMs: waitS * 1000 + RUN_CLIENT.SLACK_MS,
  });
  process.stdout.write(r.output);
  return r.status;
}
