// The decision layer through the real engine: real temporary git
// repositories, a real benchmark process, the bundled engine scripts. Ties,
// baseline first, guardrails against the baseline (drift, absolute limit),
// hard gates before the benchmark, chain guardrails, interleaved best runs.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { engine, fromTemplate, ledger, makeRepo, step } from './helpers/engine.ts';

// score from src/value.txt ("noisy": Gaussian 3%), size_kb, lint and mem from their files.
const BENCH = `
const fs = require('node:fs');
const rd = (f, d) => { try { return fs.readFileSync(f, 'utf8'); } catch { return d; } };
const text = rd('src/value.txt', '100');
let v = Number.parseFloat(text);
if (text.includes('noisy')) {
  const u = 1 - Math.random(), w = Math.random();
  v = v * (1 + 0.03 * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * w));
}
console.log('METRIC score=' + v);
console.log('METRIC size_kb=' + Number.parseFloat(rd('src/size.txt', '100')));
console.log('METRIC lint=' + Number.parseFloat(rd('src/lint.txt', '0')));
console.log('METRIC mem=' + Number.parseFloat(rd('src/mem.txt', '10')));
`;

// The same metrics read by the shell, without the noise: no Node start per sample, for the tests whose
// subject is the decision on deterministic values (the noisy ones keep BENCH). parseFloat's "90 broken" → 90.
const SH_BENCH = `v=100; [ -f src/value.txt ] && read -r v < src/value.txt; echo "METRIC score=\${v%% *}"
v=100; [ -f src/size.txt ] && read -r v < src/size.txt; echo "METRIC size_kb=$v"
v=0; [ -f src/lint.txt ] && read -r v < src/lint.txt; echo "METRIC lint=$v"
v=10; [ -f src/mem.txt ] && read -r v < src/mem.txt; echo "METRIC mem=$v"
`;

// Real processes on a shared machine: generous per-test limits, never assertions on time.
const SLOW = 900_000;

const OTHER = Array.from({ length: 12 }, (_, i) => `line ${i}`).join('\n') + '\n';

/** A repository measured by SH_BENCH (deterministic); noisy: by BENCH with "noisy" in src/value.txt. */
function repo(value = '100'): string {
  const bench: Record<string, string> = value.includes('noisy') ? { 'bench.cjs': BENCH } : { 'bench.sh': SH_BENCH };
  return makeRepo({ ...bench, 'src/value.txt': value, 'src/size.txt': '100', 'src/lint.txt': '0', 'src/mem.txt': '10', 'src/other.txt': OTHER });
}

