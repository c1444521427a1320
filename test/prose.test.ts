// The prose the model follows (skills, agents, references, the texts the hooks
// inject) against the engine: every script, flag, subcommand, JSON field and
// .autoloop/ path it names, and whether the hook approves the engine commands
// it prescribes. The model acts on these words on every run; a word the engine
// does not have, or a command the hook leaves to a prompt nobody answers,
// stalls a headless loop. Drift on either side fails here.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeBash, MAX_ALIAS_HOPS, MAX_CODE_FILES, MAX_DEPTH, type GuardContext } from '../hooks/src/bash-guard.ts';
import { MAX_SCRIPT_BYTES } from '../hooks/src/guard-io.ts';
import { MAX_CALLS_PAST_END } from '../hooks/src/pre-tool-use.ts';
import { LOOP_SKILLS } from '../hooks/src/roles.ts';
import { canonical } from '../hooks/src/policy.ts';
import { parseSourceFlag } from '../scripts/lib/sources/shorthand.ts';
import { REPO_ROOT } from './e2e/claude-cli.ts';
import { HookServer } from './hook-server.ts';
import { bundle, engine, git, initValue, iterate, setValue, valueRepo, type EngineResult } from './helpers/engine.ts';

const read = (p: string): string => fs.readFileSync(path.join(REPO_ROOT, p), 'utf8');
const list = (dir: string, re: RegExp): string[] => fs.readdirSync(path.join(REPO_ROOT, dir)).filter((f) => re.test(f)).map((f) => `${dir}/${f}`);

/** What the model reads as instructions. */
const MARKDOWN = [...fs.readdirSync(path.join(REPO_ROOT, 'skills')).map((s) => `skills/${s}/SKILL.md`), ...list('agents', /\.md$/), ...list('references', /\.md$/)];
/** What it is told to do by the loop's own skills and agent (not the user's setup). */
const LOOP_PROSE = ['skills/run/SKILL.md', 'skills/chain/SKILL.md', 'agents/autoloop.md', 'references/protocol.md'];
/** Sources whose strings reach the model: the hooks' injected texts and denials, the engine's next actions. */
const HOOK_TEXTS = ['hooks/src/session-start.ts', 'hooks/src/stop.ts', 'hooks/src/bash-guard.ts', 'hooks/src/pre-tool-use.ts', 'hooks/src/policy.ts', 'scripts/lib/health.ts', 'scripts/lib/next-action.ts'];

const SCRIPTS = fs
  .readdirSync(path.join(REPO_ROOT, 'scripts'))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => f.slice(0, -3));
/** The loop's own engine commands: what the model runs without a human (init, the dashboard, up and the status line are the user's). */
const LOOP_SCRIPTS = SCRIPTS.filter((s) => !['init-experiment', 'dashboard', 'up', 'statusline', 'demo'].includes(s));

/**
 * Pieces of text that hold commands: each line of a fenced block (with `\`
 * continuations joined), each inline code span, and for hook sources each
 * string literal cut at parentheses (a command is named in brackets there).
 */
function chunks(file: string): string[] {
  const text = read(file);
  if (file.endsWith('.ts')) {
    const strings = [...text.matchAll(/'((?:[^'\\\n]|\\.)*)'|`((?:[^`\\]|\\.)*)`|"((?:[^"\\\n]|\\.)*)"/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
    return strings.flatMap((s) => s.split(/[()]/));
  }
  const out: string[] = [];
  const rest = text.replace(/```[a-z]*\n([\s\S]*?)```/g, (_, body: string) => {
    out.push(...body.replace(/\\\n\s*/g, ' ').split('\n'));
    return ' ';
  });
  for (const m of rest.replace(/\s+/g, ' ').matchAll(/`([^`]+)`/g)) out.push(m[1]!);
  return out;
}

interface Call {
  file: string;
  script: string;
  /** Subcommand (control, candidate), or null. */
  sub: string | null;
  flags: string[];
  /** Alternatives named after a flag (`--profile node-cpu|node-heap`). */
  choices: Record<string, string[]>;
  text: string;
}

const NAMES = [...SCRIPTS].sort((a, b) => b.length - a.length).join('|');
const CALL = new RegExp(`(?<![\\w.-])(?:\\S*dist/)?(${NAMES})(\\.mjs)?(?![\\w-])"?`, 'g');

