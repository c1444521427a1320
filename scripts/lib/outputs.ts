// What the benchmark writes that is no change of the code: the artifacts and
// the files and directories the metric sources read. They are never in scope,
// whatever the scope glob says (under the whole-repository scope a result
// file would otherwise be an in-scope change made while the benchmark ran).
import type { Config } from './schema.ts';

export function benchmarkOutputs(config: Pick<Config, 'artifacts' | 'sources'>): string[] {
  const read = (config.sources ?? []).flatMap((s) => ('file' in s ? [s.file] : 'dir' in s ? [s.dir] : []));
  return [...config.artifacts, ...read];
}
