import assert from "node:assert/strict";
import { test } from "node:test";
import { AdmissionError, defaultBudget, MEMORY_DEFAULTS, MemoryPool, vmChargeBytes, vmOverheadBytes } from "./memory-pool.js";

const MiB = 1024 * 1024;

test("a VM is charged its RAM minus its balloon plus the per-VM overhead", () => {
  assert.equal(vmChargeBytes(256 * MiB, 1), 256 * MiB + MEMORY_DEFAULTS.VM_OVERHEAD_BYTES);
  assert.equal(vmChargeBytes(256 * MiB, 1, 128 * MiB), 128 * MiB + MEMORY_DEFAULTS.VM_OVERHEAD_BYTES);
  assert.equal(vmOverheadBytes(3), MEMORY_DEFAULTS.VM_OVERHEAD_BYTES + 2 * MEMORY_DEFAULTS.VCPU_OVERHEAD_BYTES);
  // A balloon larger than RAM (a hostile "actual") never makes a charge negative.
  assert.equal(vmChargeBytes(64 * MiB, 1, 1024 * MiB), MEMORY_DEFAULTS.VM_OVERHEAD_BYTES);
});

test("admission refuses a VM that does not fit, says what was asked and what is free, and changes nothing", () => {
  const pool = new MemoryPool(512 * MiB);
  pool.admit("a", 300 * MiB);
  const before = pool.snapshot();
  assert.throws(
    () => pool.admit("b", 300 * MiB),
    (e: unknown) =>
      e instanceof AdmissionError &&
      /VM b needs 300 MiB of host memory, but only 212 MiB of the 512 MiB budget is free/.test(e.message) &&
      e.askedBytes === 300 * MiB &&
      e.freeBytes === 212 * MiB,
  );
  assert.deepEqual(pool.snapshot(), before);
  pool.admit("b", 212 * MiB); // exactly what is free fits
  assert.equal(pool.freeBytes, 0);
  assert.throws(() => pool.admit("b", 1), /already holds/);
});

test("memory given back by a balloon returns to the pool, so one more VM is admitted (overcommit)", () => {
  const pool = new MemoryPool(600 * MiB);
  pool.admit("a", 280 * MiB);
  pool.admit("b", 280 * MiB);
  assert.throws(() => pool.admit("c", 280 * MiB), AdmissionError);
  // Squeeze the idle ones: each balloon takes 128 MiB.
  pool.resize("a", 152 * MiB);
  pool.resize("b", 152 * MiB);
  pool.admit("c", 280 * MiB);
  assert.equal(pool.chargedBytes, 584 * MiB);
  // Growing back does not fit now: refused, nothing changed.
  assert.throws(() => pool.resize("a", 280 * MiB), /would grow from 152 MiB to 280 MiB/);
  assert.equal(pool.chargeOf("a"), 152 * MiB);
  assert.equal(pool.chargedBytes, 584 * MiB);
  pool.release("c");
  pool.resize("a", 280 * MiB);
  assert.equal(pool.freeBytes, 600 * MiB - 432 * MiB);
  pool.release("c"); // twice: no effect
  assert.equal(pool.freeBytes, 168 * MiB);
  assert.throws(() => pool.resize("c", MiB), /holds no memory/);
});

test("a budget below the minimum, or not a number, is refused", () => {
  assert.throws(() => new MemoryPool(MiB), /below the minimum/);
  assert.throws(() => new MemoryPool(Number.NaN), /budget/);
});

test("the default budget is a share of the host's available memory, and says so", () => {
  const d = defaultBudget();
  assert.ok(d.bytes >= MEMORY_DEFAULTS.MIN_BUDGET_BYTES, `${d.bytes}`);
  assert.match(d.source, /available|unknown/);
  assert.equal(d.bytes % MiB, 0);
});
