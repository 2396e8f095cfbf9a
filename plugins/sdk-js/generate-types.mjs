// Generates the TypeScript declarations of the three plugin worlds from the WIT (../../wit/since_v0.2.0) into
// types/, with jco's guest type generator (the library behind `jco guest-types`).
//
//   npm ci && node generate-types.mjs           # rewrite types/
//   npm ci && node generate-types.mjs --check   # exit 1 when types/ differs from what the WIT generates (CI)
//
// Set MCP_BRIDGE_WIT to generate from another WIT folder.
import { _setPreopens } from "@bytecodealliance/preview2-shim/filesystem";
import { generateGuestTypes } from "@bytecodealliance/jco-transpile";
import { mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const witPath = resolve(process.env.MCP_BRIDGE_WIT ?? join(here, "../../wit/since_v0.2.0"));
const typesDir = join(here, "types");
const worlds = ["policy-plugin", "encoder-plugin", "discovery-plugin"];
const check = process.argv.includes("--check");

// The generator is a WASI component run on preview2-shim, which since 0.26 starts with no preopened
// directories (so `jco guest-types` cannot read any WIT file): give it the file system explicitly.
_setPreopens({ "/": "/" });

/** @type {Map<string, string>} path relative to types/ -> contents; the worlds share their interface files */
const generated = new Map();
for (const world of worlds) {
  const files = await generateGuestTypes(witPath, { worldName: world, outDir: "" });
  for (const [name, bytes] of Object.entries(files)) {
    const text = Buffer.from(bytes).toString("utf8");
    const earlier = generated.get(name);
    if (earlier !== undefined && earlier !== text) {
      throw new Error(`${name} differs between worlds; it cannot be shared`);
    }
    generated.set(name, text);
  }
}

/** Every file under `dir`, relative to it. */
async function listFiles(dir) {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath ?? entry.path, entry.name)));
}

if (check) {
  const problems = [];
  for (const [name, text] of generated) {
    const committed = await readFile(join(typesDir, name), "utf8").catch(() => null);
    if (committed === null) problems.push(`missing: types/${name}`);
    else if (committed !== text) problems.push(`out of date: types/${name}`);
  }
  for (const name of await listFiles(typesDir)) {
    if (!generated.has(name)) problems.push(`not generated from the WIT: types/${name}`);
  }
  if (problems.length > 0) {
    console.error(`plugins/sdk-js/types does not match ${witPath}:\n  ${problems.join("\n  ")}`);
    console.error("regenerate with: cd plugins/sdk-js && npm ci && node generate-types.mjs");
    process.exit(1);
  }
  console.log(`plugins/sdk-js/types matches ${witPath} (${generated.size} files)`);
} else {
  await rm(typesDir, { recursive: true, force: true });
  for (const [name, text] of generated) {
    await mkdir(dirname(join(typesDir, name)), { recursive: true });
    await writeFile(join(typesDir, name), text);
  }
  console.log(`wrote ${generated.size} files to ${typesDir}`);
}
