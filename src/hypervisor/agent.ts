/**
 * The host side of the guest agent's line protocol (docs/agent.md), on the main thread.
 * The bytes travel through the pv console's named port "org.paravm.agent" on the VM's
 * owner thread; this client only sees them as posted messages.
 *
 *   request   <id> <verb> [<arg>]\n
 *   answer    <id> ok <status> <base64>\n   |   <id> err <base64 message>\n
 *   hello     0 ok 0 <base64 "paravm-agent <version>">\n   (the agent is up)
 *
 * The guest is hostile: whatever it writes is parsed defensively. A line that is not an
 * answer, an answer to no pending request, invalid base64, a line longer than LINE_LIMIT
 * — each is counted in `stats` and dropped; none throws here or reaches the caller as
 * anything but a clear AgentError for the request it concerns.
 */

export const AGENT = {
  /** Default time for an answer. */
  TIMEOUT_MS: 5000,
  /** Longest answer line kept (1 MiB of exec output is ~1.4 MiB of base64). */
  LINE_LIMIT: 2 << 20,
  /** Most requests waiting for an answer at once. */
  MAX_PENDING: 64,
  /** Ids are 1..2^31-1, then wrap; 0 is the agent's hello. */
  MAX_ID: 0x7fff_ffff,
  NEWLINE: 0x0a,
} as const;

export class AgentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AgentError";
  }
}

/** One answer: `status` is exec's exit status (0 for the other verbs); `output` decoded. */
export interface AgentAnswer {
  readonly status: number;
  readonly output: Uint8Array;
}

export interface AgentStats {
  /** Lines that were not answers (bad id, kind, status or base64). */
  badLines: number;
  /** Answers to requests that had timed out or never existed. */
  unknownIds: number;
  /** Lines longer than LINE_LIMIT (dropped, their request failed). */
  overlong: number;
  /** Requests that timed out. */
  timeouts: number;
}

interface Pending {
  resolve(a: AgentAnswer): void;
  reject(e: AgentError): void;
  timer: NodeJS.Timeout;
  verb: string;
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;
const VERB = /^[a-z]+$/;
const ARG = /^[\x21-\x7e]*$/;

export class AgentClient {
  readonly stats: AgentStats = { badLines: 0, unknownIds: 0, overlong: 0, timeouts: 0 };
  /** The agent's hello ("paravm-agent 1"), once seen. */
  hello: string | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly helloWaiters = new Set<() => void>();
  /** The line being assembled: chunks, their total, and whether it already overflowed. */
  private chunks: Uint8Array[] = [];
  private lineBytes = 0;
  private overflow = false;

  /** `send`: deliver request bytes to the port (the owner thread). */
  constructor(private readonly send: (bytes: Uint8Array) => void) {}

