// The README's checkable promises, read from the README itself and compared with
// the code: every script, path, flag and default it names. A README edit that
// drifts from the code, or a code change that breaks a stated default, fails here.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { APPROVED_ENGINE } from '../hooks/src/bash-guard.ts';
import { REPORT_CAPS } from '../scripts/lib/report-source.ts';
import { HEALTH_HISTORY_CAP } from '../scripts/lib/reduce.ts';
import { KEEP_LAST, TAIL_KEEP, WHOLE_MAX } from '../scripts/lib/retention.ts';
import { RESCUE_KEEP, RESCUE_MAX_BYTES } from '../scripts/lib/rescue-retention.ts';
import { StopHookConfig } from '../scripts/lib/schema.ts';
import { DEFAULT_POLICY, MAX_RESET_AHEAD_MS } from '../scripts/lib/supervisor/policy.ts';
import { REPO_ROOT } from './e2e/claude-cli.ts';

const read = (p: string): string => fs.readFileSync(path.join(REPO_ROOT, p), 'utf8');
const readme = read('README.md');
/** The README's prose on one line, so a phrase wrapped across lines still matches. */
const flat = readme.replace(/\s+/g, ' ');

/** The first capture of `re` in the flattened README, or a failure naming what is missing. */
function stated(re: RegExp): string {
  const m = re.exec(flat);
  expect(m, `the README no longer says ${re}`).not.toBeNull();
  return m![1]!;
}

// The bundles the plugin runs (test/global-build.ts builds them from scripts/ first), each asked once:
// through tsx each call transpiled the script's whole tree, 325 s for six calls on a loaded slow host.
const usages = new Map<string, string>();
const usage = (script: string): string => {
  let text = usages.get(script);
  if (text === undefined) {
    const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'dist', `${script}.mjs`), '--help'], { cwd: REPO_ROOT, encoding: 'utf8' });
    usages.set(script, (text = `${r.stdout}${r.stderr}`));
  }
  return text;
};

describe('README: what it names exists', () => {
  it('every <plugin>/dist/… script it names is an entry point with a source in scripts/', () => {
    const named = [...new Set([...readme.matchAll(/<plugin>\/dist\/([a-z-]+)\.mjs/g)].map((m) => m[1]!))];
    expect(named.length).toBeGreaterThan(5);
    for (const n of named) expect(fs.existsSync(path.join(REPO_ROOT, 'scripts', `${n}.ts`)), `scripts/${n}.ts`).toBe(true);
  });

  it('every npx tsx scripts/… it names exists', () => {
    const named = [...readme.matchAll(/npx tsx (scripts\/[a-z-]+\.ts)/g)].map((m) => m[1]!);
    expect(named).toContain('scripts/dashboard.ts');
    for (const p of named) expect(fs.existsSync(path.join(REPO_ROOT, p)), p).toBe(true);
  });

  it('every repository file it links or names (docs/, references/, bench/, examples/) exists', () => {
    const paths = [...new Set([...readme.matchAll(/(?<![\w./-])((?:docs|references|bench|hooks)\/[A-Za-z0-9_./-]+\.(?:md|ts|sh))/g)].map((m) => m[1]!))];
    expect(paths).toContain('docs/measurements.md');
    for (const p of paths) expect(fs.existsSync(path.join(REPO_ROOT, p)), p).toBe(true);
    for (const m of readme.matchAll(/^\| `([a-z-]+)` \| .* \| `npm run demo(?: -- [a-z-]+)?` \|$/gm)) {
      expect(fs.existsSync(path.join(REPO_ROOT, 'examples', m[1]!)), `examples/${m[1]}`).toBe(true);
    }
  });

  it('the test names in brackets after each guarantee are test files', () => {
    const section = readme.slice(readme.indexOf('## What the engine guarantees'), readme.indexOf('What it cannot promise:'));
    const names = [...section.matchAll(/\[([a-z-]+(?:, [a-z-]+)*)\]/g)].flatMap((m) => m[1]!.split(', '));
    expect(names.length).toBeGreaterThan(8);
    for (const n of names) expect(fs.existsSync(path.join(REPO_ROOT, 'test', `${n}.test.ts`)), `test/${n}.test.ts`).toBe(true);
  });
});

describe('README: Permissions', () => {
  it('the engine commands it says the hooks approve are exactly the Bash guard\'s list', () => {
    const said = stated(/the engine commands the loop runs \(`node <plugin>\/dist\/<script>\.mjs …` for (.*?); not `init-experiment`\)/);
    const names = [...said.matchAll(/`([a-z-]+)`/g)].map((m) => m[1]!).filter((n) => !n.startsWith('--'));
    expect(names.sort()).toEqual([...APPROVED_ENGINE].sort());
    expect(APPROVED_ENGINE.has('init-experiment')).toBe(false);
  });
});

