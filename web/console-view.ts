/**
 * A VM's console in the page: @xterm/xterm over /api/v1/vms/{name}/console. The daemon
 * sends the scroll-back first, then live bytes; keystrokes go back as text. xterm
 * interprets the bytes as a terminal does (escape sequences), never as HTML.
 */
import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";
import type { Api } from "./api.js";
import { h, setText } from "./dom.js";
import { LiveSocket } from "./socket.js";

const SCROLLBACK_LINES = 5000;
const FONT_SIZE = 13;
/** Why a console socket closed, by its close code (docs/api.md). */
const CLOSE_UNKNOWN_VM = 4404;

export interface ConsoleView {
  el: HTMLElement;
  focus(): void;
  destroy(): void;
}

export function consoleView(api: Api, name: string): ConsoleView {
  const status = h("span", { class: "console-status" }, "connecting…");
  const screen = h("div", { class: "console-screen", id: "console" });
  const el = h("section", { class: "console" }, h("h3", {}, "Console ", status), screen);

  const term = new Terminal({
    scrollback: SCROLLBACK_LINES,
    fontSize: FONT_SIZE,
    fontFamily: "ui-monospace, 'DejaVu Sans Mono', monospace",
    cursorBlink: true,
    theme: { background: "#111418", foreground: "#d8dee4" },
  });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(screen);

  const socket = new LiveSocket({
    url: () => api.wsUrl(`/vms/${encodeURIComponent(name)}/console`),
    // Every connection starts with the scroll-back: start from a clean screen so a
    // reconnect (the VM restarted, the daemon came back) does not show it twice.
    onOpen: () => term.reset(),
    onMessage: (data) => term.write(typeof data === "string" ? data : new Uint8Array(data)),
    onState: (state, detail) => {
      if (state === "open") setText(status, "connected");
      else if (state === "connecting") setText(status, "connecting…");
      else setText(status, detail.startsWith(String(CLOSE_UNKNOWN_VM)) ? "no such VM" : `closed (${detail}); reconnecting`);
      status.className = `console-status ${state}`;
    },
  });
  term.onData((d) => {
    if (!socket.send(d)) setText(status, "not connected: keystroke dropped");
  });

  const resize = new ResizeObserver(() => {
    if (screen.clientWidth > 0) fit.fit();
  });
  resize.observe(screen);

  return {
    el,
    focus: () => term.focus(),
    destroy() {
      resize.disconnect();
      socket.close();
      term.dispose();
    },
  };
}
