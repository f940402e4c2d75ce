/** Numbers as the page shows them: short, with units, and "–" for what is not known. */
export const UNKNOWN = "–";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return UNKNOWN;
  if (Math.abs(n) >= GiB) return `${(n / GiB).toFixed(2)} GiB`;
  if (Math.abs(n) >= MiB) return `${(n / MiB).toFixed(0)} MiB`;
  if (Math.abs(n) >= 1024) return `${(n / 1024).toFixed(0)} KiB`;
  return `${n} B`;
}

export function mib(n: number | null | undefined): number | null {
  return n === null || n === undefined || !Number.isFinite(n) ? null : n / MiB;
}

export function pct(n: number | null | undefined, digits = 0): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return UNKNOWN;
  return `${n.toFixed(digits)}%`;
}

export function rate(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return UNKNOWN;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} M/s`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k/s`;
  return `${n.toFixed(0)}/s`;
}

/** "12:03:45" in local time. */
export function clock(at: number | string): string {
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? String(at) : d.toLocaleTimeString([], { hour12: false });
}

/**
 * Sizes as the API takes them: plain byte counts or strings like "64M" (the fleet file's
 * syntax, checked by the daemon). A bare number typed in a size field means MiB, as a
 * person means it.
 */
export function sizeForApi(text: string): string | number {
  const t = text.trim();
  return /^\d+$/.test(t) ? `${t}M` : t;
}

/** Units of the fleet file's sizes ("64M", "1G", "512MiB"), to bytes. */
const SIZE_UNITS: Record<string, number> = { "": 1, K: 1024, M: MiB, G: GiB };

/** A size from a VmEntry (bytes, or a string in the fleet file's syntax); null if unreadable. */
export function parseSize(v: unknown): number | null {
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v !== "string") return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMG]?)(?:i?B)?\s*$/i.exec(v);
  if (m === null) return null;
  return Math.round(Number(m[1]) * SIZE_UNITS[m[2]!.toUpperCase()]!);
}
