// Builds plugin.js into dist/{{file}}.wasm, a WebAssembly component implementing the mcp-bridge world
// {{world}} (WIT in wit/plugin.wit), with componentize-qjs; prints the component's path.
// Usage: npm install && npm run build
import { componentize } from "componentize-qjs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const jsPath = join(here, "plugin.js");
const output = join(here, "dist", "{{file}}.wasm");

const { component } = await componentize({
  witPath: join(here, "wit"),
  world: "{{world}}",
  jsSource: await readFile(jsPath, "utf8"),
  jsPath,
  // Required: the bridge runs plain synchronous components. Without it the component uses the component-model
  // async ABI and the bridge refuses it ("`context.get` requires the component model async feature").
  sync: true,
  // The smaller QuickJS build: a plugin does little computing.
  optSize: true,
});
await mkdir(dirname(output), { recursive: true });
await writeFile(output, component);
console.log(output);
