// Decodes a TOON document with the reference implementation (@toon-format/toon, pinned in package.json) and
// prints the JSON value on stdout, so tests can check that the bridge's `toon` / `auto` encoders round-trip.
//
//   npm ci --prefix tests/toon-reference        # once
//   printf 'a: 1\n' | node tests/toon-reference/decode.mjs   # prints {"a":1}
//
// Input: the TOON document on stdin. An encoder's whole text (the document inside a "```toon" fence) is accepted
// too: the fence is removed first. Decoding is strict (the reference default: declared lengths are checked).
// Exit status: 0 and one line of JSON on success; 1 and the reason on stderr when the text does not decode.
import { decode } from '@toon-format/toon'

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
let text = Buffer.concat(chunks).toString('utf8')

const OPEN = '```toon\n'
const CLOSE = '\n```'
if (text.startsWith(OPEN)) {
  const body = text.replace(/\n$/, '')
  if (!body.endsWith(CLOSE)) {
    process.stderr.write('decode.mjs: input opens a ```toon fence but does not end with one\n')
    process.exit(1)
  }
  text = body.slice(OPEN.length, body.length - CLOSE.length)
}

try {
  process.stdout.write(JSON.stringify(decode(text)) + '\n')
} catch (error) {
  process.stderr.write(`decode.mjs: ${error?.message ?? error}\n`)
  process.exit(1)
}
