/**
 * Shared by the API tests: a Vmm over a temporary state directory, fake or real guest
 * images, polling helpers. Not a test file itself.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultGuestDir, loadGuest } from "../args.js";
import { VmmError, type ErrorClass } from "./errors.js";
import { Vmm, type VmmOptions } from "./vmm.js";

/** Images for VMs that are created but never booted (a start fails to build them). */
export const NO_IMAGES = (): { kernel: Uint8Array } => ({ kernel: new Uint8Array(0) });

export const REAL_IMAGES = (): { kernel: Uint8Array; initrd?: Uint8Array } => {
  const { kernel, initrd } = loadGuest({});
  return { kernel, ...(initrd ? { initrd } : {}) };
};

export const noGuest = defaultGuestDir() === null ? "guest images are not built (node scripts/build-guests.mjs)" : false;

export function tempDir(prefix: string): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A raw disk image of `sectors` 512-byte sectors, filled with `fill`. */
export function diskFile(dir: string, name: string, sectors = 2048, fill = 0x5a): string {
  const path = join(dir, name);
  writeFileSync(path, Buffer.alloc(sectors * 512, fill));
  return path;
}

export function newVmm(stateDir: string | null, opts: Partial<VmmOptions> = {}): Vmm {
  return new Vmm({ stateDir, images: NO_IMAGES, hostMemBytes: 1024 * 1024 * 1024, pcpus: 2, ...opts });
}

export async function until<T>(what: string, ms: number, probe: () => T | null | undefined | false | Promise<T | null | undefined | false>): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `p` must be refused with this error class and a message matching `message`; returns the error. */
export async function refused(p: Promise<unknown>, error: ErrorClass, message: RegExp): Promise<VmmError> {
  const e = await p.then(
    () => assert.fail(`expected a ${error} refusal`),
    (x: unknown) => x,
  );
  assert.ok(e instanceof VmmError, String(e));
  assert.equal(e.error, error, e.message);
  assert.match(e.message, message);
  return e;
}
