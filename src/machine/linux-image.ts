/**
 * The RISC-V Linux `Image` loader and the boot memory layout of the pv machine
 * (Documentation/riscv/boot-image-header.rst):
 *
 *     0x00 code0/code1   0x08 text_offset (u64)   0x10 image_size (u64)   0x18 flags (u64)
 *     0x20 version (u32) 0x30 magic "RISCV\0\0\0" (deprecated)   0x38 magic2 "RSC\x05"
 *
 * Layout: kernel at RAM base + text_offset (rounded up to 2 MiB; 0x200000 typical),
 * FDT 8-byte aligned at the top of RAM (2 MiB below the end when RAM allows), initrd
 * page-aligned just below the FDT's 2 MiB block. Every problem is a one-line `ImageError`.
 */
export class ImageError extends Error {
  override readonly name = "ImageError";
}

export const IMAGE = {
  MAGIC_OFFSET: 0x30,
  MAGIC: "RISCV\0\0\0",
  MAGIC2_OFFSET: 0x38,
  MAGIC2: "RSC\x05",
  HEADER_SIZE: 0x40,
  ALIGN: 0x20_0000,
  DEFAULT_TEXT_OFFSET: 0x20_0000,
} as const;

const PAGE = 4096;
const MiB = 1024 * 1024;

export interface ImageHeader {
  readonly textOffset: number;
  /** Bytes the kernel occupies in memory from its load address (includes bss); 0 if the header does not say. */
  readonly imageSize: number;
  readonly flags: number;
  readonly version: number;
}

function u64(v: DataView, off: number): number {
  const lo = v.getUint32(off, true);
  const hi = v.getUint32(off + 4, true);
  return hi * 4294967296 + lo;
}

/** Parse and check the header; `name` is used in messages. */
export function parseImageHeader(bytes: Uint8Array, name = "kernel"): ImageHeader {
  if (bytes.length < IMAGE.HEADER_SIZE) {
    throw new ImageError(`${name}: not a RISC-V Linux Image (${bytes.length} bytes, too short for the header)`);
  }
  const ascii = (off: number, len: number): string => String.fromCharCode(...bytes.subarray(off, off + len));
  if (ascii(IMAGE.MAGIC2_OFFSET, 4) !== IMAGE.MAGIC2 && ascii(IMAGE.MAGIC_OFFSET, 8) !== IMAGE.MAGIC) {
    throw new ImageError(`${name}: not a RISC-V Linux Image (no "RSC\\x05"/"RISCV" magic in the header)`);
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const textOffset = u64(v, 0x08);
  const imageSize = u64(v, 0x10);
  if (!Number.isSafeInteger(textOffset) || textOffset > 0x1_0000_0000) {
    throw new ImageError(`${name}: corrupt Image header (text_offset 0x${textOffset.toString(16)})`);
  }
  if (!Number.isSafeInteger(imageSize) || imageSize > 0x1_0000_0000 || (imageSize !== 0 && imageSize < bytes.length)) {
    throw new ImageError(
      `${name}: corrupt Image header (image_size 0x${imageSize.toString(16)} for a ${bytes.length}-byte file)`,
    );
  }
  return { textOffset, imageSize, flags: u64(v, 0x18), version: v.getUint32(0x20, true) };
}

export interface BootLayout {
  readonly kernelAddr: number;
  /** End of the kernel's memory footprint (image_size, or the file size when unknown). */
  readonly kernelEnd: number;
  readonly initrd: { readonly start: number; readonly end: number } | null;
  readonly fdtAddr: number;
  /** Bytes reserved for the FDT at fdtAddr. */
  readonly fdtMax: number;
}

export interface LayoutInput {
  readonly ramBase: number;
  readonly ramSize: number;
  readonly kernel: ImageHeader;
  readonly kernelFileSize: number;
  readonly initrdSize?: number;
  /** Bytes to reserve for the device tree (default 64 KiB). */
  readonly fdtSize?: number;
}

const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;
const alignDown = (n: number, a: number): number => Math.floor(n / a) * a;
const mib = (n: number): string => `${Math.ceil(n / MiB)} MiB`;

/** Where kernel, initrd and FDT go; throws `ImageError` when they do not fit in RAM. */
export function planLayout(inp: LayoutInput): BootLayout {
  const { ramBase, ramSize } = inp;
  const ramEnd = ramBase + ramSize;
  const fdtMax = alignUp(inp.fdtSize ?? 64 * 1024, 8);
  const textOffset = alignUp(inp.kernel.textOffset === 0 ? IMAGE.DEFAULT_TEXT_OFFSET : inp.kernel.textOffset, IMAGE.ALIGN);
  const kernelAddr = ramBase + textOffset;
  const kernelEnd = kernelAddr + Math.max(inp.kernel.imageSize, inp.kernelFileSize);
  // FDT: 2 MiB below the end of RAM when the RAM is big enough, else at the very top.
  let fdtAddr = alignDown(ramEnd - 2 * MiB, 8);
  if (fdtAddr < kernelEnd || ramSize < 64 * MiB) fdtAddr = alignDown(ramEnd - fdtMax, 8);
  if (fdtAddr < kernelEnd) {
    throw new ImageError(
      `kernel needs ${mib(kernelEnd - ramBase + fdtMax)} of RAM (${mib(kernelEnd - kernelAddr)} image at +0x${textOffset.toString(16)}); --mem is ${mib(ramSize)}`,
    );
  }
  let initrd: BootLayout["initrd"] = null;
  if (inp.initrdSize !== undefined) {
    const start = alignDown(fdtAddr - inp.initrdSize, PAGE);
    if (start < alignUp(kernelEnd, PAGE)) {
      throw new ImageError(
        `kernel (${mib(kernelEnd - kernelAddr)}) and initrd (${mib(inp.initrdSize)}) do not fit in --mem ${mib(ramSize)}`,
      );
    }
    initrd = { start, end: start + inp.initrdSize };
  }
  return { kernelAddr, kernelEnd, initrd, fdtAddr, fdtMax };
}

/** gzip (1f 8b) or an uncompressed newc cpio ("070701"/"070702"), the formats the kernel unpacks here. */
export function checkInitrd(bytes: Uint8Array, name = "initrd"): void {
  if (bytes.length === 0) throw new ImageError(`${name}: empty file`);
  const gz = bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
  const cpio = bytes.length >= 6 && /^07070[12]$/.test(String.fromCharCode(...bytes.subarray(0, 6)));
  if (!gz && !cpio) throw new ImageError(`${name}: not a gzip-compressed or newc cpio initramfs`);
}
