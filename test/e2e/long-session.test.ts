// A 200-iteration session with no permission flag and no human turn: the real
// CLI, the scripted model, a deterministic benchmark, budget max_runs 200. The
// session ends by the engine's termination, by itself. (bench/session.ts runs
// the same session and prints what the model read and how requests grew.)
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLedger } from '../../scripts/lib/ledger.ts';
import { ensureClaude } from './claude-cli.ts';
import { enginePluginRoot } from './fixture.ts';
import { humanTurns, longLoop, mainBytes, stopHookTurns } from './long-loop.ts';

const MAX_RUNS = 200;
// Ends only a hang: a loaded 2-core machine needs seconds per iteration.
const HANG = 4 * 60 * 60_000;
const plugin = enginePluginRoot();
let claude = '';

beforeAll(() => {
  claude = ensureClaude();
  if (plugin === null) throw new Error('no engine bundles: run npm run build');
}, 900_000);
afterAll(() => plugin?.cleanup());

describe('a 200-iteration unattended session', () => {
  it('ends by the engine termination (max_runs 200) with zero human turns and no permission denial', { timeout: HANG + 60_000 }, async () => {
    // No checks command and one sample per run: what this session proves (the loop reaches its budget
    // on its own) needs neither, and each would add a sandboxed Node start to each of the 200 iterations
    // (measured: checks 0.3 s of CPU per iteration, the second sample of --repeats auto 0.2 s). The
    // sessions of sessions-engine and unattended run with checks and auto repeats. For the same reason
    // the benchmark is the fixture's shell one (the same COST as bench.mjs; a Node start per sample was
    // 0.2 s of CPU per iteration); the other sessions run the Node benchmark.
    const run = await longLoop({ claude, pluginRoot: plugin!.root, maxRuns: MAX_RUNS, timeoutMs: HANG, checks: false, repeats: 1, benchmark: 'shell' });
    const f = run.fixture;
    const sizes = mainBytes(run.log);
    console.log(`read per iteration: median ${[...run.iterationBytes].sort((a, b) => a - b)[run.iterationBytes.length >> 1]} B; request ${sizes[0]} B → ${sizes.at(-1)} B over ${sizes.length} requests`);
    try {
      if (run.errors.length) throw run.errors[0]!;
      expect(run.session.json, `${run.session.stdout}\n${run.session.stderr}`).not.toBeNull();
      expect(run.session.code).toBe(0);
      expect(run.session.json?.permission_denials ?? []).toEqual([]);
      expect(run.session.json?.terminal_reason).toBe('completed');
      // Every model turn after the prompt answered a tool call or the Stop hook: no human had to start one,
      // and the Stop hook spoke only once, at the end (its nudge towards a follow-up).
      expect(humanTurns(run.main)).toBe(0);
      expect(stopHookTurns(run.main)).toBeLessThanOrEqual(1);
      expect(run.iterationBytes).toHaveLength(MAX_RUNS - 1);

      const ledger = readLedger(path.join(f.repo, '.autoloop', 'experiments', 'speed', 'ledger.jsonl'));
      expect(ledger.warnings).toEqual([]);
      const results = ledger.lines.flatMap((l) => (l.type === 'result' ? [l] : []));
      expect(results).toHaveLength(MAX_RUNS);
      expect(new Set(results.slice(1).map((r) => r.verdict))).toEqual(new Set(['keep']));
      const active = JSON.parse(fs.readFileSync(path.join(f.repo, '.autoloop', 'active.json'), 'utf8')) as { loop: string; terminated_by: string | null };
      expect(active).toMatchObject({ loop: 'terminated', terminated_by: 'max_runs' });
      // The model was told, in the last log's answer, and stopped there.
      expect(run.lastLog).toMatchObject({ should_terminate: true });
    } finally {
      f.cleanup();
    }
  });
});