/** init-experiment with the benchmark the repository has (bench.sh or bench.cjs). */
function init(dir: string, extra: string[] = []) {
  const command = fs.existsSync(path.join(dir, 'bench.sh')) ? 'sh bench.sh' : 'node bench.cjs';
  const r = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', command, '--scope', 'src/**', '--json', ...extra], dir);
  expect(r.code, r.stderr).toBe(0);
  return r;
}

/** A fresh copy of repo() just after init() with the defaults, no run yet (built once per file, fromTemplate). */
const opened = (): string =>
  fromTemplate('opened', () => {
    const dir = repo();
    init(dir);
    return dir;
  });

const put = (dir: string, rel: string, text: string) => fs.writeFileSync(path.join(dir, rel), text);

const results = (dir: string, slug = 'exp') => ledger(dir, slug).filter((l) => l.type === 'result');

describe('ties', () => {
  it('keeps a change equal to the best that removes in-scope lines, as a simplification', () => {
    const dir = opened();
    step(dir, 'baseline');
    put(dir, 'src/other.txt', 'line 0\n');
    const log = step(dir, 'drop dead code');
    expect(log.verdict).toBe('keep');
    expect(String(log.reason)).toMatch(/^simplification: equal to the best within noise, 11 lines removed/);
    const last = results(dir).at(-1) as Record<string, unknown>;
    expect(last.kind).toBe('simplification');
    expect(last.net_lines_removed).toBe(11);
    // An equal change that adds lines is not kept.
    put(dir, 'src/other.txt', 'line 0\nmore\n');
    expect(step(dir, 'add a line').verdict).toBe('discard');
  }, SLOW);
});

describe('baseline first', () => {
  it('says to run the baseline unchanged everywhere, and refuses a baseline with in-scope changes', () => {
    const dir = opened();
    const status = engine('status', ['--json'], dir);
    expect(String(status.json?.next_action)).toMatch(/No baseline yet: run run-experiment on the unchanged code/);
    expect(engine('status', [], dir).stdout).toMatch(/next: No baseline yet/);
    expect(engine('control', ['explain'], dir).stdout).toMatch(/next: No baseline yet/);
    const active = JSON.parse(fs.readFileSync(path.join(dir, '.autoloop', 'active.json'), 'utf8')) as Record<string, unknown>;
    expect(String(active.next_action)).toMatch(/No baseline yet/);

    put(dir, 'src/value.txt', '90');
    const refused = engine('run-experiment', [], dir);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/no baseline yet: .*in-scope files changed \(src\/value\.txt\)/);
    expect(fs.existsSync(path.join(dir, '.autoloop', 'experiments', 'exp', 'runs', 'r0001'))).toBe(false);

    put(dir, 'src/value.txt', '100');
    const log = step(dir, 'baseline');
    expect(log.verdict).toBe('keep');
    expect(String(log.next_action)).not.toMatch(/baseline/);
    expect(String(engine('status', ['--json'], dir).json?.next_action)).not.toMatch(/No baseline/);
  }, SLOW);
});

describe('guardrails against the baseline', () => {
  it('does not ratchet: 100 → 104 → 108 under a 5% cap refuses the third step against the baseline', () => {
    const dir = repo();
    init(dir, ['--guardrail', 'size_kb:lower:5']);
    step(dir, 'baseline');
    put(dir, 'src/value.txt', '90');
    put(dir, 'src/size.txt', '104');
    expect(step(dir, 'faster, a little bigger').verdict).toBe('keep');
    put(dir, 'src/value.txt', '80');
    put(dir, 'src/size.txt', '108');
    const third = step(dir, 'faster again, bigger again');
    expect(third.verdict).toBe('discard');
    expect(String(third.reason)).toMatch(/guardrail size_kb 108 > 105 allowed \(baseline 100\)/);
    // status shows the guardrail near its limit in one line (104 of 105 allowed).
    const status = engine('status', [], dir).stdout;
    expect(status.split('\n').filter((l) => l.startsWith('guardrails:'))).toEqual(['guardrails: size_kb 104/105 near']);
  }, SLOW);

  it('holds an absolute limit', () => {
    const dir = repo();
    init(dir, ['--guardrail', 'lint:lower:limit=12']);
    step(dir, 'baseline');
    put(dir, 'src/value.txt', '90');
    put(dir, 'src/lint.txt', '12');
    expect(step(dir, 'at the limit').verdict).toBe('keep');
    put(dir, 'src/value.txt', '80');
    put(dir, 'src/lint.txt', '13');
    const over = step(dir, 'past the limit');
    expect(over.verdict).toBe('discard');
    expect(String(over.reason)).toMatch(/guardrail lint 13 past its limit 12/);
  }, SLOW);
});

