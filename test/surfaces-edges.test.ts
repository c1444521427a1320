// The read surfaces at their edges: tiny metric values, narrow terminals, the
// unit on every surface, the chain's context in the report, finalize on a live
// loop. Real experiments driven by the bundled engine, plus the pure formatters.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bundle, engine, initValue, iterate, makeRepo, setValue } from './helpers/engine.ts';
import { fromState } from './helpers/loop.ts';
import { spawnSync } from 'node:child_process';
import { cut, fmt } from '../scripts/lib/format.ts';
import { clip as hookClip } from '../hooks/src/text.ts';
import { checkGuardrail } from '../scripts/lib/guardrails.ts';
import { formatSignedUnits } from '../scripts/lib/signs.ts';
import { clipCells, visibleWidth } from '../scripts/lib/dashboard/text.ts';

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

/**
 * A fresh copy of a repository at `value` opened with initExtra and its
 * baseline kept: every experiment here starts there, so the set-up (git, init,
 * the baseline's run and log) runs once per file and key (fromState).
 */
function repo(value: string, initExtra: string[] = []): string {
  return fromState(JSON.stringify([value, initExtra]), () => {
    const d = makeRepo({ 'bench.sh': SHELL_BENCH, 'src/value.txt': value, 'src/other.txt': 'other\n', 'README.md': 'fixture\n' });
    dirs.push(d);
    const init = initValue(d, ['--command', 'sh bench.sh', ...initExtra]);
    expect(init.code, init.stderr).toBe(0);
    expect(iterate(d, 'baseline').log.json?.verdict).toBe('keep');
    return d;
  });
}

describe('numbers: 4 significant digits at every magnitude', () => {
  it('formats small values with 4 significant digits (0.00123456 read "0.0012") and no padded zeros', () => {
    expect(fmt(0.00123456)).toBe('0.001235');
    expect(fmt(0.0123456)).toBe('0.01235');
    expect(fmt(0.123456)).toBe('0.1235');
    // As C's %.4g: plain decimals down to 1e-4, scientific notation below.
    expect(fmt(0.000123456)).toBe('0.0001235');
    expect(fmt(-0.000123456)).toBe('-0.0001235');
    expect(fmt(0.0000123456)).toBe('1.235e-5');
    expect(fmt(4.2e-7)).toBe('4.2e-7');
    expect(fmt(3.356e-6)).toBe('3.356e-6');
    expect(fmt(1e-300)).toBe('1e-300');
    // Unchanged: integers, ordinary decimals, millions with every integer digit.
    expect([fmt(0), fmt(145072), fmt(3.14159265), fmt(1500000.5), fmt(0.5), fmt(null)]).toEqual(['0', '145072', '3.1416', '1500000.5', '0.5', '-']);
  });

  it('guardrail reasons print the value measured, not 4 digits of it (12345678 read "12350000")', () => {
    const g = checkGuardrail({ metric: 'mem', direction: 'lower', max_regression_pct: 1 }, [12345678, 12345678], [12999999, 12999999]);
    expect(g.reason).toContain('guardrail mem 12999999');
    expect(g.reason).toContain('baseline 12345678');
  });

  it('every surface shows a value of 4.2e-7 and its delta whole, with its unit', () => {
    const d = repo('0.000123456', ['--unit', 's']);
    setValue(d, '4.2e-7');
    const run = engine('run-experiment', ['--description', 'tiny'], d);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('r0002 score=4.2e-7 s → KEEP');
    expect(run.stdout).toContain('best 4.2e-7 s vs baseline 0.0001235 s (+99.7%)');
    expect(engine('status', [], d).stdout).toContain('best 4.2e-7 s vs baseline 0.0001235 s (+99.7%');
    expect(engine('status', [], d).stdout).toContain('r0002 keep 4.2e-7 Δ+0.000123 tiny');
    expect(engine('report', [], d).stdout).toContain('baseline 0.0001235 s → best 4.2e-7 s (Δ +0.000123 s, +99.7%), better');
    const dash = engine('dashboard', ['--width', '80'], d, { NO_COLOR: '1' }).stdout;
    expect(dash).toMatch(/best +4\.2e-7 s \+99\.7% vs baseline 0\.0001235 s/);
    expect(dash).toMatch(/r0002 keep +4\.2e-7 +\+0\.000123 tiny/);
    expect(dash).not.toMatch(/\d…/); // no number cut short
  });
});

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('a chain: the unit in its output, its context in the reports', () => {
  it('chain prints the parent best with its unit; each report says what it followed, why, and what comes next, and the hash still holds', () => {
    const d = repo('100', ['--unit', 's', '--max-runs', '2']);
    setValue(d, '80');
    expect(iterate(d, 'faster').log.json?.verdict).toBe('keep');
    // In no chain yet: no chain section.
    expect(engine('report', [], d).stdout).not.toContain('## Chain');
    expect(engine('report', ['--json'], d).json?.chain).toBeNull();

    const rationale = 'exp reached 80 s with one change;\nthe next cost is in the parser.';
    const chain = engine('chain', ['--name', 'child', '--rationale', rationale], d);
    expect(chain.code, chain.stderr).toBe(0);
    expect(chain.stdout).toContain("(the parent's best: 80 s)");

    const parent = engine('report', ['--experiment', 'exp'], d).stdout;
    expect(parent).toContain('## Chain\n\n- **Trail:** **exp** → child\n- **Next:** its follow-up child (report --experiment child)\n');
    // The follow-up's record of the parent's report still matches the report as it reads now.
    const decision = JSON.parse(fs.readFileSync(path.join(d, '.autoloop', 'experiments', 'child', 'chain-decision.json'), 'utf8')) as { parent_report_sha256: string };
    expect(sha256(parent)).toBe(decision.parent_report_sha256);

    const child = engine('report', ['--experiment', 'child'], d).stdout;
    expect(child).toContain('- **Trail:** exp → **child**');
    expect(child).toContain('- **Follows:** exp (its best: score 80 s): exp reached 80 s with one change; the next cost is in the parser.');
    expect(child).toContain('- **Next:** this experiment continues; when it terminates, /autoloop:chain may start a follow-up (2 of 3 left), or finalize');
    expect(engine('report', ['--experiment', 'child', '--json'], d).json?.chain).toMatchObject({
      trail: ['exp', 'child'],
      parent: 'exp',
      rationale,
      parent_best: { metric: 'score', value: 80, unit: 's' },
      child: null,
    });
  });
});

