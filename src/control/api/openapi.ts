/**
 * The OpenAPI document as the server generates it from its route schemas, for
 * docs/openapi.json: `node dist/src/control/api/openapi.js --write` rewrites that file,
 * and a test fails when it is stale.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { buildServer } from "./server.js";
import { Vmm } from "./vmm.js";

export const OPENAPI_FILE = fileURLToPath(new URL("../../../../docs/openapi.json", import.meta.url));

/** The package version the document carries (from package.json). */
function version(): string {
  return (JSON.parse(readFileSync(new URL("../../../../package.json", import.meta.url), "utf8")) as { version: string }).version;
}

/** The document, as text (2-space JSON, a newline at the end). */
export async function openapiText(): Promise<string> {
  const vmm = new Vmm({ stateDir: null, images: () => ({ kernel: new Uint8Array(0) }) });
  const app = await buildServer({ vmm, token: null, version: version() });
  try {
    await app.ready();
    return `${JSON.stringify(app.swagger(), null, 2)}\n`;
  } finally {
    await app.close();
    await vmm.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv.includes("--write")) {
  writeFileSync(OPENAPI_FILE, await openapiText());
  process.stdout.write(`wrote ${OPENAPI_FILE}\n`);
}
