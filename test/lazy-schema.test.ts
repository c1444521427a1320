import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import * as z from '../scripts/lib/zod.ts';
import { lazySchema } from '../scripts/lib/zod.ts';

describe('lazySchema: a schema built on first use', () => {
  it('builds nothing until used, then builds once', () => {
    let builds = 0;
    const S = lazySchema(() => {
      builds++;
      return z.object({ n: z.number() });
    });
    const Outer = lazySchema(() => z.object({ inner: S }));
    expect(builds).toBe(0);
    expect(Outer.parse({ inner: { n: 1 } })).toEqual({ inner: { n: 1 } });
    expect(S.parse({ n: 2 })).toEqual({ n: 2 });
    expect(builds).toBe(1);
  });

  it('answers as the plain schema does: values, defaults, messages and paths, members', () => {
    const shape = () => ({ name: z.string().check(z.minLength(1, 'must not be empty')), n: z._default(z.int(), 5), tags: z.optional(z.array(z.string())) });
    const plain = z.strictObject(shape());
    const lazy = lazySchema(() => z.strictObject(shape()));
    const inputs: unknown[] = [{ name: 'a' }, { name: '', n: 1.5 }, { name: 'a', extra: 1 }, { name: 'a', tags: [1] }, null, 'x'];
    for (const input of inputs) {
      const a = plain.safeParse(input);
      const b = lazy.safeParse(input);
      expect(b.success).toBe(a.success);
      expect(b.data).toEqual(a.data);
      expect(b.error?.issues.map((i) => [i.path, i.message])).toEqual(a.error?.issues.map((i) => [i.path, i.message]));
    }
    expect(Object.keys(lazy.shape)).toEqual(['name', 'n', 'tags']);
    expect(() => lazy.parse({})).toThrow(/expected string/);
  });

  it('works inside unions, optionals and as a discriminated union option', () => {
    const A = lazySchema(() => z.object({ kind: z.literal('a'), x: z.number() }));
    const B = lazySchema(() => z.object({ kind: z.literal('b'), y: z.string() }));
    const U = z.discriminatedUnion('kind', [A, B]);
    expect(U.parse({ kind: 'b', y: 'v' })).toEqual({ kind: 'b', y: 'v' });
    expect(U.safeParse({ kind: 'c' }).success).toBe(false);
    const O = z.object({ a: z.optional(A) });
    expect(O.parse({})).toEqual({});
    expect(O.safeParse({ a: { kind: 'a', x: 'no' } }).error?.issues[0]?.path).toEqual(['a', 'x']);
  });
});

