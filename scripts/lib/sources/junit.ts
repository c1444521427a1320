// `junit`: counts from a JUnit XML report (pytest --junitxml, vitest/jest
// junit reporters, Maven Surefire, go-junit-report...). Metrics: tests,
// failures, errors, skipped, passed, time (seconds), each behind an optional
// prefix. Totals come from the root's attributes when it has them, else from
// the sum of the top-level <testsuite> elements, else from counting
// <testcase> elements and their <failure>/<error>/<skipped> children.
import { z } from 'zod';
import { clip, fail, FileField, PrefixField, readFreshText, reading } from './common.ts';
import { walkTags, type Tag } from './xml-tags.ts';
import type { MetricSource, SampleOutput, SourceReading } from './types.ts';

export const JunitSourceSpec = z
  .object({
    kind: z.literal('junit'),
    file: FileField,
    prefix: PrefixField,
  })
  .strict();
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

type Counts = { tests: number; failures: number; errors: number; skipped: number; time?: number };

/** A count or duration attribute; tolerates Surefire's `1,234.5` thousands separators. */
function attrNumber(attrs: Map<string, string>, name: string): number | undefined {
  const raw = attrs.get(name)?.trim();
  if (raw === undefined || raw === '') return undefined;
  const plain = /^\d{1,3}(,\d{3})+(\.\d+)?$/.test(raw) ? raw.replace(/,/g, '') : raw;
  const n = Number(plain);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

function countsOf(attrs: Map<string, string>): Counts | null {
  const tests = attrNumber(attrs, 'tests');
  if (tests === undefined) return null;
  const c: Counts = {
    tests,
    failures: attrNumber(attrs, 'failures') ?? 0,
    errors: attrNumber(attrs, 'errors') ?? 0,
    // Some writers say `disabled` or `skips` for skipped tests.
    skipped: attrNumber(attrs, 'skipped') ?? attrNumber(attrs, 'skips') ?? attrNumber(attrs, 'disabled') ?? 0,
  };
  const time = attrNumber(attrs, 'time');
  if (time !== undefined) c.time = time;
  return c;
}

function add(a: Counts, b: Counts): Counts {
  const out: Counts = { tests: a.tests + b.tests, failures: a.failures + b.failures, errors: a.errors + b.errors, skipped: a.skipped + b.skipped };
  if (a.time !== undefined || b.time !== undefined) out.time = (a.time ?? 0) + (b.time ?? 0);
  return out;
}

/** Totals of a JUnit report, or a reason it has none. */
export function junitTotals(xml: string): JunitTotals | string {
  let root: Tag | null = null;
  let suites: Counts | null = null;
  let allSuitesCounted = true;
  const cases: Counts = { tests: 0, failures: 0, errors: 0, skipped: 0 };
  let inCase = -1;
  let caseState: 'passed' | 'failure' | 'error' | 'skipped' = 'passed';
  const closeCase = (): void => {
    cases.tests++;
    if (caseState === 'failure') cases.failures++;
    else if (caseState === 'error') cases.errors++;
    else if (caseState === 'skipped') cases.skipped++;
  };
  walkTags(
    xml,
    (tag) => {
      if (tag.depth === 0) root = tag;
      if (tag.depth === 1 && tag.name === 'testsuite') {
        const c = countsOf(tag.attrs);
        if (c) suites = suites ? add(suites, c) : c;
        else allSuitesCounted = false;
      }
      if (tag.name === 'testcase' && inCase < 0) {
        inCase = tag.depth;
        caseState = 'passed';
      } else if (inCase >= 0 && tag.depth === inCase + 1) {
        // An error outranks a failure, which outranks a skip.
        if (tag.name === 'error') caseState = 'error';
        else if (tag.name === 'failure' && caseState !== 'error') caseState = 'failure';
        else if (tag.name === 'skipped' && caseState === 'passed') caseState = 'skipped';
      }
    },
    (name, depth) => {
      if (name === 'testcase' && depth === inCase) {
        closeCase();
        inCase = -1;
      }
    },
  );
  const r = root as Tag | null;
  if (!r) return 'has no XML element';
  if (r.name !== 'testsuites' && r.name !== 'testsuite') return `has root <${r.name}>, not <testsuites> or <testsuite>`;
  const fromRoot = countsOf(r.attrs);
  const totals = fromRoot ?? (suites && allSuitesCounted ? suites : cases);
  if (totals.time === undefined && !fromRoot && suites) {
    const t = (suites as Counts).time;
    if (t !== undefined) totals.time = t;
  }
  const passed = Math.max(0, totals.tests - totals.failures - totals.errors - totals.skipped);
  const out: JunitTotals = { tests: totals.tests, failures: totals.failures, errors: totals.errors, skipped: totals.skipped, passed };
  if (totals.time !== undefined) out.time = totals.time;
  return out;
}

export function junitSource(spec: JunitSourceSpec): MetricSource {
  const label = `junit ${clip(spec.file, 40)}`;
  const p = spec.prefix ?? '';
  return {
    label,
    async read(sample: SampleOutput): Promise<SourceReading> {
      const text = await readFreshText(label, sample.cwd, spec.file, sample.startedAtMs);
      if (!text.ok) return text;
      let t: JunitTotals | string;
      try {
        t = junitTotals(text.text);
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
    },
  };
}
