/**
 * A token-bucket rate limiter in the manner of Firecracker's (`src/vmm/src/rate_limiter`):
 * two independent buckets, bandwidth (bytes) and operations, each with
 *
 *   - `size`          tokens the bucket holds when full (and the refill per `refillTimeMs`);
 *   - `oneTimeBurst`  extra tokens available once, spent before the regular budget;
 *   - `refillTimeMs`  time to refill an empty bucket completely (continuous, linear).
 *
 * `consume(ops, bytes)` takes from both buckets or from neither (atomic). A device that is
 * refused keeps its request and retries after `nextRefillMs()`.
 *
 * A single request larger than a bucket's size would never fit: like Firecracker's
 * "over-consumption", it is allowed once the bucket is full and leaves the bucket in debt
 * (a negative budget), so the long-run rate still holds.
 *
 * Time comes from an injectable clock (milliseconds, monotonic); tests pass a fake one.
 */

export interface TokenBucketConfig {
  /** Tokens in a full bucket (bytes or operations); > 0. */
  readonly size: number;
  /** Tokens available once, on top of the budget (default 0). */
  readonly oneTimeBurst?: number;
  /** Milliseconds to refill `size` tokens; > 0. */
  readonly refillTimeMs: number;
}

export type Clock = () => number;

export const monotonicClock: Clock = () => performance.now();

/** Schedules a device's retry after its limiter refused (tests inject a fake). */
export type RetryTimer = (ms: number, fn: () => void) => void;

/** setTimeout, unref'd so a throttled device never keeps the process alive. */
export const defaultRetryTimer: RetryTimer = (ms, fn) => {
  setTimeout(fn, ms).unref?.();
};

export class TokenBucket {
  readonly size: number;
  readonly refillTimeMs: number;
  private budget: number;
  private burst: number;
  private last: number;

  constructor(
    cfg: TokenBucketConfig,
    private readonly clock: Clock = monotonicClock,
  ) {
    const ok = (v: number) => Number.isFinite(v) && v > 0;
    if (!ok(cfg.size) || !ok(cfg.refillTimeMs)) {
      throw new RangeError(`token bucket needs size > 0 and refillTimeMs > 0, got ${cfg.size}, ${cfg.refillTimeMs}`);
    }
    const burst = cfg.oneTimeBurst ?? 0;
    if (!Number.isFinite(burst) || burst < 0) throw new RangeError(`one-time burst ${burst}`);
    this.size = cfg.size;
    this.refillTimeMs = cfg.refillTimeMs;
    this.budget = cfg.size;
    this.burst = burst;
    this.last = clock();
  }

  /** Tokens usable now (budget plus what is left of the one-time burst; may be negative in debt). */
  available(): number {
    this.refill();
    return this.budget + this.burst;
  }

  /** Remaining one-time burst. */
  get oneTimeBurst(): number {
    return this.burst;
  }

  /** Whether `n` tokens could be taken now (refilling first). */
  canConsume(n: number): boolean {
    this.refill();
    if (n <= this.budget + this.burst) return true;
    // Over-consumption: a request bigger than the bucket passes when the bucket is full.
    return n > this.size && this.budget >= this.size;
  }

  /** Take `n` tokens if possible; true when taken. */
  consume(n: number): boolean {
    if (n <= 0) return true;
    if (!this.canConsume(n)) return false;
    const fromBurst = Math.min(this.burst, n);
    this.burst -= fromBurst;
    this.budget -= n - fromBurst;
    return true;
  }

  /** Give back tokens taken by `consume` (the other bucket of a pair refused). */
  refund(n: number): void {
    if (n > 0) this.budget = Math.min(this.size, this.budget + n);
  }

  /** Milliseconds until `n` tokens could be taken (0 when they can now). */
  msUntil(n: number): number {
    if (this.canConsume(n)) return 0;
    const need = Math.min(n, this.size) - this.burst - this.budget;
    return Math.max(1, Math.ceil((need * this.refillTimeMs) / this.size));
  }