describe('a timing guardrail after a rebaseline', () => {
  it('takes the re-measured baseline as its reference (the machine got slower); a best that moved keeps the first one; a new segment starts over', () => {
    // build_s is a timing: 10 s on this machine, then 15 and 20 s as it gets slower, read from a file outside
    // the repository (the seconds themselves: the shell benchmark does no float arithmetic).
    const slow = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-slow-')), 'build_s');
    fs.writeFileSync(slow, '10');
    const timing = `read -r b < '${slow}'; echo "METRIC build_s=$b"\n`;
    try {
      const dir = makeRepo({ 'bench.sh': timing + SH_BENCH, 'src/value.txt': '100', 'src/other.txt': OTHER });
      init(dir, ['--guardrail', 'build_s:lower:10']);
      expect(step(dir, 'baseline').verdict).toBe('keep');
      fs.writeFileSync(slow, '15');
      expect(step(dir, 'rebaseline')).toMatchObject({ verdict: 'discard', reason: 'rebaseline: the unchanged best was re-measured' });
      put(dir, 'src/value.txt', '90');
      expect(step(dir, 'faster, same build')).toMatchObject({ verdict: 'keep' });
      // The best is no longer the baseline's code: re-measuring it does not move the guardrail's reference (15).
      // Against that reference alone the slower machine blocked the next change (build_s 20 > 16.5 allowed); the
      // breach now has the best measured beside the candidate (guardrail-pairing.ts): 20 against 20 is no regression.
      fs.writeFileSync(slow, '20');
      expect(step(dir, 'rebaseline').verdict).toBe('discard');
      put(dir, 'src/value.txt', '80');
      const again = step(dir, 'faster again');
      expect(again.verdict, String(again.reason)).toBe('keep');
      const last = ledger(dir).filter((l) => l.type === 'result').at(-1) as { invocations: { arm: string; metrics: Record<string, number> }[] };
      expect(last.invocations.filter((i) => i.arm === 'best').map((i) => i.metrics.build_s)).toContain(20);
      // A new segment measures its own baseline.
      expect(engine('init-experiment', ['--name', 'exp', '--json'], dir).code).toBe(0);
      expect(step(dir, 'baseline').verdict).toBe('keep');
      put(dir, 'src/value.txt', '70');
      expect(step(dir, 'faster on the new segment').verdict).toBe('keep');
    } finally {
      fs.rmSync(path.dirname(slow), { recursive: true, force: true });
    }
  }, SLOW);
});

describe('gates', () => {
  it('runs a hard gate before the benchmark: a failure costs no sample', () => {
    const dir = repo();
    // The gate in the shell too: its subject is when it runs, not what starts it.
    put(dir, 'gate.sh', 'read -r t < src/value.txt; case "$t" in *broken*) exit 1 ;; esac\n');
    const cfg = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-cfg-')), 'config.yaml');
    fs.writeFileSync(cfg, 'gates:\n  - name: parses\n    command: sh gate.sh\n    kind: hard\n');
    init(dir, ['--config', cfg]);
    step(dir, 'baseline');
    put(dir, 'src/value.txt', '90 broken');
    const run = engine('run-experiment', ['--json'], dir);
    expect(run.json?.status).toBe('checks_failed');
    expect(String(run.json?.reason)).toMatch(/gate parses failed/);
    expect(run.json?.samples).toBe(0);
    const log = fs.readFileSync(path.join(dir, '.autoloop', 'experiments', 'exp', 'runs', 'r0002', 'output.log'), 'utf8');
    expect(log).toMatch(/gate parses \(hard\)/);
    expect(log).not.toMatch(/invocation 1/);
    const logged = engine('log-experiment', ['--description', 'broken', '--json'], dir);
    expect(logged.json?.verdict).toBe('checks_failed');
    const line = results(dir).at(-1) as Record<string, unknown>;
    expect(line.invocations).toEqual([]);
    expect(line.gates).toMatchObject([{ name: 'parses', passed: false }]);
    // The same gate passes on a good change, and the benchmark then runs.
    put(dir, 'src/value.txt', '90');
    expect(step(dir, 'good').verdict).toBe('keep');
  }, SLOW);
});

