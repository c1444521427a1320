// Every bundled example runs as `npm run demo -- NAME` against the real engine
// and tells its story (test/helpers/examples.ts): this file runs every other
// example and the checks that a demo fails when its story does not happen;
// examples-more.test.ts runs the rest.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadExample } from '../scripts/demo/spec.ts';
import { artifactMismatches, observe, storyMismatches, type Observed } from '../scripts/demo/story.ts';
import { runDemo } from '../scripts/demo/run.ts';
import { UsageError } from '../scripts/lib/errors.ts';
import { EXAMPLES, ROOT, cleanUpAfterAll, demo, dist, leftBehind, storyTests } from './helpers/examples.ts';

cleanUpAfterAll();

test('there is an example for each domain family', () => {
  expect(EXAMPLES).toEqual(expect.arrayContaining(['primes', 'ml-train', 'coverage', 'bundle-size']));
});

storyTests(EXAMPLES.filter((_, i) => i % 2 === 0));

describe('the demo fails when the story does not happen', () => {
  test('a wrong expectation makes the demo exit 1 and name the step', { timeout: 600_000 }, () => {
    const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-examples-')));
    leftBehind(root);
    const src = path.join(ROOT, 'examples', 'primes');
    const dst = path.join(root, 'examples', 'primes');
    fs.cpSync(src, dst, { recursive: true });
    for (const f of fs.readdirSync(path.join(dst, 'steps'))) if (!/^0[12]-/.test(f)) fs.rmSync(path.join(dst, 'steps', f));
    const yaml = fs.readFileSync(path.join(dst, 'demo.yaml'), 'utf8').replace(/story:[\s\S]*$/, '');
    fs.writeFileSync(
      path.join(dst, 'demo.yaml'),
      `${yaml}story:\n  - { step: baseline, verdict: keep }\n  - { step: 01-sqrt, verdict: keep }\n  - { step: 02-half, verdict: keep }\nterminated_by: target\n`,
    );
    process.env.AUTOLOOP_DEMO_DIST = dist();
    const said: string[] = [];
    const code = runDemo(root, loadExample(root, 'primes'), (l) => said.push(l));
    const repo = /\(repository: (\S+)\)/.exec(said.join('\n'))?.[1];
    if (repo) leftBehind(repo);
    expect(code).toBe(1);
    expect(said.join('\n')).toContain('02-half: discard (expected keep)');
    expect(said.join('\n')).toContain('the loop did not terminate (expected target)');
  });

  test('a step whose artifacts were not restored makes the demo exit 1 and say why', { timeout: 600_000 }, () => {
    const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-examples-')));
    leftBehind(root);
    const dst = path.join(root, 'examples', 'ml-train');
    fs.cpSync(path.join(ROOT, 'examples', 'ml-train'), dst, { recursive: true });
    for (const f of fs.readdirSync(path.join(dst, 'steps'))) if (!f.startsWith('01-')) fs.rmSync(path.join(dst, 'steps', f));
    // A keep never puts the previous best's checkpoint back: expecting it must fail, from the files.
    const yaml = fs.readFileSync(path.join(dst, 'demo.yaml'), 'utf8').replace(/story:[\s\S]*$/, '');
    fs.writeFileSync(
      path.join(dst, 'demo.yaml'),
      `${yaml}story:\n  - { step: baseline, verdict: keep }\n  - { step: 01-lr-up, verdict: keep, artifacts: restored }\nterminated_by: max_runs\n`,
    );
    process.env.AUTOLOOP_DEMO_DIST = dist();
    const said: string[] = [];
    const code = runDemo(root, loadExample(root, 'ml-train'), (l) => said.push(l));
    const text = said.join('\n');
    const repo = /\(repository: (\S+)\)/.exec(text)?.[1];
    if (repo) leftBehind(repo);
    expect(code).toBe(1);
    expect(text).toContain("✘ ckpt/model.json: this run's own before the verdict, not r0001's after it");
    expect(text).toContain("01-lr-up: the engine did not say it put r0001's artifacts back");
    expect(text).toContain("01-lr-up: after the verdict the tree does not hold r0001's artifacts (ckpt/model.json)");
  });

  test('artifactMismatches: no best, no copy, an untouched tree and a wrong restore are each named', () => {
    const o = (over: Partial<Observed>): Observed => ({ ...observe('s', 'r0003 DISCARD: worse'), ...over });
    expect(artifactMismatches('s', o({}))).toEqual(['s: no kept run to take the artifacts from']);
    expect(artifactMismatches('s', o({ artifacts: { best: 'r0002', files: [], ranOwn: false, differingAfter: [] } }))).toEqual([
      's: the engine kept no artifacts for the best run (r0002)',
    ]);
    expect(artifactMismatches('s', o({ artifacts: { best: 'r0002', files: ['ckpt/a'], ranOwn: false, differingAfter: ['ckpt/a'] } }))).toEqual([
      "s: the run left the best's artifacts as they were (nothing to restore)",
      "s: the engine did not say it put r0002's artifacts back",
      "s: after the verdict the tree does not hold r0002's artifacts (ckpt/a)",
    ]);
    const good = observe('s', "r0003 DISCARD: worse\nartifacts: the best's (r0002) are back in the tree");
    expect(good.artifactsFrom).toBe('r0002');
    expect(artifactMismatches('s', { ...good, artifacts: { best: 'r0002', files: ['ckpt/a'], ranOwn: true, differingAfter: [] } })).toEqual([]);
  });

  test('storyMismatches: a stop before the last step, and a wrong ending, are both named', () => {
    const expected = [
      { name: 'baseline', expect: 'keep' as const },
      { name: 'a', expect: 'keep' as const },
      { name: 'b', expect: 'crash' as const },
    ];
    expect(storyMismatches(expected, 'target', [observe('baseline', 'r0001 KEEP: baseline'), observe('a', 'r0002 KEEP: x\nSTOP: terminated: max_runs (…)')])).toEqual([
      'a: the loop stopped early (max_runs)',
      'b: never ran (expected crash)',
    ]);
    expect(
      storyMismatches(expected, 'target', [
        observe('baseline', 'r0001 KEEP: baseline'),
        observe('a', 'r0002 KEEP: x'),
        observe('b', 'r0003 CRASH: exit code 1\nSTOP: terminated: plateau (…)'),
      ]),
    ).toEqual(['b: terminated by plateau (expected target)']);
    expect(
      storyMismatches(expected, 'target', [
        observe('baseline', 'r0001 KEEP: baseline'),
        observe('a', 'r0002 KEEP: x'),
        observe('b', 'r0003 CRASH: exit code 1\nSTOP: terminated: target (…)'),
      ]),
    ).toEqual([]);
  });

  test('an example whose story does not match its patches is refused in one line', () => {
    const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-examples-')));
    leftBehind(root);
    fs.cpSync(path.join(ROOT, 'examples', 'primes'), path.join(root, 'examples', 'primes'), { recursive: true });
    fs.rmSync(path.join(root, 'examples', 'primes', 'steps', '06-odd.patch'));
    expect(() => loadExample(root, 'primes')).toThrow(UsageError);
    expect(() => loadExample(root, 'primes')).toThrow(/story steps .* must be baseline then the patches in steps\/ in order/);
    expect(() => loadExample(root, 'nope')).toThrow(/unknown example "nope"; choose one of: primes/);
    const yaml = path.join(root, 'examples', 'primes', 'demo.yaml');
    fs.cpSync(path.join(ROOT, 'examples', 'primes', 'steps'), path.join(root, 'examples', 'primes', 'steps'), { recursive: true });
    fs.writeFileSync(yaml, fs.readFileSync(yaml, 'utf8').replace('{ step: 02-half, verdict: discard }', '{ step: 02-half, verdict: discard, artifacts: restored }'));
    expect(() => loadExample(root, 'primes')).toThrow(/a step expects artifacts restored, but init has no artifacts/);
  });

  test('an unknown example name exits 2 with one line', () => {
    const r = demo('no-such-example');
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([`demo: unknown example "no-such-example"; choose one of: ${EXAMPLES.join(', ')}`]);
  });
});
