// The cost of an iteration, as behaviour (the timings live in bench/engine.ts):
// run output is bounded by the retention rule, the state cache does not grow
// with the runs, and what the model reads per iteration stays small and rounded.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { applyRetention, KEEP_LAST, TAIL_KEEP, trimToTail } from '../scripts/lib/retention.ts';
import { experimentPaths, runDir, runId } from '../scripts/lib/paths.ts';
import { loadStateCache, saveStateCache } from '../scripts/lib/state-cache.ts';
import { confidenceOf, emptyState, foldLines } from '../scripts/lib/reduce.ts';
import { mad } from '../scripts/lib/stats.ts';
import { roundForModel } from '../scripts/lib/format.ts';
import { appendLedger, readLedger } from '../scripts/lib/ledger.ts';
import { openExperiment } from '../scripts/lib/experiment.ts';
import { syntheticLedger, writeSynthetic } from './helpers/synthetic-ledger.ts';
import { initValue, iterate, setValue, valueRepo } from './helpers/engine.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
function tmp(): string {
  const d = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-cost-')));
  dirs.push(d);
  return d;
}

describe('retention of run output', () => {
  it('keeps the best and the last runs whole and trims the others to a bounded tail', () => {
    const root = tmp();
    const paths = experimentPaths(root, 'exp');
    const big = TAIL_KEEP * 3;
    const line = (n: number, i: number) => `run ${n} line ${String(i).padStart(8, '0')}\n`;
    const body = (n: number) => {
      let s = '';
      for (let i = 0; s.length < big; i++) s += line(n, i);
      return s;
    };
    const best = 3; // kept early, never beaten
    let previousBest: string | null = null;
    const total = 20;
    for (let n = 1; n <= total; n++) {
      const rd = runDir(paths, runId(n));
      fs.mkdirSync(rd.dir, { recursive: true });
      fs.writeFileSync(rd.log, body(n));
      const bestNow = n >= best ? runId(best) : runId(n);
      applyRetention(paths, n, bestNow, previousBest);
      previousBest = bestNow;
    }
    for (let n = 1; n <= total; n++) {
      const log = fs.readFileSync(runDir(paths, runId(n)).log, 'utf8');
      if (n === best || n > total - KEEP_LAST) expect(log, runId(n)).toBe(body(n));
      else {
        expect(Buffer.byteLength(log), runId(n)).toBeLessThanOrEqual(TAIL_KEEP + 200);
        // The tail is the end of the output, from a line start, with a note saying what went.
        expect(body(n).endsWith(log.slice(log.indexOf('\n') + 1))).toBe(true);
        expect(log).toMatch(/^\[autoloop: \d+ earlier bytes of this log were dropped by the retention rule\]\n/);
        expect(log.split('\n')[1]).toMatch(/^run \d+ line \d{8}$/);
      }
    }
  });

  it('leaves a log shorter than the tail as it is', () => {
    const f = path.join(tmp(), 'small.log');
    fs.writeFileSync(f, 'short\n');
    expect(trimToTail(f, TAIL_KEEP)).toBe(false);
    expect(fs.readFileSync(f, 'utf8')).toBe('short\n');
  });
});

