// The report command: what an experiment established, as Markdown for a person
// (default, printed as it is) or as data (--json). Read-only: it takes no lock
// and changes nothing but the derived state cache (lib/report.ts builds it).
import * as z from '../zod.ts';
import { CommonFlags, emit, resolveCwd } from '../cli.ts';
import { findRoot, openExperiment, requireSegment, resolveSlug } from '../experiment.ts';
import { buildReport, renderMarkdown, reportHash } from '../report.ts';

export const REPORT_OPTIONS = { experiment: { type: 'string' } } as const;
export const ReportFlags = z.object({ ...CommonFlags, experiment: z.optional(z.string()) });
export const REPORT_USAGE = 'usage: report [--experiment SLUG] [--cwd DIR] [--json]\n';

/** Print the report: its data with the Markdown's hash (--json), else the Markdown. */
export function reportCommand(f: z.infer<typeof ReportFlags>): void {
  const root = findRoot(resolveCwd(f.cwd));
  const exp = openExperiment(root, resolveSlug(root, f.experiment), { shown: true });
  requireSegment(exp);
  const data = buildReport(exp);
  const markdown = renderMarkdown(data);
  if (f.json) return emit(true, { ...data, markdown_sha256: reportHash(markdown) }, '');
  process.stdout.write(markdown);
}
