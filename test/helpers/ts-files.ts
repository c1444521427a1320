// Each source file of the repository's TypeScript project, parsed by the
// compiler (TypeScript 7's API: the native compiler parses, this process walks
// the tree); the structure tests (function-lengths.ts, branches.ts) walk them.
import path from 'node:path';
import { API } from 'typescript/unstable/sync';
import type { SourceFile } from 'typescript/unstable/ast';

/** Calls `each` with every file of `files` (relative to root) as the project parsed it. */
export function forEachSourceFile(root: string, files: readonly string[], each: (file: string, sf: SourceFile) => void): void {
  const api = new API({ cwd: root });
  try {
    const snap = api.updateSnapshot({ openProject: path.join(root, 'tsconfig.json') });
    const program = snap.getProjects()[0]?.program;
    if (!program) throw new Error('tsconfig.json opened no project');
    for (const file of files) {
      const sf = program.getSourceFile(path.join(root, file));
      if (!sf) throw new Error(`${file} is not in the project`);
      each(file, sf);
    }
  } finally {
    api.close();
  }
}