/** Engine calls named in a piece of text: the script and what follows it, up to the next script or the end of a clause. */
function callsIn(file: string, chunk: string): Call[] {
  const calls: Call[] = [];
  const hits = [...chunk.matchAll(CALL)];
  hits.forEach((m, k) => {
    const [script, mjs] = [m[1]!, m[2] !== undefined];
    if (/\bgit\s+$/.test(chunk.slice(0, m.index))) return; // git status, git diff
    const end = k + 1 < hits.length ? hits[k + 1]!.index : chunk.length;
    const rest = chunk.slice(m.index + m[0].length, end).split(/[;:,]\s|\s{3,}|(?<!\.)\.\s+(?=[A-Z(])/)[0]!;
    const words = rest.trim().split(/\s+/).filter(Boolean);
    // A bare word ("candidate", "status") is a command only when flags or a subcommand follow it.
    const sub = /^[a-z]+(\|[a-z]+)*$/.test(words[0] ?? '') && ['control', 'candidate'].includes(script) ? words[0]! : null;
    if (!mjs && !script.includes('-') && !sub && !words[0]?.startsWith('--')) return;
    const flags: string[] = [];
    const choices: Record<string, string[]> = {};
    words.forEach((w, i) => {
      const f = /^\[?(--[a-z][a-z-]*)/.exec(w);
      if (!f) return;
      flags.push(f[1]!);
      const next = words[i + 1]?.replace(/[[\]`]/g, '');
      if (next && /^[a-z-]+(\|[a-z-]+)+$/.test(next)) choices[f[1]!] = next.split('|');
    });
    calls.push({ file, script, sub, flags, choices, text: `${script}${mjs ? '.mjs' : ''}${rest}`.trim() });
  });
  return calls;
}

const CALLS = [...MARKDOWN, ...HOOK_TEXTS].flatMap((f) => chunks(f).flatMap((c) => callsIn(f, c)));

const usages = new Map<string, string>();
const usage = (script: string): string => {
  if (!usages.has(script)) {
    const r = spawnSync(process.execPath, [bundle(script), '--help'], { cwd: REPO_ROOT, encoding: 'utf8' });
    usages.set(script, `${r.stdout}${r.stderr}`);
  }
  return usages.get(script)!;
};

describe('prose: the engine commands it names exist as named', () => {
  it('finds the calls (the extraction still works)', () => {
    const named = new Set(CALLS.map((c) => c.script));
    for (const s of ['status', 'control', 'run-experiment', 'log-experiment', 'report', 'chain', 'finalize', 'diagnose', 'candidate', 'init-experiment']) expect(named, s).toContain(s);
    expect(CALLS.filter((c) => c.file.startsWith('hooks/')).length).toBeGreaterThan(3);
    // The engine's next actions name the command, never "run the benchmark" by hand (the hooks do not approve that).
    expect(CALLS.filter((c) => c.file === 'scripts/lib/health.ts').map((c) => c.script)).toContain('run-experiment');
    expect(read('scripts/lib/health.ts')).not.toMatch(/run the benchmark with/);
  });

  it('every dist/<x>.mjs and <x>.mjs it names is an engine entry point', () => {
    for (const f of [...MARKDOWN, ...HOOK_TEXTS]) {
      for (const m of read(f).matchAll(/(?<![\w<-])([a-z][a-z-]*)\.mjs\b/g)) {
        expect(SCRIPTS, `${f}: ${m[0]}`).toContain(m[1]);
        expect(fs.existsSync(bundle(m[1]!)), `${f}: ${m[0]} is not built`).toBe(true);
      }
    }
  });

  it("every flag it gives a script is in that script's usage", () => {
    for (const c of CALLS) {
      const u = usage(c.script);
      for (const f of c.flags) expect(u, `${c.file}: ${c.text}`).toMatch(new RegExp(`${f}(?![\\w-])`));
      for (const [f, alts] of Object.entries(c.choices)) for (const a of alts) expect(u, `${c.file}: ${f} ${a}`).toMatch(new RegExp(`${f} [^\\]]*\\b${a}\\b`));
    }
  });

  it('the init-experiment flags in its table, --cwd and --experiment are in the usage as engine.md says', () => {
    const engineMd = read('references/engine.md');
    const init = engineMd.slice(engineMd.indexOf('## init-experiment.mjs'), engineMd.indexOf('## run-experiment.mjs'));
    const rows = [...init.matchAll(/^\| (`--.*?) \|/gm)].flatMap((m) => [...m[1]!.matchAll(/`(--[a-z][a-z-]*)/g)].map((f) => f[1]!));
    expect(rows.length).toBeGreaterThan(30);
    for (const f of rows) expect(usage('init-experiment'), f).toMatch(new RegExp(`${f}(?![\\w-])`));
    const flat = engineMd.replace(/\s+/g, ' ');
    expect(flat).toContain('or pass `--cwd DIR`');
    const but = /Every command but `([a-z-]+)` \(`--name`\) and `([a-z-]+)` \(`--from`\) accepts `--experiment SLUG`/.exec(flat);
    expect(but, 'engine.md: which commands take --experiment').not.toBeNull();
    const named = [...new Set([...engineMd.matchAll(/dist\/([a-z-]+)\.mjs/g)].map((m) => m[1]!))];
    for (const s of named) {
      expect(usage(s), `${s} --cwd`).toContain('--cwd DIR');
      expect(usage(s).includes('--experiment SLUG'), `${s} --experiment`).toBe(s !== but![1] && s !== but![2]);
    }
    expect(usage(but![1]!)).toContain('--name');
    expect(usage(but![2]!)).toContain('--from');
  });

  it('every --source example it gives is a source spec the engine takes', () => {
    const examples: string[] = [];
    const setup = read('skills/setup/SKILL.md').replace(/\s+/g, ' ');
    const bullet = /\*\*Where the numbers come from\*\*(.*?)all forms in engine\.md/.exec(setup)![1]!;
    for (const m of bullet.matchAll(/`'?([a-z-]+:[^`']+)'?`/g)) examples.push(m[1]!);
    for (const m of read('references/engine.md').matchAll(/--source '([^']+)'/g)) examples.push(m[1]!);
    expect(examples.length).toBeGreaterThan(4);
    for (const e of examples) expect(() => parseSourceFlag(e), e).not.toThrow();
  });

  it("every control and candidate subcommand it names is in that script's usage", () => {
    const subs = CALLS.filter((c) => c.sub !== null);
    expect(subs.length).toBeGreaterThan(5);
    for (const c of subs) {
      const verbs = new RegExp(`usage: ${c.script} ([a-z|]+)`).exec(usage(c.script))![1]!.split('|');
      for (const s of c.sub!.split('|')) expect(verbs, `${c.file}: ${c.text}`).toContain(s);
    }
  });

  it('the skills, agents and references it names exist', () => {
    for (const f of [...MARKDOWN, ...HOOK_TEXTS]) {
      const text = read(f);
      for (const m of text.matchAll(/\/autoloop:([a-z-]+)|\bautoloop:(run|chain|setup)\b/g)) {
        expect(fs.existsSync(path.join(REPO_ROOT, 'skills', m[1] ?? m[2]!, 'SKILL.md')), `${f}: ${m[0]}`).toBe(true);
      }
      for (const m of text.matchAll(/subagent_type: "autoloop:([a-z-]+)"/g)) expect(fs.existsSync(path.join(REPO_ROOT, 'agents', `${m[1]}.md`)), `${f}: ${m[0]}`).toBe(true);
      for (const m of text.matchAll(/(?<![\w.-])references\/([a-z-]+\.md)/g)) expect(fs.existsSync(path.join(REPO_ROOT, 'references', m[1]!)), `${f}: ${m[0]}`).toBe(true);
    }
  });
});

/** The engine calls the loop's prose and the hooks' texts tell the model to make. */
const LOOP_CALLS = (): Call[] => CALLS.filter((c) => LOOP_SCRIPTS.includes(c.script) && (LOOP_PROSE.includes(c.file) || HOOK_TEXTS.includes(c.file)));
/** A call as the model would type it: the plugin root written out, a value after each flag. */
const typed = (c: Call, root: string): string =>
  [`node "${root}/dist/${c.script}.mjs"`, ...(c.sub ? [c.sub.split('|')[0]!] : []), ...c.flags.flatMap((f) => [f, 'x'])].join(' ');

describe('prose: the hooks approve the engine commands it prescribes', () => {
  let tmp: string;
  let ctx: GuardContext;
  beforeAll(() => {
    tmp = canonical(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-prose-')));
    const [P, R] = [path.join(tmp, 'project'), path.join(tmp, 'plugin')];
    for (const d of [`${P}/.autoloop/experiments/exp/scratch`, `${R}/dist`]) fs.mkdirSync(d, { recursive: true });
    ctx = {
      policy: { projectDir: P, protect: ['bench.sh'], writable: ['.autoloop/experiments/exp/program.md', '.autoloop/experiments/exp/ideas.md'], scope: ['src/**'], scratch: '.autoloop/experiments/exp/scratch' },
      cwd: P,
      env: { HOME: path.join(tmp, 'home'), CLAUDE_PROJECT_DIR: P, CLAUDE_PLUGIN_ROOT: R },
      pluginRoot: R,
    };
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('each engine call of the loop, as the model would type it, is approved without a prompt', () => {
    const loop = LOOP_CALLS();
    expect(loop.length).toBeGreaterThan(20);
    for (const c of loop) {
      const cmd = typed(c, ctx.pluginRoot!);
      const v = analyzeBash(cmd, ctx);
      expect(v.deny, `${c.file}: ${c.text}`).toBeNull();
      expect(v.safe, `${c.file}: ${c.text} (the hook would ask; nobody answers a headless loop)`).toBe(true);
    }
  });

  it("permissions.md's numbers and skills are the hooks'", () => {
    const flat = read('references/permissions.md').replace(/\s+/g, ' ');
    const said = (re: RegExp): string => {
      const m = re.exec(flat);
      expect(m, `permissions.md no longer says ${re}`).not.toBeNull();
      return m![1]!;
    };
    expect(MAX_SCRIPT_BYTES).toBe(Number(said(/larger than (\d+) KiB/)) * 1024);
    expect(MAX_DEPTH).toBe(Number(said(/nesting at most (\d+) deep/)));
    expect(MAX_CODE_FILES).toBe(Number(said(/at most (\d+) script files per command/)));
    const words: Record<string, number> = { six: 6, seven: 7, eight: 8, nine: 9, ten: 10 };
    expect(MAX_ALIAS_HOPS).toBe(words[said(/aliases nest more than ([a-z]+) deep/)]);
    expect(MAX_CALLS_PAST_END).toBe(Number(said(/after (\d+) more tool calls without closing/)));
    const skills = [...said(/\| Skill \| (.*?) \|/).matchAll(/`([a-z:]+)`/g)].map((m) => m[1]!);
    expect(skills.sort()).toEqual([...LOOP_SKILLS].sort());
    const engines = [...said(/with X one of (.*?); no Node options/).matchAll(/`([a-z-]+)`/g)].map((m) => m[1]!).filter((n) => !n.startsWith('--'));
    expect(engines.sort()).toEqual([...new Set(CALLS.filter((c) => LOOP_SCRIPTS.includes(c.script)).map((c) => c.script))].sort());
  });

  it('the read-only steps it suggests for an analysis and for failures are approved', () => {
    const S = '.autoloop/experiments/exp/scratch';
    const flat = read('references/troubleshooting.md').replace(/\s+/g, ' ');
    const analysis = /an analysis: ((?:`[a-z]+`,? )+)of the profile or the log, with `>` into `scratch\/`/.exec(flat);
    expect(analysis, 'troubleshooting.md: the analysis commands').not.toBeNull();
    const progs = [...analysis![1]!.matchAll(/`([a-z]+)`/g)].map((m) => m[1]!);
    expect(progs.length).toBeGreaterThan(1);
    for (const p of progs) {
      const cmd = `${p} ${p === 'jq' ? "'.nodes'" : p === 'grep' ? 'x' : ''} ${S}/diagnose-x/CPU.1.cpuprofile > ${S}/r0003/out.txt`;
      expect(analyzeBash(cmd, ctx).safe, cmd).toBe(true);
    }
    // "read `tail` (grep the run's `.autoloop/experiments/<slug>/runs/<run_id>/output.log` if needed)", "| tail -n 40"
    expect(read('agents/autoloop.md')).toContain('`.autoloop/experiments/<slug>/runs/<run_id>/output.log`');
    for (const cmd of ['grep -n error .autoloop/experiments/exp/runs/r0001/output.log | tail -n 40', `node "${ctx.pluginRoot}/dist/run-experiment.mjs" --description x --json | tail -n 40`, 'cat .autoloop/experiments/exp/config.yaml', 'git diff --stat']) {
      expect(analyzeBash(cmd, ctx).safe, cmd).toBe(true);
    }
    // The plan template is copied with Read and Write: cp into the scratch area is not on the list.
    expect(read('skills/run/SKILL.md').replace(/\s+/g, ' ')).toContain('Read `scratch/PLAN-TEMPLATE.md` and Write your copy');
    expect(analyzeBash(`cp ${S}/PLAN-TEMPLATE.md ${S}/r0003/PLAN.md`, ctx).safe).toBe(false);
  });

  it('the skills\' own Bash lines (${CLAUDE_PLUGIN_ROOT} expanded) are approved, but init-experiment', () => {
    for (const f of ['skills/setup/SKILL.md', 'skills/run/SKILL.md', 'skills/chain/SKILL.md', 'agents/autoloop.md']) {
      for (const c of chunks(f)) {
        if (!/^node "\$\{CLAUDE_PLUGIN_ROOT\}\/dist\//.test(c)) continue;
        // Placeholders become plain words; optional parts are taken; choices take their first.
        const cmd = c
          .replaceAll('${CLAUDE_PLUGIN_ROOT}', ctx.pluginRoot!)
          .replace(/\s{3,}.*$/, '')
          .replace(/<[^>]*>/g, 'x')
          .replace(/[[\]…]|\.\.\./g, '')
          .replace(/([a-z-]+)(\|[a-z-]+)+/g, '$1');
        const v = analyzeBash(cmd, ctx);
        expect(v.deny, `${f}: ${c}`).toBeNull();
        expect(v.safe, `${f}: ${c}`).toBe(!cmd.includes('/dist/init-experiment.mjs'));
      }
    }
  });
});

describe('prose: what it tells the model to read is what the engine writes', () => {
  const outputs: EngineResult[] = [];
  const answer: Record<string, Record<string, unknown>> = {};
  let repo: string;
  let par: string;
  const keys = new Set<string>();
  const collect = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(collect);
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) (keys.add(k), collect(x));
  };
  const call = (name: string, args: string[], cwd: string): EngineResult => {
    const r = engine(name, args, cwd);
    outputs.push(r);
    expect(r.json, `${name} ${args.join(' ')}: ${r.stdout}${r.stderr}`).not.toBeNull();
    collect(r.json);
    return r;
  };

  beforeAll(() => {
    // A serial loop to its end: baseline, a kept change, a crash, measured then logged, terminated by max-runs; then chain.
    repo = valueRepo('100');
    expect(initValue(repo, ['--repeats', '1', '--max-runs', '4']).code).toBe(0);
    call('diagnose', ['--json'], repo);
    answer.iteration = call('run-experiment', ['--description', 'baseline', '--json'], repo).json!;
    setValue(repo, '90');
    call('run-experiment', ['--description', 'smaller', '--hypothesis', 'h', '--json'], repo);
    setValue(repo, 'crash');
    call('run-experiment', ['--description', 'crash', '--json'], repo);
    call('status', ['--json'], repo);
    answer.statusText = { text: engine('status', [], repo).stdout };
    call('control', ['explain', '--json'], repo);
    setValue(repo, '80');
    call('run-experiment', ['--json'], repo);
    call('log-experiment', ['--description', 'split', '--json'], repo);
    answer.report = call('report', ['--json'], repo).json!;
    answer.finalize = call('finalize', ['--experiment', 'exp', '--json'], repo).json!;
    answer.chain = call('chain', ['--name', 'child', '--rationale', 'r', '--json'], repo).json!;
    // Parallel mode: a candidate.
    par = valueRepo('100');
    expect(initValue(par, ['--repeats', '1', '--parallel', '2']).code).toBe(0);
    iterate(par, 'baseline');
    answer.candidate = call('candidate', ['start', '--json'], par).json!;
    // config.yaml's fields (`parallel`, `runner: slurm`) are named as the model reads them there: the Config schema's keys.
    const schema = read('scripts/lib/schema.ts');
    const config = schema.slice(schema.indexOf('export const Config = '), schema.indexOf('export type Config ='));
    for (const m of config.matchAll(/^ {2}([a-z_]+): z/gm)) keys.add(m[1]!);
    expect(keys).toContain('parallel');
  });
  afterAll(() => {
    for (const d of [repo, par]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  it('every JSON field the loop prose names is in an answer of the engine', () => {
    const named = new Set<string>();
    for (const f of [...LOOP_PROSE, ...HOOK_TEXTS]) {
      const flat = read(f).replace(/\s+/g, ' ');
      for (const m of flat.matchAll(/`([a-z]+(?:_[a-z]+)+)(?:: [^`]*)?`|`([a-z_]+): "?[a-z]+"?`/g)) named.add(m[1] ?? m[2]!);
      // "read `verdict`, `primary` against `best`, and `tail`", "Read the answer: `verdict`, `reason`, …", "prints `candidate` (id) and `path`"
      for (const m of flat.matchAll(/\b(?:read|prints|answer:)\s+((?:`[a-z_]+`[^`.;]{0,14}){2,})/gi)) for (const w of m[1]!.matchAll(/`([a-z_]+)`/g)) named.add(w[1]!);
    }
    for (const k of ['verdict', 'primary', 'best', 'tail', 'next_action', 'should_terminate', 'candidate', 'path', 'kind']) expect(named, k).toContain(k);
    // Not an answer's field: the Agent tool's parameters, the scout's report sections, a playbook's name.
    for (const k of ['subagent_type', 'run_in_background', 'candidate_metrics', 'shrink_scope']) named.delete(k);
    // kind: "rebased" needs two candidates racing: its source is checked instead.
    expect(read('scripts/lib/commands/candidate-log.ts')).toMatch(/kind: 'rebased'/);
    named.delete('kind');
    for (const k of named) expect([...keys], `a field the prose names: ${k}`).toContain(k);
  });

  it("engine.md's field lists are the answers' fields", () => {
    const flat = read('references/engine.md').replace(/\s+/g, ' ');
    // run-experiment --description: the fields it always answers, then those "only when they apply".
    const always = /in the same process .*?answers once: (.*?); (`metrics`.*?) only when they apply/.exec(flat);
    expect(always).not.toBeNull();
    for (const m of always![1]!.matchAll(/`([a-z_]+)`/g)) expect(Object.keys(answer.iteration!), `run-experiment --description: ${m[1]}`).toContain(m[1]);
    // Fields an answer has only in some states (a judge restored, artifacts, a revert that moved files): seen in an answer, or set by the commands' code.
    const commands = fs.readdirSync(path.join(REPO_ROOT, 'scripts/lib/commands')).map((f) => read(`scripts/lib/commands/${f}`)).join('\n');
    const given = (f: string): boolean => keys.has(f) || new RegExp(`[{,(]\\s*${f}[:,}]|\\b${f}: `).test(commands);
    for (const m of always![2]!.matchAll(/`([a-z_]+)`/g)) expect(given(m[1]!), `run-experiment --description: ${m[1]}`).toBe(true);
    // "status.mjs   state in ≤ 10 lines" (agent), "At most 10 lines" (engine.md)
    expect(read('agents/autoloop.md')).toMatch(/status\.mjs"\s+state in ≤ 10 lines/);
    expect(read('references/engine.md')).toContain('At most 10 lines');
    expect(String(answer.statusText!.text).trimEnd().split('\n').length).toBeLessThanOrEqual(10);
    // chain: "do what its `next_action` says (run and log the child's baseline)".
    expect(read('skills/chain/SKILL.md')).toContain("do what its `next_action` says");
    expect(String(answer.chain!.next_action)).toMatch(/baseline/);
    const start = /candidate\.mjs" start --json # \{([a-z_, ]+)\}/.exec(flat);
    expect(start).not.toBeNull();
    expect(Object.keys(answer.candidate!).sort()).toEqual(start![1]!.split(', ').sort());
    for (const m of /`--json` has the same lists, with (.*?)\./.exec(flat)![1]!.matchAll(/`([a-z_]+)`/g)) expect(Object.keys(answer.report!), `report ${m[1]}`).toContain(m[1]);
    // The tables of run-experiment's and log-experiment's fields.
    const engineMd = read('references/engine.md');
    const tables = [engineMd.slice(engineMd.indexOf('## run-experiment.mjs: measure'), engineMd.indexOf('## Metric sources')), engineMd.slice(engineMd.indexOf('## log-experiment.mjs'), engineMd.indexOf('## status.mjs'))];
    const rows = tables.flatMap((t) => [...t.matchAll(/^\| (`[a-z_]+`(?:, `[a-z_]+`)*) \|/gm)].flatMap((m) => [...m[1]!.matchAll(/`([a-z_]+)`/g)].map((w) => w[1]!)));
    expect(rows).toContain('next_action');
    for (const f of rows) expect(given(f), `engine.md field ${f}`).toBe(true);
  });

  it('the verdicts, health values and playbooks it names are the engine\'s', () => {
    const verdicts = new Set(outputs.flatMap((o) => (typeof o.json?.verdict === 'string' ? [o.json.verdict] : [])));
    for (const v of ['keep', 'crash']) expect(verdicts).toContain(v);
    const schema = read('scripts/lib/schema.ts');
    for (const m of read('references/engine.md').matchAll(/^\| `(verdict|health|status)` \| (.*) \|$/gm)) {
      for (const w of m[2]!.matchAll(/`([a-z_]+)`/g)) expect(schema, `${m[1]} ${w[1]}`).toContain(`'${w[1]}'`);
    }
    for (const m of read('references/engine.md').matchAll(/^- `([a-z_]+)`: /gm)) {
      if (['stop', 'resume', 'explain', 'repair', 'clear', 'report', 'chain', 'finalize', 'dashboard'].includes(m[1]!)) continue;
      expect(schema, `playbook ${m[1]}`).toContain(`'${m[1]}'`);
    }
  });

  it('the .autoloop/ paths it names are where the engine writes', () => {
    const named = new Set<string>();
    for (const f of [...MARKDOWN, ...HOOK_TEXTS]) {
      for (const m of read(f).matchAll(/\.autoloop\/experiments\/(?:<slug>|\$\{experiment\})\/([A-Za-z0-9_.<>/-]*[A-Za-z0-9_>])/g)) named.add(m[1]!);
    }
    expect(named).toContain('runs/<run_id>/output.log');
    const exp = path.join(repo, '.autoloop', 'experiments', 'exp');
    const source = fs.readdirSync(path.join(REPO_ROOT, 'scripts', 'lib'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => read(`scripts/lib/${f}`)).join('\n');
    for (const rel of named) {
      const real = rel.replace('<run_id>', 'r0001').replace('<run>', 'r0001');
      if (!rel.includes('<') || real !== rel) {
        if (fs.existsSync(path.join(exp, real))) continue;
      }
      // Made only in some states (a revert, a candidate, artifacts): each fixed part is a name the engine uses.
      for (const part of rel.split('/').filter((p) => !p.includes('<') && p !== '')) expect(source, `${rel}: ${part}`).toMatch(new RegExp(`['"\`/]${part.replace(/[.*]/g, '\\$&')}['"\`/]`));
    }
  });
});

describe('prose: what it quotes from the engine', () => {
  it("init's mutable/protected line is spelt as init prints it", () => {
    const repo = valueRepo('100');
    try {
      const text = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.cjs', '--scope', 'src/**'], repo);
      expect(text.code, text.stderr).toBe(0);
      const line = /^(mutable: .*)$/m.exec(text.stdout)![1]!;
      for (const f of ['skills/setup/SKILL.md', 'references/engine.md']) {
        const said = /`(mutable: … · [^`]*)`/.exec(read(f).replace(/\s+/g, ' '));
        expect(said, f).not.toBeNull();
        expect(line, f).toMatch(new RegExp(`^${said![1]!.replace(/[().*]/g, '\\$&').replace(/…/g, '.*')}$`));
      }
    } finally {
      fs.rmSync(repo, { recursive: true, force: true });
    }
  });

  it("init's defaults are the ones engine.md's table gives", () => {
    const repo = valueRepo('100');
    try {
      expect(initValue(repo).code).toBe(0);
      const config = fs.readFileSync(path.join(repo, '.autoloop/experiments/exp/config.yaml'), 'utf8');
      const engineMd = read('references/engine.md');
      const table = engineMd.slice(engineMd.indexOf('## init-experiment.mjs'), engineMd.indexOf('## run-experiment.mjs'));
      let checked = 0;
      for (const m of table.matchAll(/^\| `--([a-z-]+)[^`]*` \| .* \| `?([0-9a-z]+)`? \|$/gm)) {
        const field = m[1]!.replaceAll('-', '_');
        const line = new RegExp(`^${field}: (.*)$`, 'm').exec(config);
        if (!line || m[1] === 'scope' || ['required', 'none', 'empty'].includes(m[2]!)) continue;
        expect(line[1], `--${m[1]}: engine.md says ${m[2]}`).toBe(m[2]);
        checked++;
      }
      expect(checked).toBeGreaterThan(8);
    } finally {
      fs.rmSync(repo, { recursive: true, force: true });
    }
  });

  it('a new segment makes a stopped loop active again, as troubleshooting.md says', () => {
    const repo = valueRepo('100');
    try {
      expect(initValue(repo).code).toBe(0);
      expect(engine('control', ['stop'], repo).code).toBe(0);
      expect(initValue(repo).code).toBe(0);
      expect(read('references/troubleshooting.md').replace(/\s+/g, ' ')).toContain('same `--name` (a new segment, with the fixed benchmark fingerprinted; it makes the loop active again)');
      expect(engine('status', ['--json'], repo).json?.loop).toBe('active');
    } finally {
      fs.rmSync(repo, { recursive: true, force: true });
    }
  });

  it('the branch git mode works on is the one the prose names', () => {
    const repo = valueRepo('100');
    try {
      expect(initValue(repo).code).toBe(0);
      expect(git(repo, 'branch', '--show-current')).toBe('autoloop/exp');
      expect(read('skills/setup/SKILL.md')).toContain('`autoloop/<slug>`');
    } finally {
      fs.rmSync(repo, { recursive: true, force: true });
    }
  });
});

describe('prose: the real PreToolUse hook (run.sh, its shell fast path, then Node) approves the loop\'s calls', () => {
  let server: HookServer;
  let project: string;
  beforeAll(() => {
    server = new HookServer();
    project = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-prose-hook-')));
    fs.mkdirSync(path.join(project, '.autoloop/experiments/exp/scratch'), { recursive: true });
    const active = {
      version: 1, experiment: 'exp', loop: 'active', scope: ['src/**'], protect: ['bench.sh'],
      writable: ['.autoloop/experiments/exp/program.md', '.autoloop/experiments/exp/ideas.md'],
      summary: 's', next_action: 'n', terminated_by: null, chain_allowed: false, runs: 5,
      stop_hook: { max_blocks: 500, max_idle_blocks: 3 }, worktrees: [], updated_at: '2026-11-30T00:00:00.000Z',
    };
    fs.writeFileSync(path.join(project, '.autoloop/active.json'), JSON.stringify(active));
    const session = { owner_session: 'sess-a', owner_agent: null, blocks: 0, idle_blocks: 0, last_runs: 5, chain_nudged: null, candidate: null, past_end: null };
    fs.writeFileSync(path.join(project, '.autoloop/session.json'), JSON.stringify(session, null, 2));
  });
  afterAll(() => {
    server.close();
    fs.rmSync(project, { recursive: true, force: true });
  });

  it('answers allow for each call', () => {
    if (!fs.existsSync(path.join(REPO_ROOT, 'dist', 'hooks.cjs'))) throw new Error('dist/hooks.cjs is missing: run npm run build');
    const commands = [...new Set(LOOP_CALLS().map((c) => typed(c, REPO_ROOT)))];
    expect(commands.length).toBeGreaterThan(15);
    for (const command of commands) {
      const payload = { session_id: 'sess-a', transcript_path: path.join(project, 't.jsonl'), cwd: project, hook_event_name: 'PreToolUse', permission_mode: 'default', tool_name: 'Bash', tool_input: { command, description: 'd' }, tool_use_id: 't1' };
      const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: project, CLAUDE_PLUGIN_ROOT: REPO_ROOT, CLAUDE_PROJECT_DIR: project, CLAUDE_CODE_SESSION_ID: 'sess-a' };
      const r = server.run(path.join(REPO_ROOT, 'hooks', 'run.sh'), 'pre-tool-use', JSON.stringify(payload), project, env);
      expect(r.status, `${command}: ${r.stderr}`).toBe(0);
      const out = r.stdout.trim() === '' ? null : (JSON.parse(r.stdout) as { hookSpecificOutput?: { permissionDecision?: string } });
      expect(out?.hookSpecificOutput?.permissionDecision, `${command} (the hook would ask; nobody answers a headless loop)`).toBe('allow');
    }
  });
});
