// Caps from the hook output contract (platform doc §4.4): reasons ≤ 2,000
// characters; we hold SessionStart context to the same budget.
export const MAX_TEXT = 2000;

export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  return max <= 1 ? text.slice(0, Math.max(0, max)) : `${text.slice(0, max - 1)}…`;
}
