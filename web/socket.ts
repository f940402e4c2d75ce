/**
 * A WebSocket that comes back: the daemon restarts, a laptop sleeps, a VM's console
 * closes when it stops. Reconnects with a growing delay until closed by the page.
 */
export type SocketState = "connecting" | "open" | "closed";

const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 5000;

export interface SocketHandlers {
  /** Called before each (re)connection: the URL carries the current token. */
  url(): string;
  onOpen?(ws: WebSocket): void;
  onMessage(data: string | ArrayBuffer): void;
  /** detail, when closed: the close code, then the reason if any ("4404 unknown VM"). */
  onState?(state: SocketState, detail: string): void;
}

export class LiveSocket {
  private ws: WebSocket | null = null;
  private retryMs = RETRY_FIRST_MS;
  private timer: number | undefined;
  private stopped = false;

  constructor(private readonly handlers: SocketHandlers) {
    this.connect();
  }

  send(data: string | ArrayBufferLike | Uint8Array): boolean {
    if (this.ws === null || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(data as string);
    return true;
  }

  close(): void {
    this.stopped = true;
    window.clearTimeout(this.timer);
    this.ws?.close();
    this.ws = null;
  }

  private connect(): void {
    if (this.stopped) return;
    this.handlers.onState?.("connecting", "");
    const ws = new WebSocket(this.handlers.url());
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => {
      this.retryMs = RETRY_FIRST_MS;
      this.handlers.onState?.("open", "");
      this.handlers.onOpen?.(ws);
    };
    ws.onmessage = (ev: MessageEvent<string | ArrayBuffer>) => this.handlers.onMessage(ev.data);
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      this.handlers.onState?.("closed", `${ev.code}${ev.reason ? ` ${ev.reason}` : ""}`);
      this.timer = window.setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
    };
  }
}
