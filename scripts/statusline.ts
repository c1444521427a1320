// statusline: a Claude Code status line command (commands/statusline.ts). It
// never fails: on any problem it prints nothing and exits 0 (so no main():
// that maps errors onto exit codes).
import { statuslineCommand } from './lib/commands/statusline.ts';

const ok = (): void => {
  process.exitCode = 0;
};
statuslineCommand().then(ok, ok);
