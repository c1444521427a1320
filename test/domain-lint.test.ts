// A lint loop driven to zero findings, as ESLint's default (stylish) output
// prints them: `✖ 2 problems (2 errors, 0 warnings)`, `✖ 1 problem …`, and
// nothing at all once the code is clean. A regex source reads the count; with
// `no_match: 0` the silence of a clean run is 0, the goal, not an invalid
// run. A protected scan in the checks refuses suppression comments.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RegexSourceSpec, regexSource } from '../scripts/lib/sources/regex.ts';
import { engine, makeRepo } from './helpers/engine.ts';
import { cleanupTmp, tmpDir } from './helpers/repo.ts';

const HANG_GUARD = { timeout: 600_000 };
afterAll(cleanupTmp);

// The stand-in linter: one finding per `var ` in src/*.js, ESLint's stylish wording, exit 1 on findings.
const LINT = `const fs = require('node:fs');
let n = 0;
for (const f of fs.readdirSync('src')) {
  const lines = fs.readFileSync('src/' + f, 'utf8').split('\\n');
  lines.forEach((l, i) => { if (/\\bvar /.test(l) && !/eslint-disable/.test(l)) { if (!n) console.log(''); console.log('src/' + f + '\\n  ' + (i + 1) + ':1  error  Unexpected var, use let or const instead  no-var'); n++; } });
}
if (n) { console.log('\\n\\u2716 ' + n + (n === 1 ? ' problem' : ' problems') + ' (' + n + ' errors, 0 warnings)'); process.exitCode = 1; }
`;
const SCAN = "! grep -rn 'eslint-disable' src\n";

describe('a lint loop to zero findings', HANG_GUARD, () => {
  it('reads 2, then "1 problem", then the silence of a clean run as 0 and keeps it; a suppression comment fails the checks', () => {
    const dir = makeRepo({ 'lint.js': LINT, 'scan.sh': SCAN, 'src/a.js': 'var a = 1;\nvar b = 2;\nmodule.exports = a + b;\n' });
    const source = '{kind: regex, metric: problems, pattern: "([0-9]+) problems?", no_match: 0}';
    const init = engine('init-experiment', ['--name', 'lint', '--metric', 'problems', '--direction', 'lower', '--command', 'node lint.js || test $? -eq 1', '--checks', 'sh scan.sh', '--scope', 'src/**', '--source', source, '--target', '0', '--repeats', '1', '--json'], dir);
    expect(init.code, init.stderr).toBe(0);
    expect(init.json?.protect).toEqual(['lint.js', 'scan.sh']);
    expect(engine('run-experiment', ['--description', 'baseline', '--json'], dir).json).toMatchObject({ verdict: 'keep', primary: 2 });
    fs.writeFileSync(path.join(dir, 'src/a.js'), 'var a = 1;\nconst b = 2;\nmodule.exports = a + b;\n');
    expect(engine('run-experiment', ['--description', 'const b', '--json'], dir).json).toMatchObject({ verdict: 'keep', primary: 1 });
    // Hiding the finding instead of fixing it: the linter is silent, the checks are not.
    fs.writeFileSync(path.join(dir, 'src/a.js'), 'var a = 1; // eslint-disable-line no-var\nconst b = 2;\nmodule.exports = a + b;\n');
    expect(engine('run-experiment', ['--description', 'silence a', '--json'], dir).json).toMatchObject({ verdict: 'checks_failed', status: 'checks_failed' });
    fs.writeFileSync(path.join(dir, 'src/a.js'), 'const a = 1;\nconst b = 2;\nmodule.exports = a + b;\n');
    const clean = engine('run-experiment', ['--description', 'const a', '--json'], dir);
    expect(clean.json).toMatchObject({ verdict: 'keep', primary: 0, should_terminate: true, terminated_by: 'target' });
  });

  it('without no_match, a clean run\'s silence is no value: the run is invalid, naming the source', () => {
    const dir = makeRepo({ 'lint.js': LINT, 'src/a.js': 'const a = 1;\n' });
    expect(engine('init-experiment', ['--name', 'l', '--metric', 'problems', '--direction', 'lower', '--command', 'node lint.js', '--scope', 'src/**', '--source', 'regex:problems=([0-9]+) problems?', '--repeats', '1'], dir).code).toBe(0);
    const run = engine('run-experiment', ['--description', 'baseline', '--json'], dir);
    expect(run.json).toMatchObject({ verdict: 'invalid' });
    const reason = (JSON.parse(fs.readFileSync(path.join(dir, '.autoloop/experiments/l/runs/r0001/result.json'), 'utf8')) as { reason: string }).reason;
    expect(reason).toContain('matched nothing in the output');
  });

  it('no_match stands only for silence: a match that is no number, or NaN, is still refused', async () => {
    const src = regexSource(RegexSourceSpec.parse({ kind: 'regex', metric: 'problems', pattern: '(\\S+) problems?', no_match: 0 }));
    const read = async (out: string) => {
      const dir = tmpDir();
      fs.writeFileSync(path.join(dir, 'out.log'), out);
      return src.read({ cwd: dir, log: { file: path.join(dir, 'out.log'), start: 0, end: Buffer.byteLength(out) }, startedAtMs: Date.now() });
    };
    expect(await read('all clean\n')).toEqual({ ok: true, metrics: { problems: [0] }, warnings: [] });
    expect(await read('\u2716 3 problems (3 errors)\n')).toEqual({ ok: true, metrics: { problems: [3] }, warnings: [] });
    expect((await read('\u2716 many problems\n')).ok).toBe(false);
    expect((await read('\u2716 NaN problems\n')).ok).toBe(false);
  });

  it('no_match must be a finite number', () => {
    const dir = makeRepo({ 'lint.js': LINT, 'src/a.js': 'const a = 1;\n' });
    const bad = engine('init-experiment', ['--name', 'l', '--metric', 'problems', '--direction', 'lower', '--command', 'node lint.js', '--scope', 'src/**', '--source', '{kind: regex, metric: problems, pattern: "([0-9]+) problems?", no_match: zero}'], dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/no_match: must be a number/);
  });
});
