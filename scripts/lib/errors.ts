/** Bad usage or bad input: one line to stderr, exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Tracked files in scope with uncommitted changes, where a segment would begin (the caller may know whose they are). */
export class InScopeChangesError extends UsageError {
  constructor(readonly names: string) {
    super(`uncommitted changes to tracked files in scope: ${names}; commit or stash them first`);
  }
}

/** The engine refuses to act (lock held, unclean run, terminated...): one line, exit 1. */
export class RefusalError extends Error {
  override name = 'RefusalError';
}

/** Format a zod error as one line naming the field and the problem. */
export function zodOneLine(
  what: string,
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
): string {
  const first = issues[0];
  if (!first) return `${what}: invalid`;
  const where = first.path.length ? first.path.map(String).join('.') : '(root)';
  const more = issues.length > 1 ? ` (+${issues.length - 1} more)` : '';
  return `${what}: ${where}: ${first.message}${more}`;
}
