// Hook cost, as ratios against bare `node -e 0` measured in the same run
// (interleaved, so load on the machine hits both alike). Every call goes
// through `sh hooks/run.sh <event>` with a recorded-shape payload, as Claude
// Code runs it in exec form (hooks.json: "command": "sh", "args": […]); one
// line shows what the shell form would add (sh -c around the same call, as
// Claude Code runs a command string). PostToolUse from the session that owns
// the loop is decided in the shell (nothing to record), and so is another
// session's engine call that claims the loop (hooks/claim.sh). So is the
// owner's PreToolUse for its engine commands, its read-only commands (the
// pipeline) and its edits in scope or denied for a plain path
// (hooks/pre-tool-use.sh); anything else it defers to Node after reading the
// payload. A Write (hooks.json: pre-write) is read 8 kB at most: a 50 kB one
// is decided from that head (file_path precedes the content). Stop of the
// owner within its caps and SessionStart of an active loop are answered in
// the shell too (hooks/session.sh). The shell also answers the shapes of the
// protocol's diagnostics: a leading `cd <dir> &&` into the project, `git -C`,
// a bare `time`, the engine piped into tail, find, and writes into the
// scratch area (mkdir, > and >>). One call the shell leaves to Node shows what
// a Node start costs: a glob operand (`src/*.ts`); another, what the Bash guard
// adds to it: a command of 100 writes outside the project. Node also gets every
// command outside the allow list, a cd that is not at the head of the command
// or leads into a link, a missing directory or out of the project, any cd
// while CDPATH is set, redirections into the scope, and shell syntax beyond
// words, quotes and && || ; |.
// PreToolUse and Stop of a session outside a loop that another session drives
// (the `other_*` lines: a second Claude in the same repository) get no answer
// from Node, so the shell gives none without starting it (hooks/other.sh); nor
// do its node and npx calls' PostToolUse when they ran no engine script (claim.sh, cl_inert), and its
// SessionStart gets its one line from the shell (session.sh, ss_other);
// with AUTOLOOP_BENCH_BEFORE_HOOKS=<an earlier hooks/ folder> each is also run
// through that folder's run.sh, interleaved, for the before/after ratio. So
// are the calls of a stopped loop (`stopped_loop`: Node answers nobody), and
// the owner's Stop and a claim (the shell's writes of session.json).
// With AUTOLOOP_BENCH_BEFORE_ROOT=<an earlier checkout, built> every PreToolUse
// call is also made as that plugin copy would answer it (its run.sh, its dist/ as
// CLAUDE_PLUGIN_ROOT, its own code cache folder), interleaved, for the ratio of
// a whole call now to the same call then.
// "iteration" is the mean over one iteration's hook calls (edit, run, log).
// Target: each hook call ≤ 1 bare Node start. Also prints the bundle size of
// dist/hooks.cjs and the cost in a project with no .autoloop/. The hooks keep
// a V8 code cache in the plugin's data folder (CLAUDE_PLUGIN_DATA, as Claude
// Code sets it); the warm-up round fills it, and one line shows the call
// that starts Node without it (no data folder: a plain compile).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { procStart } from '../scripts/lib/procs.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BUNDLE = path.join(ROOT, 'dist', 'hooks.cjs');
if (!fs.existsSync(BUNDLE)) {
  console.error('bench/hooks: dist/hooks.cjs is missing: run npm run build first');
  process.exit(2);
}
const RUN_SH = path.join(ROOT, 'hooks', 'run.sh');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 25);

