// Analysis-first support: the experiment's scratch area (a folder per run for
// the diagnostic plan, its scripts and their outputs) and the evidence a
// hypothesis rests on, as log-experiment records it in the ledger.
import fs from 'node:fs';
import path from 'node:path';
import type { ExperimentPaths } from './paths.ts';
import type { Evidence } from './schema.ts';
import { UsageError } from './errors.ts';
import { sha256File } from './integrity.ts';
import { normalizeRel } from './scope.ts';
import { writeFileAtomic } from './fsx.ts';

export const PLAN_TEMPLATE = `# Diagnostic plan: copy into scratch/<run>/plan.md before the change (optional)

Question: what do we not know yet that decides the next change?

| deliverable (script → output) | expected if it helped | expected if not |
|---|---|---|
| scratch/<run>/probe.py → scratch/<run>/probe.txt | … | … |

Then: log-experiment --hypothesis "…" --evidence scratch/<run>/probe.txt:"what it shows"
`;

/** scratch/<runId>/ (created, with the plan template beside it); returns its absolute path. */
export function ensureScratch(paths: ExperimentPaths, runId: string): string {
  const dir = path.join(paths.scratch, runId);
  fs.mkdirSync(dir, { recursive: true });
  const template = path.join(paths.scratch, 'PLAN-TEMPLATE.md');
  if (!fs.existsSync(template)) writeFileAtomic(template, PLAN_TEMPLATE);
  return dir;
}

/** One `--evidence FILE[:WHAT]` value, resolved in the repository and fingerprinted as it is now. */
export function parseEvidence(root: string, value: string): Evidence {
  const i = value.indexOf(':');
  const file = (i < 0 ? value : value.slice(0, i)).trim();
  const what = i < 0 ? '' : value.slice(i + 1).trim();
  if (!file) throw new UsageError(`--evidence "${value}": must be FILE or FILE:WHAT`);
  const rel = normalizeRel(path.relative(root, path.resolve(root, file)).split(path.sep).join('/'));
  if (rel === null) throw new UsageError(`--evidence ${file}: must be a file inside the repository`);
  const hash = sha256File(path.join(root, rel));
  if (hash === null) throw new UsageError(`--evidence ${file}: no such file (write the diagnostic's output first)`);
  return { file: rel, what: what.slice(0, 300), sha256: hash };
}
