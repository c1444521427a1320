// One line of progress for a person at a terminal, rewritten in place. A dumb
// terminal (TERM=dumb: an editor's shell buffer) has a carriage return but no
// erase sequence, so there the line is padded with spaces over the last one.
export interface ProgressLine {
  show(text: string): void;
  clear(): void;
}

export function progressLine(out: { write(s: string): unknown }, term: string | undefined): ProgressLine {
  const dumb = term === 'dumb';
  let width = 0;
  return {
    show(text) {
      const pad = dumb ? ' '.repeat(Math.max(0, width - text.length)) : '';
      width = Math.max(width, text.length);
      out.write(`\r${dumb ? '' : '\x1b[2K'}${text}${pad}`);
    },
    clear() {
      out.write(dumb ? `\r${' '.repeat(width)}\r` : '\r\x1b[2K');
    },
  };
}
