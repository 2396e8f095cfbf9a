// Checks TOON blocks the `encoders` fuzz target wrote (ENCODERS_REFERENCE_DIR: `<hash>.toon`, the whole ```toon
// block, and `<hash>.json`, the value toon-format decodes it to) with the reference decoder, @toon-format/toon as
// tests/toon-reference pins it: each must decode, strictly, to the same value. Both sides are compared as
// JavaScript reads them (JSON.parse and the decoder both give doubles and the same key order), so this checks
// strings, keys, structure and numbers as far as a double tells them apart. Run by toon-reference.sh.
//
//   node toon-reference.mjs DIR [NODE_PACKAGE_DIR]   # NODE_PACKAGE_DIR defaults to ../tests/toon-reference
import { readFileSync, readdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const [dir, packageDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'tests', 'toon-reference')] =
  process.argv.slice(2)
if (!dir) {
  process.stderr.write('usage: node toon-reference.mjs DIR [NODE_PACKAGE_DIR]\n')
  process.exit(2)
}
const entry = createRequire(join(resolve(packageDir), 'package.json')).resolve('@toon-format/toon')
const { decode } = await import(pathToFileURL(entry))
const version = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')).version

const OPEN = '```toon\n'
const CLOSE = '\n```'
let checked = 0
const failures = []
for (const name of readdirSync(dir).filter((n) => n.endsWith('.toon')).sort()) {
  const block = readFileSync(join(dir, name), 'utf8')
  const expected = JSON.stringify(JSON.parse(readFileSync(join(dir, name.replace(/\.toon$/, '.json')), 'utf8')))
  checked += 1
  if (!block.startsWith(OPEN) || !block.endsWith(CLOSE)) {
    failures.push(`${name}: not a \`\`\`toon block`)
    continue
  }
  const body = block.slice(OPEN.length, block.length - CLOSE.length)
  let decoded
  try {
    decoded = JSON.stringify(decode(body))
  } catch (error) {
    failures.push(`${name}: the reference decoder refused it: ${error?.message ?? error}`)
    continue
  }
  if (decoded !== expected) failures.push(`${name}: decodes to\n  ${decoded}\ninstead of\n  ${expected}`)
}
for (const failure of failures.slice(0, 20)) process.stderr.write(`${failure}\n`)
process.stderr.write(
  `@toon-format/toon ${version}: ${checked} TOON blocks checked, ${failures.length} decoded differently\n`,
)
process.exit(failures.length === 0 && checked > 0 ? 0 : 1)
