// The code a judge runs besides its own lines. A benchmark linked into a folder
// (`bench.py -> eval/run.py`) is run by Python and Node from where the link
// points: `import helpers` and `require('./lib.js')` load eval/helpers.py and
// eval/lib.js, which no command line names. Neither did a plain judge's own
// sibling modules: they were left to the outside-change check, which sets an
// edit aside and measures with it (a helpers.py scoring a tenth kept a change
// at +90%). So the link's target, and the modules a judge imports from its own
// directory (Python) or by a relative path (Node), are judges too, followed
// through their own imports; a file the scope names stays the code under test.
import fs from 'node:fs';
import path from 'node:path';
import { pythonSiblings } from './py-shadows.ts';
import { nodeShadows } from './node-shadows.ts';

/** At most this many files reached from the judges (a generated tree of imports is not followed whole). */
export const MAX_REACHED = 500;

/** The repository file a linked judge resolves to (repository-relative), or null: not a link, or outside the repository. */
export function linkTarget(root: string, rel: string): string | null {
  try {
    if (!fs.lstatSync(path.join(root, rel)).isSymbolicLink()) return null;
    const real = fs.realpathSync(path.join(root, rel));
    const out = path.relative(fs.realpathSync(root), real);
    return out === '' || out.startsWith('..') || path.isAbsolute(out) ? null : out.split(path.sep).join('/');
  } catch {
    return null;
  }
}

/** The files the judges reach, the judges themselves left out; `judge(rel)`: may this file be a judge (not in scope, not engine state)? */
export function reachedCode(root: string, judges: readonly string[], judge: (rel: string) => boolean): string[] {
  const seen = new Set(judges);
  const out: string[] = [];
  const queue = [...judges];
  while (queue.length > 0 && out.length < MAX_REACHED) {
    const rel = queue.shift() as string;
    const target = linkTarget(root, rel);
    const next = [...(target ? [target] : []), ...pythonSiblings(root, rel), ...nodeShadows(root, rel).local];
    for (const s of next) {
      if (seen.has(s) || !judge(s)) continue;
      seen.add(s);
      out.push(s);
      queue.push(s);
    }
  }
  return out;
}
