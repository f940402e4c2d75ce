/**
 * The dashboard in a real browser against a real daemon (issue 13): Debian's chromium
 * (headless, through playwright-core) opens the page of a `paravm serve` child process.
 *
 * One story, step by step: the token page refuses a wrong token and accepts the right
 * one; a pv VM (64 MiB, a shell) is created with the form and boots in the in-page
 * console; a command typed there prints its answer in the page; with a second VM burning
 * CPU on one host core, moving the first VM's weight slider changes its settings in the
 * API and its entitlement and share in the chart; pausing it takes its CPU to ~0; it
 * stops. Screenshots of the views are taken on the way (into docs/ with
 * PARAVM_DASHBOARD_SHOTS=1, else into a temporary directory).
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Page } from "playwright-core";
import { Daemon, launchBrowser, ROOT, skipReason, type Browser } from "./harness.js";

const TOKEN = "dashboard-test-token-7f3a";
const SHELL_VM = "web-1";
const BURN_VM = "burner";
/** One host core for both VMs, so weights decide who gets how much of it. */
const PCPUS = "1";
const BOOT_MS = 180_000;
const SETTLE_MS = 60_000;
const STEP_MS = 30_000;
/** The weight the slider moves to: 3 × the default 256, so the entitlement goes 50% → 75%. */
const NEW_WEIGHT = 768;
const ENTITLED_BEFORE = 50;
const ENTITLED_AFTER = 75;
/** Entitlement is computed (tight); the share is measured over the scheduler's 1 s window (looser). */
const ENTITLED_TOL = 5;
const SHARE_TOL = 12;
/** "~0": what a paused VM may still show for its last sampling window. */
const PAUSED_CPU_MAX = 2;

const skip = skipReason();
const shotsDir = process.env.PARAVM_DASHBOARD_SHOTS === "1" ? join(ROOT, "docs") : mkdtempSync(join(tmpdir(), "paravm-dash-shots-"));

/** The text on the in-page terminal's screen, lines joined by newlines. */
function screenText(page: Page): Promise<string> {
  return page.evaluate(() => (document.querySelector("#console .xterm-rows") as HTMLElement | null)?.innerText ?? "");
}

async function waitForScreen(page: Page, re: RegExp, timeout: number): Promise<string> {
  await page.waitForFunction(
    (src) => new RegExp(src, "m").test((document.querySelector("#console .xterm-rows") as HTMLElement | null)?.innerText ?? ""),
    re.source,
    { timeout, polling: 250 },
  );
  return screenText(page);
}

/** A chart's last plotted values, as the chart writes them on its element. */
async function chartLast(page: Page, id: string): Promise<Record<string, number | null> & { points: number }> {
  return page.evaluate((chartId) => {
    const el = document.getElementById(chartId)!;
    return { ...JSON.parse(el.dataset.last ?? "{}"), points: Number(el.dataset.points ?? 0) };
  }, id);
}

async function waitForChart(page: Page, id: string, ok: (last: Record<string, number | null>) => boolean, timeout: number, what: string): Promise<Record<string, number | null>> {
  const deadline = Date.now() + timeout;
  let last: Record<string, number | null> = {};
  while (Date.now() < deadline) {
    last = await chartLast(page, id);
    if (ok(last)) return last;
    await page.waitForTimeout(500);
  }
  assert.fail(`${what}: chart ${id} never got there; last values ${JSON.stringify(last)}`);
}

async function createWithForm(page: Page, name: string, runs: string): Promise<void> {
  await page.fill("#f-name", name);
  await page.selectOption("#f-profile", "pv");
  await page.fill("#f-mem", "64M");
  await page.selectOption("#f-runs", runs);
  await page.check("#f-start");
  await page.click("#create-form button[type=submit]");
  await page.locator(`#fleet-table tr[data-vm="${name}"]`).waitFor({ timeout: STEP_MS });
}

