// `make bench` beside a bench/ folder: make takes the goal for that path, finds
// it up to date and runs no recipe, so the benchmark prints nothing and every
// run is `invalid` with "make: 'bench' is up to date". Init says so at once.
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from './schema.ts';
import { cdTargets, shellTokens } from './integrity.ts';
import { parseMakefile, runnerCalls } from './task-runners.ts';

/**
 * Goals of a make call (in `dir`) that name an existing path, that no `.PHONY` rule lists, and
 * whose rules have no prerequisite (with one, a changed source makes make run the recipe).
 */
export function goalsOnDisk(dir: string, makefileText: string, goals: readonly string[]): string[] {
  const { rules } = parseMakefile(makefileText);
  const phony = new Set(rules.filter((r) => r.targets.includes('.PHONY')).flatMap((r) => r.prereqs));
  const hasPrereqs = (g: string) => rules.some((r) => r.targets.includes(g) && r.prereqs.length > 0);
  return goals.filter((g) => !phony.has(g) && !hasPrereqs(g) && fs.existsSync(path.resolve(dir, g)));
}

function makefileText(dir: string, file: string | null): string | null {
  for (const name of file !== null ? [file] : ['GNUmakefile', 'makefile', 'Makefile']) {
    try {
      return fs.readFileSync(path.resolve(dir, name), 'utf8');
    } catch {
      // the next name make would try
    }
  }
  return null;
}

/** One warning per make goal of the commands that make would take for a file or folder already there. */
export function makeGoalWarnings(root: string, config: Pick<Config, 'command' | 'checks'>): string[] {
  const out: string[] = [];
  for (const cmd of [config.command, config.checks]) {
    if (!cmd) continue;
    for (const call of runnerCalls(shellTokens(cmd))) {
      if (call.tool !== 'make' || !call.targets.length) continue;
      for (const cwd of [root, ...cdTargets(cmd).map((d) => path.resolve(root, d))]) {
        const dir = path.resolve(cwd, call.dir);
        const text = makefileText(dir, call.file);
        if (text === null) continue;
        for (const goal of goalsOnDisk(dir, text, call.targets)) {
          const where = path.relative(root, path.resolve(dir, goal)).split(path.sep).join('/');
          out.push(`make goal "${goal}" is also the path ${where}, and no .PHONY rule lists it: make will find it up to date and run nothing (add ".PHONY: ${goal}" to the Makefile)`);
        }
        break;
      }
    }
  }
  return [...new Set(out)];
}
