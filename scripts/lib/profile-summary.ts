// A profile the model can read: diagnose --profile writes, beside each
// profile, a short text of its top functions. A .cpuprofile is megabytes of
// JSON and a cProfile dump is binary (python3 -m pstats, which the hooks leave
// to the user, reads it): neither is fit to put in the model's context.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** How many functions a summary lists. */
export const TOP = 25;

interface CallFrame { functionName: string; url: string; lineNumber: number }
interface CpuNode { id: number; callFrame: CallFrame; children?: number[] }
interface CpuProfile { nodes: CpuNode[]; samples?: number[]; timeDeltas?: number[] }
interface HeapNode { callFrame: CallFrame; selfSize: number; children?: HeapNode[] }

// A frame with no script (V8's own, or a heap sample V8 did not attribute) is named alone.
const where = (f: CallFrame): string => `${f.functionName || '(anonymous)'}${f.url ? ` ${f.url.replace(/^file:\/\//, '')}:${f.lineNumber + 1}` : ''}`;

/** Rows of `what` by amount, largest first, as aligned text under a title. */
function table(title: string, unit: string, totals: Map<string, number>, total: number): string {
  const rows = [...totals].sort((a, b) => b[1] - a[1]).slice(0, TOP);
  const pct = (n: number) => (total > 0 ? `${((100 * n) / total).toFixed(1)}%` : '-');
  return [title, ...rows.map(([k, n]) => `${pct(n).padStart(6)} ${n.toFixed(unit === 'ms' ? 1 : 0).padStart(10)} ${unit}  ${k}`)].join('\n') + '\n';
}

/** Self time per function of a V8 CPU profile (Node's --cpu-prof format). */
export function summarizeCpu(p: CpuProfile): string {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  (p.samples ?? []).forEach((id, i) => {
    const n = byId.get(id);
    const ms = (p.timeDeltas?.[i] ?? 0) / 1000;
    total += ms;
    if (!n) return;
    const k = where(n.callFrame);
    self.set(k, (self.get(k) ?? 0) + ms);
  });
  return table(`CPU: self time by function, top ${TOP} of ${total.toFixed(1)} ms sampled`, 'ms', self, total);
}

/** Bytes allocated and still sampled per function of a V8 sampling heap profile. */
export function summarizeHeap(p: { head: HeapNode }): string {
  const self = new Map<string, number>();
  let total = 0;
  const walk = (n: HeapNode): void => {
    total += n.selfSize;
    const k = where(n.callFrame);
    if (n.selfSize) self.set(k, (self.get(k) ?? 0) + n.selfSize);
    n.children?.forEach(walk);
  };
  walk(p.head);
  return table(`Heap: sampled bytes by allocating function, top ${TOP} of ${total} B`, 'B', self, total);
}

// Run as `python3 -c PROGRAM FILE`: the path is an argument, never part of the program.
const PSTATS = `import pstats, sys
s = pstats.Stats(sys.argv[1])
print("Python: cumulative time by function, top ${TOP}")
s.sort_stats("cumulative").print_stats(${TOP})
`;

/** A cProfile dump read by the machine's python3; null when there is none or it fails. */
export function summarizePython(file: string): string | null {
  const r = spawnSync('python3', ['-c', PSTATS, file], { encoding: 'utf8', timeout: 60_000, maxBuffer: 4 << 20 });
  if (r.status !== 0 || !r.stdout) return null;
  // pstats prints the dump's own path and blank lines first: the table is what matters.
  return r.stdout.split('\n').filter((l) => l.trim() !== '' && !l.includes(file)).join('\n') + '\n';
}

/**
 * Write <profile>.txt beside every profile in dir; the names written. A
 * profile that cannot be read (cut short, python3 missing) gets none.
 */
export function writeSummaries(dir: string): string[] {
  const out: string[] = [];
  for (const name of fs.readdirSync(dir).sort()) {
    const file = path.join(dir, name);
    let text: string | null = null;
    try {
      if (name.endsWith('.cpuprofile')) text = summarizeCpu(JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile);
      else if (name.endsWith('.heapprofile')) text = summarizeHeap(JSON.parse(fs.readFileSync(file, 'utf8')) as { head: HeapNode });
      else if (/^py-\d+\.prof$/.test(name)) text = summarizePython(file);
    } catch {
      text = null;
    }
    if (text === null) continue;
    fs.writeFileSync(`${file}.txt`, text);
    out.push(`${name}.txt`);
  }
  return out;
}
