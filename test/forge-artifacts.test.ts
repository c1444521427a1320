// The best's artifact copies (runs/<best>/artifacts/) and its run record
// (which names them) lie in `.autoloop/`, which a command can write without
// the read-only containment (`pidns`, `group`, a failed setup). A discarded
// run's benchmark rewrote the best's copy of its checkpoint, and the discard
// put the forged bytes into the tree as the best's; one that added a name to
// the best's record (with a planted copy) had the discard write that file, a
// source file in the scope included, into the tree. Real engine, real runs.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, makeRepo } from './helpers/engine.ts';

const REGEX = 'regex:val_loss=val_loss: ([0-9.eE+-]+)';
const trainer = (loss: number, fill: number, extra = '') =>
  `const fs = require('node:fs');\nfs.mkdirSync('ckpt', { recursive: true });\nfs.writeFileSync('ckpt/model.bin', Buffer.alloc(4096, ${fill}));\n${extra}console.log('val_loss: ${loss}');\n`;

function setUp() {
  const repo = makeRepo({ 'train.js': trainer(5, 1), 'lib.js': 'module.exports = 1;\n', '.gitignore': 'ckpt/\n' });
  const init = engine('init-experiment', ['--name', 'ml', '--metric', 'val_loss', '--direction', 'lower', '--command', 'node train.js', '--scope', 'train.js', '--scope', 'lib.js', '--source', REGEX, '--artifacts', 'ckpt/**', '--repeats', '1'], repo);
  expect(init.code, init.stderr).toBe(0);
  const base = engine('run-experiment', ['--description', 'baseline', '--json'], repo);
  expect(base.json, base.stderr).toMatchObject({ verdict: 'keep' });
  const best = String(base.json?.run_id);
  const runs = path.join(repo, '.autoloop', 'experiments', 'ml', 'runs');
  return { repo, best, runs, copy: path.join(runs, best, 'artifacts', 'ckpt', 'model.bin') };
}

const bestModel = (repo: string) => fs.readFileSync(path.join(repo, 'ckpt', 'model.bin'));
const inTree = (repo: string) => (fs.existsSync(path.join(repo, 'ckpt', 'model.bin')) ? bestModel(repo)[0] : null);

describe.each(['pidns', 'group'])('the best\'s artifacts under %s', (containment) => {
  it('a discarded run that rewrote the best\'s copy: the forged bytes never reach the tree', () => {
    const { repo, copy } = setUp();
    expect(fs.readFileSync(copy).equals(Buffer.alloc(4096, 1))).toBe(true);
    const forge = `try { fs.writeFileSync(${JSON.stringify(copy)}, Buffer.alloc(4096, 9)); } catch {}\n`;
    fs.writeFileSync(path.join(repo, 'train.js'), trainer(8, 2, forge));
    const r = engine('run-experiment', ['--description', 'forge the copy', '--json'], repo, { AUTOLOOP_CONTAINMENT: containment });
    expect(r.code, r.stderr).toBe(0);
    // The run is invalid, the forged copy set aside: the best has no copies to put back, and the tree none of this run's.
    expect(r.json, r.stderr).toMatchObject({ verdict: 'invalid' });
    expect(String(r.json?.reason)).toContain('moved aside, never restored');
    expect(inTree(repo)).toBe(null);
    expect(fs.existsSync(copy)).toBe(false);
    // A later discard does not bring it back either.
    fs.writeFileSync(path.join(repo, 'train.js'), trainer(9, 3));
    expect(engine('run-experiment', ['--description', 'worse', '--json'], repo, { AUTOLOOP_CONTAINMENT: containment }).json).toMatchObject({ verdict: 'discard' });
    expect(inTree(repo)).toBe(null);
  });

  it('a discarded run that added a name to the best\'s record: that file is not written into the tree', () => {
    const { repo, best, runs } = setUp();
    const record = path.join(runs, best, 'result.json');
    const planted = path.join(runs, best, 'artifacts', 'lib.js');
    const forge = `try { const p = ${JSON.stringify(record)}; const r = JSON.parse(fs.readFileSync(p, 'utf8')); r.artifacts.files.push('lib.js'); fs.writeFileSync(p, JSON.stringify(r)); fs.writeFileSync(${JSON.stringify(planted)}, 'module.exports = 666;\\n'); } catch {}\n`;
    fs.writeFileSync(path.join(repo, 'train.js'), trainer(8, 2, forge));
    const r = engine('run-experiment', ['--description', 'forge the record', '--json'], repo, { AUTOLOOP_CONTAINMENT: containment });
    expect(r.code, r.stderr).toBe(0);
    expect(r.json, r.stderr).toMatchObject({ verdict: 'invalid' });
    expect(fs.readFileSync(path.join(repo, 'lib.js'), 'utf8')).toBe('module.exports = 1;\n');
    expect(inTree(repo)).toBe(1);
    expect(JSON.parse(fs.readFileSync(record, 'utf8')).artifacts.files).toEqual(['ckpt/model.bin']);
  });
});

describe('the best\'s artifacts, otherwise reached', () => {
  it('under readonly neither forgery is written: the discard puts the best\'s own copy back', () => {
    const { repo, best, runs, copy } = setUp();
    const record = path.join(runs, best, 'result.json');
    const forge = `try { fs.writeFileSync(${JSON.stringify(copy)}, Buffer.alloc(4096, 9)); } catch {}\ntry { fs.writeFileSync(${JSON.stringify(record)}, '{}'); } catch {}\n`;
    fs.writeFileSync(path.join(repo, 'train.js'), trainer(8, 2, forge));
    const r = engine('run-experiment', ['--description', 'forge', '--json'], repo, { AUTOLOOP_CONTAINMENT: 'readonly' });
    expect(r.json, r.stderr).toMatchObject({ verdict: 'discard' });
    expect(inTree(repo)).toBe(1);
    expect(fs.readFileSync(copy).equals(Buffer.alloc(4096, 1))).toBe(true);
  });

  it('a record rewritten between runs (by a program run outside any check): only names the artifact globs match are restored', () => {
    const { repo, best, runs } = setUp();
    const record = path.join(runs, best, 'result.json');
    const r0 = JSON.parse(fs.readFileSync(record, 'utf8'));
    r0.artifacts.files.push('lib.js');
    fs.writeFileSync(record, JSON.stringify(r0));
    fs.writeFileSync(path.join(runs, best, 'artifacts', 'lib.js'), 'module.exports = 666;\n');
    fs.writeFileSync(path.join(repo, 'train.js'), trainer(8, 2));
    expect(engine('run-experiment', ['--description', 'worse', '--json'], repo).json).toMatchObject({ verdict: 'discard' });
    expect(fs.readFileSync(path.join(repo, 'lib.js'), 'utf8')).toBe('module.exports = 1;\n');
    expect(inTree(repo)).toBe(1);
  });
});
