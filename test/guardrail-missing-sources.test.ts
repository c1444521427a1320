// A guardrail the candidate does not measure is a discard whatever source
// reads it (docs/decisions.md, Guardrails): before, a guardrail missing from a
// METRIC line was `guardrail mem missing` (discard) while the same guardrail
// missing from a json or csv source failed the whole source, so the run was
// `invalid`, and a source of guardrails only that read nothing voided a run
// whose primary was measured. The primary missing stays `invalid` everywhere.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, makeRepo, step } from './helpers/engine.ts';

// score from src/value.txt; mem everywhere unless src/nomem exists (then no mem anywhere); src/noscore drops the score.
const BENCH = `
const fs = require('node:fs');
const has = (f) => fs.existsSync(f);
const score = Number(fs.readFileSync('src/value.txt', 'utf8').trim());
const mem = has('src/nomem') ? null : 10;
const doc = {};
if (!has('src/noscore')) { doc.score = score; console.log('METRIC score=' + score); }
if (mem !== null) { doc.mem = mem; console.log('METRIC mem=' + mem); console.log('mem: ' + mem); fs.writeFileSync('mem.json', JSON.stringify({ mem })); }
fs.writeFileSync('out.json', JSON.stringify(doc));
fs.writeFileSync('out.csv', Object.keys(doc).join(',') + '\\n' + Object.values(doc).join(',') + '\\n');
`;

const SLOW = 900_000;
const CASES: { name: string; sources: string[] }[] = [
  { name: 'METRIC lines', sources: [] },
  { name: 'one json file with both', sources: ['json:out.json:score=score,mem=mem'] },
  { name: 'a json file of the guardrail alone, not written', sources: ['metric-lines', 'json:mem.json:mem=mem'] },
  { name: 'one csv file with both', sources: ['csv:out.csv:score=score,mem=mem'] },
  { name: 'a regex for the guardrail', sources: ['metric-lines', 'regex:mem=mem: ([0-9.]+)'] },
];

function setUp(sources: string[]): string {
  const dir = makeRepo({ 'bench.cjs': BENCH, 'src/value.txt': '100', '.gitignore': 'out.json\nout.csv\nmem.json\n' });
  const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.cjs', '--scope', 'src/**', '--repeats', '1', '--guardrail', 'mem:lower:10%', ...sources.flatMap((s) => ['--source', s]), '--json'], dir);
  expect(init.code, init.stderr).toBe(0);
  const base = step(dir, 'baseline');
  expect(base.verdict, String(base.reason)).toBe('keep');
  return dir;
}

describe('a guardrail missing from any source is a discard, the primary missing is invalid', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const dir = setUp(c.sources);
      fs.writeFileSync(path.join(dir, 'src/value.txt'), '90');
      fs.writeFileSync(path.join(dir, 'src/nomem'), '');
      const r = step(dir, 'faster, but no memory figure');
      expect(r.verdict, String(r.reason)).toBe('discard');
      expect(String(r.reason)).toMatch(/^guardrail mem missing/);
      if (c.sources.some((s) => s.startsWith('json') || s.startsWith('csv'))) {
        // The discard put the tree back (src/nomem is gone): now the score goes missing.
        fs.writeFileSync(path.join(dir, 'src/value.txt'), '90');
        fs.writeFileSync(path.join(dir, 'src/noscore'), '');
        const none = step(dir, 'no score');
        expect(none.verdict).toBe('invalid');
      }
    }, SLOW);
  }
});
