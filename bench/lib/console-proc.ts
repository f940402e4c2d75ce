/**
 * Emulator processes whose console is read as it comes (bench:snapshot): a child with its
 * stdout kept whole and also as stamped chunks (host time of arrival), so a bench can
 * wait for a line and later tell when each line arrived; and QEMU's HMP monitor driven
 * over its unix socket, one command per connection.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createConnection } from "node:net";
import { ROOT } from "./common.js";

/** How long a child gets to print what a bench waits for, unless the caller says otherwise. */
const WAIT_MS = 300_000;
/** How long one monitor command may take before the bench gives up on it. */
const HMP_TIMEOUT_MS = 10_000;

/** A piece of console output and when it reached the host (performance.now() ms). */
export interface Stamped {
  readonly atMs: number;
  readonly text: string;
}

/** A child whose console is read as it comes; `waitFor` resolves with the ms since spawn. */
export class Proc {
  out = "";
  err = "";
  readonly chunks: Stamped[] = [];
  readonly t0 = performance.now();
  readonly p: ChildProcess;
  constructor(cmd: string, args: readonly string[]) {
    // stdin a pipe: QEMU's -nographic console sat still with stdin closed (0 s of CPU).
    this.p = spawn(cmd, args, { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
    this.p.stdout!.on("data", (b: Buffer) => {
      const text = b.toString("latin1");
      this.out += text;
      this.chunks.push({ atMs: performance.now(), text });
    });
    this.p.stderr!.on("data", (b: Buffer) => (this.err += b.toString("utf8")));
  }
  /** Until `re` matches stdout or stderr, or `until(stdout)` holds. */
  async waitFor(re: RegExp | ((out: string) => boolean), what: string, timeoutMs = WAIT_MS): Promise<number> {
    for (;;) {
      if (typeof re === "function" ? re(this.out) : re.test(this.out) || re.test(this.err)) return performance.now() - this.t0;
      if (this.p.exitCode !== null) throw new Error(`${what}: the process exited ${this.p.exitCode}: ${this.err.slice(-300)}`);
      if (performance.now() - this.t0 > timeoutMs) throw new Error(`${what}: nothing after ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 2));
    }
  }
  kill(): void {
    if (this.p.exitCode === null) this.p.kill("SIGKILL");
  }
}

/** One HMP command over QEMU's monitor socket; resolves with what it printed (banner, echo, output). */
export function hmp(sock: string, cmd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = createConnection(sock);
    let text = "";
    const timer = setTimeout(() => {
      c.destroy();
      reject(new Error(`QEMU's monitor did not answer "${cmd}" within ${HMP_TIMEOUT_MS / 1000} s`));
    }, HMP_TIMEOUT_MS);
    c.setEncoding("utf8");
    c.on("data", (d: string) => {
      text += d;
      // The banner, then our command's output, each ending at the "(qemu) " prompt.
      if ((text.match(/\(qemu\) /g) ?? []).length >= 2) {
        clearTimeout(timer);
        c.end();
        resolve(text);
      }
    });
    c.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    c.write(`${cmd}\n`);
  });
}
