// Just enough XML for test reports: the element tree's tags and attributes,
// no text. Comments, CDATA, processing instructions and the doctype are
// skipped; attribute values may hold `>` and entities. Not a validating
// parser: it reads what well-formed reports contain and says where it stops.

export interface Tag {
  /** Element name without namespace prefix. */
  name: string;
  attrs: Map<string, string>;
  /** Nesting depth of the element: 0 for the root. */
  depth: number;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

export function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|[a-zA-Z]+);/g, (whole, ent: string) => {
    if (ent.startsWith('#x')) return safeCodePoint(parseInt(ent.slice(2), 16), whole);
    if (ent.startsWith('#')) return safeCodePoint(parseInt(ent.slice(1), 10), whole);
    return ENTITIES[ent] ?? whole;
  });
}

function safeCodePoint(n: number, fallback: string): string {
  return Number.isInteger(n) && n >= 0 && n <= 0x10ffff ? String.fromCodePoint(n) : fallback;
}

const NAME = /[A-Za-z_:][\w.:-]*/y;
const ATTR = /\s*([A-Za-z_:][\w.:-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/y;

function localName(qname: string): string {
  const i = qname.indexOf(':');
  return i >= 0 ? qname.slice(i + 1) : qname;
}

/**
 * Visit every start tag in document order. `onEnd` hears end tags (and
 * self-closing ones) with the element's name, so callers can track nesting.
 * Throws an Error with the position on malformed markup.
 */
export function walkTags(xml: string, onStart: (tag: Tag) => void, onEnd?: (name: string, depth: number) => void): void {
  let i = 0;
  let depth = 0;
  /** The open elements: a report cut short, or an end tag that closes another element, is malformed. */
  const open: string[] = [];
  const skipTo = (end: string, what: string): void => {
    const j = xml.indexOf(end, i);
    if (j < 0) throw new Error(`unterminated ${what} at offset ${i}`);
    i = j + end.length;
  };
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    if (lt < 0) break;
    i = lt;
    if (xml.startsWith('<!--', i)) skipTo('-->', 'comment');
    else if (xml.startsWith('<![CDATA[', i)) skipTo(']]>', 'CDATA section');
    else if (xml.startsWith('<?', i)) skipTo('?>', 'processing instruction');
    else if (xml.startsWith('<!', i)) skipDoctype();
    else if (xml.startsWith('</', i)) {
      const gt = xml.indexOf('>', i);
      if (gt < 0) throw new Error(`unterminated end tag at offset ${i}`);
      const qname = xml.slice(i + 2, gt).trim();
      const want = open.pop();
      if (want !== qname) throw new Error(want === undefined ? `</${qname}> closes nothing at offset ${i}` : `</${qname}> closes <${want}> at offset ${i}`);
      depth--;
      onEnd?.(localName(qname), depth);
      i = gt + 1;
    } else startTag();
  }
  if (open.length) throw new Error(`ends inside <${open[open.length - 1]}>, cut short`);

  function skipDoctype(): void {
    // <!DOCTYPE … [ internal subset ] >
    let nest = 0;
    for (let j = i + 2; j < xml.length; j++) {
      const c = xml[j];
      if (c === '[') nest++;
      else if (c === ']') nest--;
      else if (c === '>' && nest <= 0) {
        i = j + 1;
        return;
      }
    }
    throw new Error(`unterminated declaration at offset ${i}`);
  }

  function startTag(): void {
    NAME.lastIndex = i + 1;
    const m = NAME.exec(xml);
    if (!m) throw new Error(`bad tag at offset ${i}`);
    const attrs = new Map<string, string>();
    let j = NAME.lastIndex;
    for (;;) {
      ATTR.lastIndex = j;
      const a = ATTR.exec(xml);
      if (!a) break;
      attrs.set(localName(a[1] as string), decodeEntities((a[2] ?? a[3]) as string));
      j = ATTR.lastIndex;
    }
    const rest = /\s*(\/?)>/y;
    rest.lastIndex = j;
    const r = rest.exec(xml);
    if (!r) throw new Error(`bad attribute in <${m[0]}> at offset ${j}`);
    const name = localName(m[0]);
    onStart({ name, attrs, depth });
    i = rest.lastIndex;
    if (r[1] === '/') onEnd?.(name, depth);
    else {
      open.push(m[0]);
      depth++;
    }
  }
}