const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-bench-hooks-')));
const project = path.join(dir, 'repo');
const bare = path.join(dir, 'bare');
const data = path.join(dir, 'data');
fs.mkdirSync(data);
for (const d of ['src', 'bench', '.git', '.autoloop/experiments/speed']) fs.mkdirSync(path.join(project, d), { recursive: true });
fs.mkdirSync(path.join(bare, '.git'), { recursive: true });
fs.mkdirSync(path.join(dir, 'out'));
const activeOf = (loop: string): string => JSON.stringify({
  version: 1, experiment: 'speed', loop, scope: ['src/**'], protect: ['bench/bench.mjs'],
  writable: ['.autoloop/experiments/speed/program.md', '.autoloop/experiments/speed/ideas.md'],
  summary: 'Experiment speed: best 41 ms.', next_action: 'Try a lookup table.', terminated_by: null, chain_allowed: false,
  runs: 5, stop_hook: { max_blocks: 500, max_idle_blocks: 3 }, worktrees: [], updated_at: new Date().toISOString(),
});
const activeFile = path.join(project, '.autoloop', 'active.json');
fs.writeFileSync(activeFile, activeOf('active'));
// The claim case hands the loop to another session: each call starts from 's' owning it again, in
// this process (the hooks' parent here, as Claude Code's process is theirs: owner_process).
const ownedBySession = (): void => fs.writeFileSync(path.join(project, '.autoloop', 'session.json'), JSON.stringify({
  owner_session: 's', owner_agent: 'autoloop:autoloop', blocks: 0, idle_blocks: 0, last_runs: 5, chain_nudged: null, candidate: null, past_end: null,
  owner_process: `${process.pid}@${procStart(process.pid) ?? ''}`,
}, null, 2));

