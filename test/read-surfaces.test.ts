// What people and the model read (status, report, dashboard, the run's own
// output) on real experiments driven by the bundled engine: the numbers agree
// with the ledger in the shapes that have no ordinary answer (a baseline of 0,
// nothing measured, a stop reason with escape sequences).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { engine, initValue, iterate, ledger, makeRepo, setValue } from './helpers/engine.ts';
import { fromState } from './helpers/loop.ts';

const ESC = '\x1b';
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/**
 * valueRepo's benchmark in shell builtins (the number in src/value.txt, as
 * written, and mem=10; "crash" exits 3, the one word used here): no Node start
 * per sample, the subject here being what the surfaces print.
 */
const SHELL_BENCH = `read -r v < src/value.txt
case "$v" in *crash*) echo 'boom: the change broke the program' >&2; exit 3 ;; esac
echo "METRIC score=$v"
echo "METRIC mem=10"
`;
const SHELL = ['--command', 'sh bench.sh'];

/** A fresh copy of a repository at `value` with "exp" opened (initExtra), no run yet: built once per file and key (fromState). */
function repo(value: string, initExtra: string[] = []): string {
  return fromState(JSON.stringify(['opened', value, initExtra]), () => {
    const d = makeRepo({ 'bench.sh': SHELL_BENCH, 'src/value.txt': value, 'src/other.txt': 'other\n', 'README.md': 'fixture\n' });
    dirs.push(d);
    const init = initValue(d, [...SHELL, ...initExtra]);
    expect(init.code, init.stderr).toBe(0);
    return d;
  });
}

/** repo(value, initExtra) with its baseline kept, the start of most experiments here (built once per file and key). */
function baselined(value: string, initExtra: string[] = []): string {
  return fromState(JSON.stringify(['baseline', value, initExtra]), () => {
    const d = repo(value, initExtra);
    expect(iterate(d, 'baseline').log.json?.verdict).toBe('keep');
    return d;
  });
}

describe('a baseline of 0 (no percentage exists)', () => {
  it('says so in words and still says better, where "-" read as a minus sign and the report dropped the verdict', () => {
    const d = baselined('0');
    setValue(d, '-3'); // lower is better: 0 → -3 is better by 3
    const run = engine('run-experiment', ['--description', 'go negative'], d);
    expect(run.code, run.stderr).toBe(0);
    const results = ledger(d).filter((l) => l.type === 'result');
    expect(results.map((l) => [l.primary, l.verdict])).toEqual([
      [0, 'keep'],
      [-3, 'keep'],
    ]);
    expect(run.stdout).toContain('best -3 vs baseline 0 (no % from a baseline of 0)');

    const status = engine('status', [], d);
    expect(status.stdout).toContain('best -3 vs baseline 0 (no % from a baseline of 0, confidence');
    expect(engine('status', ['--json'], d).json).toMatchObject({ best: -3, baseline: 0, gain_pct: null });

    const report = engine('report', [], d);
    expect(report.code, report.stderr).toBe(0);
    expect(report.stdout).toContain('- **Result:** baseline 0 → best -3 (Δ +3, no % from a baseline of 0), better');

    const html = path.join(d, 'dash.html');
    expect(engine('dashboard', ['--html', html], d).code).toBe(0);
    expect(fs.readFileSync(html, 'utf8')).toContain('no % from a baseline of 0');
  });
});

describe('nothing measured (every run crashed)', () => {
  it('the report does not speak of a baseline no run measured, and the chart invents no axis numbers', () => {
    const d = repo('crash');
    for (const what of ['baseline', 'again']) expect(iterate(d, what).log.json?.verdict).toBe('crash');
    expect(ledger(d).filter((l) => l.type === 'result' && l.primary !== null)).toEqual([]);

    const report = engine('report', [], d).stdout;
    expect(report).toContain('- **Result:** no baseline measured');
    expect(report).toContain('- **Runs:** 2 (2 crash)');
    expect(report).toMatch(/- \*\*Commits:\*\* start [0-9a-f]{12}, best none measured\n/);
    expect(report).toContain('None: no baseline was measured.');
    expect(report).not.toContain('beat the baseline');

    const dash = engine('dashboard', ['--width', '60'], d, { NO_COLOR: '1' });
    expect(dash.code, dash.stderr).toBe(0);
    const chart = dash.stdout.split('\n').filter((l) => /[┤│└]/.test(l) && !/^\s*(run|r0)/.test(l));
    expect(chart.length).toBeGreaterThan(2);
    // The y-axis had 1, 0.5 and 0 with no run measuring anything.
    for (const l of chart) expect(l.split(/[┤│└]/)[0]?.trim()).toBe('');
    expect(dash.stdout).toContain('0 keep · 0 discard · 2 crash');
  });
});

