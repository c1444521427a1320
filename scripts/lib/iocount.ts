// Counts of the costly operations one engine call makes (fsyncs, git
// processes), for bench/engine.ts: with AUTOLOOP_COUNT_IO=<file> set, each
// process appends one line per kind to that file when it exits. Off (and
// free) otherwise.
import fs from 'node:fs';

const counts = new Map<string, number>();
const sink = process.env.AUTOLOOP_COUNT_IO;
if (sink) {
  process.on('exit', () => {
    const text = [...counts].map(([k, n]) => `${k} ${n}\n`).join('');
    try {
      if (text) fs.appendFileSync(sink, text);
    } catch {
      /* counting is best effort */
    }
  });
}

/**
 * `candidate`: a candidate.json read (status and every engine call find the open ones: not every one ever opened).
 * `schema`: a zod schema built on first use (zod.ts lazySchema): building and first running one is CPU every short call pays.
 * `best_walk`: a walk of the best's tree for writes of the candidate's commands (commands/run.ts).
 */
export function countIo(kind: 'fsync' | 'git' | 'candidate' | 'schema' | 'best_walk'): void {
  if (sink) counts.set(kind, (counts.get(kind) ?? 0) + 1);
}
