// npm run bench: the figures the README and docs/measurements.md quote, measured now.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const tsx = path.join(here, '..', 'node_modules', 'tsx', 'dist', 'cli.mjs');
let failed = 0;
for (const name of ["engine", "hooks", "noise", "watchdog", "dashboard", "slurm", "guard", "install", "bigrepo"]) {
  console.log(`# bench/${name}.ts`);
  const r = spawnSync(process.execPath, [tsx, path.join(here, `${name}.ts`)], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