const common = { session_id: 's', transcript_path: path.join(dir, 't.jsonl'), cwd: project, agent_type: 'autoloop:autoloop' };
// A second Claude in the same repository, not part of the loop.
const other = { session_id: 'x', transcript_path: path.join(dir, 'x.jsonl'), cwd: project };
const engineOf = (root: string): string => `node "${path.join(root, 'dist', 'run-experiment.mjs')}" --json`;
const SCRATCH = '.autoloop/experiments/speed/scratch';
const PROSE = 'I replaced the linear scan in `src/a.ts` with a lookup table built once at start-up; the engine kept it (41 ms to 38 ms, above the noise), so the next step is the "unrolled" loop from the ideas file. The allocation in the inner loop is the other cost the profile shows, and I will try reusing the buffer next.\n\n'.repeat(22);
const CODE = 'export function cost(xs: number[], table: Map<string, number>): number {\n  let total = 0;\n  for (const x of xs) total += table.get(`k${x}`) ?? 0; // "hot" path\n  return total;\n}\n'.repeat(40);
/** Every call, as the plugin at root is asked it (its engine is named by its own path). */
const callsOf = (root: string): Array<[string, string, object]> => {
  const engine = engineOf(root);
  return [
    ['pre-tool-use.bash_engine', 'pre-tool-use', { ...common, hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command: engine } }],
    ['pre-tool-use.bash_pipeline', 'pre-tool-use', { ...common, hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command: 'git diff --stat && grep -n cost src/a.ts | head -20' } }],
    ['pre-tool-use.edit', 'pre-tool-use', { ...common, hook_event_name: 'PreToolUse', tool_name: 'Edit', tool_input: { file_path: path.join(project, 'src/a.ts'), old_string: 'a', new_string: 'b' } }],
    ['pre-write.write_small', 'pre-write', { ...common, hook_event_name: 'PreToolUse', tool_name: 'Write', tool_input: { file_path: path.join(project, 'src/b.ts'), content: 'export const y = 2;\n' } }],
    ['pre-write.write_50kB_in_scope', 'pre-write', { ...common, hook_event_name: 'PreToolUse', tool_name: 'Write', tool_input: { file_path: path.join(project, 'src/big.ts'), content: 'export const x = "a\tb";\n'.repeat(2000) } }],
    ['pre-write.write_50kB_out_of_scope', 'pre-write', { ...common, hook_event_name: 'PreToolUse', tool_name: 'Write', tool_input: { file_path: path.join(project, 'lib/big.ts'), content: 'export const x = "a\tb";\n'.repeat(2000) } }],
    ['pre-tool-use.bash_cd', 'pre-tool-use', { ...common, hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command: 'cd src && git diff --stat | head -5' } }],
    ['pre-tool-use.bash_git_C', 'pre-tool-use', { ...common, hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command: 'git -C src log --oneline -5' } }],
    ['pre-tool-use.bash_time', 'pre-tool-use', { ...common, hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command: 'time git status --short' } }],
    ['pre-tool-use.bash_engine_tail', 'pre-tool-use', { ...common, hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command: `${engine} 2>&1 | tail -5` } }],
    ['pre-tool-use.bash_find', 'pre-tool-use', { ...common, hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command: 'find src -name "*.ts" -newer src/a.ts' } }],
    ['pre-tool-use.bash_scratch', 'pre-tool-use', { ...common, hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command: `mkdir -p ${SCRATCH} && git diff > ${SCRATCH}/diff.txt 2>&1` } }],
    ['pre-tool-use.bash_node', 'pre-tool-use', { ...common, hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command: 'grep -n cost src/*.ts | head -20' } }],
    // A long command the guard walks in Node: 100 writes outside the project (the Bash guard's per-write cost in a whole call).
    ['pre-tool-use.bash_100_writes', 'pre-tool-use', { ...common, hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command: Array.from({ length: 100 }, (_, i) => `echo ${i} > ${dir}/out/f${i}`).join(' && ') } }],
    ['post-tool-use.bash_engine', 'post-tool-use', { ...common, hook_event_name: 'PostToolUse', tool_name: 'Bash', tool_input: { command: engine }, tool_response: { stdout: '{}' } }],
    ['post-tool-use.bash_engine_claim', 'post-tool-use', { ...common, session_id: 'other', hook_event_name: 'PostToolUse', tool_name: 'Bash', tool_input: { command: engine }, tool_response: { stdout: '{}' } }],
    ['stop', 'stop', { ...common, hook_event_name: 'Stop', stop_hook_active: false }],
    ['session-start', 'session-start', { ...common, hook_event_name: 'SessionStart', source: 'startup' }],
    ['pre-tool-use.other_bash', 'pre-tool-use', { ...other, hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command: 'git status --short' } }],
    ['pre-tool-use.other_edit', 'pre-tool-use', { ...other, hook_event_name: 'PreToolUse', tool_name: 'Edit', tool_input: { file_path: path.join(project, 'README.md'), old_string: 'a', new_string: 'b' } }],
    ['pre-write.other_write_50kB', 'pre-write', { ...other, hook_event_name: 'PreToolUse', tool_name: 'Write', tool_input: { file_path: path.join(project, 'docs/big.md'), content: 'some "text"\n'.repeat(4000) } }],
    ['session-start.other', 'session-start', { ...other, hook_event_name: 'SessionStart', source: 'startup' }],
    ['stop.other', 'stop', { ...other, hook_event_name: 'Stop', stop_hook_active: false, last_assistant_message: 'Reworded the README.' }],
    // Its node and npx calls (hooks.json sends each to PostToolUse): a build whose output fills 20 kB, and a short one.
    ['post-tool-use.other_node_20kB', 'post-tool-use', { ...other, hook_event_name: 'PostToolUse', tool_name: 'Bash', tool_input: { command: 'node scripts/build.mjs 2>&1 | tail -20', description: 'Build' }, tool_response: { stdout: 'built "dist/x.js"\n'.repeat(1100), stderr: '', interrupted: false, isImage: false }, tool_use_id: 'toolu_9' }],
    ['post-tool-use.other_node_6kB_json', 'post-tool-use', { ...other, hook_event_name: 'PostToolUse', tool_name: 'Bash', tool_input: { command: 'node scripts/dump.mjs --json', description: 'Dump' }, tool_response: { stdout: JSON.stringify(Array.from({ length: 300 }, (_, i) => ({ k: i }))), stderr: '', interrupted: false, isImage: false }, tool_use_id: 'toolu_7' }],
    ['post-tool-use.other_npx', 'post-tool-use', { ...other, hook_event_name: 'PostToolUse', tool_name: 'Bash', tool_input: { command: 'npx tsc --noEmit', description: 'Typecheck' }, tool_response: { stdout: '', stderr: '', interrupted: false, isImage: false }, tool_use_id: 'toolu_8' }],
    // After control stop (active.json stays until clear or resume): the owner's calls, as anyone's.
    ['pre-tool-use.stopped_loop_edit', 'pre-tool-use', { ...common, hook_event_name: 'PreToolUse', tool_name: 'Edit', tool_input: { file_path: path.join(project, 'src/a.ts'), old_string: 'a', new_string: 'b' } }],
    ['stop.stopped_loop', 'stop', { ...common, hook_event_name: 'Stop', stop_hook_active: false }],
    // Payloads under 8 kB are walked whole in the shell: the owner's Stop after a long final message
    // (prose: long runs between quotes) and an Edit of a 7 kB block of code.
    ['stop.prose_7kB', 'stop', { ...common, hook_event_name: 'Stop', stop_hook_active: false, last_assistant_message: PROSE, background_tasks: [], session_crons: [] }],
    ['stop.other_prose_7kB', 'stop', { ...other, hook_event_name: 'Stop', stop_hook_active: false, last_assistant_message: PROSE, background_tasks: [], session_crons: [] }],
    ['pre-tool-use.edit_7kB', 'pre-tool-use', { ...common, hook_event_name: 'PreToolUse', tool_name: 'Edit', tool_input: { file_path: path.join(project, 'src/a.ts'), old_string: CODE.slice(0, 200), new_string: CODE } }],
    ['pre-read.project_file', 'pre-read', { ...common, hook_event_name: 'PreToolUse', tool_name: 'Read', tool_input: { file_path: path.join(project, 'src/a.ts') } }],
  ];
};
const calls = callsOf(ROOT);