describe('interleaved re-measurement of the best', () => {
  it('runs the best in its own worktree beside the candidate, in ABBA order, and records both arms', () => {
    const dir = repo('100 noisy');
    init(dir);
    step(dir, 'baseline');
    const base = results(dir).at(-1) as { invocations: { arm: string }[] };
    expect(base.invocations.length).toBeGreaterThanOrEqual(8);
    expect(base.invocations.every((i) => i.arm === 'candidate')).toBe(true);
    put(dir, 'src/value.txt', '50 noisy');
    const log = step(dir, 'halve it');
    expect(log.verdict).toBe('keep');
    // Model-facing numbers are rounded (6 significant digits at most).
    const digits = (x: unknown) => String(x).replace(/^-/, '').replace('.', '').replace(/^0+/, '').length;
    for (const x of [log.gain_pct, log.best]) expect(digits(x)).toBeLessThanOrEqual(6);
    const line = results(dir).at(-1) as { invocations: { arm: string; samples: number[] }[]; decision: { pairs: number } };
    const arms = line.invocations.map((i) => i.arm);
    expect(arms.slice(0, 4)).toEqual(['best', 'candidate', 'candidate', 'best']);
    // The best's invocations measured the best's code (≈ 100), the candidate's the change (≈ 50).
    for (const inv of line.invocations) expect(inv.arm === 'best' ? inv.samples[0]! > 80 : inv.samples[0]! < 70).toBe(true);
    expect(line.decision.pairs).toBe(arms.length / 2);
    const exp = path.join(dir, '.autoloop', 'experiments', 'exp');
    const { tree } = JSON.parse(fs.readFileSync(path.join(exp, 'best.json'), 'utf8')) as { tree: string };
    expect(fs.existsSync(path.join(exp, 'best', tree, 'src', 'value.txt'))).toBe(true);
  }, SLOW);

  it('an invocation that prints no primary voids the run, also after earlier ones did, naming the arm', () => {
    // The benchmark counts its invocations in a file outside the repository and prints nothing at the chosen one:
    // with --repeats 2 the baseline is invocations 0–1 and the decision best 2, candidate 3, candidate 4, best 5.
    for (const [at, reason] of [
      [4, 'metric score was not printed (expected a line "METRIC score=<number>") by a later invocation (earlier ones printed it)'],
      [5, 're-measuring the best failed: metric score was not printed (expected a line "METRIC score=<number>") by a later invocation (earlier ones printed it)'],
    ] as const) {
      const counter = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-count-')), 'n');
      const silent = `const n = Number(require('node:fs').existsSync(${JSON.stringify(counter)}) ? require('node:fs').readFileSync(${JSON.stringify(counter)}, 'utf8') : 0);
require('node:fs').writeFileSync(${JSON.stringify(counter)}, String(n + 1));
if (n === ${at}) { console.log('no metric this time'); process.exit(0); }
`;
      try {
        const dir = makeRepo({ 'bench.cjs': silent + BENCH, 'src/value.txt': '100 noisy', 'src/other.txt': OTHER });
        init(dir, ['--repeats', '2']);
        expect(step(dir, 'baseline').verdict).toBe('keep');
        put(dir, 'src/value.txt', '99 noisy');
        const log = step(dir, 'a change');
        expect(log).toMatchObject({ verdict: 'invalid', reason });
        expect(results(dir).at(-1)).toMatchObject({ status: 'invalid', verdict: 'invalid' });
      } finally {
        fs.rmSync(path.dirname(counter), { recursive: true, force: true });
      }
    }
  }, SLOW);
});

describe("the best's tree failing is not the change's failure", () => {
  it('a run whose re-measure of the best fails leaves the loop\'s health alone and asks for a rebaseline; a candidate\'s own failures still heal', () => {
    // The arm named in a file outside the repository exits 3 (AUTOLOOP_ARM tells the benchmark which arm it runs).
    const flag = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-arm-')), 'arm');
    const failing = `if (process.env.AUTOLOOP_ARM === (require('node:fs').existsSync(${JSON.stringify(flag)}) ? require('node:fs').readFileSync(${JSON.stringify(flag)}, 'utf8') : '')) process.exit(3);\n`;
    const status = (dir: string) => engine('status', ['--json'], dir).json as { health: string; health_reason: string; next_action: string };
    try {
      const dir = makeRepo({ 'bench.cjs': failing + BENCH, 'src/value.txt': '100 noisy', 'src/other.txt': OTHER });
      init(dir, ['--repeats', '2']);
      expect(step(dir, 'baseline').verdict).toBe('keep');
      fs.writeFileSync(flag, 'best');
      // Twice: the default max_crash_streak (2) of the change's failures would start a heal.
      for (const n of [1, 2]) {
        put(dir, 'src/value.txt', '99 noisy');
        expect(step(dir, `change ${n}`)).toMatchObject({ verdict: 'crash', reason: expect.stringMatching(/^re-measuring the best failed: /) });
        expect(results(dir).at(-1)).toMatchObject({ best_failed: true });
      }
      expect(status(dir)).toMatchObject({ health: 'improving', health_reason: "re-measuring the best failed (not the change's doing)" });
      expect(status(dir).next_action).toMatch(/Re-measure the best/);
      expect(ledger(dir).some((l) => l.type === 'event' && l.event === 'heal')).toBe(false);
      // The same failures in the candidate's own tree count against it: two in a row start a heal.
      fs.writeFileSync(flag, 'candidate');
      for (const n of [3, 4]) {
        put(dir, 'src/value.txt', '99 noisy');
        expect(step(dir, `change ${n}`).verdict).toBe('crash');
        expect(results(dir).at(-1)?.best_failed).toBeUndefined();
      }
      expect(status(dir)).toMatchObject({ health: 'healing', health_reason: expect.stringMatching(/^2 failed runs in a row/) });
    } finally {
      fs.rmSync(path.dirname(flag), { recursive: true, force: true });
    }
  }, SLOW);
});

