#!/usr/bin/env bash
# Makes the coded bodies in this folder from the plain recordings beside them,
# with the encoders servers really use: GNU gzip, and zlib and brotli (Google's
# C library) as Node.js links them. Streams are flushed after every event, as a
# compressing proxy in front of an SSE endpoint does. The decoder's tests are
# fixed to these files; run this only to add one.
set -euo pipefail
cd "$(dirname "$0")"

gzip -9 -c completion.json >completion.json.gz # a gzip header with a file name

node - <<'JS'
const fs = require('fs');
const zlib = require('zlib');

// code applies makers in order; a stream is flushed after each SSE event.
async function code(plain, makers, perEvent) {
  let data = fs.readFileSync(plain);
  for (const make of makers) {
    const z = make();
    const out = [];
    z.on('data', (c) => out.push(c));
    const done = new Promise((ok) => z.on('end', ok));
    const parts = perEvent ? data.toString('latin1').split(/(?<=\n\n)/) : [data.toString('latin1')];
    for (const p of parts) {
      z.write(Buffer.from(p, 'latin1'));
      await new Promise((ok) => z.flush(ok));
    }
    z.end();
    await done;
    data = Buffer.concat(out);
  }
  return data;
}

const gz = () => zlib.createGzip();
const zz = () => zlib.createDeflate();
const raw = () => zlib.createDeflateRaw();
const br = () => zlib.createBrotliCompress();

(async () => {
  const jobs = [
    ['completion.json', 'completion.json.zz', [zz], false],
    ['completion.json', 'completion.json.raw', [raw], false],
    ['completion.json', 'completion.json.br', [br], false],
    ['completion.json', 'completion.json.gz.br', [gz, br], false],
    ['openai_chat_usage.sse', 'openai_chat_usage.sse.gz', [gz], true],
    ['openai_chat_usage.sse', 'openai_chat_usage.sse.br', [br], true],
    ['litellm_proxied.sse', 'litellm_proxied.sse.zz', [zz], true],
    ['litellm_proxied.sse', 'litellm_proxied.sse.raw', [raw], true],
    ['litellm_proxied.sse', 'litellm_proxied.sse.br.gz', [br, gz], true],
  ];
  for (const [plain, coded, makers, perEvent] of jobs) {
    fs.writeFileSync(coded, await code(plain, makers, perEvent));
  }
})();
JS
