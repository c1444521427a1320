// report: what an experiment established, as Markdown for a person (default)
// or as data (--json); read-only (commands/report.ts).
import { main, parseFlags } from './lib/cli.ts';
import { REPORT_OPTIONS, REPORT_USAGE, ReportFlags, reportCommand } from './lib/commands/report.ts';

main('report', async (argv) => {
  const { values: f } = parseFlags(argv, REPORT_OPTIONS, ReportFlags);
  if (f.help) return void process.stdout.write(REPORT_USAGE);
  reportCommand(f);
});
