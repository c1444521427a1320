import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import {
  candidatePaths,
  changedFingerprints,
  fingerprint,
  judgedConfigHash,
  resolveProtected,
  restoreJudges,
  saveJudges,
  shellTokens,
} from '../scripts/lib/integrity.ts';
import { JUDGED_FIELDS } from '../scripts/lib/schema.ts';
import { cleanupTmp, makeConfig, makeDir, read, write } from './helpers/repo.ts';

afterAll(cleanupTmp);

describe('judgedConfigHash', () => {
  it('changes with a judged field, not with goal or budgets', () => {
    const base = makeConfig();
    const h = judgedConfigHash(base);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(judgedConfigHash(makeConfig({ goal: 'go faster', max_runs: 7, plateau: 3 }))).toBe(h);
    expect(judgedConfigHash(makeConfig({ command: 'bash bench/run.sh --fast' }))).not.toBe(h);
    expect(judgedConfigHash(makeConfig({ direction: 'higher' }))).not.toBe(h);
    expect(judgedConfigHash(makeConfig({ scope: ['src/**'] }))).not.toBe(h);
    expect(judgedConfigHash(makeConfig({ guardrails: [{ metric: 'mem', direction: 'lower', max_regression_pct: 3 }] }))).not.toBe(h);
  });

  it('does not depend on key order', () => {
    const a = makeConfig({ guardrails: [{ metric: 'mem', direction: 'lower', max_regression_pct: 3 }] });
    const g = a.guardrails[0];
    if (!g) throw new Error('no guardrail');
    const reordered = { ...a, guardrails: [{ max_regression_pct: g.max_regression_pct, direction: g.direction, metric: g.metric }] };
    expect(judgedConfigHash(reordered)).toBe(judgedConfigHash(a));
  });

  it('covers every judged field', () => {
    const base = makeConfig();
    const variants: Record<(typeof JUDGED_FIELDS)[number], Partial<Parameters<typeof makeConfig>[0]>> = {
      metric: { metric: 'other' },
      direction: { direction: 'higher' },
      command: { command: 'true' },
      checks: { checks: 'npm test' },
      timeout: { timeout: 9 },
      checks_timeout: { checks_timeout: 9 },
      scope: { scope: ['x'] },
      protect: { protect: ['y'] },
      repeats: { repeats: 3 },
      min_improvement: { min_improvement: '2%' },
      guardrails: { guardrails: [{ metric: 'm', direction: 'lower', max_regression_pct: 1 }] },
      sources: { sources: [{ kind: 'regex', metric: 'time_ms', pattern: 'took ([0-9.]+)' }] },
    };
    for (const f of JUDGED_FIELDS) expect(judgedConfigHash(makeConfig(variants[f])), f).not.toBe(judgedConfigHash(base));
  });
});

describe('shell tokenizer', () => {
  it('understands quotes, escapes, operators and comments', () => {
    const words = (cmd: string) => shellTokens(cmd).filter((t) => t.kind === 'word').map((t) => t.value);
    expect(words(`node "bench/my bench.js" 'a b' c\\ d # comment`)).toEqual(['node', 'bench/my bench.js', 'a b', 'c d']);
    expect(words('a&&b|c;d')).toEqual(['a', 'b', 'c', 'd']);
    expect(words('echo "x\\"y"')).toEqual(['echo', 'x"y']);
  });

  it('skips what output redirections write, but not input files', () => {
    expect(candidatePaths('node b.js > out.txt 2>err.log < in.txt')).toEqual(['node', 'b.js', 'in.txt']);
    expect(candidatePaths('run --config=bench/c.json')).toEqual(['run', '--config=bench/c.json', 'bench/c.json']);
  });
});

describe('resolveProtected', () => {
  it('finds the files the command and checks name, and protect globs', () => {
    const root = makeDir({
      'bench/run.sh': 'echo METRIC time_ms=1',
      'bench/my bench.js': 'console.log(1)',
      'bench/data/input.txt': 'data',
      'test/check.sh': 'exit 0',
      'src/main.c': 'int main(){}',
      'results.txt': 'written by the benchmark',
    });
    const outside = makeDir({ 'elsewhere.sh': 'x' });
    const cfg = makeConfig({
      command: `bash bench/run.sh --fast && node "bench/my bench.js" > results.txt; cat ${path.join(outside, 'elsewhere.sh')}`,
      checks: 'sh ./test/check.sh src',
      protect: ['bench/data/**', 'nothing/here/**'],
    });
    expect(resolveProtected(root, cfg)).toEqual(['bench/data/input.txt', 'bench/my bench.js', 'bench/run.sh', 'test/check.sh']);
  });

  it('ignores directories, missing files and paths outside the root', () => {
    const root = makeDir({ 'src/a.c': 'a' });
    expect(resolveProtected(root, makeConfig({ command: 'make -C src ../x /etc/hostname missing.sh' }))).toEqual([]);
  });
});