describe('a stop reason with escape sequences', () => {
  it('reaches no surface raw (the dashboard passed it to the terminal in its next line)', () => {
    const d = baselined('100');
    const stop = engine('control', ['stop', '--reason', `lunch ${ESC}[31m${ESC}]0;TITLE\x07 break`], d);
    expect(stop.code, stop.stderr).toBe(0);

    const dash = engine('dashboard', ['--width', '80'], d, { NO_COLOR: '1' });
    expect(dash.code, dash.stderr).toBe(0);
    expect(dash.stdout).toMatch(/next +Stop the loop and tell the user why: lunch/);
    expect(dash.stdout).not.toContain(ESC);
    expect(dash.stdout).not.toContain('TITLE');
    const html = path.join(d, 'dash.html');
    expect(engine('dashboard', ['--html', html], d).code).toBe(0);
    expect(fs.readFileSync(html, 'utf8')).not.toContain(ESC);
    for (const [cmd, args] of [
      ['status', []],
      ['control', ['explain']],
      ['report', []],
    ] as const) {
      const r = engine(cmd, [...args], d);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout, cmd).not.toContain(ESC);
    }
  });
});

describe('a terminated experiment, then its follow-up', () => {
  it('status --json says what the text says, and both name the follow-up once one started', () => {
    const d = baselined('100', ['--max-runs', '2']);
    setValue(d, '80');
    expect(iterate(d, 'faster').log.json?.verdict).toBe('keep');

    // Terminated, no follow-up yet: the JSON said "Next idea from ideas.md" while the text said /autoloop:chain.
    const before = engine('status', ['--json'], d).json;
    expect(before).toMatchObject({ loop: 'terminated', best: 80, baseline: 100, gain_pct: 20, next_action: '/autoloop:chain' });
    expect(engine('status', [], d).stdout).toContain('; next: /autoloop:chain\n');

    const chain = engine('chain', ['--name', 'child', '--rationale', 'go on', '--max-runs', '5'], d);
    expect(chain.code, chain.stderr).toBe(0);
    expect(chain.stdout).toContain("(the parent's best: 80)");

    // The parent: /autoloop:chain would refuse a second follow-up; the follow-up is where the work goes on.
    const want = 'its follow-up child carries on: status --experiment child';
    expect(engine('status', ['--experiment', 'exp', '--json'], d).json).toMatchObject({ loop: 'terminated', best: 80, next_action: want });
    expect(engine('status', ['--experiment', 'exp'], d).stdout).toContain(`; next: ${want}\n`);
    expect(engine('control', ['explain', '--experiment', 'exp'], d).stdout).toContain(`next: ${want}`);
    const dash = engine('dashboard', ['--experiment', 'exp', '--width', '200'], d, { NO_COLOR: '1' }).stdout;
    expect(dash).toContain('Its follow-up child carries on: status --experiment child.');
    expect(dash).toMatch(/chain +exp → child/);

    // The child starts from the parent's best and has no baseline of its own yet.
    expect(engine('status', ['--json'], d).json).toMatchObject({ experiment: 'child', loop: 'active', best: null, runs: 0 });
    expect(iterate(d, 'baseline').log.json?.verdict).toBe('keep');
    expect(engine('status', ['--json'], d).json).toMatchObject({ experiment: 'child', best: 80, baseline: 80, gain_pct: 0 });
  });
});

