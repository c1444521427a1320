// Counts of the costly operations one engine call makes (fsyncs, git
// processes), for bench/engine.ts: with AUTOLOOP_COUNT_IO=<file> set, each
// process appends one line per kind to that file when it exits. Off (and
// free) otherwise.
import fs from 'node:fs';

const counts = new Map<string, number>();
// Read at the first count, not when the module loads: a pre-started engine
// (boot/zygote.ts) loads its bundles before it knows the call's environment.
let sink: string | null | undefined;

function sinkFile(): string | null {
  if (sink !== undefined) return sink;
  sink = process.env.AUTOLOOP_COUNT_IO || null;
  const file = sink;
  if (file) {
    process.on('exit', () => {
      const text = [...counts].map(([k, n]) => `${k} ${n}\n`).join('');
      try {
        if (text) fs.appendFileSync(file, text);
      } catch {
        /* counting is best effort */
      }
    });
  }
  return file;
}

/**
 * `candidate`: a candidate.json read (status and every engine call find the open ones: not every one ever opened).
 * `schema`: a zod schema built on first use (zod.ts lazySchema): building and first running one is CPU every short call pays.
 * `best_walk`: a walk of the best's tree for writes of the candidate's commands (commands/run.ts).
 */
export function countIo(kind: 'fsync' | 'git' | 'candidate' | 'schema' | 'best_walk'): void {
  if (sinkFile()) counts.set(kind, (counts.get(kind) ?? 0) + 1);
}
