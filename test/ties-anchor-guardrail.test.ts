// A tie walk's anchored decision (run-plan.ts tieAnchor: the best arm runs the
// last improvement's commit) judges its guardrails paired like every other
// decision (guardrail-pairing.ts), against the anchor's stored values. Judged
// against the baseline's samples instead, a timing guardrail on a machine that
// got slower mid-loop blocked every anchored simplification ("guardrail time_ms
// 130 > 105 allowed"), however equal; a real 20% regression of the guardrail is
// still blocked.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Config, ResultLine, RunRecord, type InvocationLine } from '../scripts/lib/schema.ts';
import { emptyState, foldLines } from '../scripts/lib/reduce.ts';
import { nextInvocation, tieAnchor } from '../scripts/lib/run-plan.ts';
import { judgeRun } from '../scripts/lib/judge-run.ts';
import { engine, ledger, makeRepo, step } from './helpers/engine.ts';

describe('the anchor keeps its guardrails\' stored values (pure)', () => {
  const c = Config.parse({ name: 'x', metric: 'score', direction: 'lower', command: 'c', guardrails: [{ metric: 'time_ms', direction: 'lower', max_regression_pct: 5 }] });
  const inv = (arm: 'best' | 'candidate', v: number, t: number): InvocationLine => ({ arm, samples: [v], duration_s: 1, metrics: { score: v, time_ms: t } });
  const line = (o: Record<string, unknown>) =>
    ResultLine.parse({ type: 'result', ts: 't', segment: 1, run_id: 'r0001', status: 'ok', verdict: 'keep', primary: 100, samples: [100], metrics: { score: 100, time_ms: 100 }, description: 'd', reason: 'r', duration_s: 1, ...o });
  const decision = (effect: number, extra: object = {}) => ({ keep: false, tie: true, effect, pct: 0, threshold_pct: 2, se: 0.005, pairs: 4, invocations: 8, stop: 'budget', reason: 'x', diffs: [effect, effect], ...extra });
  const config = { type: 'config' as const, ts: 't', segment: 1, config: c, fingerprints: { config: 'x', files: {} }, base: 'c0ffee', reason: 'init' };
  const committed = (run_id: string, commit: string) => ({ type: 'event' as const, ts: 't', segment: 1, run_id, event: 'committed' as const, data: { commit } });
  const base = line({ invocations: [[100, 100], [101, 99], [99, 101], [100, 100.5]].map(([v, t]) => inv('candidate', v as number, t as number)) });
  // A tie measured against the best (not anchored) on the baseline's machine.
  const tie = line({ run_id: 'r0002', primary: 100, files: ['a'], kind: 'simplification', decision: decision(0), invocations: [inv('best', 100, 100), inv('candidate', 100, 100), inv('candidate', 100, 100.2), inv('best', 100, 99.8)] });
  const s = foldLines(emptyState(), [config, base, committed('r0001', 'aaa'), tie, committed('r0002', 'bbb')], c);
  // An anchored simplification on a machine 30% slower: both arms 130, or the candidate 20% more.
  const rec = (cand: number) => RunRecord.parse({
    run_id: 'r0003', segment: 1, started_at: 't', finished_at: 't', phase: 'measured', status: 'ok', primary: 100, samples: [100, 100], metrics: { score: 100, time_ms: cand },
    files: ['a'], net_lines_removed: 1, decision: decision(0, { anchored: true }),
    invocations: [inv('best', 100, 130), inv('candidate', 100, cand), inv('candidate', 100, cand * 1.002), inv('best', 100, 129.8)],
  });

  it('the walk\'s anchor holds the values the anchor\'s keep stored; the plan and the verdict pair against them', () => {
    expect(s.tie_drift?.anchor?.metric_samples?.time_ms).toEqual([100, 99, 101, 100.5]);
    expect(tieAnchor(s, 1)?.metric_samples?.time_ms).toEqual([100, 99, 101, 100.5]);
    expect(judgeRun(c, s, rec(130), false)).toMatchObject({ verdict: 'keep', kind: 'simplification' });
    expect(judgeRun(c, s, rec(156), false)).toMatchObject({ verdict: 'discard', reason: expect.stringMatching(/^guardrail time_ms 12\d/) });
    // The plan asks no extra sample of an equal guardrail measured beside the anchor.
    const cfg = Config.parse({ ...c, repeats: 2 });
    const planned = nextInvocation({ kind: 'candidate', config: cfg, state: s, invocations: rec(130).invocations, netLinesRemoved: 1, anchor: tieAnchor(s, 1) });
    expect(planned).toMatchObject({ done: true });
  });

  it('an anchored keep stores its guardrail in the anchor\'s conditions; a state without the anchor\'s values judges unpaired', () => {
    const kept = line({ run_id: 'r0003', primary: 100, files: ['a'], kind: 'simplification', decision: decision(0, { anchored: true }), invocations: rec(130).invocations, metrics: { score: 100, time_ms: 130 } });
    const after = foldLines(s, [kept, committed('r0003', 'ccc')], c);
    expect(Math.max(...(after.best_metric_samples?.time_ms ?? []))).toBeLessThan(102);
    const old = { ...s, tie_drift: { ...s.tie_drift!, anchor: { commit: 'aaa', value: 100 } } };
    expect(judgeRun(c, old, rec(130), false)).toMatchObject({ verdict: 'discard', reason: expect.stringMatching(/^guardrail time_ms 130/) });
  });
});

