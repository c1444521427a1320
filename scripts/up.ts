// up: the overnight supervisor. Runs the autoloop agent headless and starts it
// again whenever a session ends while the loop is live (commands/up.ts).
import { main } from './lib/cli.ts';
import { upCommand } from './lib/commands/up.ts';

main('up', (argv) => upCommand(argv));