describe("dashboard in chromium against paravm serve", { skip: skip ?? false, timeout: 10 * 60_000 }, () => {
  let daemon: Daemon;
  let browser: Browser;
  let page: Page;

  before(async () => {
    mkdirSync(shotsDir, { recursive: true });
    daemon = await Daemon.start(TOKEN, ["--pcpus", PCPUS]);
    browser = await launchBrowser();
    page = await browser.context.newPage();
    page.on("pageerror", (e) => process.stderr.write(`page error: ${e.message}\n`));
  });

  after(async () => {
    await browser?.close();
    await daemon?.stop();
    if (process.env.PARAVM_DASHBOARD_SHOTS !== "1") rmSync(shotsDir, { recursive: true, force: true });
  });

  test("the token page refuses a wrong token and accepts the right one", async () => {
    await page.goto(daemon.url);
    await page.locator("#token-form").waitFor({ timeout: STEP_MS });
    await page.fill("#f-token", "not-the-token");
    await page.click("#token-form button[type=submit]");
    await page.locator("#token-message.error").waitFor({ timeout: STEP_MS });
    assert.match((await page.textContent("#token-message")) ?? "", /refused this token \(401/);
    await page.screenshot({ path: join(shotsDir, "dashboard-token.png") });
    assert.equal(await page.locator("#fleet-table").count(), 0, "a wrong token must not open the dashboard");

    await page.fill("#f-token", TOKEN);
    await page.click("#token-form button[type=submit]");
    await page.locator("#fleet-table").waitFor({ timeout: STEP_MS });
    await page.locator("#live.open").waitFor({ timeout: STEP_MS });
    assert.equal(await page.evaluate(() => sessionStorage.getItem("paravm.token")), TOKEN);
  });

  test("a pv VM made with the form boots in the in-page console and answers a typed command", async () => {
    await createWithForm(page, SHELL_VM, "a shell");
    await page.locator(`#fleet-table tr[data-vm="${SHELL_VM}"] td.state-running`).waitFor({ timeout: STEP_MS });
    const view = await daemon.api<{ state: string; profile: string }>("GET", `/vms/${SHELL_VM}`);
    assert.deepEqual([view.state, view.profile], ["running", "pv"]);

    await page.click(`#fleet-table a.vm-link:text-is("${SHELL_VM}")`);
    await page.locator("#console .xterm-rows").waitFor({ timeout: STEP_MS });
    // The guest's shell prompt (guests/init: PS1='\h:\w\$ '): the boot got to userspace.
    // xterm pads rows with spaces (non-breaking in the DOM), hence \s* before the line's end.
    await waitForScreen(page, /:~#\s*$/, BOOT_MS);
    await page.click("#console");
    await page.keyboard.type("echo hi-$((6*7))\n");
    const screen = await waitForScreen(page, /^hi-42\s*$/, STEP_MS);
    assert.match(screen, /echo hi-\$\(\(6\*7\)\)/, "the typed command is echoed on the screen");
  });

  test("moving the weight slider changes the VM's settings, entitlement and share", async () => {
    // Load on both VMs: a busy loop in the shell, and a second VM burning CPU.
    await page.keyboard.type("while :; do :; done &\n");
    await page.goto(`${daemon.url}/#/`);
    await createWithForm(page, BURN_VM, "workload: cpu-burn");
    await page.goto(`${daemon.url}/#/vm/${SHELL_VM}`);
    await page.locator("#chart-cpu").waitFor({ timeout: STEP_MS });
    // Equal weights on one core: about half each, once the burner has booted.
    const near = (v: number | null | undefined, target: number, tol: number): boolean => typeof v === "number" && Math.abs(v - target) <= tol;
    const even = await waitForChart(page, "chart-cpu", (l) => near(l.entitlementPct, ENTITLED_BEFORE, ENTITLED_TOL) && near(l.cpuPct, ENTITLED_BEFORE, SHARE_TOL), BOOT_MS, "equal weights");
    assert.equal(even.weight, 256);
    const pointsBefore = (await chartLast(page, "chart-cpu")).points;

    await page.locator("#set-weight").fill(String(NEW_WEIGHT)); // sets the value and fires input + change
    await page.locator(`#set-weight-value:text-is("${NEW_WEIGHT}")`).waitFor({ timeout: STEP_MS });
    const view = await daemon.api<{ settings: { weight: number } }>("GET", `/vms/${SHELL_VM}`);
    assert.equal(view.settings.weight, NEW_WEIGHT, "the API has the slider's weight");

    const moved = await waitForChart(page, "chart-cpu", (l) => l.weight === NEW_WEIGHT && near(l.entitlementPct, ENTITLED_AFTER, ENTITLED_TOL) && near(l.cpuPct, ENTITLED_AFTER, SHARE_TOL), SETTLE_MS, "weight 768");
    assert.ok((await chartLast(page, "chart-cpu")).points > pointsBefore, "the chart kept adding points");
    assert.match((await page.textContent("#vm-now")) ?? "", new RegExp(`weight ${NEW_WEIGHT}`));
    assert.ok(moved.cpuPct! > even.cpuPct!, `share followed the weight: ${even.cpuPct}% → ${moved.cpuPct}%`);
    await page.screenshot({ path: join(shotsDir, "dashboard-vm.png"), fullPage: true });
  });

  test("a refused setting shows the API's message", async () => {
    // max-cpus is 1, so the vCPU slider is off; a cap beyond the scheduler's bound is refused by the API.
    await page.evaluate(() => {
      const s = document.getElementById("set-cap") as HTMLInputElement;
      s.max = "100000";
      s.value = "99999";
      s.dispatchEvent(new Event("input"));
      s.dispatchEvent(new Event("change"));
    });
    const err = page.locator(".setting .slider-error", { hasText: "cap" });
    await err.waitFor({ timeout: STEP_MS });
    assert.match((await err.textContent()) ?? "", /^4\d\d /);
    const view = await daemon.api<{ settings: { cap: number } }>("GET", `/vms/${SHELL_VM}`);
    assert.equal(view.settings.cap, 0, "nothing applied");
  });

  test("the fleet and pv-vs-full views show both VMs", async () => {
    await page.goto(`${daemon.url}/#/`);
    for (const name of [SHELL_VM, BURN_VM]) {
      await page.locator(`#fleet-table tr[data-vm="${name}"] td.state-running`).waitFor({ timeout: STEP_MS });
    }
    await page.locator(`#fleet-table tr[data-vm="${SHELL_VM}"] td:nth-child(5)`).filter({ hasText: "%" }).waitFor({ timeout: STEP_MS });
    await page.locator("#event-log li.ev-created").first().waitFor({ timeout: STEP_MS });
    await page.screenshot({ path: join(shotsDir, "dashboard-fleet.png"), fullPage: true });

    await page.goto(`${daemon.url}/#/compare`);
    await page.locator("#compare-table").waitFor({ timeout: STEP_MS });
    await page.waitForTimeout(2000);
    // Live exits by reason (the vCPU threads post them once a second): the running pv VM's
    // reasons appear as rows, with a count in the "all exits" row; a VM without figures
    // (exitsPerS null) would be named in the note instead.
    const frame = await daemon.api<{ exitsPerS: Record<string, number> | null }>("GET", `/vms/${SHELL_VM}/metrics`);
    assert.notEqual(frame.exitsPerS, null, "a running VM reports exits per second");
    await page.locator("#compare-table tbody tr:not(.total)").first().waitFor({ timeout: STEP_MS });
    const totalRow = (await page.textContent("#compare-table tbody tr.total")) ?? "";
    assert.match(totalRow, /all exits\s*[\d,]+/, totalRow);
    assert.doesNotMatch((await page.textContent("#compare-note")) ?? "", /no per-reason exits live for pv/);
    await page.screenshot({ path: join(shotsDir, "dashboard-compare.png"), fullPage: true });
  });

  test("pausing the VM takes its CPU to ~0; stop and destroy from the page", async () => {
    await page.goto(`${daemon.url}/#/vm/${SHELL_VM}`);
    await page.locator('#chart-cpu[data-points]:not([data-points="0"])').waitFor({ timeout: STEP_MS });
    await page.click('.vm-head button[data-verb="pause"]');
    await page.locator("#vm-state.state-paused").waitFor({ timeout: STEP_MS });
    await waitForChart(page, "chart-cpu", (l) => l.cpuPct !== null && l.cpuPct <= PAUSED_CPU_MAX, SETTLE_MS, "paused");

    await page.click('.vm-head button[data-verb="stop"]');
    await page.locator("#vm-state.state-stopped").waitFor({ timeout: STEP_MS });
    assert.equal((await daemon.api<{ state: string }>("GET", `/vms/${SHELL_VM}`)).state, "stopped");

    page.once("dialog", (d) => void d.accept());
    await page.click('.vm-head button[data-verb="destroy"]');
    await page.waitForURL(/#\/$/, { timeout: STEP_MS });
    await page.locator(`#fleet-table tr[data-vm="${SHELL_VM}"]`).waitFor({ state: "detached", timeout: STEP_MS });
    const names = (await daemon.api<{ name: string }[]>("GET", "/vms")).map((v) => v.name);
    assert.deepEqual(names, [BURN_VM]);
    await daemon.api("POST", `/vms/${BURN_VM}/stop`);
  });
});