describe('the ledger checks a line with its own kind\'s schema (issue 8: zod CPU per call)', () => {
  it('writing and reading back result and event lines never builds the Config schema; a bad line is refused as before', async () => {
    // A fresh module graph: no schema of it is built yet.
    vi.resetModules();
    const { builtSchemas } = await import('../scripts/lib/zod.ts');
    const { appendLedger, readLedger } = await import('../scripts/lib/ledger.ts');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-lazy-ledger-'));
    try {
      const file = path.join(dir, 'ledger.jsonl');
      const ts = '2026-12-01T00:00:00.000Z';
      appendLedger(file, {
        type: 'result', ts, segment: 1, run_id: 'r0001', status: 'ok', verdict: 'keep', primary: 1, samples: [1], metrics: { score: 1 },
        description: 'x', hypothesis: null, reason: 'improved', delta: null, duration_s: 0.1, files: [], rebaseline: false, evidence: [],
        invocations: [], decision: null, net_lines_removed: 0, gates: [], kind: 'improved',
      });
      appendLedger(file, { type: 'event', ts, segment: 1, event: 'committed', run_id: 'r0001', data: { commit: 'abc' } });
      fs.appendFileSync(file, `${JSON.stringify({ type: 'result', ts, segment: 1, run_id: 'r0002' })}\n`);
      const read = readLedger(file);
      expect(read.lines.map((l) => l.type)).toEqual(['result', 'event']);
      expect(read.skipped).toBe(1);
      // The incomplete result line: named by its first missing field, as the union named it.
      expect(read.warnings[0]).toMatch(/invalid line at byte \d+ skipped \(status: /);
      expect([...builtSchemas()]).not.toContain('Config');
      expect([...builtSchemas()]).not.toContain('ConfigLine');
      // A line of no known kind goes to the union (its message names the kinds).
      fs.appendFileSync(file, `${JSON.stringify({ type: 'nope', ts })}\n`);
      const again = readLedger(file, read.end);
      expect(again.skipped).toBe(1);
      expect(again.warnings[0]).toMatch(/invalid line at byte \d+ skipped \(type: /);
      expect([...builtSchemas()]).toContain('LedgerLine');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the hot entry points build no schema they may not use (issue 8: zod CPU per call)', () => {
  // Every module run-experiment, log-experiment and status load (relative imports, followed):
  // a composite schema declared at the top level is built by every call, used or not. It is
  // declared with lazySchema instead; the call's own flags are parsed by every call anyway.
  const root = path.resolve(import.meta.dirname, '..');
  // scripts/lib/supervisor: the process supervisor's own schemas, left to its owners for now.
  const ALLOWED = new Set(['scripts/lib/supervisor/outcome.ts']);
  function loaded(entries: string[]): string[] {
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = fs.readFileSync(path.join(root, file), 'utf8');
      for (const m of text.matchAll(/^(?:import|export)\s[^;]*?from\s+'(\.{1,2}\/[^']+\.ts)'/gms)) visit(path.relative(root, path.resolve(path.dirname(path.join(root, file)), m[1]!)));
    };
    entries.forEach(visit);
    return [...seen];
  }

  it('declares every composite schema of those modules with lazySchema', () => {
    const files = loaded(['scripts/run-experiment.ts', 'scripts/log-experiment.ts', 'scripts/status.ts']);
    expect(files).toContain('scripts/lib/git-files-journal.ts');
    const eager: string[] = [];
    for (const file of files.filter((f) => !ALLOWED.has(f))) {
      const text = fs.readFileSync(path.join(root, file), 'utf8');
      for (const m of text.matchAll(/^(?:export )?const (\w+) = z\.(object|strictObject|looseObject|union|pipe|discriminatedUnion|array|tuple|intersection)\(/gm)) {
        if (!m[1]!.endsWith('Flags')) eager.push(`${file}: ${m[1]}`);
      }
    }
    expect(eager).toEqual([]);
  });
});

describe('an iteration asks whether the latest run is still measured without building the run record schema', () => {
  // Every one-call keep asks it before its first git process; the latest record is almost always logged.
  it('a record in another phase is told from its JSON; one in the phase asked for is parsed as before', async () => {
    vi.resetModules();
    const { builtSchemas } = await import('../scripts/lib/zod.ts');
    const { readRunRecord } = await import('../scripts/lib/experiment.ts');
    const { experimentPaths } = await import('../scripts/lib/paths.ts');
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-lazy-record-'));
    try {
      const exp = { paths: experimentPaths(root, 'e') } as Parameters<typeof readRunRecord>[0];
      const write = (id: string, phase: string) => {
        fs.mkdirSync(path.join(exp.paths.runs, id), { recursive: true });
        const rec = { run_id: id, segment: 1, started_at: '2026-12-01T00:00:00.000Z', finished_at: null, phase, status: null, primary: null, samples: [], metrics: {} };
        fs.writeFileSync(path.join(exp.paths.runs, id, 'result.json'), JSON.stringify(rec));
      };
      write('r0001', 'logged');
      expect(readRunRecord(exp, 'r0001', 'measured')).toBeNull();
      expect(readRunRecord(exp, 'r0001', 'running')).toBeNull();
      expect([...builtSchemas()]).not.toContain('RunRecord');
      write('r0002', 'measured');
      expect(readRunRecord(exp, 'r0002', 'measured')?.run_id).toBe('r0002');
      expect([...builtSchemas()]).toContain('RunRecord');
      // Without a phase any valid record is read; the one just parsed comes from the cache, filtered the same way.
      expect(readRunRecord(exp, 'r0001')?.phase).toBe('logged');
      expect(readRunRecord(exp, 'r0001', 'measured')).toBeNull();
      expect(readRunRecord(exp, 'r0001', 'logged')?.phase).toBe('logged');
      // An invalid record in the phase asked for is still refused by the schema.
      fs.writeFileSync(path.join(exp.paths.runs, 'r0002', 'result.json'), JSON.stringify({ run_id: 'r0002', phase: 'measured' }));
      expect(readRunRecord(exp, 'r0002', 'measured')).toBeNull();
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
