/**
 * The container routes over a Vmm that boots nothing: every refusal comes before anything
 * is created (not even the default host VM), names the field or the VM, and has its status.
 * What a real guest does with containers is src/control/client/container.test.ts's.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { DEFAULT_HOST } from "./containers.js";
import { buildServer } from "./server.js";
import { newVmm } from "./testkit.js";
import type { Vmm } from "./vmm.js";

let vmm: Vmm;
let app: FastifyInstance;

before(async () => {
  // Any bytes will do for the firmware: nothing here boots.
  vmm = newVmm(null, { images: () => ({ kernel: new Uint8Array(0), firmware: new Uint8Array(0) }) });
  app = await buildServer({ vmm, token: null, version: "test" });
  // A pv VM that is not running, and a full VM: neither can host containers.
  for (const vm of [{ name: "idle", mem: "64M" }, { name: "fullvm", profile: "full", mem: "64M" }]) {
    const r = await app.inject({ method: "POST", url: "/api/v1/vms", payload: vm });
    assert.equal(r.statusCode, 201, r.body);
  }
});
after(async () => {
  await app.close();
  await vmm.close();
});

const call = (method: "GET" | "POST" | "PATCH" | "DELETE", url: string, body?: unknown) =>
  app.inject({ method, url: `/api/v1${url}`, ...(body !== undefined ? { payload: body as object } : {}) });

/** Nothing was made: no container listed, no VM beyond the two of `before`, no container event. */
async function nothingCreated(): Promise<void> {
  assert.deepEqual((await call("GET", "/containers")).json(), []);
  assert.deepEqual((await call("GET", "/vms")).json().map((v: { name: string }) => v.name).sort(), ["fullvm", "idle"]);
  assert.deepEqual((await call("GET", "/events")).json().filter((e: { type: string }) => e.type === "container"), []);
}

describe("container routes without a guest", () => {
  test("a body of the wrong shape is a 400 naming each field", async () => {
    const cases: [unknown, RegExp][] = [
      [{}, /body: must have required property 'cmd'/],
      [{ cmd: "ls -l" }, /body\.cmd: must be array/],
      [{ cmd: [] }, /body\.cmd: must NOT have fewer than 1 items/],
      [{ cmd: ["ls"], cpuWeight: "5" }, /body\.cpuWeight: must be integer/],
      [{ cmd: ["ls"], pidsMax: 1.5 }, /body\.pidsMax: must be integer/],
      [{ cmd: ["ls"], colour: "red" }, /body\.colour: unknown field/],
      [{ cmd: ["ls"], devices: "/dev/null" }, /body\.devices: must be array/],
    ];
    for (const [body, re] of cases) {
      const r = await call("POST", "/containers", body);
      assert.equal(r.statusCode, 400, JSON.stringify(body));
      assert.equal(r.json().error, "bad-request");
      assert.match(r.json().message, re, JSON.stringify(body));
    }
    await nothingCreated();
  });

  test("host: unknown is a 404 naming it; not running or not pv is a 409", async () => {
    let r = await call("POST", "/containers", { host: "nosuch", cmd: ["true"] });
    assert.equal(r.statusCode, 404, r.body);
    assert.match(r.json().message, /no VM named "nosuch"/);
    r = await call("POST", "/containers", { host: "idle", cmd: ["true"] });
    assert.equal(r.statusCode, 409, r.body);
    assert.match(r.json().message, /VM idle is created: containers run only on a running VM \(paravm vm start idle\)/);
    r = await call("POST", "/containers", { host: "fullvm", cmd: ["true"] });
    assert.equal(r.statusCode, 409, r.body);
    assert.match(r.json().message, /VM fullvm is a full VM: containers need a pv VM/);
    r = await call("GET", "/containers?host=nosuch");
    assert.equal(r.statusCode, 404);
    assert.deepEqual((await call("GET", "/containers?host=idle")).json(), []);
    await nothingCreated();
  });

  test("limits out of range are the library's 422, checked against the default host before it is created", async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ cpuWeight: 0 }, /cpuWeight 0 must be a whole number in 1\.\.10000/],
      [{ memMax: "1K" }, /memMax 1024 bytes is below the minimum of 4 MiB/],
      [{ memMax: "512M" }, new RegExp(`memMax 512 MiB is more than VM ${DEFAULT_HOST.NAME}'s RAM \\(256 MiB\\)`)],
      [{ cpuMax: 300 }, /cpuMax 300% is not in 1\.\.200%/],
      [{ pidsMax: 0 }, /pidsMax 0 must be a whole number/],
      [{ net: "carrier-pigeon" }, /net "carrier-pigeon" must be one of/],
      [{ name: "Bad_Name" }, /container name "Bad_Name" must be 1-32 characters/],
      [{ cmd: ["a\u0000b"] }, /cmd\[0\] holds a NUL byte/],
    ];
    for (const [extra, re] of cases) {
      const r = await call("POST", "/containers", { cmd: ["true"], ...extra });
      assert.equal(r.statusCode, 422, `${JSON.stringify(extra)}: ${r.body}`);
      assert.equal(r.json().error, "invalid");
      assert.match(r.json().message, re);
    }
    await nothingCreated();
  });

  test("an unknown container is a 404 on every route", async () => {
    const routes: ["GET" | "POST" | "PATCH" | "DELETE", string, unknown?][] = [
      ["GET", "/containers/nope"],
      ["PATCH", "/containers/nope", { cpuWeight: 5 }],
      ["DELETE", "/containers/nope"],
      ["POST", "/containers/nope/exec", { cmd: ["ls"] }],
      ["POST", "/containers/nope/stop", {}],
      ["POST", "/containers/nope/stop"],
      ["GET", "/containers/nope/logs"],
      ["GET", "/containers/nope/wait?timeoutS=1"],
    ];
    for (const [method, url, body] of routes) {
      const r = await call(method, url, body);
      assert.equal(r.statusCode, 404, `${method} ${url}: ${r.body}`);
      assert.equal(r.json().message, 'no container named "nope"');
    }
  });

  test("query strings and small bodies are checked too", async () => {
    let r = await call("GET", "/containers/nope/wait?timeoutS=soon");
    assert.equal(r.statusCode, 400);
    assert.match(r.json().message, /querystring\.timeoutS/);
    r = await call("GET", "/containers/nope/wait?timeoutS=601");
    assert.equal(r.statusCode, 422);
    assert.match(r.json().message, /timeoutS 601 is more than 600/);
    r = await call("PATCH", "/containers/nope", {});
    assert.equal(r.statusCode, 400);
    r = await call("DELETE", "/containers/nope?force=yes");
    assert.equal(r.statusCode, 400);
    assert.match(r.json().message, /querystring\.force/);
    r = await call("POST", "/containers/nope/exec", { cmd: ["ls"], timeoutS: "5" });
    assert.equal(r.statusCode, 400);
    assert.match(r.json().message, /body\.timeoutS: must be integer/);
  });

  test("the routes are in the OpenAPI document, with ContainerView", async () => {
    const doc = (await app.inject({ url: "/openapi.json" })).json();
    for (const path of ["/api/v1/containers", "/api/v1/containers/{name}", "/api/v1/containers/{name}/exec", "/api/v1/containers/{name}/wait"]) {
      assert.ok(path in doc.paths, path);
    }
    assert.ok("ContainerView" in doc.components.schemas);
  });
});
