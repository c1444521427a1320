// `tensorboard`: one scalar tag from the TensorBoard event files this sample
// wrote. The log directory is searched (a few levels deep: PyTorch writes
// runs/<date>_<host>/, Keras logs/train and logs/validation) for
// `events.out.tfevents.*` files this sample wrote (stamped before it).
import fs from 'node:fs';
import path from 'node:path';
import * as z from '../zod.ts';
import { lazySchema } from '../zod.ts';
import { clip, fail, FileField, MetricNameField, reading, resolveIn, writtenBySample } from './common.ts';
import { readEventFile, type ScalarEvent } from './tfevents.ts';
import type { MetricSource, SampleClock, SampleOutput, SourceReading } from './types.ts';

const MAX_DEPTH = 4;
// Entries looked at under the log directory. Every event file there is
// stamped before a sample, so none may be left out: an unstamped one would
// pass for this sample's (PyTorch writes a new runs/<date>_<host>/ per
// training, so a long loop leaves thousands). Past this many the sample fails.
export const MAX_ENTRIES = 100_000;

export const TensorboardSourceSpec = lazySchema(() => z.strictObject({
  kind: z.literal('tensorboard'),
  /** The log directory, relative to the repository. */
  dir: FileField,
  tag: z.string({ error: 'must be the scalar tag, e.g. "val/loss"' }).check(z.minLength(1, 'must be the scalar tag, e.g. "val/loss"')),
  metric: MetricNameField,
  /** `last` is the value at the highest step (the latest write on a tie). */
  pick: z._default(z.enum(['last', 'min', 'max'], { error: 'must be one of last, min, max' }), 'last'),
}));
export type TensorboardSourceSpec = z.infer<typeof TensorboardSourceSpec>;

/** Event files under dir (a few levels deep), with their stats; `truncated` when more than MAX_ENTRIES entries were there. */
async function eventFiles(dir: string, max = MAX_ENTRIES): Promise<{ files: { file: string; st: fs.Stats }[]; truncated: boolean }> {
  const files: { file: string; st: fs.Stats }[] = [];
  let entries = 0;
  const walk = async (d: string, depth: number): Promise<void> => {
    let list;
    try {
      list = await fs.promises.readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of list) {
      if (++entries > max) return;
      const p = path.join(d, e.name);
      if (e.isDirectory() && depth < MAX_DEPTH) await walk(p, depth + 1);
      else if (e.isFile() && e.name.startsWith('events.out.tfevents.')) {
        const st = await fs.promises.stat(p).catch(() => null);
        if (st) files.push({ file: p, st });
      }
    }
  };
  await walk(dir, 0);
  return { files, truncated: entries > max };
}

/** Event files under dir this sample wrote (writtenBySample), oldest first; a string when they cannot be told apart. */
export async function freshEventFiles(dir: string, sample: SampleClock, max = MAX_ENTRIES): Promise<string[] | string> {
  const { files, truncated } = await eventFiles(dir, max);
  if (truncated) return `more than ${max} entries under it: this sample's event files cannot be told from earlier ones (move old runs out)`;
  const found = files.filter((f) => writtenBySample(f.file, f.st, sample));
  return found.sort((a, b) => a.st.mtimeMs - b.st.mtimeMs || a.file.localeCompare(b.file)).map((f) => f.file);
}

export function pickScalar(events: ScalarEvent[], how: 'last' | 'min' | 'max'): number {
  let best = events[0] as ScalarEvent;
  for (const e of events) {
    if (how === 'min' ? e.value < best.value : how === 'max' ? e.value > best.value : e.step > best.step || (e.step === best.step && e.wallTime >= best.wallTime)) best = e;
  }
  return best.value;
}

export function tensorboardSource(spec: TensorboardSourceSpec): MetricSource {
  const label = `tensorboard ${clip(spec.dir, 30)}#${clip(spec.tag, 30)}`;
  return {
    label,
    async read(sample: SampleOutput): Promise<SourceReading> {
      const dir = resolveIn(sample.cwd, spec.dir);
      const files = await freshEventFiles(dir, sample);
      if (typeof files === 'string') return fail(`${label}: ${spec.dir} has ${files}`);
      if (files.length === 0) return fail(`${label}: no event files written under ${spec.dir} by this sample`);
      const events: ScalarEvent[] = [];
      const warnings: string[] = [];
      const seen = new Set<string>();
      const want = (t: string): boolean => {
        if (seen.size < 8) seen.add(t);
        return t === spec.tag;
      };
      for (const file of files) {
        try {
          const scan = await readEventFile(file, want);
          events.push(...scan.events);
          for (const w of scan.warnings) warnings.push(`${label}: ${path.relative(sample.cwd, file)}: ${w}`);
        } catch (e) {
          warnings.push(`${label}: cannot read ${path.relative(sample.cwd, file)}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
        }
      }
      const finite = events.filter((e) => Number.isFinite(e.value));
      if (finite.length < events.length) warnings.push(`${label}: ignored ${events.length - finite.length} non-finite value(s)`);
      if (finite.length === 0) {
        const tags = [...seen].filter((t) => t !== spec.tag).map((t) => JSON.stringify(clip(t, 30)));
        const why =
          events.length > 0
            ? 'hold only non-finite values'
            : `hold no scalar tag ${JSON.stringify(spec.tag)}${tags.length ? ` (tags seen: ${tags.join(', ')})` : ''}`;
        // A damaged file is the likeliest cause: say so in the reason itself.
        const damage = warnings.find((w) => /CRC|not a valid Event|cannot read/.test(w));
        return fail(`${label}: ${files.length} event file(s) ${why}${damage ? `; ${damage.slice(label.length + 2)}` : ''}`);
      }
      // The value at the last step counts: NaN there (a training that diverged) is no value, not an earlier step's.
      if (spec.pick === 'last' && !Number.isFinite(pickScalar(events, 'last'))) return fail(`${label}: the value at the last step is not finite (earlier steps are not the result)`);
      return reading(new Map([[spec.metric, [pickScalar(finite, spec.pick)]]]), warnings);
    },
    watched: async (cwd) => (await eventFiles(resolveIn(cwd, spec.dir))).files.map((f) => f.file),
  };
}
