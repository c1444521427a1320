// A fixture with the experiment set up and its baseline logged, for the e2e
// sessions. The user's side (three engine calls with argument arrays, the
// baseline's samples) runs once per test file and set of init flags into a
// template, copied whole into each test's own fixture: right after the
// baseline nothing in the repository names its own path.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { afterAll } from 'vitest';
import { makeFixture, type Fixture } from '../e2e/fixture.ts';

/** The experiment every such template starts: the fixture's deterministic benchmark and checks. */
export const SPEED_INIT = ['--name', 'speed', '--metric', 'time_ms', '--direction', 'lower', '--command', 'node bench/bench.mjs', '--checks', 'node bench/check.mjs', '--scope', 'src/**'];

/**
 * dist(script): the engine bundle to run; fresh(): the test's own fixture (its repo is replaced by
 * the template's). Returns baselineFixture(...extra init flags). Templates are removed after the file.
 */
export function baselineTemplates(dist: (script: string) => string, fresh: () => Fixture): (...extra: string[]) => Fixture {
  const templates = new Map<string, Fixture>();
  afterAll(() => {
    for (const t of templates.values()) t.cleanup();
  });
  return (...extra) => {
    const key = JSON.stringify(extra);
    let template = templates.get(key);
    if (template === undefined) {
      template = makeFixture();
      templates.set(key, template);
      const run = (script: string, ...args: string[]): string => execFileSync('node', [dist(script), ...args, '--json'], { cwd: template!.repo, encoding: 'utf8', timeout: 120_000 });
      run('init-experiment.mjs', ...SPEED_INIT, ...extra);
      run('run-experiment.mjs');
      const logged = JSON.parse(run('log-experiment.mjs', '--description', 'baseline')) as { verdict?: unknown };
      if (logged.verdict !== 'keep') throw new Error(`baseline template: the baseline was not kept (${String(logged.verdict)})`);
    }
    const f = fresh();
    fs.rmSync(f.repo, { recursive: true, force: true });
    fs.cpSync(template.repo, f.repo, { recursive: true, verbatimSymlinks: true });
    return f;
  };
}
