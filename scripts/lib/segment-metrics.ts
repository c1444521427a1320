// The metric each segment measured. init-experiment may open a segment on
// another metric (or direction, or unit): a keep of an earlier segment is
// stated in its own, or its effect reads as the wrong metric with the wrong
// sign (score 100 → 90 shown as "other 100 → 90 pts (−10%)"). The current
// segment's is the config's; an earlier one's is its config line, found by a
// scan of the ledger's bytes that stops at the last segment asked for.
import fs from 'node:fs';
import { ConfigLine, type Direction } from './schema.ts';
import type { Experiment } from './experiment-data.ts';

export interface SegmentMetric {
  metric: string;
  direction: Direction;
  unit: string;
}

const CONFIG = Buffer.from('{"type":"config"');
const CHUNK = 1 << 20;

/** Config lines of the ledger up to segment `last`, each as its metric. */
function scanConfigs(ledger: string, last: number): Map<number, SegmentMetric> {
  const out = new Map<number, SegmentMetric>();
  let fd: number;
  try {
    fd = fs.openSync(ledger, 'r');
  } catch {
    return out;
  }
  try {
    let carry = Buffer.alloc(0);
    let pos = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(CHUNK);
      const n = fs.readSync(fd, chunk, 0, CHUNK, pos);
      if (n === 0) return out;
      pos += n;
      const buf = Buffer.concat([carry, chunk.subarray(0, n)]);
      // Whole lines only; the rest waits for the next chunk.
      const end = buf.lastIndexOf(0x0a) + 1;
      carry = buf.subarray(end);
      // buf starts at a line's start: a match there, or right after a newline, begins a line.
      for (let at = buf.indexOf(CONFIG); at >= 0 && at < end; at = buf.indexOf(CONFIG, at + 1)) {
        if (at > 0 && buf[at - 1] !== 0x0a) continue;
        const c = ConfigLine.safeParse(JSON.parse(buf.toString('utf8', at, buf.indexOf(0x0a, at))));
        if (!c.success) continue;
        out.set(c.data.segment, { metric: c.data.config.metric, direction: c.data.config.direction, unit: c.data.config.unit });
        if (c.data.segment >= last) return out;
      }
    }
  } catch {
    return out; // a line that is not JSON: the caller falls back to the config's
  } finally {
    fs.closeSync(fd);
  }
}

/** Each asked segment's metric; a segment whose config line cannot be read gets the config's. */
export function segmentMetrics(exp: Experiment, segments: Iterable<number>): (segment: number) => SegmentMetric {
  const current: SegmentMetric = { metric: exp.config.metric, direction: exp.config.direction, unit: exp.config.unit };
  const earlier = [...new Set(segments)].filter((s) => s !== exp.state.segment);
  const found = earlier.length ? scanConfigs(exp.paths.ledger, Math.max(...earlier)) : new Map<number, SegmentMetric>();
  return (segment) => found.get(segment) ?? current;
}

/** The fields a kept change carries when its segment's metric is not the current one's (absent otherwise). */
export function ownMetric(m: SegmentMetric, current: SegmentMetric): Partial<SegmentMetric> {
  return m.metric === current.metric && m.direction === current.direction && m.unit === current.unit ? {} : { ...m };
}
