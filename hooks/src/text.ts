// Caps from the hook output contract (platform doc §4.4): reasons ≤ 2,000
// characters; we hold SessionStart context to the same budget.
export const MAX_TEXT = 2000;

export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 1) return text.slice(0, Math.max(0, max));
  // Never between the halves of a surrogate pair (an emoji cut in two reads as U+FFFD).
  let end = max - 1;
  const c = text.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}
