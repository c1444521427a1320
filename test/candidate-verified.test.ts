// The verified view of the shared ledger (candidates/verified.ts), which every
// ledger-locked call builds while candidates measure: the lines a live guard
// will cut, found from that guard's seal on. (1) The same lines as the guard's
// own check (checkTail), for any tail: fast-check. (2) On a real experiment
// with a long history, a call reads what was appended since the seal, not the
// ledger before it (bytes read, /proc/self/io), and still finds a forged line.
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { engine, makeRepo } from './helpers/engine.ts';
import { checkTail, removedFromTail } from '../scripts/lib/candidates/ledger-tail.ts';
import { unverifiedLines } from '../scripts/lib/candidates/verified.ts';
import { saveCandidate, type Candidate } from '../scripts/lib/candidates/store.ts';
import { openExperiment } from '../scripts/lib/experiment.ts';
import { runDir } from '../scripts/lib/paths.ts';
import { RunRecord } from '../scripts/lib/schema.ts';

const result = (run_id: string, primary: number) => JSON.stringify({ type: 'result', ts: '2026-01-01T00:00:00Z', segment: 1, run_id, status: 'ok', verdict: 'keep', primary, samples: [primary], metrics: { score: primary }, description: 'd', reason: 'r', duration_s: 0 });
const ev = (event: string, data: Record<string, unknown>, run_id?: string) => JSON.stringify({ type: 'event', ts: '2026-01-01T00:00:00Z', segment: 1, event, ...(run_id ? { run_id } : {}), data });

describe('the lines a live guard will cut, read from its seal on', () => {
  const rec = (run_id: string, phase: string, status: string, primary: number) => ({ run_id, phase, status, primary }) as unknown as RunRecord;
  const records: Record<string, RunRecord> = { r0005: rec('r0005', 'logged', 'ok', 7), r0006: rec('r0006', 'measured', 'ok', 3) };
  const lookup = (id: string) => records[id] ?? null;
  const w = { record: lookup, candidate: () => null, own: 'c1' };
  // Lines a tail may hold: the engine's (accounted for), forged ones, and copies of sealed lines.
  const pool = [result('r0005', 7), ev('stop', { reason: 'user' }), ev('measured', {}, 'r0005'), result('r0099', 0), result('r0006', 3), ev('committed', { commit: 'x' }, 'r0004'), '{"type":"nonsense"}', 'not json', ''];
  const sealedPool = [result('r0001', 10), ev('stop', { reason: 'user' }), result('r0099', 0), 'torn line'];

  it('names the same lines as checkTail, for any sealed text and tail', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...sealedPool), { maxLength: 6 }), fc.array(fc.constantFrom(...pool, ...sealedPool), { maxLength: 10 }), fc.boolean(), (s, t, torn) => {
        const sealed = s.map((l) => `${l}\n`).join('') + (torn ? '{"type":"res' : '');
        const tail = t.map((l) => `${l}\n`).join('');
        const expected = checkTail(sealed, sealed + tail, 'r0004', lookup, w);
        let read = false;
        const got = removedFromTail(tail, 'r0004', lookup, w, () => {
          read = true;
          const lines = new Set(sealed.split('\n'));
          return (l) => lines.has(l);
        });
        expect(got).toEqual(expected.forged ? expected.removed : []);
        // The sealed text is read only for a line no record accounts for.
        if (read) expect(got.length + t.filter((l) => sealed.split('\n').includes(l)).length).toBeGreaterThan(0);
      }),
      { numRuns: 500 },
    );
  });
});

describe('a ledger-locked call beside a live candidate command, with a long history', () => {
  const made: string[] = [];
  afterAll(() => {
    for (const d of made) fs.rmSync(d, { recursive: true, force: true });
  });

  const rchar = (): number => Number(/^rchar: (\d+)$/m.exec(fs.readFileSync('/proc/self/io', 'utf8'))?.[1]);

  it('reads what was appended since the seal, not the history before it, and finds a forged line', () => {
    const repo = makeRepo({ 'bench.sh': 'echo METRIC score=$(cat src/v)\n', 'src/v': '10\n' });
    made.push(repo);
    expect(engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--parallel', '2'], repo).code).toBe(0);
    const exp = openExperiment(repo, 'exp');
    // 12 MB of history (the results of runs long logged).
    const history = Array.from({ length: 60_000 }, (_, i) => result(`r${String(i + 1).padStart(5, '0')}`, i)).join('\n') + '\n';
    // Its last line of characters of 3 and 4 bytes: the seal's digest is checked on bytes that cut one.
    fs.appendFileSync(exp.paths.ledger, history + `${ev('stop', { reason: '€€😀'.repeat(50) })}\n`);
    const size = fs.statSync(exp.paths.ledger).size;
    expect(size).toBeGreaterThan(10e6);
    // A candidate whose command runs (its record running, its seal kept on disk by another engine process).
    const run = 'r99999';
    const c: Candidate = { version: 1, id: 'c1', path: path.join(exp.paths.dir, 'candidates', 'c1', 'tree'), base: 'b', opened_at: 't', status: 'open', run_id: run, pending: null, closed_reason: null } as Candidate;
    saveCandidate(exp.paths, c);
    fs.mkdirSync(runDir(exp.paths, run).dir, { recursive: true });
    fs.writeFileSync(runDir(exp.paths, run).result, JSON.stringify(RunRecord.parse({ run_id: run, segment: 1, started_at: 't', finished_at: null, phase: 'running', status: null, primary: null, samples: [], metrics: {}, candidate: { id: 'c1', base: 'b', best_run: null, best_samples: [], best_metrics: {} } })));
    const text = fs.readFileSync(exp.paths.ledger, 'utf8');
    const seal = { length: Buffer.byteLength(text), tail: createHash('sha256').update(text.slice(-64)).digest('hex') };
    fs.writeFileSync(path.join(runDir(exp.paths, run).dir, 'ledger-seal.json'), JSON.stringify(seal));
    // Meanwhile the user's stop (the engine's): nothing to cut, and nothing of the history read.
    fs.appendFileSync(exp.paths.ledger, `${ev('stop', { reason: 'user' })}\n`);
    const before = rchar();
    expect([...unverifiedLines(exp)]).toEqual([]);
    expect(rchar() - before).toBeLessThan(size / 10);
    // A forged keep: found.
    const forged = result('r0099', 0);
    fs.appendFileSync(exp.paths.ledger, `${forged}\n`);
    expect([...unverifiedLines(exp)]).toEqual([forged]);
  });
});