// score (the primary) from src/value.txt, 1% lower for each line src/code.txt lost from 10 (a tie under a 5%
// minimum), with a 1% jitter per invocation; time_ms is 100 × the machine's speed
// factor (a file outside the repository, read by both trees) × src/cost.txt, with a 0.5% jitter. Shell builtins:
// ord() gives a character's code without a $(printf) subshell per character (a fork each, ~20 a sample).
const bench = (machine: string) => `rd() { eval "$1=\\$3"; if [ -f "$2" ]; then read -r "$1" < "$2"; fi; return 0; }
tenths() { case $1 in *.?) t=$(( \${1%.*} * 10 + \${1#*.} ));; *) t=$(( $1 * 10 ));; esac; }
dec() { i=$(( $1 / $2 )) f=$(( $1 % $2 + $2 )); d=$i.\${f#1}; }
s="\${AUTOLOOP_RUN:-}:\${AUTOLOOP_SAMPLE:-1}:\${AUTOLOOP_ARM:-}" h=7
az=abcdefghijklmnopqrstuvwxyz
ord() { case $1 in [0-9]) o=$(( 48 + $1 ));; :) o=58;; [a-z]) p=\${az%%"$1"*}; o=$(( 97 + \${#p} ));; *) o=$(printf %d "'$1");; esac; }
while [ -n "$s" ]; do r=\${s#?}; c=\${s%"$r"}; ord "$c"; h=$(( (h * 31 + o) & 4294967295 )); s=$r; done
j=$(( h % 21 - 10 )) k=$(( (h >> 8) % 21 - 10 ))
rd slow '${machine}' 1; tenths "$slow"; slow=$t
rd cost src/cost.txt 1; tenths "$cost"; cost=$t
rd value src/value.txt 100
n=0; while read -r _; do n=$(( n + 1 )); done < src/code.txt
dec $(( value * (100 - (10 - n)) * (1000 + j) )) 100000; echo "METRIC score=$d"
dec $(( slow * cost * (2000 + k) * 5 )) 10000; echo "METRIC time_ms=$d"
`;

const code = (n: number) => Array.from({ length: n }, (_, i) => `line ${i}`).join('\n') + '\n';

describe('an anchored simplification on a machine that got slower', () => {
  it('is judged against the anchor measured now: an equal one is kept; a 20% guardrail regression is still blocked', () => {
    const machine = path.join(os.tmpdir(), `autoloop-machine-${randomUUID()}`);
    try {
      // At most 4 pairs a decision, not the automatic 16: the machine's 30% and the guardrail's 20% are far past a
      // 0.5% jitter at any count, and the allowed value comes from the baseline's median.
      const dir = makeRepo({ 'bench.sh': bench(machine), 'src/value.txt': '100', 'src/cost.txt': '1', 'src/code.txt': code(10) });
      const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--min-improvement', '5%', '--guardrail', 'time_ms:lower:5%', '--repeats', '4', '--json'], dir);
      expect(init.code, init.stderr).toBe(0);
      expect(step(dir, 'baseline').verdict).toBe('keep');
      fs.writeFileSync(path.join(dir, 'src/code.txt'), code(9));
      const first = step(dir, 'drop a line');
      expect(first, String(first.reason)).toMatchObject({ verdict: 'keep' });
      // The whole machine is 30% slower from now on, for the anchor's tree and the candidate alike.
      fs.writeFileSync(machine, '1.3');
      fs.writeFileSync(path.join(dir, 'src/code.txt'), code(8));
      const second = step(dir, 'drop another line, slower machine');
      const results = () => ledger(dir).filter((l) => l.type === 'result') as Record<string, unknown>[];
      expect((results().at(-1)?.decision as { anchored?: boolean }).anchored).toBe(true);
      expect(second, String(second.reason)).toMatchObject({ verdict: 'keep' });
      // Equal on the primary but 20% more time on the guardrail, on the slower machine: still blocked.
      fs.writeFileSync(path.join(dir, 'src/code.txt'), code(7));
      fs.writeFileSync(path.join(dir, 'src/cost.txt'), '1.2');
      const costly = step(dir, 'drop a line, 20% more time');
      expect((results().at(-1)?.decision as { anchored?: boolean }).anchored).toBe(true);
      expect(costly.verdict).toBe('discard');
      expect(String(costly.reason)).toMatch(/^guardrail time_ms 1[12]\d(\.\d+)? > 10[45](\.\d+)? allowed/);
    } finally {
      fs.rmSync(machine, { force: true });
    }
  }, 600_000);
});
