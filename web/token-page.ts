/**
 * The token page, shown when the daemon answers 401. The token is tried against the API
 * before it is kept (sessionStorage: gone with the tab, never written to disk by us).
 */
import { ApiError, type Api, type HostView } from "./api.js";
import { button, field, h, input, setText } from "./dom.js";

/**
 * Show the form in `root` and resolve once a token has been accepted. `reason` is the
 * daemon's message from the 401 that brought the page here.
 */
export function askToken(root: HTMLElement, api: Api, reason: string): Promise<HostView> {
  return new Promise((resolve) => {
    const tokenInput = input("token", "", "password", "the daemon's token");
    tokenInput.autocomplete = "current-password";
    const message = h("p", { class: "token-message", id: "token-message", role: "status" });
    const submit = button("Open the dashboard", () => void tryToken());
    submit.type = "submit";
    const form = h(
      "form",
      { class: "token-form", id: "token-form" },
      h("h1", {}, "paravm"),
      h("p", {}, "This daemon needs its token. It was printed when ", h("code", {}, "paravm serve"), " started (or given with ", h("code", {}, "--token"), " / ", h("code", {}, "PARAVM_TOKEN"), ")."),
      field("Token", tokenInput),
      submit,
      message,
    );
    if (reason !== "") setText(message, reason);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      void tryToken();
    });
    root.replaceChildren(h("main", { class: "token-page" }, form));
    tokenInput.focus();

    async function tryToken(): Promise<void> {
      const token = tokenInput.value.trim();
      if (token === "") {
        setText(message, "Enter the token.");
        return;
      }
      submit.disabled = true;
      setText(message, "Checking…");
      message.className = "token-message";
      try {
        const host = await api.request<HostView>("GET", "/host", undefined, token);
        api.token = token;
        resolve(host);
      } catch (e) {
        message.className = "token-message error";
        if (e instanceof ApiError && e.status === 401) {
          setText(message, `The daemon refused this token (401 ${e.error}): ${e.message}`);
          tokenInput.select();
        } else {
          setText(message, e instanceof Error ? e.message : String(e));
        }
      } finally {
        submit.disabled = false;
      }
    }
  });
}
