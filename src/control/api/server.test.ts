/**
 * The HTTP layer over a Vmm that boots nothing: every route answers, bad requests are 400s
 * naming the field, each error class has its status and body, the token is required
 * off loopback (REST, WebSocket, /metrics), /metrics is Prometheus text, and
 * docs/openapi.json is what the server generates.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { FastifyInstance } from "fastify";
import WebSocket from "ws";
import { OPENAPI_FILE, openapiText } from "./openapi.js";
import { buildServer } from "./server.js";
import { diskFile, newVmm, tempDir } from "./testkit.js";
import type { Vmm } from "./vmm.js";

const tmp = tempDir("paravm-server-");
const TOKEN = "s3cret-token-for-tests";
let vmm: Vmm;
let app: FastifyInstance;

before(async () => {
  vmm = newVmm(join(tmp.dir, "state"), { hostMemBytes: 256 * 1024 * 1024 });
  app = await buildServer({ vmm, token: null, version: "test", webRoot: join(tmp.dir, "no-web") });
});
after(async () => {
  await app.close();
  await vmm.close();
  tmp.done();
});

const json = (method: "GET" | "POST" | "PATCH" | "DELETE", url: string, body?: unknown) =>
  app.inject({ method, url, ...(body !== undefined ? { payload: body as object } : {}) });

describe("REST routes", () => {
  test("create, list, get, patch, fleet, networks, events, metrics, destroy", async () => {
    let r = await json("POST", "/api/v1/vms", { name: "web", mem: "64M", nics: [{ network: "lan" }] });
    assert.equal(r.statusCode, 201, r.body);
    assert.equal(r.json().name, "web");
    r = await json("GET", "/api/v1/vms");
    assert.deepEqual(r.json().map((v: { name: string }) => v.name), ["web"]);
    r = await json("GET", "/api/v1/vms/web");
    assert.equal(r.json().state, "created");
    r = await json("PATCH", "/api/v1/vms/web", { weight: 600, cap: 25 });
    assert.equal(r.statusCode, 200, r.body);
    assert.deepEqual([r.json().settings.weight, r.json().settings.cap], [600, 25]);
    r = await json("GET", "/api/v1/host");
    assert.equal(r.json().memory.budgetBytes, 256 * 1024 * 1024);
    assert.equal(r.json().vms, 1);
    r = await json("GET", "/api/v1/networks");
    assert.equal(r.json()[0].name, "lan");
    assert.equal(r.json()[0].ports[0].vm, "web");
    r = await json("GET", "/api/v1/fleet");
    assert.equal(r.json().vms[0].weight, 600);
    assert.deepEqual(r.json().networks, { lan: { subnet: "10.0.2.0/24" } });
    r = await json("GET", "/api/v1/events?since=0");
    assert.deepEqual(r.json().map((e: { type: string }) => e.type), ["created", "settings"]);
    r = await json("GET", "/api/v1/events?since=1");
    assert.deepEqual(r.json().map((e: { type: string }) => e.type), ["settings"]);
    r = await json("GET", "/api/v1/vms/web/metrics");
    assert.equal(r.json().vm, "web");
    assert.equal(r.json().ramBytes, 64 * 1024 * 1024);
    r = await json("GET", "/api/v1/metrics");
    assert.ok(Array.isArray(r.json().vms));
    r = await json("GET", "/api/v1/vms/web/console?bytes=10");
    assert.equal(r.statusCode, 200);
    assert.equal(r.body, "");
    r = await json("DELETE", "/api/v1/vms/web");
    assert.equal(r.statusCode, 204);
    assert.deepEqual((await json("GET", "/api/v1/vms")).json(), []);
  });

  test("POST /fleet takes YAML as well as JSON", async () => {
    const yaml = "networks:\n  lan2:\nvms:\n  - name: y1\n    mem: 64M\n  - { name: y2, mem: 64M }\n";
    let r = await app.inject({ method: "POST", url: "/api/v1/fleet?start=false", headers: { "content-type": "application/yaml" }, payload: yaml });
    assert.equal(r.statusCode, 200, r.body);
    assert.deepEqual(r.json().created, ["y1", "y2"]);
    r = await app.inject({ method: "POST", url: "/api/v1/fleet?start=false", headers: { "content-type": "application/yaml" }, payload: "vms: [ {name: y1" });
    assert.equal(r.statusCode, 400);
    assert.match(r.json().message, /YAML body does not parse/);
    r = await app.inject({ method: "POST", url: "/api/v1/fleet?start=false", payload: { vms: [{ name: "y1", mem: "64M" }, { name: "y2", mem: "64M" }] } });
    assert.deepEqual(r.json().unchanged, ["y1", "y2"]);
    for (const n of ["y1", "y2"]) assert.equal((await json("DELETE", `/api/v1/vms/${n}`)).statusCode, 204);
  });

  test("the dashboard placeholder at /, /healthz, and JSON 404s for unknown routes", async () => {
    let r = await app.inject({ url: "/" });
    assert.equal(r.statusCode, 200);
    assert.match(r.headers["content-type"] as string, /text\/html/);
    assert.match(r.body, /dashboard is not built/);
    assert.deepEqual((await app.inject({ url: "/healthz" })).json(), { ok: true });
    r = await app.inject({ url: "/api/v1/nothing" });
    assert.equal(r.statusCode, 404);
    assert.equal(r.json().error, "not-found");
    r = await app.inject({ url: "/../../etc/passwd" });
    assert.equal(r.statusCode, 404);
  });
});

describe("errors: status and body per class", () => {
  test("400: malformed JSON, a field of the wrong type, an unknown field, a bad query — each named", async () => {
    let r = await app.inject({ method: "POST", url: "/api/v1/vms", headers: { "content-type": "application/json" }, payload: "{name:" });
    assert.equal(r.statusCode, 400);
    assert.equal(r.json().error, "bad-request");
    r = await json("POST", "/api/v1/vms", { name: "x", weight: "heavy" });
    assert.equal(r.statusCode, 400);
    assert.match(r.json().message, /^body\.weight: must be integer$/);
    r = await json("POST", "/api/v1/vms", { name: "x", colour: "red" });
    assert.equal(r.statusCode, 400);
    assert.match(r.json().message, /^body\.colour: unknown field$/);
    r = await json("PATCH", "/api/v1/vms/x", {});
    assert.equal(r.statusCode, 400);
    r = await json("GET", "/api/v1/events?since=abc");
    assert.equal(r.statusCode, 400);
    assert.match(r.json().message, /^querystring\.since: must match pattern/);
    assert.equal(vmm.records.size, 0, "nothing was created");
  });

  test("404, 409, 422, 507 with the class and a message naming what is wrong", async () => {
    let r = await json("GET", "/api/v1/vms/ghost");
    assert.deepEqual([r.statusCode, r.json().error], [404, "not-found"]);
    assert.match(r.json().message, /ghost/);
    r = await json("POST", "/api/v1/vms/ghost/start");
    assert.equal(r.statusCode, 404);
    const disk = diskFile(tmp.dir, "rw.img");
    assert.equal((await json("POST", "/api/v1/vms", { name: "a", mem: "64M", disks: [{ path: disk }] })).statusCode, 201);
    r = await json("POST", "/api/v1/vms", { name: "a" });
    assert.deepEqual([r.statusCode, r.json().error], [409, "conflict"]);
    r = await json("POST", "/api/v1/vms", { name: "b", disks: [{ path: disk }] });
    assert.equal(r.statusCode, 409);
    assert.match(r.json().problems[0], /disks\[0\]: .*rw\.img is written by this VM and written by VM a/);
    r = await json("POST", "/api/v1/vms/a/stop");
    assert.equal(r.statusCode, 409);
    r = await json("PATCH", "/api/v1/vms/a", { weight: 0 });
    assert.deepEqual([r.statusCode, r.json().error], [422, "invalid"]);
    assert.match(r.json().problems[0], /^weight: /);
    r = await json("POST", "/api/v1/vms", { name: "huge", mem: "512M" });
    assert.deepEqual([r.statusCode, r.json().error], [507, "no-capacity"]);
    assert.match(r.json().message, /budget/);
    assert.equal((await json("DELETE", "/api/v1/vms/a")).statusCode, 204);
  });
});

describe("disks", () => {
  test("GET /disks lists each VM's disk with its size, how it is opened and the VM's state", async () => {
    const data = diskFile(tmp.dir, "data.img", 4096);
    const base = diskFile(tmp.dir, "base.img", 2048);
    let r = await json("POST", "/api/v1/vms", { name: "disk-rw", mem: "64M", disks: [{ path: data }] });
    assert.equal(r.statusCode, 201, r.body);
    r = await json("POST", "/api/v1/vms", { name: "disk-snap", mem: "64M", disks: [{ path: base, snapshot: true }] });
    assert.equal(r.statusCode, 201, r.body);
    r = await json("GET", "/api/v1/disks");
    assert.equal(r.statusCode, 200, r.body);
    const mine = (r.json() as { vm: string }[]).filter((d) => d.vm.startsWith("disk-"));
    assert.deepEqual(mine, [
      { path: data, sizeBytes: 4096 * 512, mode: "read-write", vm: "disk-rw", state: "created" },
      { path: base, sizeBytes: 2048 * 512, mode: "snapshot", vm: "disk-snap", state: "created" },
    ]);
    for (const name of ["disk-rw", "disk-snap"]) assert.equal((await json("DELETE", `/api/v1/vms/${name}`)).statusCode, 204);
  });
});

describe("/metrics and /openapi.json", () => {
  test("/metrics is Prometheus text with per-VM series", async () => {
    await json("POST", "/api/v1/vms", { name: "m1", mem: "64M" });
    const r = await app.inject({ url: "/metrics" });
    assert.equal(r.statusCode, 200);
    assert.match(r.headers["content-type"] as string, /^text\/plain; version=0\.0\.4/);
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/;
    const typed = new Set<string>();
    for (const line of r.body.trimEnd().split("\n")) {
      if (line.startsWith("# TYPE ")) typed.add(line.split(" ")[2]!);
      else if (!line.startsWith("# HELP ")) {
        const m = sample.exec(line);
        assert.ok(m, `not a sample line: ${line}`);
        assert.ok(typed.has(m[1]!), `${m[1]} has no # TYPE before it`);
      }
    }
    assert.match(r.body, /^paravm_vm_memory_bytes\{vm="m1"\} 67108864$/m);
    assert.match(r.body, /^paravm_vm_state\{vm="m1",state="created"\} 1$/m);
    await json("DELETE", "/api/v1/vms/m1");
  });

  test("docs/openapi.json is what the server generates (node dist/src/control/api/openapi.js --write)", async () => {
    const served = (await app.inject({ url: "/openapi.json" })).json();
    assert.ok(served.paths["/api/v1/vms/{name}"].patch, "PATCH /vms/{name} is documented");
    assert.ok(served.components.schemas.VmEntry);
    assert.equal(readFileSync(OPENAPI_FILE, "utf8"), await openapiText(), "docs/openapi.json is stale: run node dist/src/control/api/openapi.js --write");
  });
});

describe("auth: a daemon with a token", () => {
  let secured: FastifyInstance;
  let base: string;
  before(async () => {
    secured = await buildServer({ vmm, token: TOKEN, version: "test", webRoot: join(tmp.dir, "no-web") });
    await secured.listen({ host: "127.0.0.1", port: 0 });
    const a = secured.server.address();
    base = `127.0.0.1:${typeof a === "object" && a ? a.port : 0}`;
  });
  after(() => secured.close());

  const get = (path: string, token?: string) => fetch(`http://${base}${path}`, token !== undefined ? { headers: { authorization: `Bearer ${token}` } } : {});
  const wsOutcome = (path: string): Promise<string> =>
    new Promise((resolve) => {
      const ws = new WebSocket(`ws://${base}${path}`);
      ws.on("open", () => {
        ws.close();
        resolve("open");
      });
      ws.on("unexpected-response", (_req, res) => resolve(`http ${res.statusCode}`));
      ws.on("error", (e) => resolve(`error ${e.message}`));
    });

  test("REST and /metrics: no token 401, wrong token 401, the token 200", async () => {
    for (const path of ["/api/v1/vms", "/metrics", "/openapi.json"]) {
      const none = await get(path);
      assert.equal(none.status, 401, path);
      assert.equal(((await none.json()) as { error: string }).error, "unauthorized");
      assert.equal((await get(path, "wrong")).status, 401, path);
      assert.equal((await get(path, TOKEN)).status, 200, path);
    }
    assert.equal((await get("/healthz")).status, 200);
    assert.equal((await get("/")).status, 200, "the dashboard page loads and asks for the token");
  });

  test("WebSockets: refused without the token or with a wrong one, open with ?token=", async () => {
    await json("POST", "/api/v1/vms", { name: "w" });
    for (const path of ["/api/v1/events", "/api/v1/metrics", "/api/v1/vms/w/console"]) {
      assert.equal(await wsOutcome(path), "http 401", path);
      assert.equal(await wsOutcome(`${path}?token=nope`), "http 401", path);
      assert.equal(await wsOutcome(`${path}?token=${TOKEN}`), "open", path);
    }
    await json("DELETE", "/api/v1/vms/w");
  });

  test("a console WebSocket for an unknown VM closes with 4404", async () => {
    const code = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`ws://${base}/api/v1/vms/ghost/console?token=${TOKEN}`);
      ws.on("close", (c) => resolve(c));
      ws.on("error", reject);
    });
    assert.equal(code, 4404);
  });
});
