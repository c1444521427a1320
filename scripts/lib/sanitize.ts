// One sanitiser for every text autoloop shows or records from a description,
// a goal, a config value or a command's output: escape sequences and other
// control characters never reach a terminal (or a commit message) raw. No
// imports: the hooks and the status line bundle it alone.
//
// Removed: ESC/CSI/OSC/DCS sequences (whole), C0 controls except tab and
// newline, DEL, C1 controls (U+0080–U+009F, which some terminals obey as
// 8-bit CSI/OSC), and the bidirectional overrides that reorder what is shown
// (U+202A–U+202E, U+2066–U+2069, and the marks U+200E, U+200F, U+061C). A carriage return becomes a newline.

// ESC [ … final, ESC ] … (BEL | ESC \), ESC P/X/^/_ … ESC \, any other ESC + one char.
// An unterminated string sequence loses only its introducer: the rest stays, as plain text.
const SEQUENCES = /\x1b\[[0-?]*[ -/]*[@-~]?|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[\s\S]?|\u009b[0-?]*[ -/]*[@-~]?|[\u009d\u0090\u0098\u009e\u009f][^\x07\x1b\u009c]*[\x07\u009c]/g;
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/g;

/** Text safe to print: newlines and tabs kept, every control sequence gone. */
export function sanitize(text: string): string {
  return text.replace(SEQUENCES, '').replace(/\r\n?/g, '\n').replace(CONTROLS, '');
}

/** One line: sanitised, then any newline or tab becomes a space. */
export function sanitizeLine(text: string): string {
  return sanitize(text).replace(/[\n\t\u2028\u2029]+/g, ' ');
}

/**
 * JSON for a terminal: JSON.stringify already escapes C0 controls; this also
 * escapes DEL, the C1 controls and the bidi overrides (still valid JSON, same value).
 */
export function safeJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
