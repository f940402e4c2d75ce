/**
 * What every client command shares (`paravm vm …`, `fleet apply`, `container …`): exit
 * statuses, the API's refusals and an absent daemon as one line on stderr, a client for
 * the command's endpoint that is closed after it, and printing.
 */
import { EXIT } from "../args.js";
import { ApiClient, ApiError, endpointFrom, NoDaemonError } from "./api-client.js";

/** Exit statuses of the client commands (usage errors are EXIT.USAGE, 2, as everywhere). */
export const CLIENT_EXIT = {
  /** The API answered with an error (its message is printed). */
  API_ERROR: 1,
  /** 507: the daemon's memory budget cannot admit the VM (as `paravm run`). */
  NO_CAPACITY: EXIT.NO_CAPACITY,
  /** Nothing listens at the endpoint (sysexits' EX_UNAVAILABLE). */
  NO_DAEMON: 69,
} as const;

const HTTP_NO_CAPACITY = 507;

export type SetStatus = (code: number | Promise<number>) => void;

/**
 * The API's refusals and an absent daemon as one line (the problems listed under it) and a
 * status (`apiError` for a refusal: commands whose status is a program's pick another);
 * anything else goes on to cli.ts.
 */
export function clientErrorStatus(e: unknown, apiError: number = CLIENT_EXIT.API_ERROR): number {
  if (e instanceof ApiError) {
    process.stderr.write(`paravm: error: ${e.message}\n`);
    // The message often quotes its one problem already: list only what it does not say.
    for (const p of e.problems) if (!e.message.includes(p)) process.stderr.write(`  ${p}\n`);
    return e.status === HTTP_NO_CAPACITY ? CLIENT_EXIT.NO_CAPACITY : apiError;
  }
  if (e instanceof NoDaemonError) {
    process.stderr.write(`paravm: ${e.message}\n`);
    return CLIENT_EXIT.NO_DAEMON;
  }
  throw e;
}

/** Run a command with a client for `endpoint` (else PARAVM_HOST, else the default); the client is closed after. */
export function withClient(setStatus: SetStatus, endpoint: string | undefined, f: (c: ApiClient) => Promise<number>, apiError: number = CLIENT_EXIT.API_ERROR): void {
  setStatus(
    (async () => {
      const client = new ApiClient(endpointFrom(endpoint));
      try {
        return await f(client);
      } finally {
        client.close();
      }
    })().catch((e: unknown) => clientErrorStatus(e, apiError)),
  );
}

export const print = (lines: string | readonly string[]): void => void process.stdout.write(`${typeof lines === "string" ? lines : lines.join("\n")}\n`);
export const printJson = (v: unknown): void => print(JSON.stringify(v, null, 2));
