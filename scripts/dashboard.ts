// dashboard: watch an experiment in the terminal, or share it as one HTML page
// (commands/dashboard.ts).
import { main, parseFlags } from './lib/cli.ts';
import { DASHBOARD_OPTIONS, DASHBOARD_USAGE, DashboardFlags, dashboardCommand } from './lib/commands/dashboard.ts';

main('dashboard', async (argv) => {
  const { values: f } = parseFlags(argv, DASHBOARD_OPTIONS, DashboardFlags);
  if (f.help) return void process.stdout.write(DASHBOARD_USAGE);
  return dashboardCommand(f);
});
