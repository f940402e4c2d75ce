/**
 * For tests that run `paravm run` as a child process and read what the guest printed
 * (full.test.ts, full-ahci.test.ts): one copy of the child runner and of the marker
 * protocol their guest scripts follow (`echo BEGIN` … `PARAVM-EXIT-STATUS=<n>`).
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export const PARAVM_BIN = fileURLToPath(new URL("../../../bin/paravm.js", import.meta.url));

/** `paravm run ARGS` to completion (or `timeoutMs`): its status and output. */
export function paravmRun(args: readonly string[], timeoutMs: number) {
  const r = spawnSync(process.execPath, [PARAVM_BIN, "run", ...args], { encoding: "utf8", timeout: timeoutMs });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "", error: r.error };
}

/** The lines the command printed: after the BEGIN marker line, up to the exit-status line. */
export function guestLines(out: string): string[] {
  const lines = out.replace(/\r/g, "").split("\n");
  const i = lines.indexOf("BEGIN");
  const j = lines.findIndex((l) => /PARAVM-EXIT-STATUS=/.test(l));
  return i >= 0 && j > i ? lines.slice(i + 1, j + 1) : [];
}
