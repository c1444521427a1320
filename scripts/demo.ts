// npm run demo: the loop, working, with no model. Copies examples/primes to a
// temporary git repository and drives the real engine through scripted
// candidate changes (examples/demo-steps/*.patch): a baseline, a kept
// improvement, a reverted regression, a crash, a timeout, a run refused
// because the benchmark was edited, another keep, and termination at the target.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const useColor = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: string) => (s: string) => (useColor ? `\x1b[${code}m${s}\x1b[0m` : s);
const bold = paint('1');
const dim = paint('2');
const cyan = paint('36');
const green = paint('32');
const red = paint('31');

function engine(name: string, args: string[], cwd: string): { code: number; out: string } {
  const bundle = path.join(ROOT, 'dist', `${name}.mjs`);
  const argv = fs.existsSync(bundle)
    ? [bundle, ...args]
    : [path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), path.join(ROOT, 'scripts', `${name}.ts`), ...args];
  const r = spawnSync(process.execPath, [...argv, '--cwd', cwd], { encoding: 'utf8' });
  return { code: r.status ?? 1, out: `${r.stdout}${r.stderr}`.trimEnd() };
}

function git(cwd: string, ...args: string[]): string {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

function show(out: string): void {
  for (const line of out.split('\n')) {
    const colored = /\bKEEP\b/.test(line) ? green(line) : /\b(DISCARD|CRASH|TIMEOUT|INVALID|CHECKS_FAILED|STOP)\b/.test(line) ? red(line) : line;
    console.log(`   ${colored}`);
  }
}

const started = Date.now();
const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-demo-'));
fs.cpSync(path.join(ROOT, 'examples', 'primes'), repo, { recursive: true });
git(repo, 'init', '-q', '-b', 'main');
git(repo, 'add', '-A');
git(repo, '-c', 'user.name=demo', '-c', 'user.email=demo@example.invalid', 'commit', '-qm', 'primes: naive version');
// A file of the user's that no keep or revert may touch.
fs.writeFileSync(path.join(repo, 'MY-NOTES.txt'), 'my own notes, not part of the experiment\n');

console.log(bold('autoloop demo') + dim(`  (repository: ${repo})`));
console.log(cyan('\n▶ init-experiment: metric ops (lower is better), scope src/**, target 150000'));
const init = engine(
  'init-experiment',
  [
    '--name', 'faster-primes',
    '--goal', 'Count primes below 20000 with fewer divisions',
    '--metric', 'ops', '--unit', 'ops', '--direction', 'lower',
    '--command', 'node bench/bench.js',
    '--checks', 'node test/check.js',
    '--scope', 'src/**',
    '--timeout', '3', '--grace', '1',
    '--target', '150000', '--max-runs', '20',
  ],
  repo,
);
show(init.out);
if (init.code !== 0) process.exit(init.code);

const env = { GIT_AUTHOR_NAME: 'demo', GIT_AUTHOR_EMAIL: 'demo@example.invalid', GIT_COMMITTER_NAME: 'demo', GIT_COMMITTER_EMAIL: 'demo@example.invalid' };
Object.assign(process.env, env);

const steps = [{ name: 'baseline', description: 'baseline', patch: null as string | null }];
const dir = path.join(ROOT, 'examples', 'demo-steps');
for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.patch')).sort()) {
  const text = fs.readFileSync(path.join(dir, f), 'utf8');
  steps.push({ name: f.replace(/\.patch$/, ''), description: text.split('\n')[0] ?? f, patch: path.join(dir, f) });
}

let terminated = false;
for (const [i, step] of steps.entries()) {
  console.log(cyan(`\n▶ [${i + 1}/${steps.length}] ${step.name}`) + dim(` — ${step.description}`));
  if (step.patch) git(repo, 'apply', step.patch);
  const run = engine('run-experiment', [], repo);
  show(run.out.split('\n').filter((l) => !l.startsWith('next:')).slice(0, 6).join('\n'));
  const log = engine('log-experiment', ['--description', step.description], repo);
  show(log.out);
  if (log.code !== 0) process.exit(log.code);
  if (/^STOP:/m.test(log.out)) {
    terminated = true;
    break;
  }
}

console.log(cyan('\n▶ status'));
show(engine('status', [], repo).out);
console.log(cyan('\n▶ git log autoloop/faster-primes'));
show(git(repo, 'log', '--format=%h %s', 'autoloop/faster-primes'));
const notes = fs.existsSync(path.join(repo, 'MY-NOTES.txt'));
console.log(`\n${notes ? green('✔') : red('✘')} the user's untracked MY-NOTES.txt survived every keep and revert`);
console.log(`${terminated ? green('✔') : red('✘')} the loop terminated by itself`);
console.log(dim(`done in ${((Date.now() - started) / 1000).toFixed(1)}s; the repository is kept at ${repo}`));
if (!terminated || !notes) process.exit(1);
