// Scope globs are read from the repository top, wherever a command runs:
// init-experiment and chain check that each names something there.
import path from 'node:path';
import { UsageError } from './errors.ts';
import { anyFile, compileScope } from './scope.ts';

/** Does a scope glob name any file of the tree at `root`? */
function globMatches(root: string, glob: string): boolean {
  const s = compileScope([glob], []);
  return anyFile(root, s.bases, s.inScope);
}

/**
 * Scope globs are relative to the repository top, wherever init runs: a glob
 * that matches nothing there but does below the directory it ran in was meant
 * from that directory, and is refused with the glob that says so; any other
 * glob that matches nothing yet is a warning (it may name files to come).
 */
export function scopeWarnings(root: string, cwd: string, scope: readonly string[]): string[] {
  const sub = path.relative(root, cwd).split(path.sep).join('/');
  const inside = sub !== '' && !sub.startsWith('..') && !path.isAbsolute(sub);
  const out: string[] = [];
  for (const glob of scope) {
    if (glob.startsWith('!') || globMatches(root, glob)) continue;
    const meant = `${sub}/${glob.replace(/^(\.\/)+/, '')}`;
    if (inside && globMatches(root, meant)) {
      throw new UsageError(`--scope "${glob}" matches no file: scope globs are relative to the repository top (${root}), not to ${sub}; did you mean --scope "${meant}"?`);
    }
    out.push(`--scope "${glob}" matches no file yet (scope globs are relative to the repository top, ${root})`);
  }
  return out;
}