// A call that starts Node: a glob operand (the shell leaves it to Node).
const viaNode = calls.find(([n]) => n === 'pre-tool-use.bash_node')!;

function timeMs(cmd: string, args: string[], cwd: string, input: string, env: NodeJS.ProcessEnv): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd, input, env, stdio: ['pipe', 'ignore', 'ignore'] });
  if (r.error && (r.error as NodeJS.ErrnoException).code !== 'EPIPE') throw r.error;
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
// Claude Code gives each hook the session's id in the environment as well as in the payload.
const envFor = (p: string, session = 's', root = ROOT, cache = data): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  HOME: dir,
  CLAUDE_PLUGIN_ROOT: root,
  CLAUDE_PROJECT_DIR: p,
  CLAUDE_CODE_SESSION_ID: session,
  CLAUDE_PLUGIN_DATA: cache,
});
const noCache = (p: string): NodeJS.ProcessEnv => ({ ...envFor(p), CLAUDE_PLUGIN_DATA: undefined });

// The other session's calls through an earlier run.sh (the same dist/), for the before/after ratio.
const BEFORE = process.env.AUTOLOOP_BENCH_BEFORE_HOOKS ? path.resolve(process.env.AUTOLOOP_BENCH_BEFORE_HOOKS, 'run.sh') : null;
if (BEFORE && !fs.existsSync(BEFORE)) {
  console.error(`bench/hooks: ${BEFORE} is missing (AUTOLOOP_BENCH_BEFORE_HOOKS names an earlier hooks/ folder)`);
  process.exit(2);
}
// An earlier plugin copy, asked every PreToolUse call (pre-tool-use, pre-write, pre-read) in turns with ours.
const BEFORE_ROOT = process.env.AUTOLOOP_BENCH_BEFORE_ROOT ? path.resolve(process.env.AUTOLOOP_BENCH_BEFORE_ROOT) : null;
if (BEFORE_ROOT && !fs.existsSync(path.join(BEFORE_ROOT, 'dist', 'hooks.cjs'))) {
  console.error(`bench/hooks: ${BEFORE_ROOT}/dist/hooks.cjs is missing (AUTOLOOP_BENCH_BEFORE_ROOT names an earlier checkout, built)`);
  process.exit(2);
}
const beforeData = path.join(dir, 'data-before');
fs.mkdirSync(beforeData);
const thenCalls = BEFORE_ROOT ? callsOf(BEFORE_ROOT).filter(([n]) => n.startsWith('pre-')) : [];
// With the calls the shell answers by writing session.json (the owner's Stop, a claim: under its lock).
const others = calls.filter(([n]) => n.includes('.other') || n.includes('stopped_loop') || n === 'stop' || n.endsWith('_claim') || n.endsWith('_7kB'));
const stoppedLoop = (name: string): boolean => name.includes('stopped_loop');
const samples = new Map<string, number[]>([['bare', []], ['no_autoloop', []], ['shell_form', []], ['no_cache', []], ...calls.map(([n]) => [n, []] as [string, number[]]), ...others.map(([n]) => [`${n}.before`, []] as [string, number[]]), ...thenCalls.map(([n]) => [`${n}.then`, []] as [string, number[]])]);
const sessionOf = (payload: object): string => (payload as { session_id: string }).session_id;
for (let round = -1; round < ROUNDS; round++) {
  // Interleave: one bare node start, then each hook once.
  const add = (k: string, ms: number) => round >= 0 && samples.get(k)!.push(ms);
  ownedBySession();
  add('bare', timeMs(process.execPath, ['-e', '0'], dir, '', envFor(project)));
  add('no_autoloop', timeMs('sh', [RUN_SH, 'pre-tool-use'], bare, '{}', envFor(bare)));
  for (const [name, event, payload] of calls) {
    ownedBySession(); // the claim hands the loop over, and Stop counts its blocks: each call starts from the same state
    if (stoppedLoop(name)) fs.writeFileSync(activeFile, activeOf('stopped'));
    add(name, timeMs('sh', [RUN_SH, event], project, JSON.stringify(payload), envFor(project, sessionOf(payload))));
    if (stoppedLoop(name)) fs.writeFileSync(activeFile, activeOf('active'));
  }
  for (const [name, event, payload] of BEFORE ? others : []) {
    ownedBySession();
    if (stoppedLoop(name)) fs.writeFileSync(activeFile, activeOf('stopped'));
    add(`${name}.before`, timeMs('sh', [BEFORE!, event], project, JSON.stringify(payload), envFor(project, sessionOf(payload))));
    if (stoppedLoop(name)) fs.writeFileSync(activeFile, activeOf('active'));
  }
  for (const [name, event, payload] of thenCalls) {
    ownedBySession();
    if (stoppedLoop(name)) fs.writeFileSync(activeFile, activeOf('stopped'));
    const run = path.join(BEFORE_ROOT!, 'hooks', 'run.sh');
    add(`${name}.then`, timeMs('sh', [run, event], project, JSON.stringify(payload), envFor(project, sessionOf(payload), BEFORE_ROOT!, beforeData)));
    if (stoppedLoop(name)) fs.writeFileSync(activeFile, activeOf('active'));
  }
  ownedBySession();
  add('no_cache', timeMs('sh', [RUN_SH, viaNode[1]], project, JSON.stringify(viaNode[2]), noCache(project)));
  ownedBySession();
  add('shell_form', timeMs('sh', ['-c', `sh "${RUN_SH}" pre-tool-use`], project, JSON.stringify(calls[0]![2]), envFor(project)));
}

