// guardian: started by the engine itself (runners/guardian.ts), never by hand;
// it ends a run's work when the engine that started it is killed (commands/guardian.ts).
import { guardianCommand } from './lib/commands/guardian.ts';

const done = (): void => process.exit(0);
guardianCommand().then(done, done);