/** A baseline at `base`, then one change to `next` measured and logged in one call ("one less"), both kept. */
function baselineThenKeep(base: string, next: string) {
  const d = baselined(base);
  setValue(d, next);
  const run = engine('run-experiment', ['--description', 'one less'], d);
  expect(run.code, run.stderr).toBe(0);
  expect(ledger(d).filter((l) => l.type === 'result').map((l) => [l.primary, l.verdict])).toEqual([
    [Number(base), 'keep'],
    [Number(next), 'keep'],
  ]);
  return { d, run };
}

describe('a gain under 0.05%', () => {
  it('status and the run output give its figure, as the report and the dashboard do, not "+0.0%"', () => {
    const { d, run } = baselineThenKeep('1000000', '999999');
    expect(run.stdout).toContain('best 999999 vs baseline 1000000 (+0.0001%)');
    expect(engine('status', [], d).stdout).toContain('best 999999 vs baseline 1000000 (+0.0001%, confidence');
    expect(engine('report', [], d).stdout).toContain('(Δ +1, +0.0001%), better');
    expect(engine('dashboard', ['--width', '100'], d, { NO_COLOR: '1' }).stdout).toMatch(/best +999999 \+0\.0001% vs baseline 1000000/);
  });
});

describe('a paused loop without a baseline', () => {
  it('says why it stopped, not "measure the baseline" (run-experiment refuses until resume)', () => {
    const d = repo('100');
    expect(engine('control', ['stop', '--reason', 'lunch'], d).code).toBe(0);
    const refused = engine('run-experiment', ['--description', 'baseline'], d);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/resume/);
    const stopped = 'Stop the loop and tell the user why: lunch.';
    expect(engine('status', ['--json'], d).json).toMatchObject({ loop: 'stopped', best: null, runs: 0, next_action: stopped });
    expect(engine('status', [], d).stdout).toContain(`; next: ${stopped}\n`);
    expect(engine('dashboard', ['--width', '200'], d, { NO_COLOR: '1' }).stdout).toMatch(/next +Stop the loop and tell the user why: lunch\./);

    expect(engine('control', ['resume'], d).code).toBe(0);
    expect(engine('status', ['--json'], d).json?.next_action).toMatch(/^No baseline yet: run run-experiment/);
  });
});

describe('values in the millions with decimals', () => {
  it('print every integer digit, so a kept change never reads "1.500e+6 → 1.500e+6"', () => {
    const { d, run } = baselineThenKeep('1500000.5', '1499999.5');
    expect(run.stdout).toContain('r0002 score=1499999.5 → KEEP');
    expect(engine('status', [], d).stdout).toContain('best 1499999.5 vs baseline 1500000.5 (+0.000067%');
    expect(engine('report', [], d).stdout).toContain('score 1500000.5 → 1499999.5 (+0.000067%): one less');
    expect(engine('dashboard', ['--width', '100'], d, { NO_COLOR: '1' }).stdout).toMatch(/r0002 keep +1499999\.5 +\+1 one less/);
  });
});

describe('status --last', () => {
  it('lists the newest runs that fit in its 10 lines (the cap cut the newest off), and none for 0', () => {
    const d = baselined('100');
    for (const v of ['90', '95', '80']) {
      setValue(d, v);
      expect(engine('run-experiment', ['--description', `set ${v}`], d).code).toBe(0);
    }
    const ids = (text: string) => text.split('\n').filter((l) => /^ {2}r\d{4} /.test(l)).map((l) => l.trim().split(' ')[0]);
    const four = engine('status', ['--last', '4'], d).stdout;
    expect(four.trimEnd().split('\n').length).toBeLessThanOrEqual(10);
    expect(ids(four).at(-1)).toBe('r0004');
    expect(ids(four)).toEqual(['r0001', 'r0002', 'r0003', 'r0004'].slice(-ids(four).length));
    expect(ids(engine('status', [], d).stdout)).toEqual(['r0002', 'r0003', 'r0004']);
    expect(ids(engine('status', ['--last', '0'], d).stdout)).toEqual([]);
    expect(engine('status', ['--last', '0', '--json'], d).json?.recent).toEqual([]);
    expect((engine('status', ['--last', '2', '--json'], d).json?.recent as Array<{ run_id: string }>).map((r) => r.run_id)).toEqual(['r0003', 'r0004']);
  });
});