describe('finalize on a loop that has not terminated', () => {
  it('finalizes what is kept so far and says in one line that the loop goes on; a terminated loop gets no such line', () => {
    const d = repo('100');
    setValue(d, '90');
    expect(iterate(d, 'ninety').log.json?.verdict).toBe('keep');
    const r = engine('finalize', [], d);
    expect(r.code, r.stderr).toBe(0);
    const warn = r.stdout.split('\n').filter((l) => l.startsWith('warning:'));
    expect(warn).toEqual([
      'warning: "exp" is still active (not terminated: runs 2/100, plateau 0/20): autoloop/exp-final holds the changes kept so far; after more keeps, finalize again with --branch NAME',
    ]);
    expect(r.stdout).toMatch(/^warning: /); // seen first
    expect(engine('finalize', ['--json', '--branch', 'again'], d).json).toMatchObject({ branch: 'again', loop: 'active', warning: expect.stringMatching(/^"exp" is still active/) });

    const t = repo('100', ['--max-runs', '1']);
    const done = engine('finalize', ['--json'], t);
    expect(done.code, done.stderr).toBe(0);
    expect(done.json).toMatchObject({ loop: 'terminated', warning: null });
    expect(engine('finalize', [], t).stdout).not.toContain('warning');
  });
});

describe('the terminal dashboard at 24 columns and below', () => {
  it('keeps every line within the width, whole escape sequences, whole numbers in the table and the gain on screen', () => {
    const d = repo('1499999.5', ['--unit', 'ms']);
    for (const [v, what] of [['0.000123456', 'a tiny value 🚀 with a long description that cannot fit'], ['4.2e-7', 'tinier'], ['crash', 'broken']] as const) {
      setValue(d, v);
      expect(engine('run-experiment', ['--description', what], d).code).toBe(0);
    }
    const values: Record<string, number> = { r0001: 1499999.5, r0002: 0.000123456, r0003: 4.2e-7 };
    for (const width of [24, 22, 20, 16, 12]) {
      for (const env of [{ NO_COLOR: '1' }, { FORCE_COLOR: '1' }] as Record<string, string>[]) {
        const r = engine('dashboard', ['--width', String(width)], d, env);
        expect(r.code, r.stderr).toBe(0);
        const lines = r.stdout.replace(/\n$/, '').split('\n');
        for (const l of lines) {
          const plain = l.replace(/\x1b\[[0-9;]*m/g, '');
          expect(plain, `width ${width}: ${JSON.stringify(l)}`).not.toContain('\x1b'); // no sequence cut short
          expect([...plain].length, `width ${width}: ${JSON.stringify(plain)}`).toBeLessThanOrEqual(width);
          if (l.includes('\x1b[') && env.FORCE_COLOR) expect(l.endsWith('\x1b[0m') || !/\x1b\[[0-9;]*[1-9][0-9;]*m[^\x1b]*$/.test(l), JSON.stringify(l)).toBe(true);
        }
        const plain = r.stdout.replace(/\x1b\[[0-9;]*m/g, '');
        if (width < 20) {
          expect(plain).toContain('exp');
          continue;
        }
        // The gain of the best is on screen, not clipped away.
        expect(plain).toContain('+100%');
        // Each measured run's value is whole (rounded to fit at most), never cut with "…".
        for (const [id, want] of Object.entries(values)) {
          const row = [...plain.split('\n')].reverse().find((l) => l.startsWith(`● ${id} `) || l.startsWith(`  ${id} `));
          expect(row, `width ${width}: ${id}`).toBeDefined();
          const cell = row!.slice(row!.indexOf(id) + id.length).trim().split(/\s+/).find((t) => /^[-+]?[0-9]/.test(t));
          expect(cell, `width ${width}: ${row}`).toBeDefined();
          expect(cell).not.toContain('…');
          expect(Math.abs(Number(cell) - want) / want, `width ${width}: ${cell} for ${want}`).toBeLessThan(0.01);
        }
      }
    }
  });
});

describe('huge values', () => {
  it('print the confidence in a few digits, not "3.3333333333333335e+299x"', () => {
    const d = repo('-5', ['--direction', 'higher']);
    setValue(d, '-2');
    expect(engine('run-experiment', ['--description', 'to -2'], d).code).toBe(0);
    setValue(d, '1e300');
    const run = engine('run-experiment', ['--description', 'far above'], d);
    expect(run.code, run.stderr).toBe(0);
    const surfaces = [run.stdout, engine('status', [], d).stdout, engine('report', [], d).stdout, engine('control', ['explain'], d).stdout, engine('dashboard', ['--width', '100'], d, { NO_COLOR: '1' }).stdout];
    for (const s of surfaces) {
      expect(s).toMatch(/confidence:?\**:? [0-9.]+e\+\d+[x×]/i);
      expect(s).not.toMatch(/\d{6,}e\+\d+/); // no 16-digit mantissa
    }
  });
});

describe('text cut to fit', () => {
  it('never splits an emoji in two (status, report, status line and the page showed a U+FFFD)', () => {
    const d = repo('100');
    const long = `${'a'.repeat(58)}${'🚀'.repeat(200)}`;
    setValue(d, '90');
    expect(iterate(d, long).log.json?.verdict).toBe('keep');
    const html = path.join(d, 'dash.html');
    expect(engine('dashboard', ['--html', html], d).code).toBe(0);
    const texts = [engine('status', [], d).stdout, engine('report', [], d).stdout, engine('control', ['explain'], d).stdout, fs.readFileSync(html, 'utf8')];
    for (const t of texts) {
      expect(t).toMatch(/a{58}(🚀|…)/);
      expect(t).not.toContain('\uFFFD');
    }
    expect(cut('ab🚀', 3)).toBe('ab…');
    expect(cut('abc🚀', 4)).toBe('abc…');
    expect(cut('ab', 1)).toBe('…');
    expect(hookClip('ab🚀cd', 4)).toBe('ab…');
  });
});

describe('HTML in what people and models write', () => {
  it('reaches the Markdown report as text, not markup (a "<!--" hid the rest of the report where it was rendered)', () => {
    const d = repo('100', ['--goal', 'beat <b>it</b>']);
    setValue(d, '90');
    expect(iterate(d, 'cache it <!-- and <script>alert(1)</script>').log.json?.verdict).toBe('keep');
    setValue(d, '95');
    expect(iterate(d, 'worse <img src=x onerror=alert(1)>').log.json?.verdict).toBe('discard');
    const report = engine('report', [], d).stdout;
    expect(report).not.toMatch(/(^|[^\\])<(!--|script|img|b>)/m);
    expect(report).toContain('- **Goal:** beat \\<b>it\\</b>');
    expect(report).toContain(': cache it \\<!-- and \\<script>alert(1)\\</script>');
    expect(report).toContain('- r0003 discard: worse \\<img src=x onerror=alert(1)>');
  });
});

describe('a verdict against a best of 0 (no % exists)', () => {
  it('states the change in units with the sign convention, as every other change is ("improved 1234.5", "not better (-1234.5")', () => {
    const d = repo('0');
    setValue(d, '1234.5');
    expect(engine('run-experiment', ['--description', 'up'], d).stdout).toContain('DISCARD: not better (-1234.5, deterministic)');
    setValue(d, '-0.30000000000000004');
    expect(engine('run-experiment', ['--description', 'down'], d).stdout).toContain('KEEP: improved +0.3 (deterministic)');
    expect(formatSignedUnits(3e-7)).toBe('+3e-7');
    expect(formatSignedUnits(-2)).toBe('-2');
    expect(formatSignedUnits(0)).toBe('0');
  });
});

describe('one minus sign on every surface', () => {
  it('a worse run reads with an ASCII "-" in the run output, status, report, dashboard, page and status line; U+2212 nowhere', () => {
    const d = repo('100');
    setValue(d, '90');
    expect(iterate(d, 'better').log.json?.verdict).toBe('keep');
    setValue(d, '95');
    const run = engine('run-experiment', ['--description', 'worse'], d);
    expect(run.stdout).toContain('DISCARD: not better (-5.6%');
    const html = path.join(d, 'dash.html');
    expect(engine('dashboard', ['--html', html], d).code).toBe(0);
    const line = spawnSync(process.execPath, [bundle('statusline')], { input: JSON.stringify({ cwd: d }), encoding: 'utf8', timeout: 900_000 }).stdout;
    const surfaces = {
      run: run.stdout,
      status: engine('status', [], d).stdout,
      report: engine('report', [], d).stdout,
      dashboard: engine('dashboard', ['--width', '80'], d, { NO_COLOR: '1' }).stdout,
      page: fs.readFileSync(html, 'utf8'),
      statusline: line,
    };
    expect(surfaces.status).toContain('r0003 discard 95 Δ-5 worse');
    expect(surfaces.dashboard).toMatch(/r0003 discard +95 +-5 worse/);
    expect(surfaces.page).toMatch(/>-5<\/td>/);
    expect(surfaces.statusline).toContain('best 90 (+10%)');
    for (const [name, text] of Object.entries(surfaces)) {
      expect(text, name).not.toContain('\u2212');
      expect(text.length, name).toBeGreaterThan(0);
    }
    expect(surfaces.report + surfaces.dashboard).toContain('+ = better, - = worse');
  });
});

describe('emoji made wide by a variation selector', () => {
  it('count two cells, so a line of "⚠️" does not run one cell past the width and wrap', () => {
    // U+26A0 is one cell alone; U+FE0F after it asks for the emoji form, two cells in terminals.
    const cells = (s: string) => {
      let w = 0;
      let prev = 0;
      for (const ch of s) {
        const cp = ch.codePointAt(0) ?? 0;
        if (cp === 0xfe0f) w += prev === 1 ? 1 : 0;
        else {
          prev = visibleWidth(ch);
          w += prev;
        }
      }
      return w;
    };
    expect(visibleWidth('⚠️')).toBe(2);
    expect(visibleWidth('a\uFE0F')).toBe(1); // a text character stays one cell
    expect(clipCells('⚠️⚠️⚠️', 4)).toBe('⚠️…');
    const d = repo('100');
    setValue(d, '90');
    expect(iterate(d, '⚠️'.repeat(40)).log.json?.verdict).toBe('keep');
    for (const width of [40, 61, 80]) {
      const out = engine('dashboard', ['--width', String(width)], d, { NO_COLOR: '1' }).stdout;
      for (const l of out.split('\n')) expect(cells(l), `${width}: ${l}`).toBeLessThanOrEqual(width);
    }
  });
});

describe('the progress line of a run at a terminal (a real pseudo-terminal, util-linux script)', () => {
  // The benchmark takes 1.5 s, so the 500 ms ticker shows at least once (sleep: no Node start for a wait).
  const slowRepo = (): string => {
    const repo = makeRepo({ 'bench.sh': 'sleep 1.5\nread -r v < src/value.txt\necho "METRIC score=$v"\n', 'src/value.txt': '100\n' });
    expect(engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--repeats', '1'], repo).code).toBe(0);
    return repo;
  };
  const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  const atTerminal = (repo: string, term: string): string => {
    const command = [process.execPath, bundle('run-experiment'), '--cwd', repo].map(quote).join(' ');
    const r = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', env: { ...process.env, TERM: term, NO_COLOR: '1' }, timeout: 900_000 });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    return r.stdout;
  };

  it('erases its line with an escape sequence on an ordinary terminal', () => {
    const out = atTerminal(slowRepo(), 'xterm');
    expect(out).toContain('r0001 invocation 1…');
    expect(out).toContain('\x1b[2K');
  });

  it('on TERM=dumb writes no escape sequence at all: the line is overwritten with spaces', () => {
    const out = atTerminal(slowRepo(), 'dumb');
    expect(out).toContain('r0001 invocation 1…');
    expect(out).not.toContain('\x1b');
    expect(out).toMatch(/\r +\r/);
  });
});
