// Free text in the Markdown report (goals, descriptions, reasons, rationales).
import { clip } from './summary.ts';

/**
 * Clipped to one line, with "<" escaped: text in the Markdown, never markup
 * (a description's "<!--" hid the rest of a rendered report).
 */
export function mdText(s: string, n: number): string {
  return clip(s, n).replace(/</g, '\\<');
}
