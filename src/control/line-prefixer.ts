/**
 * Console output of several VMs for one terminal (`paravm multi`).
 */
/**
 * Console output of several VMs, line by line with a `[name] ` prefix: bytes are held
 * until a newline (or `flush`), so lines of different VMs never mix.
 */
export class LinePrefixer {
  private readonly partial = new Map<string, string>();

  constructor(private readonly write: (text: string) => void) {}

  push(name: string, bytes: Uint8Array): void {
    const text = (this.partial.get(name) ?? "") + Buffer.from(bytes).toString("utf8");
    const cut = text.lastIndexOf("\n");
    if (cut < 0) {
      this.partial.set(name, text);
      return;
    }
    this.partial.set(name, text.slice(cut + 1));
    let out = "";
    for (const line of text.slice(0, cut).split("\n")) out += `[${name}] ${line.replace(/\r$/, "")}\n`;
    this.write(out);
  }

  /** Write out what is left of unfinished lines. */
  flush(): void {
    for (const [name, rest] of this.partial) if (rest.length > 0) this.write(`[${name}] ${rest}\n`);
    this.partial.clear();
  }
}
