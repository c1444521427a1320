// A small path into a JSON document: `results[0].mean`, `$.totals["percent covered"]`,
// `runs[-1].loss` (a negative index counts from the end).
// Grammar: an optional leading `$`, then segments: `.name` (letters, digits,
// _ and -), `[N]` / `[-N]` (array index), `["any key"]` (JSON string). A path
// may start with a bare name (`results[0]`). The empty path (or `$`) is the root.

export type Segment = { key: string } | { index: number };

/** Parse a path; a string is the error message. */
export function parseJsonPath(text: string): Segment[] | string {
  const segs: Segment[] = [];
  let i = 0;
  const s = text.trim();
  if (s.startsWith('$')) i = 1;
  const NAME = /^[A-Za-z0-9_-]+/;
  let first = true;
  while (i < s.length) {
    const c = s[i];
    if (c === '.' || (first && c !== '[')) {
      const from = c === '.' ? i + 1 : i;
      const m = NAME.exec(s.slice(from));
      if (!m) return `expected a name after position ${from} in ${JSON.stringify(s)} (use ["…"] for other keys)`;
      segs.push({ key: m[0] });
      i = from + m[0].length;
    } else if (c === '[') {
      const rest = s.slice(i + 1);
      const num = /^(-?\d+)\]/.exec(rest);
      if (num) {
        segs.push({ index: Number(num[1]) });
        i += 1 + num[0].length;
      } else if (rest.startsWith('"')) {
        let j = 1;
        while (j < rest.length && rest[j] !== '"') j += rest[j] === '\\' ? 2 : 1;
        if (rest[j + 1] !== ']') return `unterminated ["…"] at position ${i} in ${JSON.stringify(s)}`;
        try {
          segs.push({ key: JSON.parse(rest.slice(0, j + 1)) as string });
        } catch {
          return `bad quoted key at position ${i} in ${JSON.stringify(s)}`;
        }
        i += j + 3;
      } else return `expected [number] or ["key"] at position ${i} in ${JSON.stringify(s)}`;
    } else return `unexpected ${JSON.stringify(c)} at position ${i} in ${JSON.stringify(s)}`;
    first = false;
  }
  return segs;
}

export function formatJsonPath(segs: Segment[]): string {
  let out = '';
  for (const seg of segs) {
    if ('index' in seg) out += `[${seg.index}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(seg.key)) out += out ? `.${seg.key}` : seg.key;
    else out += `[${JSON.stringify(seg.key)}]`;
  }
  return out || '$';
}

/** Follow a path; `missing` names the first segment that was not there. */
export function getJsonPath(root: unknown, segs: Segment[]): { value: unknown } | { missing: string } {
  let cur: unknown = root;
  for (let k = 0; k < segs.length; k++) {
    const seg = segs[k] as Segment;
    const upTo = formatJsonPath(segs.slice(0, k + 1));
    if ('index' in seg) {
      if (!Array.isArray(cur)) return { missing: `${upTo} (not an array)` };
      const at = seg.index < 0 ? cur.length + seg.index : seg.index;
      if (at < 0 || at >= cur.length) return { missing: `${upTo} (array has ${cur.length} item(s))` };
      cur = cur[at];
    } else {
      if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || !Object.hasOwn(cur, seg.key)) {
        return { missing: upTo };
      }
      cur = (cur as Record<string, unknown>)[seg.key];
    }
  }
  return { value: cur };
}
