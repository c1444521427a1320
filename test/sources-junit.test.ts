// The junit source on reports written by the real tools: vitest's junit
// reporter (our own devDependency) and Debian's pytest --junitxml.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JunitSourceSpec, junitSource, junitTotals } from '../scripts/lib/sources/junit.ts';
import { walkTags } from '../scripts/lib/sources/xml-tags.ts';
import type { SampleOutput } from '../scripts/lib/sources/types.ts';
import { cleanupTmp, PROJECT, tmpDir } from './helpers/repo.ts';
import { DEBIAN_PYTHON, ensureDebian, run } from './helpers/tools.ts';

afterAll(cleanupTmp);
beforeAll(() => ensureDebian(['python3-pytest'], [DEBIAN_PYTHON, '-c', 'import pytest']), 900_000);

const sample = (cwd: string, startedAtMs: number): SampleOutput => ({ cwd, log: { file: path.join(cwd, 'x.log'), start: 0, end: 0 }, startedAtMs });
const junit = (file: string, prefix?: string) => junitSource(JunitSourceSpec.parse({ kind: 'junit', file, ...(prefix ? { prefix } : {}) }));

describe('junit source on real reports', () => {
  it('reads a vitest --reporter=junit report: 3 passed, 1 failed, 1 skipped', async () => {
    const dir = tmpDir();
    fs.writeFileSync(
      path.join(dir, 'a.test.js'),
      `describe('s', () => {
        it('one', () => expect(1).toBe(1));
        it('two & "three"', () => expect(2).toBe(2));
        it('fails', () => expect(1).toBe(2));
        it.skip('skipped', () => {});
      });
      it('top', () => {});\n`,
    );
    const started = Date.now();
    run(process.execPath, [path.join(PROJECT, 'node_modules/vitest/vitest.mjs'), 'run', '--root', dir, '--globals', '--reporter=junit', '--outputFile=report.xml'], dir, [1]);
    const r = await junit('report.xml').read(sample(dir, started));
    expect(r.ok).toBe(true);
    const m = r.ok ? r.metrics : {};
    expect({ ...m, time: undefined }).toEqual({ tests: [5], failures: [1], errors: [0], skipped: [1], passed: [3], time: undefined });
    expect(m.time?.[0]).toBeGreaterThanOrEqual(0);
  });

  it('reads Node\'s own --test-reporter=junit report: top-level tests beside a describe\'s <testsuite> count too', async () => {
    const dir = tmpDir();
    fs.writeFileSync(
      path.join(dir, 'a.test.js'),
      `const { test, describe, it } = require('node:test');
      test('top ok', () => {});
      test('top fails', () => { throw new Error('no'); });
      describe('group', () => { it('in1', () => {}); it('in2', () => {}); it.skip('in3', () => {}); });\n`,
    );
    const started = Date.now();
    run(process.execPath, ['--test', '--test-reporter=junit', '--test-reporter-destination=report.xml', 'a.test.js'], dir, [1]);
    const r = await junit('report.xml').read(sample(dir, started));
    expect(r.ok && { ...r.metrics, time: undefined }).toEqual({ tests: [5], failures: [1], errors: [0], skipped: [1], passed: [3], time: undefined });
    expect(r.ok && r.metrics.time?.[0]).toBeGreaterThan(0);
  });

  it('reads a pytest --junitxml report (Debian python3-pytest): failures, errors, skips', async () => {
    const dir = tmpDir();
    fs.writeFileSync(
      path.join(dir, 'test_x.py'),
      `import pytest
@pytest.fixture
def broken():
    raise RuntimeError("setup")
def test_ok(): assert True
def test_ok2(): assert 1 + 1 == 2
def test_fail(): assert 1 == 2
def test_error(broken): pass
@pytest.mark.skip(reason="no")
def test_skip(): pass
`,
    );
    const started = Date.now();
    run(DEBIAN_PYTHON, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', '--junitxml=out/junit.xml'], dir, [1]);
    const r = await junit('out/junit.xml', 'py_').read(sample(dir, started));
    expect(r.ok && { ...r.metrics, py_time: undefined }).toEqual({
      py_tests: [5],
      py_failures: [1],
      py_errors: [1],
      py_skipped: [1],
      py_passed: [2],
      py_time: undefined,
    });
  });

  it('says when the report is missing, stale, or not JUnit', async () => {
    const dir = tmpDir();
    expect(await junit('nope.xml').read(sample(dir, Date.now()))).toEqual({ ok: false, reason: 'junit nope.xml: nope.xml was not written' });
    fs.writeFileSync(path.join(dir, 'r.xml'), '<?xml version="1.0"?><html><body/></html>');
    expect(await junit('r.xml').read(sample(dir, Date.now() - 5000))).toEqual({ ok: false, reason: 'junit r.xml: has root <html>, not <testsuites> or <testsuite>' });
    expect(await junit('r.xml').read(sample(dir, Date.now() + 60_000))).toEqual({ ok: false, reason: 'junit r.xml: r.xml is stale (last written before this sample started)' });
    fs.writeFileSync(path.join(dir, 'r.xml'), '<testsuite tests="1"><testcase name="a');
    const r = await junit('r.xml').read(sample(dir, Date.now() - 5000));
    expect(!r.ok && r.reason).toMatch(/^junit r\.xml: not readable XML \(bad attribute/);
  });
});

describe('junit totals', () => {
  it('sums top-level suites when the root has no totals, and counts test cases when suites have none either', () => {
    const two = `<?xml version="1.0"?>
      <!-- a <testcase> in a comment does not count -->
      <testsuites>
        <testsuite name="a" tests="3" failures="1" errors="0" skipped="1" time="1,234.5"><testcase name="x"/></testsuite>
        <testsuite name="b" tests="2" failures="0" errors="1" skipped="0" time="0.5"/>
      </testsuites>`;
    expect(junitTotals(two)).toEqual({ tests: 5, failures: 1, errors: 1, skipped: 1, passed: 2, time: 1235 });
    // Test cases beside the suites are added to their sums (a case without a time leaves the time out).
    const beside = two.replace('<testsuite name="b"', '<testcase name="t1" time="0.25"><failure/></testcase><testcase name="t2" time="0.25"/><testsuite name="b"');
    expect(junitTotals(beside)).toEqual({ tests: 7, failures: 2, errors: 1, skipped: 1, passed: 3, time: 1235.5 });
    expect(junitTotals(beside.replace(' time="0.25"/>', '/>'))).toEqual({ tests: 7, failures: 2, errors: 1, skipped: 1, passed: 3 });
    // A figure the root and the suites leave out is counted from the test cases.
    const partial = `<testsuites tests="2" failures="0"><testsuite tests="2"><testcase/><testcase><skipped/></testcase></testsuite></testsuites>`;
    expect(junitTotals(partial)).toEqual({ tests: 2, failures: 0, errors: 0, skipped: 1, passed: 1 });
    const bare = `<testsuites><testsuite name="s">
      <testcase name="ok"/>
      <testcase name="f"><failure message="a > b &amp; c"><![CDATA[<testcase name="fake"/>]]></failure></testcase>
      <testcase name="e"><error/><failure/></testcase>
      <testcase name="s"><skipped/></testcase>
      <testcase name="with-output"><system-out>&lt;failure/&gt;</system-out></testcase>
    </testsuite></testsuites>`;
    expect(junitTotals(bare)).toEqual({ tests: 5, failures: 1, errors: 1, skipped: 1, passed: 2 });
  });

  it('decodes attributes with quotes, entities and > inside values', () => {
    const seen: string[] = [];
    walkTags(`<a x='1 > 0' y="&quot;&#65;&#x42;&lt;"><b:c z = "q"/></a>`, (t) => seen.push(`${t.name}@${t.depth}:${[...t.attrs].map(([k, v]) => `${k}=${v}`).join(',')}`));
    expect(seen).toEqual(['a@0:x=1 > 0,y="AB<', 'c@1:z=q']);
  });
});
