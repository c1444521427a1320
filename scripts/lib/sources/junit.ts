// `junit`: counts from a JUnit XML report (pytest --junitxml, vitest/jest
// junit reporters, Maven Surefire, go-junit-report...). Metrics: tests,
// failures, errors, skipped, passed, time (seconds), each behind an optional
// prefix. Totals come from the root's attributes when it has them, else from
// the sum of the top-level <testsuite> elements (and the test cases beside
// them), else from counting <testcase> elements and their
// <failure>/<error>/<skipped> children.
import * as z from '../zod.ts';
import { lazySchema } from '../zod.ts';
import { fail, FileField, PrefixField, reading, resultFileSource } from './common.ts';
import { walkTags, type Tag } from './xml-tags.ts';
import type { MetricSource } from './types.ts';

export const JunitSourceSpec = lazySchema(() => z.strictObject({
  kind: z.literal('junit'),
  file: FileField,
  prefix: PrefixField,
}));
export type JunitSourceSpec = z.infer<typeof JunitSourceSpec>;

export interface JunitTotals {
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
  passed: number;
  /** Seconds; absent when the report gives no time. */
  time?: number;
}

const FIELDS = ['tests', 'failures', 'errors', 'skipped', 'time'] as const;
type Field = (typeof FIELDS)[number];

/** A count or duration attribute; tolerates Surefire's `1,234.5` thousands separators. */
function attrNumber(attrs: Map<string, string>, name: string): number | undefined {
  const raw = attrs.get(name)?.trim();
  if (raw === undefined || raw === '') return undefined;
  const plain = /^\d{1,3}(,\d{3})+(\.\d+)?$/.test(raw) ? raw.replace(/,/g, '') : raw;
  const n = Number(plain);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

function field(attrs: Map<string, string>, f: Field): number | undefined {
  // Some writers say `disabled` or `skips` for skipped tests.
  if (f === 'skipped') return attrNumber(attrs, 'skipped') ?? attrNumber(attrs, 'skips') ?? attrNumber(attrs, 'disabled');
  return attrNumber(attrs, f);
}

/**
 * Totals of a JUnit report, or a reason it has none. Each figure comes from
 * the root's attribute when it has one, else from the sum over the top-level
 * <testsuite> elements when all of them have it, else from counting test cases.
 * (vitest's root, for one, gives tests and failures but not skipped.)
 */
export function junitTotals(xml: string): JunitTotals | string {
  let root: Tag | null = null;
  const suites = new Map<Field, { sum: number; all: boolean }>(FIELDS.map((f) => [f, { sum: 0, all: true }]));
  let suiteCount = 0;
  const cases = { tests: 0, failures: 0, errors: 0, skipped: 0 };
  // Test cases straight under the root, beside the suites (Node's junit reporter puts top-level
  // tests there and a <testsuite> per describe): the suites' sums leave them out.
  const direct = { tests: 0, failures: 0, errors: 0, skipped: 0, time: 0, timed: true };
  let inCase = -1;
  let caseState: 'passed' | 'failure' | 'error' | 'skipped' = 'passed';
  walkTags(
    xml,
    (tag) => {
      if (tag.depth === 0) root = tag;
      if (tag.depth === 1 && tag.name === 'testsuite') {
        suiteCount++;
        for (const f of FIELDS) {
          const v = field(tag.attrs, f);
          const acc = suites.get(f) as { sum: number; all: boolean };
          if (v === undefined) acc.all = false;
          else acc.sum += v;
        }
      }
      if (tag.name === 'testcase' && inCase < 0) {
        inCase = tag.depth;
        caseState = 'passed';
        if (tag.depth === 1) {
          const t = attrNumber(tag.attrs, 'time');
          if (t === undefined) direct.timed = false;
          else direct.time += t;
        }
      } else if (inCase >= 0 && tag.depth === inCase + 1) {
        // An error outranks a failure, which outranks a skip.
        if (tag.name === 'error') caseState = 'error';
        else if (tag.name === 'failure' && caseState !== 'error') caseState = 'failure';
        else if (tag.name === 'skipped' && caseState === 'passed') caseState = 'skipped';
      }
    },
    (name, depth) => {
      if (name !== 'testcase' || depth !== inCase) return;
      const k = caseState === 'failure' ? 'failures' : caseState === 'error' ? 'errors' : 'skipped';
      cases.tests++;
      if (caseState !== 'passed') cases[k]++;
      if (depth === 1) {
        direct.tests++;
        if (caseState !== 'passed') direct[k]++;
      }
      inCase = -1;
    },
  );
  const r = root as Tag | null;
  if (!r) return 'has no XML element';
  if (r.name !== 'testsuites' && r.name !== 'testsuite') return `has root <${r.name}>, not <testsuites> or <testsuite>`;
  const pickField = (f: Field): number | undefined => {
    const fromRoot = field(r.attrs, f);
    if (fromRoot !== undefined) return fromRoot;
    const s = suites.get(f) as { sum: number; all: boolean };
    if (f === 'time') return suiteCount > 0 && s.all && direct.timed ? s.sum + direct.time : undefined;
    if (suiteCount > 0 && s.all) return s.sum + direct[f];
    return cases[f];
  };
  const out: JunitTotals = {
    tests: pickField('tests') as number,
    failures: pickField('failures') as number,
    errors: pickField('errors') as number,
    skipped: pickField('skipped') as number,
    passed: 0,
  };
  out.passed = Math.max(0, out.tests - out.failures - out.errors - out.skipped);
  const time = pickField('time');
  if (time !== undefined) out.time = time;
  return out;
}

export function junitSource(spec: JunitSourceSpec): MetricSource {
  const p = spec.prefix ?? '';
  return resultFileSource('junit', spec.file, (text, label) => {
    let t: JunitTotals | string;
    try {
      t = junitTotals(text);
    } catch (e) {
      return fail(`${label}: not readable XML (${(e as Error).message})`);
    }
    if (typeof t === 'string') return fail(`${label}: ${t}`);
    const found = new Map<string, number[]>();
    for (const k of ['tests', 'failures', 'errors', 'skipped', 'passed', 'time'] as const) {
      const v = t[k];
      if (v !== undefined) found.set(`${p}${k}`, [v]);
    }
    return reading(found, []);
  });
}
