#!/usr/bin/env node
// paravm command line: the code is compiled TypeScript under dist/ (npm run build).
let cli;
try {
  cli = await import("../dist/src/control/cli.js");
} catch (e) {
  if (e && e.code === "ERR_MODULE_NOT_FOUND" && String(e.message).includes("dist/src/control/cli.js")) {
    process.stderr.write("paravm: not built yet: run `npm run build` (or `npx tsc -p tsconfig.json`) first\n");
    process.exit(70);
  }
  throw e;
}
process.exitCode = await cli.mainAsync(process.argv);
