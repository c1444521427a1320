// The task-runner calls a benchmark command makes, and the Makefile rules
// followed from a goal: pure parsing on the shell lexer's tokens.
import { describe, expect, it } from 'vitest';
import { shellTokens } from '../scripts/lib/integrity.ts';
import { execCalls, parseMakefile, runnerCalls } from '../scripts/lib/task-runners.ts';

const calls = (cmd: string) => runnerCalls(shellTokens(cmd)).map((c) => `${c.tool} ${c.dir || '.'} ${c.file ?? '-'} ${c.targets.join(',') || '(default)'}`);

describe('runnerCalls', () => {
  it('finds make with its directory, file and goals, behind assignments and prefixes', () => {
    expect(calls('make -s bench')).toEqual(['make . - bench']);
    expect(calls('cd x && time make -C sub -f bench.mk -j 4 N=3 a b')).toEqual(['make sub bench.mk a,b']);
    expect(calls('OMP_NUM_THREADS=1 nice -n 5 gmake --directory=d --file=M')).toEqual(['make d M (default)']);
  });

  it('finds the script an npm, yarn, pnpm or bun call runs, and not a built-in', () => {
    expect(calls('npm run -s bench; npm test; npm --prefix web run build')).toEqual(['npm . - bench', 'npm . - test', 'npm web - build']);
    expect(calls('yarn bench && pnpm run score | tee out.txt')).toEqual(['npm . - bench', 'npm . - score']);
    expect(calls('bun test; npm install; npx vitest; echo make')).toEqual([]);
  });
});

describe('execCalls', () => {
  const execs = (cmd: string) => execCalls(shellTokens(cmd)).map((c) => `${c.runner} ${c.dir || '.'}`);
  it('finds the node runners that start a package\'s program (their config reaches it), and nothing else', () => {
    expect(execs('npx --no-install node score.js; npm exec -- vitest bench; bunx x; pnpm dlx y; yarn exec z')).toEqual(['npm .', 'npm .', 'bun .', 'pnpm .', 'yarn .']);
    expect(execs('nice npx --prefix web scorer')).toEqual(['npm web']);
    expect(execs('npm run bench; npm test; node x.js; make exec; echo npx')).toEqual([]);
  });
});

describe('parseMakefile', () => {
  it('takes rules with their prerequisites and recipes, continuation lines and includes, not assignments', () => {
    const mk = 'include common.mk\nPY := python3\nX = a:b\nscore: data.csv | out ; echo hi\n\t@$(PY) score.py \\\n\t  --data data.csv\n\t-rm -f tmp\n.PHONY: score\n';
    const { rules, includes } = parseMakefile(mk);
    expect(includes).toEqual(['common.mk']);
    expect(rules).toEqual([
      { targets: ['score'], prereqs: ['data.csv', 'out'], recipe: ['echo hi', '$(PY) score.py  --data data.csv', 'rm -f tmp'] },
      { targets: ['.PHONY'], prereqs: ['score'], recipe: [] },
    ]);
  });
});
