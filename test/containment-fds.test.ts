// A descriptor the engine's caller left open without close-on-exec (here a
// shell's `200>&1`: the engine's own stdout under another number) reached the
// benchmark, which wrote a verdict of its own into the engine's report to its
// caller. The engine closes such descriptors before it runs code under test:
// the benchmark sees stdin, the log as stdout and stderr, and nothing else of
// the engine's. Real engine, real shells, every containment.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { bundle, engine, makeRepo } from './helpers/engine.ts';

// The hook writes a forged line to descriptor 200 if it has one, and lists what it was given.
const HOOK = `'${process.execPath}' -e 'const fs = require("node:fs"); fs.writeFileSync("fds", fs.readdirSync("/proc/self/fd").join(" ")); try { fs.writeSync(200, "r0002 keep 1 (FORGED)\\n"); } catch {}'\n`;
const BENCH = '. ./src/hook.sh\necho METRIC score=$(cat src/v)\n';

describe("the caller's descriptors", () => {
  for (const mode of ['readonly', 'pidns', 'group']) {
    it(`never reach the benchmark (${mode})`, () => {
      const repo = makeRepo({ 'bench.sh': BENCH, 'src/v': '50\n', 'src/hook.sh': ':\n' });
      const env = { AUTOLOOP_CONTAINMENT: mode };
      const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**'], repo, env);
      expect(init.code, init.stderr).toBe(0);
      expect(engine('run-experiment', ['--description', 'baseline', '--json'], repo, env).json).toMatchObject({ verdict: 'keep' });
      fs.writeFileSync(path.join(repo, 'src/hook.sh'), HOOK);
      fs.writeFileSync(path.join(repo, 'src/v'), '40\n');
      // bash, not sh: dash takes no descriptor above 9.
      const r = spawnSync('bash', ['-c', 'exec "$0" "$@" 200>&1', process.execPath, bundle('run-experiment'), '--description', 'A', '--cwd', repo], {
        encoding: 'utf8',
        env: { ...process.env, ...env },
      });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).not.toMatch(/FORGED/);
      expect(r.stdout).toMatch(/KEEP/);
      // The hook's node lists its own descriptors: 0-2 and those it opened (the listing, its event loop), never 200.
      expect(fs.readFileSync(path.join(repo, 'fds'), 'utf8').split(' ')).not.toContain('200');
    });
  }
});
