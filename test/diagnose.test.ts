// diagnose --profile: the benchmark's own processes profiled (Node through the
// inspector preload, Python through cProfile), and beside each profile a short
// text of its top functions, which is what the model reads. Real engine, real
// repository, real node and python3 processes.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { benchRepo, git, run, write } from './helpers/loop.ts';

// A benchmark whose time goes to one function the summary must name.
const NODE_BENCH = `
function burnThePrimes(n) { let c = 0; for (let i = 2; i < n; i++) { let p = true; for (let d = 2; d * d <= i; d++) if (i % d === 0) { p = false; break; } if (p) c++; } return c; }
function keepBuffers() { globalThis.kept = []; for (let i = 0; i < 50; i++) globalThis.kept.push(new Array(20000).fill(i)); return globalThis.kept.length; }
// A fixed amount of work, not a time: on a loaded machine a time-boxed loop
// gets few CPU samples while the allocations still cost what they cost, and
// the summary's first row went to keepBuffers. This is ~20x its work.
let c = 0;
for (let k = 0; k < 500; k++) c += burnThePrimes(20000);
keepBuffers();
console.log('METRIC score=' + c);
`;
const PY_BENCH = `
def burn_the_primes(n):
    c = 0
    for i in range(2, n):
        if all(i % d for d in range(2, int(i ** 0.5) + 1)):
            c += 1
    return c
print("METRIC score=%d" % sum(burn_the_primes(20000) for _ in range(3)))
`;

function repoWith(command: string, files: Record<string, string>): string {
  const repo = benchRepo('100');
  for (const [rel, text] of Object.entries(files)) write(repo, rel, text);
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', 'benchmarks');
  const init = run('init-experiment', ['--name', 'd', '--metric', 'score', '--direction', 'higher', '--command', command, '--scope', 'src/**', '--json'], repo);
  expect(init.code, init.stderr).toBe(0);
  return repo;
}

describe('diagnose --profile', () => {
  it('writes each Node process profile with a summary that names its hot function (CPU) and its allocating function (heap)', () => {
    const repo = repoWith('node nb.cjs', { 'nb.cjs': NODE_BENCH });
    const cpu = run('diagnose', ['--profile', 'node-cpu', '--json'], repo);
    expect(cpu.code, cpu.stderr).toBe(0);
    const j = cpu.json as { dir: string; files: string[]; summaries: string[]; runs: { metrics: Record<string, number[]> }[] };
    expect(j.runs[0]!.metrics.score![0]).toBeGreaterThan(0);
    expect(j.files.some((f) => f.endsWith('.cpuprofile'))).toBe(true);
    expect(j.summaries).toHaveLength(1);
    const text = fs.readFileSync(path.join(repo, j.summaries[0]!), 'utf8');
    const first = text.split('\n')[1]!;
    expect(first).toMatch(/burnThePrimes .*nb\.cjs:2$/);
    expect(Number(first.trim().split('%')[0])).toBeGreaterThan(30);
    // Short enough to read: a title and at most 25 rows.
    expect(text.trim().split('\n').length).toBeLessThanOrEqual(26);
    expect(run('diagnose', ['--profile', 'node-cpu'], repo).stdout).toMatch(/^top functions: \.autoloop\/experiments\/d\/scratch\/diagnose-[^ ]+\/CPU\.\d+\.cpuprofile\.txt$/m);

    const heap = run('diagnose', ['--profile', 'node-heap', '--json'], repo);
    expect(heap.code, heap.stderr).toBe(0);
    const h = heap.json as { summaries: string[] };
    expect(h.summaries).toHaveLength(1);
    expect(fs.readFileSync(path.join(repo, h.summaries[0]!), 'utf8')).toMatch(/^Heap: [^\n]*\n[^\n]*% +\d+ B  keepBuffers\b/);
  });

  const python = spawnSync('python3', ['-c', 'import cProfile, pstats'], { encoding: 'utf8' }).status === 0;
  it.runIf(python)("summarises a Python process's cProfile dump through python3, the path passed as an argument", () => {
    // A path with a space and a quote: never part of the program text.
    const repo = repoWith("python3 \"py b'ench.py\"", { "py b'ench.py": PY_BENCH });
    const r = run('diagnose', ['--profile', 'py-cpu', '--json'], repo);
    expect(r.code, r.stderr).toBe(0);
    const j = r.json as { files: string[]; summaries: string[] };
    expect(j.files.some((f) => /^py-\d+\.prof$/.test(f))).toBe(true);
    expect(j.summaries).toHaveLength(1);
    const text = fs.readFileSync(path.join(repo, j.summaries[0]!), 'utf8');
    expect(text).toMatch(/^Python: cumulative time by function, top 25/);
    expect(text).toMatch(/burn_the_primes/);
  });

  it('writes no summary without --profile', () => {
    const repo = repoWith('node nb.cjs', { 'nb.cjs': NODE_BENCH });
    const plain = run('diagnose', ['--json'], repo);
    expect(plain.code, plain.stderr).toBe(0);
    expect((plain.json as { summaries: string[] }).summaries).toEqual([]);
    expect(plain.stdout).not.toMatch(/top functions/);
  });
});
