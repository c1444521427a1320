// The judge: the "bundle" is every source file of src/ concatenated in name
// order; its size is measured gzipped (level 9, deterministic). The number of
// public exports is reported too: a guardrail, so shrinking by deleting API fails.
// The figures go to size.json, where the engine's JSON source reads them.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';

const files = fs
  .readdirSync('src')
  .filter((f) => f.endsWith('.js'))
  .sort();
const bundle = Buffer.concat(files.map((f) => fs.readFileSync(path.join('src', f))));
const gz = gzipSync(bundle, { level: 9 }).length;
const api = await import(pathToFileURL(path.resolve('src/index.js')).href);
const exported = Object.keys(api).filter((k) => typeof api[k] === 'function').length;
// The figures for the engine's JSON metric source (no METRIC lines).
fs.writeFileSync('size.json', `${JSON.stringify({ files: files.length, raw: bundle.length, gzip: gz, exports: exported })}\n`);
console.log(`bundle: ${files.length} files, ${bundle.length} B raw, ${gz} B gzipped, ${exported} exported functions`);
