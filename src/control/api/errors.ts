/**
 * The daemon's error classes (docs/api.md, "Errors"): every refusal of an action is a
 * VmmError carrying its class, and the HTTP layer turns the class into the status.
 */
import { ContainerError } from "../../hypervisor/container-limits.js";
import { AdmissionError } from "../../hypervisor/memory-pool.js";
import { SnapshotError } from "../../hypervisor/snapshot/format.js";
import { VmBuildError, VmSnapshotError } from "../../hypervisor/vm.js";

export const ERROR_STATUS = {
  "bad-request": 400,
  unauthorized: 401,
  "not-found": 404,
  conflict: 409,
  invalid: 422,
  internal: 500,
  /** A container host's guest failed a request (its runtime's or agent's message). */
  "guest-error": 502,
  /** Another daemon (a migration's destination) could not be reached or failed the request. */
  "bad-gateway": 502,
  "no-capacity": 507,
} as const;

/** The exit status of a command that does not exist (sh, docker). */
export const NO_SUCH_COMMAND = 127;

export type ErrorClass = keyof typeof ERROR_STATUS;

/** The body of every error answer. */
export interface ErrorBody {
  readonly error: ErrorClass;
  readonly message: string;
  readonly problems?: readonly string[];
  /** A container command that does not exist: 127, as a shell (and docker) say it. */
  readonly exitStatus?: number;
}

export class VmmError extends Error {
  override readonly name = "VmmError";
  constructor(
    readonly error: ErrorClass,
    message: string,
    readonly problems?: readonly string[],
    /** Set only for a container's command that does not exist (127). */
    readonly exitStatus?: number,
  ) {
    super(message);
  }

  get status(): number {
    return ERROR_STATUS[this.error];
  }

  body(): ErrorBody {
    return {
      error: this.error,
      message: this.message,
      ...(this.problems && this.problems.length > 0 ? { problems: this.problems } : {}),
      ...(this.exitStatus !== undefined ? { exitStatus: this.exitStatus } : {}),
    };
  }
}

/** Problems listed in one sentence: "3 problems: a; b; c". */
export function problemsMessage(what: string, problems: readonly string[]): string {
  return `${what}: ${problems.length === 1 ? problems[0] : `${problems.length} problems: ${problems.join("; ")}`}`;
}

/** Any error thrown while applying an action, as a VmmError (the hypervisor's own errors mapped to their class). */
export function asVmmError(e: unknown): VmmError {
  if (e instanceof VmmError) return e;
  if (e instanceof AdmissionError) return new VmmError("no-capacity", e.message);
  if (e instanceof VmBuildError) return new VmmError(e.usage ? "invalid" : "internal", e.message);
  if (e instanceof RangeError) return new VmmError("invalid", e.message);
  // A snapshot file that cannot be restored (bad, foreign, truncated, its disk changed); a VM that cannot be snapshotted now.
  if (e instanceof SnapshotError) return new VmmError("invalid", e.message);
  if (e instanceof VmSnapshotError) return new VmmError("conflict", e.message);
  if (e instanceof ContainerError) {
    // The library's bad input (a limit out of range, a missing command) or the guest's failure.
    if (e.usage) return new VmmError("invalid", e.message, undefined, e.status === NO_SUCH_COMMAND ? NO_SUCH_COMMAND : undefined);
    return new VmmError("guest-error", e.message);
  }
  return new VmmError("internal", e instanceof Error ? e.message : String(e));
}