describe('a report over two segments', () => {
  it('says its result is the last segment against its own baseline, while runs and kept changes span both', () => {
    const d = baselined('100');
    setValue(d, '90');
    expect(engine('run-experiment', ['--description', 'ninety'], d).code).toBe(0);
    // A judged field changed: a new segment, measured afresh from the best.
    expect(initValue(d, [...SHELL, '--timeout', '120']).code).toBe(0);
    expect(iterate(d, 'baseline').log.json?.verdict).toBe('keep');
    setValue(d, '72');
    expect(engine('run-experiment', ['--description', 'seventy-two'], d).code).toBe(0);
    const results = ledger(d).filter((l) => l.type === 'result');
    expect(results.map((l) => [l.segment, l.primary, l.verdict])).toEqual([
      [1, 100, 'keep'],
      [1, 90, 'keep'],
      [2, 90, 'keep'],
      [2, 72, 'keep'],
    ]);
    const report = engine('report', [], d).stdout;
    expect(report).toContain('- **Result:** baseline 90 → best 72 (Δ +18, +20%), better (segment 2 of 2, against its own baseline)');
    expect(report).toContain('- **Runs:** 4 (4 keep)');
    expect(report).toMatch(/1\. r0002 `[0-9a-f]{12}` score 100 → 90 \(\+10%\): ninety\n2\. r0004 `[0-9a-f]{12}` score 90 → 72 \(\+20%\): seventy-two/);
    expect(engine('status', [], d).stdout).toContain('runs: 2 this segment (2 keep, 0 discard), 4 in all');
  });
});

describe('terminated with a run measured but not logged', () => {
  it('status says to log that run first, in its text and its JSON alike (the text said /autoloop:chain)', async () => {
    const d = repo('100');
    expect(initValue(d, SHELL).code).toBe(0);
    expect(iterate(d, 'baseline').log.json?.verdict).toBe('keep');
    setValue(d, '90');
    const measured = engine('run-experiment', ['--json'], d);
    expect(measured.code, measured.stderr).toBe(0);
    // Budgets are read live: a wall clock of 1 s, set once the run is measured, ends the experiment
    // with that run unlogged. (A budget set at init raced the baseline and the measurement on a loaded machine.)
    const config = path.join(d, '.autoloop', 'experiments', 'exp', 'config.yaml');
    const text = fs.readFileSync(config, 'utf8');
    expect(text).toMatch(/^max_wall_clock: null$/m);
    fs.writeFileSync(config, text.replace(/^max_wall_clock: null$/m, 'max_wall_clock: 1'));
    // Wait for the budget to run out (a wait, not a speed check).
    let status = engine('status', ['--json'], d).json;
    while ((status?.termination as { terminate?: boolean } | undefined)?.terminate !== true) {
      await new Promise((r) => setTimeout(r, 1000));
      status = engine('status', ['--json'], d).json;
    }
    expect(status).toMatchObject({ loop: 'terminated', next_action: expect.stringMatching(/^r0002 was measured but not logged: log it first/) });
    expect(engine('status', [], d).stdout).toMatch(/; next: r0002 was measured but not logged: log it first/);
    const log = engine('log-experiment', ['--description', 'ninety', '--json'], d);
    expect(log.json).toMatchObject({ verdict: 'keep', should_terminate: true });
    expect(engine('status', ['--json'], d).json).toMatchObject({ best: 90, next_action: '/autoloop:chain' });
  });
});

describe('a run measured but not logged', () => {
  it('explain names the same next step as status: log it first', () => {
    const d = baselined('100');
    setValue(d, '90');
    expect(engine('run-experiment', [], d).code).toBe(0);
    const want = String(engine('status', ['--json'], d).json?.next_action);
    expect(want).toMatch(/^r0002 was measured but not logged: log it first/);
    expect(engine('control', ['explain'], d).stdout).toContain(`next: ${want}`);
    expect(engine('control', ['explain', '--json'], d).json).toMatchObject({ next_action: want });
  });
});
