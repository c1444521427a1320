// URL slugs from titles.

/** "Hello, World!" → "hello-world"; whole words only, at most maxLength characters. */
export function slugify(title, maxLength = 60) {
  const words = title
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  let slug = '';
  for (const word of words) {
    const next = slug ? `${slug}-${word}` : word;
    if (next.length > maxLength) {
      break;
    }
    slug = next;
  }
  return slug;
}