describe('README: flags and defaults', () => {
  it('the control verbs and the flags it names are in the scripts\' usage', () => {
    const control = usage('control');
    for (const m of readme.matchAll(/<plugin>\/dist\/control\.mjs ([a-z]+)/g)) expect(control).toContain(m[1]);
    const flags: Record<string, RegExp> = { dashboard: /dashboard\.(?:ts|mjs)[^\n`]*?(--[a-z-]+)/g, finalize: /finalize\.mjs \[(--[a-z-]+)\]/g, diagnose: /diagnose\.mjs \[(--[a-z-]+)\] \[(--profile [a-z|-]+)\]/g };
    for (const [script, re] of Object.entries(flags)) {
      const text = usage(script);
      for (const m of readme.matchAll(re)) for (const f of m.slice(1)) expect(text, `${script} ${f}`).toContain(f);
    }
    expect(usage('dashboard')).toMatch(/--html FILE/);
    const up = usage('up');
    const upFlags = [...flat.matchAll(/\(`(--[a-z-]+) [A-Z]+`\)|`(--claude) PATH`|scripts\/up\.ts (--cwd) /g)].map((m) => m[1] ?? m[2] ?? m[3]!);
    expect(upFlags.length).toBeGreaterThanOrEqual(6);
    for (const f of upFlags) expect(up, `up ${f}`).toContain(`${f} `);
  });

  it('the Stop hook caps have the stated defaults', () => {
    const d = StopHookConfig.parse({});
    expect(d.max_blocks).toBe(Number(stated(/`stop_hook\.max_blocks` \(default (\d+) per stint/)));
    expect(d.max_idle_blocks).toBe(Number(stated(/`stop_hook\.max_idle_blocks` \(default (\d+) stops in a row/)));
  });

  it("up's backoff, ceiling, hourly cap, reset margin and longest believed reset are as stated", () => {
    expect(DEFAULT_POLICY.baseMs).toBe(Number(stated(/The backoff starts at (\d+) s \(`--backoff S`\)/)) * 1000);
    expect(DEFAULT_POLICY.maxMs).toBe(Number(stated(/up to (\d+) minutes \(`--backoff-max S`\)/)) * 60_000);
    expect(DEFAULT_POLICY.perHour).toBe(Number(stated(/At most (\d+) relaunches an hour/)));
    expect(DEFAULT_POLICY.resetMarginMs).toBe(Number(stated(/plus (\d+) minutes \(`--reset-margin S`\)/)) * 60_000);
    expect(MAX_RESET_AHEAD_MS).toBe(Number(stated(/a reset more than (\d+) days out/)) * 86_400_000);
    // "or none, as long as the backoff's ceiling"
    expect(DEFAULT_POLICY.unknownResetMs).toBe(DEFAULT_POLICY.maxMs);
  });

  it('the report lists and the run-output and rescued/ bounds are as stated', () => {
    const [kept, dead, health] = stated(/the newest (\d+\/\d+\/\d+) of each/).split('/').map(Number);
    expect([kept, dead, health]).toEqual([REPORT_CAPS.kept, REPORT_CAPS.dead_ends, HEALTH_HISTORY_CAP]);
    expect(KEEP_LAST).toBe(Number(stated(/the best's and the last (\d+) runs' logs are kept whole/)));
    expect(WHOLE_MAX).toBe(Number(stated(/kept whole \(up to (\d+) MB each\)/)) * 1024 * 1024);
    expect(TAIL_KEEP).toBe(Number(stated(/trimmed to its last (\d+) KB/)) * 1024);
    expect(RESCUE_KEEP).toBe(Number(stated(/the last (\d+) folders are kept whole/)));
    expect(RESCUE_MAX_BYTES).toBe(Number(stated(/weigh at most (\d+) GB together/)) * 1024 ** 3);
  });
});

describe('README: Node, install and status line', () => {
  it('the Node requirement matches package.json and what the hooks say when Node is missing or old', () => {
    const major = stated(/You need Node\.js (\d+) or newer/);
    expect(JSON.parse(read('package.json')).engines.node).toBe(`>=${major}`);
    expect(read('hooks/run.sh')).toContain(`install Node.js ${major} or later`);
    expect(read('hooks/src/main.ts')).toContain(`install Node.js ${major} or later`);
  });

  it("a clone's Node floor is the highest Node 20 floor in the lockfile", () => {
    const floor = stated(/A clone needs Node\.js (20\.\d+) or newer/);
    const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { engines?: { node?: string } }> };
    const minors = Object.values(lock.packages).flatMap((v) => [...(v.engines?.node ?? '').matchAll(/\^20\.(\d+)/g)].map((m) => Number(m[1])));
    expect(`20.${Math.max(...minors)}`).toBe(floor);
  });

  it('the plugin has no npm dependencies, as it says', () => {
    expect(flat).toContain('The plugin has no npm dependencies');
    const pkg = JSON.parse(read('package.json'));
    for (const field of ['dependencies', 'optionalDependencies', 'peerDependencies']) expect(Object.keys(pkg[field] ?? {}), field).toEqual([]);
  });

  it('the status-line command is the launcher run.sh writes into the data folder, and the plugin root file it names', () => {
    const cmd = stated(/"command": "sh (~\/\.claude\/plugins\/data\/autoloop-autoloop\/[a-z.]+)"/);
    const shim = read('hooks/run.sh');
    expect(shim).toContain(`"$CLAUDE_PLUGIN_DATA/${path.basename(cmd)}"`);
    expect(flat).toContain('`~/.claude/plugins/data/autoloop-autoloop/plugin-root`');
    expect(shim).toContain('"$CLAUDE_PLUGIN_DATA/plugin-root"');
  });

  it('the two commands at the top are the package scripts it says', () => {
    const top = /```bash\n([\s\S]*?)```/.exec(readme)![1]!;
    expect(top).toMatch(/^npm ci && npm run demo\s/m);
    expect(top).toMatch(/^npm test\s/m);
    const scripts = JSON.parse(read('package.json')).scripts;
    expect(scripts.demo).toBe('tsx scripts/demo.ts');
    expect(scripts.test).toBe('vitest run');
  });
});