const base = median(samples.get('bare')!);
console.log(`baseline.node_e0_ms ${base.toFixed(1)}`);
console.log(`hooks.no_autoloop ${median(samples.get('no_autoloop')!).toFixed(1)} ms (no node started)`);
for (const [name] of calls) {
  const ms = median(samples.get(name)!);
  console.log(`hooks.${name} ${(ms / base).toFixed(2)}x node -e 0 (${ms.toFixed(1)} ms; target <= 1x)`);
}
const ratio = (k: string): number => median(samples.get(k)!) / base;
for (const [name] of BEFORE ? others : []) console.log(`hooks.${name}.before ${ratio(`${name}.before`).toFixed(2)}x node -e 0 (${BEFORE}), now ${ratio(name).toFixed(2)}x`);
for (const [name] of thenCalls) console.log(`hooks.${name}.vs_before ${(median(samples.get(name)!) / median(samples.get(`${name}.then`)!)).toFixed(2)}x the earlier copy's call (${BEFORE_ROOT}: ${ratio(`${name}.then`).toFixed(2)}x node -e 0, now ${ratio(name).toFixed(2)}x)`);
console.log(`hooks.${calls[0]![0]}.shell_form ${ratio('shell_form').toFixed(2)}x node -e 0 (sh -c around it: what a command string in hooks.json costs)`);
console.log(`hooks.${viaNode[0]}.no_cache ${ratio('no_cache').toFixed(2)}x node -e 0 (no data folder, so no code cache)`);
// One iteration of the loop: Edit, then run and log (each a PreToolUse and a PostToolUse of the owner).
const iteration = ['pre-tool-use.edit', 'pre-tool-use.bash_engine', 'post-tool-use.bash_engine', 'pre-tool-use.bash_engine', 'post-tool-use.bash_engine'];
const mean = iteration.reduce((a, k) => a + ratio(k), 0) / iteration.length;
console.log(`hooks.iteration ${iteration.length} calls, mean ${mean.toFixed(2)}x node -e 0 per call (${(mean * iteration.length).toFixed(1)} bare starts' worth per iteration)`);
const bundles = fs.readdirSync(path.dirname(BUNDLE)).filter((f) => /^hooks(-[a-z]+)?\.cjs$/.test(f)).sort();
console.log(`hooks.bundle_bytes ${bundles.map((f) => `${f} ${fs.statSync(path.join(path.dirname(BUNDLE), f)).size}`).join(', ')}`);
fs.rmSync(dir, { recursive: true, force: true });