  /**
   * Send `<verb> [arg]` and wait for its answer. Rejects with AgentError: the agent did
   * not answer within `timeoutMs`, answered `err`, or the channel closed.
   */
  request(verb: string, arg?: string, timeoutMs: number = AGENT.TIMEOUT_MS): Promise<AgentAnswer> {
    if (!VERB.test(verb) || (arg !== undefined && !ARG.test(arg))) {
      return Promise.reject(new AgentError(`agent request: bad verb or argument (${JSON.stringify(verb)})`));
    }
    if (this.pending.size >= AGENT.MAX_PENDING) {
      return Promise.reject(new AgentError(`the guest agent has ${AGENT.MAX_PENDING} requests waiting already`));
    }
    const id = this.nextId;
    this.nextId = id >= AGENT.MAX_ID ? 1 : id + 1;
    return new Promise<AgentAnswer>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!this.pending.delete(id)) return;
        this.stats.timeouts++;
        const secs = timeoutMs >= 1000 ? `${+(timeoutMs / 1000).toFixed(1)} s` : `${timeoutMs} ms`;
        reject(new AgentError(`the guest agent did not answer '${verb}' in ${secs}: is this the project's pv image (guests/), booted far enough to start /sbin/paravm-agent?`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer, verb });
      this.send(new TextEncoder().encode(`${id} ${verb}${arg !== undefined ? ` ${arg}` : ""}\n`));
    });
  }

  /**
   * A VM restored from a snapshot: its agent said `hello` before the snapshot and sits in
   * its read loop now, so it will not say it again.
   */
  restored(hello: string): void {
    this.hello = hello;
    for (const w of [...this.helloWaiters]) w();
  }

  /** Resolves once the agent said hello (at once if it has), false after `timeoutMs`. */
  ready(timeoutMs: number): Promise<boolean> {
    if (this.hello !== null) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.helloWaiters.delete(done);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.helloWaiters.delete(done);
        resolve(false);
      }, timeoutMs);
      this.helloWaiters.add(done);
    });
  }

  /** The VM stopped: every waiting request fails with `reason`. */
  close(reason: string): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(new AgentError(`guest agent '${p.verb}': ${reason}`));
    }
    this.chunks = [];
    this.lineBytes = 0;
    this.overflow = false;
  }

  /** Bytes from the guest: split into lines, each handled on its own. */
  receive(bytes: Uint8Array): void {
    let start = 0;
    for (let nl = bytes.indexOf(AGENT.NEWLINE); nl >= 0; nl = bytes.indexOf(AGENT.NEWLINE, start)) {
      this.append(bytes.subarray(start, nl));
      this.endLine();
      start = nl + 1;
    }
    this.append(bytes.subarray(start));
  }

  private append(part: Uint8Array): void {
    if (part.length === 0) return;
    if (this.lineBytes + part.length > AGENT.LINE_LIMIT) {
      // Keep the head (the id is in it) and drop the rest of the line.
      if (!this.overflow && this.lineBytes < 32) this.chunks.push(part.slice(0, 32 - this.lineBytes));
      this.overflow = true;
      this.lineBytes += part.length;
      return;
    }
    this.chunks.push(part.slice());
    this.lineBytes += part.length;
  }

  private endLine(): void {
    const line = Buffer.concat(this.chunks).toString("latin1");
    const overflow = this.overflow;
    this.chunks = [];
    this.lineBytes = 0;
    this.overflow = false;
    if (overflow) {
      this.stats.overlong++;
      const id = /^(\d{1,10}) /.exec(line)?.[1];
      if (id !== undefined) this.fail(Number(id), `its answer was longer than ${AGENT.LINE_LIMIT} bytes`);
      return;
    }
    this.handleLine(line);
  }

  private handleLine(line: string): void {
    const m = /^(\d{1,10}) (ok (\d{1,3}) ?|err ?)([A-Za-z0-9+/=]*)$/.exec(line);
    const b64 = m?.[4] ?? "";
    if (!m || b64.length % 4 !== 0 || !B64.test(b64)) {
      this.stats.badLines++;
      return;
    }
    const id = Number(m[1]);
    const output = new Uint8Array(Buffer.from(b64, "base64"));
    if (id === 0) {
      this.hello = Buffer.from(output).toString("utf8");
      for (const w of [...this.helloWaiters]) w();
      return;
    }
    const p = this.pending.get(id);
    if (!p) {
      this.stats.unknownIds++;
      return;
    }
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (m[3] !== undefined) p.resolve({ status: Number(m[3]), output });
    else p.reject(new AgentError(`guest agent '${p.verb}': ${Buffer.from(output).toString("utf8").trim() || "failed"}`));
  }

  private fail(id: number, why: string): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.reject(new AgentError(`guest agent '${p.verb}': ${why}`));
  }
}

/** How a VM's vCPU count is changed: the VM's side of it (vm.ts supplies these). */
export interface VcpuTarget {
  readonly name: string;
  readonly agent: AgentClient;
  /** HSM state of each hart: 0 STARTED, 1 STOPPED, … (sbi/hsm.ts HartState). */
  readonly hsm: () => ArrayLike<number>;
}

export const VCPU_CHANGE = {
  /** How long harts get to reach the HSM state the guest reported. */
  SETTLE_MS: 2000,
  HSM_STARTED: 0,
  HSM_STOPPED: 1,
} as const;

/** Online count from a `cpus` answer, or NaN. */
function onlineOf(a: AgentAnswer): number {
  const s = Buffer.from(a.output).toString("latin1");
  return /^\d{1,3}$/.test(s) ? Number(s) : NaN;
}

/** Whether harts 0..n-1 are started and the others stopped (a hart coming and going settles). */
async function settled(t: VcpuTarget, n: number, ms: number): Promise<boolean> {
  const t0 = performance.now();
  for (;;) {
    const h = t.hsm();
    let ok = true;
    for (let k = 0; k < h.length; k++) {
      const s = h[k]!;
      if (k < n ? s === VCPU_CHANGE.HSM_STOPPED : s !== VCPU_CHANGE.HSM_STOPPED) ok = false;
    }
    if (ok) return true;
    if (performance.now() - t0 > ms) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Ask the guest for `to` CPUs online (it had `from`) and check that the harts followed.
 * All or nothing: on any failure the guest is asked for `from` again, and the error says
 * what went wrong and whether the rollback worked. Returns the new online count.
 */
export async function changeVcpus(t: VcpuTarget, from: number, to: number, timeoutMs: number): Promise<number> {
  let why: string;
  try {
    const got = onlineOf(await t.agent.request("cpus", String(to), timeoutMs));
    if (got === to) {
      if (await settled(t, to, VCPU_CHANGE.SETTLE_MS)) return to;
      why = `the guest reported ${to} online but the harts did not follow within ${VCPU_CHANGE.SETTLE_MS} ms`;
    } else why = `the guest reported ${Number.isNaN(got) ? "no valid count" : `${got}`} online`;
  } catch (e) {
    why = e instanceof Error ? e.message : String(e);
  }
  let back: string;
  try {
    const got = onlineOf(await t.agent.request("cpus", String(from), timeoutMs));
    back = got === from ? `rolled back to ${from}` : `rollback to ${from} left ${got} online`;
  } catch (e) {
    back = `rollback to ${from} failed too (${e instanceof Error ? e.message : String(e)})`;
  }
  throw new AgentError(`VM ${t.name}: vCPUs ${from} → ${to} failed: ${why}; ${back}`);
}
