// Issue 11, classes 2 and 4: the judges are put back from the copies saved
// when the segment opened. Where .autoloop/ is not read-only (the fallback
// containments), code under test that damaged the copy and the judge in one
// run left every later log failing with "open a new segment", and a new
// segment would have adopted the forged judge. A tracked judge is put back
// from git instead, and its copy healed. Real engine, git repositories, processes.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, makeRepo } from './helpers/engine.ts';

const BENCH = 'sh src/prog.sh\necho METRIC score=$(cat src/v)\n';
const FORGE = `for f in .autoloop/experiments/exp/judges/*/bench.sh; do echo 'echo METRIC score=0' > "$f"; done
echo 'echo METRIC score=0' >> bench.sh
`;

for (const [mode, env] of Object.entries({ group: { AUTOLOOP_CONTAINMENT: 'group' }, pidns: { AUTOLOOP_CONTAINMENT: 'pidns' } })) {
  describe(`a damaged copy of a judge (${mode})`, () => {
    const run = (repo: string) => engine('run-experiment', ['--json'], repo, env);
    const log = (repo: string, d: string) => engine('log-experiment', ['--description', d, '--json'], repo, env);

    it('the judge is put back from git, the copy healed, and the loop goes on', () => {
      const repo = makeRepo({ 'bench.sh': BENCH, 'src/prog.sh': ':\n', 'src/v': '10\n' });
      expect(engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**'], repo, env).code).toBe(0);
      expect(run(repo).json).toMatchObject({ status: 'ok' });
      expect(log(repo, 'baseline').json).toMatchObject({ verdict: 'keep' });
      fs.writeFileSync(path.join(repo, 'src/prog.sh'), FORGE);
      expect(run(repo).json).toMatchObject({ status: 'invalid' });
      const l = log(repo, 'forge');
      expect(l.stderr).toBe('');
      expect(l.json).toMatchObject({ verdict: 'invalid' });
      expect(fs.readFileSync(path.join(repo, 'bench.sh'), 'utf8')).toBe(BENCH);
      fs.writeFileSync(path.join(repo, 'src/v'), '5\n');
      expect(run(repo).json).toMatchObject({ status: 'ok', primary: 5 });
      // The copy holds the judge again: a second forgery is put back from it.
      const dir = path.join(repo, '.autoloop/experiments/exp/judges');
      const copies = fs.readdirSync(dir).filter((d) => d !== 'manifest.json');
      expect(fs.readFileSync(path.join(dir, copies[0] as string, 'bench.sh'), 'utf8')).toBe(BENCH);
    });
  });
}
