/**
 * The dashboard's containers (issue 14) in chromium against a real daemon with one real
 * container host: a small pv VM (128 MiB, 1 vCPU) booted through the API, two containers
 * run in it through the API. The fleet page's Containers table must say what the API
 * says, row by row; a container run while the page is open appears without a reload; the
 * stop and remove buttons act (the API shows it); the host VM's page lists its containers.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { Daemon, launchBrowser, ROOT, skipReason, type Browser } from "./harness.js";
import { EXTENDED } from "../../src/test-tier.js";

const TOKEN = "containers-dashboard-token-5c1e";
const HOST_VM = "ch";
/** The host boots and its agent answers (20-60 s on a loaded host; the daemon waits 180 s). */
const RUN_MS = 240_000;
const STEP_MS = 30_000;

interface ContainerView {
  name: string;
  host: string;
  state: string;
  exitStatus: number | null;
  net: string;
  ip: string | null;
  limits: { cpuWeight: number | null; cpuMax: string | null; memMax: number | "max" | null };
  usage: { cpuSeconds: number | null; memBytes: number | null };
  cmd: string[];
}

const skip = skipReason();

/** A row of a containers table, cell by cell, keyed by the header. */
async function rowOf(page: Page, table: string, name: string): Promise<Record<string, string>> {
  return page.evaluate(
    ([t, n]) => {
      const tbl = document.getElementById(t!)!;
      const heads = [...tbl.querySelectorAll("thead th")].map((th) => th.textContent ?? "");
      const tr = tbl.querySelector(`tr[data-container="${n}"]`);
      const cells = tr === null ? [] : [...tr.querySelectorAll("td")].map((td) => td.textContent ?? "");
      return Object.fromEntries(heads.map((hd, i) => [hd, cells[i] ?? ""]));
    },
    [table, name],
  );
}

/** What the table must show for a container, from the API's view. */
function expected(v: ContainerView): Record<string, string> {
  const q = /^(\d+)\/(\d+)$/.exec(v.limits.cpuMax ?? "");
  return {
    container: v.name,
    host: v.host,
    state: v.state,
    exit: v.exitStatus === null ? "–" : String(v.exitStatus),
    address: v.ip ?? (v.net === "bridge" ? "–" : v.net),
    CPUs: q === null ? "no cap" : String(Number(q[1]) / Number(q[2])),
    weight: String(v.limits.cpuWeight),
    "mem max": typeof v.limits.memMax === "number" ? `${v.limits.memMax / 1024 / 1024} MiB` : "no limit",
    command: v.cmd.join(" "),
  };
}

describe("the dashboard's containers in chromium against paravm serve", { skip: skip ?? EXTENDED, timeout: 8 * 60_000 }, () => {
  let daemon: Daemon;
  let browser: Browser;
  let page: Page;
  const views = async (): Promise<ContainerView[]> => daemon.api<ContainerView[]>("GET", "/containers");

  before(async () => {
    daemon = await Daemon.start(TOKEN);
    await daemon.api("POST", "/vms", { name: HOST_VM, mem: "128M", cpus: 1, start: true });
    await daemon.api("POST", "/containers", { host: HOST_VM, name: "web", cmd: ["sleep", "600"], memMax: "16M", cpuMax: "50%", cpuWeight: 300 });
    await daemon.api("POST", "/containers", { host: HOST_VM, name: "done", cmd: ["sh", "-c", "exit 3"] });
    browser = await launchBrowser();
    page = await browser.context.newPage();
    page.on("pageerror", (e) => process.stderr.write(`page error: ${e.message}\n`));
    await page.goto(daemon.url);
    await page.fill("#f-token", TOKEN);
    await page.click("#token-form button[type=submit]");
    await page.locator("#containers-table").waitFor({ timeout: STEP_MS });
  }, { timeout: RUN_MS });

  after(async () => {
    await browser?.close();
    await daemon?.stop();
  });

  test("the fleet page's Containers table says what the API says", async () => {
    await page.locator('#containers-table tr[data-container="done"] td.state-exited').waitFor({ timeout: STEP_MS });
    const api = await views();
    assert.deepEqual(api.map((v) => [v.name, v.state]), [["done", "exited"], ["web", "running"]]);
    for (const v of api) {
      const row = await rowOf(page, "containers-table", v.name);
      for (const [k, want] of Object.entries(expected(v))) assert.equal(row[k], want, `${v.name}: ${k}`);
      if (v.state === "running") assert.match(row["mem used"]!, /^\d+ (B|KiB|MiB)$/, "a running container's memory.current");
      assert.match(row["CPU time"]!, /^\d+\.\d s$/);
    }
    assert.deepEqual(await page.locator("#containers-table tbody tr").evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-container"))), ["done", "web"]);
  });

  test("a container run while the page is open appears without a reload", async () => {
    await daemon.api("POST", "/containers", { host: HOST_VM, name: "late", cmd: ["sleep", "600"], pidsMax: 16, net: "loopback" });
    await page.locator('#containers-table tr[data-container="late"] td.state-running').waitFor({ timeout: STEP_MS });
    const [late] = (await views()).filter((v) => v.name === "late");
    const row = await rowOf(page, "containers-table", "late");
    for (const [k, want] of Object.entries(expected(late!))) assert.equal(row[k], want, `late: ${k}`);
    assert.equal(row.address, "loopback", "no address on the container network: its mode instead");
    assert.match((await rowOf(page, "containers-table", "web")).address!, /^10\.88\.0\.\d+$/, "a bridge container's address");
    // PARAVM_DASHBOARD_SHOTS=1 refreshes the README's picture (as dashboard.test.ts does).
    if (process.env.PARAVM_DASHBOARD_SHOTS === "1") await page.screenshot({ path: join(ROOT, "docs", "dashboard-containers.png"), fullPage: true });
  });

  test("the host VM's page lists its containers", async () => {
    await page.goto(`${daemon.url}/#/vm/${HOST_VM}`);
    await page.locator('#vm-containers-table tr[data-container="web"]').waitFor({ timeout: STEP_MS });
    const names = await page.locator("#vm-containers-table tbody tr").evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-container")));
    assert.deepEqual(names, (await daemon.api<ContainerView[]>("GET", `/containers?host=${HOST_VM}`)).map((v) => v.name));
  });

  test("stop and remove from the page", async () => {
    await page.goto(`${daemon.url}/#/`);
    await page.click('#containers-table tr[data-container="web"] button[data-verb="stop"]');
    // sleep as PID 1 ignores SIGTERM: killed after the grace, 137.
    await page.locator('#containers-table tr[data-container="web"] td.state-exited').waitFor({ timeout: STEP_MS });
    const web = (await views()).find((v) => v.name === "web");
    assert.deepEqual([web?.state, web?.exitStatus], ["exited", 137]);
    assert.equal((await rowOf(page, "containers-table", "web")).exit, "137");

    page.once("dialog", (d) => void d.accept());
    await page.click('#containers-table tr[data-container="done"] button[data-verb="remove"]');
    await page.locator('#containers-table tr[data-container="done"]').waitFor({ state: "detached", timeout: STEP_MS });
    assert.deepEqual((await views()).map((v) => v.name), ["late", "web"]);

    // A running one is removed with force, once confirmed.
    page.once("dialog", (d) => void d.accept());
    await page.click('#containers-table tr[data-container="late"] button[data-verb="remove"]');
    await page.locator('#containers-table tr[data-container="late"]').waitFor({ state: "detached", timeout: STEP_MS });
    assert.deepEqual((await views()).map((v) => v.name), ["web"]);
  });
});
