// A result file counts only when this sample wrote it, whatever its clock
// says: a file left by an earlier run whose mtime lies in the future (clock
// skew, a shared filesystem's server clock, a tool that stamps it) must never
// count again, and a file this sample wrote with an older mtime (`cp -p`,
// `tar x`, `rsync -t`, results fetched from a container) is this sample's.
// Real engine runs on a real git repository, a real node benchmark.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, makeRepo } from './helpers/engine.ts';
import { PROJECT } from './helpers/repo.ts';

const HANG_GUARD = { timeout: 600_000 };

// mode.txt (in scope): "skip" writes nothing; "future" / "past" write the
// result and then move its mtime an hour ahead / a day back; a number writes it plainly.
const BENCH = `
const fs = require('node:fs');
const mode = fs.readFileSync('mode.txt', 'utf8').trim();
if (mode !== 'skip') {
  const v = mode === 'future' || mode === 'past' ? 7 : Number(mode);
  fs.mkdirSync('out', { recursive: true });
  fs.writeFileSync('out/m.json', JSON.stringify({ v }));
  fs.mkdirSync('runs/' + v, { recursive: true });
  const tb = 'runs/' + v + '/events.out.tfevents.' + v;
  fs.copyFileSync('tb.bin', tb);
  const shift = mode === 'future' ? 3600e3 : mode === 'past' ? -86400e3 : 0;
  if (shift) for (const f of ['out/m.json', tb]) fs.utimesSync(f, new Date(Date.now() + shift), new Date(Date.now() + shift));
}
`;

function repo(source: string, metric: string): string {
  const dir = makeRepo({ 'bench.js': BENCH, 'mode.txt': '9\n', '.gitignore': 'out/\nruns/\n' });
  fs.copyFileSync(path.join(PROJECT, 'test/fixtures/sources/tfevents-protobuf.bin'), path.join(dir, 'tb.bin'));
  const init = engine('init-experiment', ['--name', 's', '--metric', metric, '--direction', 'lower', '--command', 'node bench.js', '--scope', 'mode.txt', '--source', source, '--repeats', '1', '--json'], dir);
  if (init.code !== 0) throw new Error(init.stderr);
  return dir;
}

function iterate(dir: string, mode: string, description: string) {
  fs.writeFileSync(path.join(dir, 'mode.txt'), `${mode}\n`);
  return engine('run-experiment', ['--description', description, '--json'], dir).json ?? {};
}

describe.each([
  ['json', 'json:out/m.json:v=v', 'v'],
  ['tensorboard', 'tensorboard:runs:tb_loss=loss', 'tb_loss'],
])('a %s result file is this sample\'s or nothing', (_kind, source, metric) => {
  it('never counts a file an earlier run left with a future mtime', HANG_GUARD, () => {
    const dir = repo(source, metric);
    expect(iterate(dir, '9', 'baseline')).toMatchObject({ verdict: 'keep' });
    // This run writes its result an hour ahead, as a skewed file server would.
    expect(iterate(dir, 'future', 'skewed clock')).toMatchObject({ status: 'ok' });
    // The next run writes nothing: what the last one left is not its result.
    const blind = iterate(dir, 'skip', 'writes no result');
    expect(blind).toMatchObject({ status: 'invalid', primary: null });
    expect(String(blind.reason)).toMatch(/stale|no event files/);
  });

  it('counts a file this sample wrote with an older mtime (cp -p, tar x)', HANG_GUARD, () => {
    const dir = repo(source, metric);
    expect(iterate(dir, '9', 'baseline')).toMatchObject({ verdict: 'keep' });
    const r = iterate(dir, 'past', 'copied with its timestamps');
    expect(r, String(r.reason)).toMatchObject({ status: 'ok' });
  });
});
