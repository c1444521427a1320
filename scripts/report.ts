// report: what an experiment established, as Markdown for a person (default)
// or as data (--json). Read-only: it takes no lock and changes nothing but the
// derived state cache.
import * as z from './lib/zod.ts';
import { CommonFlags, emit, main, parseFlags, resolveCwd } from './lib/cli.ts';
import { findRoot, openExperiment, resolveSlug } from './lib/experiment.ts';
import { buildReport, renderMarkdown, reportHash } from './lib/report.ts';

const OPTIONS = { experiment: { type: 'string' } } as const;
const Flags = z.object({ ...CommonFlags, experiment: z.optional(z.string()) });

main('report', async (argv) => {
  const { values: f } = parseFlags(argv, OPTIONS, Flags);
  if (f.help) return void process.stdout.write('usage: report [--experiment SLUG] [--cwd DIR] [--json]\n');
  const root = findRoot(resolveCwd(f.cwd));
  const exp = openExperiment(root, resolveSlug(root, f.experiment), { shown: true });
  const data = buildReport(exp);
  const markdown = renderMarkdown(data);
  if (f.json) return emit(true, { ...data, markdown_sha256: reportHash(markdown) }, '');
  process.stdout.write(markdown);
});