describe('fingerprints', () => {
  it('change when the benchmark file changes, appears or disappears', () => {
    const root = makeDir({ 'bench/run.sh': 'v1' });
    const cfg = makeConfig();
    const files = ['bench/run.sh', 'bench/later.sh'];
    const a = fingerprint(root, cfg, files);
    expect(a.files['bench/later.sh']).toBe('missing');
    expect(changedFingerprints(a, fingerprint(root, cfg, files))).toEqual([]);
    write(root, 'bench/run.sh', 'v2');
    expect(changedFingerprints(a, fingerprint(root, cfg, files))).toEqual(['bench/run.sh']);
    write(root, 'bench/later.sh', 'planted');
    expect(changedFingerprints(a, fingerprint(root, cfg, files))).toEqual(['bench/later.sh', 'bench/run.sh']);
  });

  it("name 'config' when a judged field changes and not when goal changes", () => {
    const root = makeDir({ 'bench/run.sh': 'v1' });
    const a = fingerprint(root, makeConfig(), ['bench/run.sh']);
    expect(changedFingerprints(a, fingerprint(root, makeConfig({ goal: 'new goal' }), ['bench/run.sh']))).toEqual([]);
    expect(changedFingerprints(a, fingerprint(root, makeConfig({ timeout: 5 }), ['bench/run.sh']))).toEqual(['config']);
  });

  it('name files that were added to or removed from the set', () => {
    const root = makeDir({ 'a.sh': 'a', 'b.sh': 'b' });
    const cfg = makeConfig();
    expect(changedFingerprints(fingerprint(root, cfg, ['a.sh']), fingerprint(root, cfg, ['a.sh', 'b.sh']))).toEqual(['b.sh']);
  });
});

describe('saveJudges / restoreJudges', () => {
  it('restores changed and deleted judges, deletes planted ones, keeps modes', () => {
    const root = makeDir({ 'bench/run.sh': '#!/bin/sh\necho METRIC t=1\n', 'bench/ok.txt': 'same' });
    fs.chmodSync(path.join(root, 'bench/run.sh'), 0o755);
    const judges = path.join(root, '.autoloop/experiments/exp/judges');
    const files = ['bench/run.sh', 'bench/ok.txt', 'bench/planted.sh'];
    saveJudges(root, judges, files);

    write(root, 'bench/run.sh', '#!/bin/sh\necho METRIC t=0.001\n');
    fs.chmodSync(path.join(root, 'bench/run.sh'), 0o644);
    write(root, 'bench/planted.sh', 'cheat');
    expect(restoreJudges(root, judges, files)).toEqual(['bench/planted.sh', 'bench/run.sh']);
    expect(read(root, 'bench/run.sh')).toBe('#!/bin/sh\necho METRIC t=1\n');
    expect(fs.statSync(path.join(root, 'bench/run.sh')).mode & 0o777).toBe(0o755);
    expect(fs.existsSync(path.join(root, 'bench/planted.sh'))).toBe(false);
    expect(read(root, 'bench/ok.txt')).toBe('same');

    fs.rmSync(path.join(root, 'bench/run.sh'));
    expect(restoreJudges(root, judges, files)).toEqual(['bench/run.sh']);
    expect(read(root, 'bench/run.sh')).toBe('#!/bin/sh\necho METRIC t=1\n');
    // Nothing left to do: idempotent.
    expect(restoreJudges(root, judges, files)).toEqual([]);
  });

  it('restores a judge the agent replaced with a symlink without writing through it', () => {
    const root = makeDir({ 'bench/run.sh': 'real' });
    const victim = makeDir({ 'target.txt': 'do not touch' });
    const judges = path.join(root, '.autoloop/judges');
    saveJudges(root, judges, ['bench/run.sh']);
    fs.rmSync(path.join(root, 'bench/run.sh'));
    fs.symlinkSync(path.join(victim, 'target.txt'), path.join(root, 'bench/run.sh'));
    expect(restoreJudges(root, judges, ['bench/run.sh'])).toEqual(['bench/run.sh']);
    expect(fs.lstatSync(path.join(root, 'bench/run.sh')).isSymbolicLink()).toBe(false);
    expect(read(root, 'bench/run.sh')).toBe('real');
    expect(read(victim, 'target.txt')).toBe('do not touch');
  });

  it('a new save replaces the old copies; a damaged copy is refused, not restored', () => {
    const root = makeDir({ 'b.sh': 'one' });
    const judges = path.join(root, '.autoloop/judges');
    saveJudges(root, judges, ['b.sh']);
    write(root, 'b.sh', 'two');
    saveJudges(root, judges, ['b.sh']);
    expect(fs.readdirSync(judges).filter((n) => n.startsWith('files-'))).toHaveLength(1);
    write(root, 'b.sh', 'three');
    expect(restoreJudges(root, judges, ['b.sh'])).toEqual(['b.sh']);
    expect(read(root, 'b.sh')).toBe('two');

    const dir = fs.readdirSync(judges).find((n) => n.startsWith('files-')) as string;
    fs.writeFileSync(path.join(judges, dir, 'b.sh'), 'tampered');
    write(root, 'b.sh', 'four');
    expect(() => restoreJudges(root, judges, ['b.sh'])).toThrow(/damaged/);
  });

  it('returns nothing when nothing was saved', () => {
    const root = makeDir({ 'b.sh': 'x' });
    expect(restoreJudges(root, path.join(root, 'none'), ['b.sh'])).toEqual([]);
  });
});
