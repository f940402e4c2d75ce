import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseRateLimit, RateLimiter, TokenBucket } from "./rate-limiter.js";

function fakeClock() {
  const c = { t: 0, now: () => c.t };
  return c;
}

describe("token bucket", () => {
  test("starts full, refuses past the budget, refills linearly", () => {
    const c = fakeClock();
    const b = new TokenBucket({ size: 1000, refillTimeMs: 1000 }, c.now);
    assert.equal(b.consume(600), true);
    assert.equal(b.consume(600), false);
    assert.equal(b.msUntil(600), 200);
    c.t = 199;
    assert.equal(b.consume(600), false);
    c.t = 200;
    assert.equal(b.consume(600), true);
    c.t = 10_000;
    assert.equal(b.available(), 1000, "capped at size");
  });

  test("one-time burst is spent first and never comes back", () => {
    const c = fakeClock();
    const b = new TokenBucket({ size: 100, oneTimeBurst: 500, refillTimeMs: 1000 }, c.now);
    assert.equal(b.consume(550), true);
    assert.equal(b.oneTimeBurst, 0);
    assert.equal(b.available(), 50);
    c.t = 5000;
    assert.equal(b.available(), 100);
  });

  test("a request larger than the bucket passes when full and leaves a debt", () => {
    const c = fakeClock();
    const b = new TokenBucket({ size: 100, refillTimeMs: 1000 }, c.now);
    assert.equal(b.consume(300), true);
    assert.equal(b.available(), -200);
    assert.equal(b.consume(1), false);
    assert.equal(b.msUntil(300), 3000, "full again after paying the debt");
    c.t = 3000;
    assert.equal(b.consume(300), true);
  });

  test("rejects nonsense configuration", () => {
    assert.throws(() => new TokenBucket({ size: 0, refillTimeMs: 1 }));
    assert.throws(() => new TokenBucket({ size: 1, refillTimeMs: 0 }));
    assert.throws(() => new TokenBucket({ size: 1, refillTimeMs: 1, oneTimeBurst: -1 }));
  });
});

describe("rate limiter", () => {
  test("both buckets or neither", () => {
    const c = fakeClock();
    const r = new RateLimiter({ bandwidth: { size: 1000, refillTimeMs: 1000 }, ops: { size: 2, refillTimeMs: 1000 } }, c.now);
    assert.equal(r.consume(1, 100), true);
    assert.equal(r.consume(1, 2000), false, "bytes refuse");
    assert.equal(r.ops!.available(), 1, "ops not taken when bytes refused");
    assert.equal(r.consume(1, 100), true);
    assert.equal(r.consume(1, 100), false, "ops refuse");
    assert.equal(r.blocked, true);
    assert.equal(r.nextRefillMs(), 500);
    assert.equal(r.bandwidth!.available(), 800, "bytes not taken when ops refused");
    c.t = 500;
    assert.equal(r.nextRefillMs(), 0);
    assert.equal(r.consume(1, 100), true);
    assert.equal(r.blocked, false);
    assert.deepEqual(r.stats, { allowed: 3, throttled: 2 });
  });

  test("nextRefillMs is the slower bucket", () => {
    const c = fakeClock();
    const r = new RateLimiter({ bandwidth: { size: 1000, refillTimeMs: 1000 }, ops: { size: 10, refillTimeMs: 100 } }, c.now);
    assert.equal(r.consume(1, 1000), true);
    assert.equal(r.consume(1, 500), false);
    assert.equal(r.nextRefillMs(), 500);
  });

  test("no buckets: unlimited", () => {
    const r = new RateLimiter({});
    for (let i = 0; i < 1000; i++) assert.equal(r.consume(1, 1 << 20), true);
  });

  test("parseRateLimit", () => {
    const c = fakeClock();
    const r = parseRateLimit("bw=1M,ops=100,bw_burst=4M", c.now)!;
    assert.equal(r.bandwidth!.size, 1 << 20);
    assert.equal(r.bandwidth!.oneTimeBurst, 4 << 20);
    assert.equal(r.ops!.size, 100);
    assert.equal(parseRateLimit(""), null);
    assert.throws(() => parseRateLimit("speed=fast"));
  });
});
