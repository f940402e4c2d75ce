/**
 * For tests that boot the project's pv guest in this process (here in control, beside
 * defaultGuestDir, so the hypervisor layer imports nothing above it): where the images are (or
 * why the test skips), and a machine spec that runs one shell command (`paravm.exec`).
 * The kernel and initramfs are read once per test file.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { defaultGuestDir } from "./args.js";
import { PV_DEFAULTS } from "../machine/pv.js";
import type { MachineSpec } from "../hypervisor/machine-spec.js";

export const GUEST_DIR = defaultGuestDir();
/** A `skip` option value: false when the guest images are there. */
export const NO_GUEST: string | false = GUEST_DIR === null ? "no guest images in ~/.cache/paravm" : false;

let images: { kernel: Uint8Array; initrd: Uint8Array } | null = null;

/**
 * A 1-vCPU pv spec that runs `exec` in the guest (quiet boot); `opts` overrides any field,
 * and `args` adds kernel command-line words before the command.
 */
export function pvExecSpec(exec: string, opts: Partial<MachineSpec> = {}, args = ""): MachineSpec {
  images ??= { kernel: readFileSync(join(GUEST_DIR!, "Image")), initrd: readFileSync(join(GUEST_DIR!, "initramfs.cpio.gz")) };
  return {
    profile: "pv",
    cpus: 1,
    memBytes: 128 * 1024 * 1024,
    ...images,
    bootargs: `${PV_DEFAULTS.BOOTARGS} quiet ${args ? `${args} ` : ""}paravm.exec=${Buffer.from(exec).toString("base64")}`,
    ...opts,
  };
}