  private refill(): void {
    const now = this.clock();
    const elapsed = now - this.last;
    if (elapsed <= 0) return;
    this.last = now;
    if (this.budget < this.size) {
      this.budget = Math.min(this.size, this.budget + (elapsed * this.size) / this.refillTimeMs);
    }
  }
}

export interface RateLimiterConfig {
  /** Bytes per `refillTimeMs` (absent: bytes unlimited). */
  readonly bandwidth?: TokenBucketConfig;
  /** Operations (frames, requests) per `refillTimeMs` (absent: unlimited). */
  readonly ops?: TokenBucketConfig;
}

export interface RateLimiterStats {
  /** consume() calls that succeeded / were refused. */
  allowed: number;
  throttled: number;
}

export class RateLimiter {
  readonly bandwidth: TokenBucket | null;
  readonly ops: TokenBucket | null;
  readonly stats: RateLimiterStats = { allowed: 0, throttled: 0 };
  /** The last refused request, for nextRefillMs; null when the last consume succeeded. */
  private refused: { ops: number; bytes: number } | null = null;

  constructor(cfg: RateLimiterConfig, clock: Clock = monotonicClock) {
    this.bandwidth = cfg.bandwidth ? new TokenBucket(cfg.bandwidth, clock) : null;
    this.ops = cfg.ops ? new TokenBucket(cfg.ops, clock) : null;
  }

  /** Take `ops` operations and `bytes` bytes, from both buckets or neither. */
  consume(ops: number, bytes: number): boolean {
    const okOps = this.ops ? this.ops.canConsume(ops) : true;
    const okBytes = this.bandwidth ? this.bandwidth.canConsume(bytes) : true;
    if (!okOps || !okBytes) {
      this.refused = { ops, bytes };
      this.stats.throttled++;
      return false;
    }
    this.ops?.consume(ops);
    this.bandwidth?.consume(bytes);
    this.refused = null;
    this.stats.allowed++;
    return true;
  }

  /** Whether the last consume() was refused (a device should wait nextRefillMs()). */
  get blocked(): boolean {
    return this.refused !== null;
  }

  /**
   * Milliseconds until the last refused request would pass (at least 1 while blocked);
   * 0 when nothing was refused or it would pass now.
   */
  nextRefillMs(): number {
    const r = this.refused;
    if (!r) return 0;
    const a = this.ops ? this.ops.msUntil(r.ops) : 0;
    const b = this.bandwidth ? this.bandwidth.msUntil(r.bytes) : 0;
    return Math.max(a, b);
  }
}

/**
 * Parse a limiter spec for command lines: comma-separated `bw=BYTES_PER_S`, `ops=OPS_PER_S`,
 * optional `bw_burst=BYTES`, `ops_burst=OPS` (one-time bursts); buckets refill in one
 * second. Suffixes K/M/G (powers of 1024) are accepted. Returns null for an empty spec.
 */
export function parseRateLimit(spec: string, clock: Clock = monotonicClock): RateLimiter | null {
  const cfg: { bandwidth?: TokenBucketConfig; ops?: TokenBucketConfig } = {};
  let bw = 0;
  let bwBurst = 0;
  let ops = 0;
  let opsBurst = 0;
  for (const part of spec.split(",").map((s) => s.trim()).filter((s) => s.length > 0)) {
    const m = /^(bw|ops|bw_burst|ops_burst)=(\d+(?:\.\d+)?)([kKmMgG]?)$/.exec(part);
    if (!m) throw new Error(`bad rate limit "${part}" (want bw=N, ops=N, bw_burst=N, ops_burst=N)`);
    const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[3]!.toLowerCase() as "" | "k" | "m" | "g"];
    const v = Number(m[2]) * mult;
    if (m[1] === "bw") bw = v;
    else if (m[1] === "ops") ops = v;
    else if (m[1] === "bw_burst") bwBurst = v;
    else opsBurst = v;
  }
  if (bw > 0) cfg.bandwidth = { size: bw, oneTimeBurst: bwBurst, refillTimeMs: 1000 };
  if (ops > 0) cfg.ops = { size: ops, oneTimeBurst: opsBurst, refillTimeMs: 1000 };
  if (!cfg.bandwidth && !cfg.ops) return null;
  return new RateLimiter(cfg, clock);
}