describe('the state cache', () => {
  it('stays below a size bound however many runs the ledger holds, and reads back what was folded', () => {
    const sizes: number[] = [];
    for (const runs of [200, 20_000]) {
      const root = tmp();
      const syn = syntheticLedger({ runs, seed: 7 });
      writeSynthetic(root, syn);
      const paths = experimentPaths(root, syn.config.name);
      sizes.push(fs.statSync(paths.state).size);
      const folded = foldLines(emptyState(), syn.lines, syn.config);
      const back = loadStateCache(paths);
      expect(back?.valid_primaries).toEqual(folded.valid_primaries);
      expect(back?.best).toBe(folded.best);
      expect(back?.health_history.length).toBeLessThanOrEqual(50);
    }
    expect(sizes[1]!).toBeLessThan(16 * 1024);
    // A hundred times the runs, about the same size.
    expect(sizes[1]!).toBeLessThan(sizes[0]! * 1.5);
  });

  it('appends to the primaries sidecar and rebuilds when it is short', () => {
    const root = tmp();
    const paths = experimentPaths(root, 'exp');
    fs.mkdirSync(paths.dir, { recursive: true });
    const s = { ...emptyState(), segment: 1, valid_primaries: [1.5, 2.5] };
    saveStateCache(paths, s);
    saveStateCache(paths, { ...s, valid_primaries: [1.5, 2.5, 3.5] });
    expect(loadStateCache(paths)?.valid_primaries).toEqual([1.5, 2.5, 3.5]);
    const side = path.join(paths.dir, 'primaries-1.f64');
    expect(fs.statSync(side).size).toBe(24);
    fs.truncateSync(side, 8);
    expect(loadStateCache(paths)).toBeNull();
  });

  it('keeps the spread of the primaries beside them; a reader uses it until the list grows', () => {
    const root = tmp();
    const paths = experimentPaths(root, 'exp');
    fs.mkdirSync(paths.dir, { recursive: true });
    const values = [10, 12, 11, 15, 9, 30];
    saveStateCache(paths, { ...emptyState(), segment: 1, baseline: 10, best: 4, best_run: 'r0002', valid_primaries: values });
    const file = JSON.parse(fs.readFileSync(paths.state, 'utf8')) as Record<string, unknown>;
    expect(file.primaries_mad).toBe(mad(values));
    // A spread that is not the list's (written by hand) shows that readers take the stored one...
    fs.writeFileSync(paths.state, JSON.stringify({ ...file, primaries_mad: 3 }));
    const back = loadStateCache(paths)!;
    expect(back).not.toHaveProperty('primaries_mad');
    expect(confidenceOf(back).value).toBe(2);
    // ...and forget it as soon as a run is appended to the list.
    back.valid_primaries.push(13);
    expect(confidenceOf(back).value).toBe(6 / mad([...values, 13]));
    // A reader that only shows the state gets a list of the count's length, no values, and the same confidence.
    const shown = loadStateCache(paths, { values: false })!;
    expect(shown.valid_primaries).toHaveLength(values.length);
    expect(shown.valid_primaries.filter(() => true)).toEqual([]);
    expect(confidenceOf(shown).value).toBe(2);
    // Too few values for a spread: none is stored.
    saveStateCache(paths, { ...emptyState(), segment: 1, valid_primaries: [1, 2] });
    expect(JSON.parse(fs.readFileSync(paths.state, 'utf8')).primaries_mad).toBeNull();
  });

  it('recovers a lost state.json from its checkpoint and the ledger lines after it', () => {
    const root = tmp();
    const syn = syntheticLedger({ runs: 150, seed: 3 });
    writeSynthetic(root, syn);
    const paths = experimentPaths(root, syn.config.name);
    const checkpoint = path.join(paths.dir, 'state-checkpoint.json');
    expect(fs.existsSync(checkpoint)).toBe(true);
    const before = fs.readFileSync(checkpoint, 'utf8');
    // Lines after the checkpoint: fewer than CHECKPOINT_EVERY runs, so it stays where it is.
    appendLedger(paths.ledger, { type: 'event', ts: '2030-01-01T00:00:00.000Z', segment: 1, event: 'stop', data: { reason: 'lunch' } });
    appendLedger(paths.ledger, { type: 'event', ts: '2030-01-01T01:00:00.000Z', segment: 1, event: 'resume', data: {} });
    const live = openExperiment(root, syn.config.name).state;
    expect(fs.readFileSync(checkpoint, 'utf8')).toBe(before);
    fs.rmSync(paths.state);
    const cp = loadStateCache(paths);
    expect(cp?.ledger_offset).toBeLessThan(live.ledger_offset);
    expect(cp?.runs_total).toBe(live.runs_total);
    expect(openExperiment(root, syn.config.name).state).toEqual(live);
    expect(live).toEqual({ ...foldLines(emptyState(), readLedger(paths.ledger).lines, syn.config), ledger_offset: live.ledger_offset });
  });
});

describe('what the model reads per iteration', () => {
  it('rounds numbers to meaningful digits', () => {
    expect(roundForModel({ confidence: 3.8947368421052633, gain_pct: 12.3456, primary: 1234.56789012, runs: 7, samples: [0.123456789] })).toEqual({
      confidence: 3.9,
      gain_pct: 12.3,
      primary: 1234.57,
      runs: 7,
      samples: [0.123457],
    });
  });

  it('keeps run + log of an ordinary iteration under 500 bytes', () => {
    const repo = valueRepo('100');
    dirs.push(repo);
    expect(initValue(repo).code).toBe(0);
    iterate(repo, 'baseline');
    setValue(repo, '97.123456789');
    iterate(repo, 'first change');
    setValue(repo, '98.5');
    const { run, log } = iterate(repo, 'Stop trial division at the square root of the candidate');
    expect(run.code).toBe(0);
    expect(log.json).toMatchObject({ verdict: 'discard', should_terminate: false });
    const bytes = Buffer.byteLength(run.stdout + run.stderr) + Buffer.byteLength(log.stdout + log.stderr);
    expect(bytes, run.stdout + log.stdout).toBeLessThanOrEqual(500);
    // No number with more digits than it means.
    expect(run.stdout + log.stdout).not.toMatch(/\d\.\d{7,}/);
  });
});