describe('chains protect the parent', () => {
  it('a child on another metric inherits guardrails and guards the parent primary; --from defaults to the terminated active experiment', () => {
    const dir = repo();
    init(dir, ['--max-runs', '2', '--guardrail', 'size_kb:lower:5']);
    step(dir, 'baseline');
    put(dir, 'src/value.txt', '90');
    expect(step(dir, 'faster').verdict).toBe('keep');
    const chain = engine('chain', ['--name', 'mem', '--rationale', 'memory next, keep the speed', '--metric', 'mem', '--direction', 'lower', '--max-runs', '10', '--json'], dir);
    expect(chain.code, chain.stderr).toBe(0);
    expect(chain.json?.parent).toBe('exp');
    const guards = (chain.json?.guardrails as { metric: string }[]).map((g) => g.metric).sort();
    expect(guards).toEqual(['score', 'size_kb']);
    const decision = JSON.parse(fs.readFileSync(path.join(dir, '.autoloop', 'experiments', 'mem', 'chain-decision.json'), 'utf8')) as Record<string, unknown>;
    expect(decision.dropped_guardrails).toEqual([]);

    step(dir, 'baseline');
    put(dir, 'src/mem.txt', '5');
    put(dir, 'src/value.txt', '730');
    const undo = step(dir, 'less memory, much slower');
    expect(undo.verdict).toBe('discard');
    expect(String(undo.reason)).toMatch(/guardrail score 730/);
    put(dir, 'src/mem.txt', '5');
    expect(step(dir, 'less memory only').verdict).toBe('keep');
  }, SLOW);

  it('drops a guardrail only when the flag says so, and records it', () => {
    const dir = repo();
    init(dir, ['--max-runs', '1']);
    step(dir, 'baseline');
    const chain = engine('chain', ['--name', 'mem', '--rationale', 'speed no longer matters', '--metric', 'mem', '--direction', 'lower', '--drop-guardrail', 'score', '--repeats', '1', '--min-improvement', '2%', '--json'], dir);
    expect(chain.code, chain.stderr).toBe(0);
    expect(chain.json?.guardrails).toEqual([]);
    expect(chain.json?.dropped_guardrails).toEqual(['score']);
    const ev = ledger(dir).find((l) => l.event === 'chain') as { data: Record<string, unknown> };
    expect(ev.data.dropped_guardrails).toEqual(['score']);
    const cfg = fs.readFileSync(path.join(dir, '.autoloop', 'experiments', 'mem', 'config.yaml'), 'utf8');
    expect(cfg).toMatch(/repeats: 1/);
    expect(cfg).toMatch(/min_improvement: 2%/);
    const bad = engine('chain', ['--name', 'x', '--rationale', 'r', '--from', 'mem', '--drop-guardrail', 'nope'], dir);
    expect(bad.code).toBe(2);
  }, SLOW);
});
