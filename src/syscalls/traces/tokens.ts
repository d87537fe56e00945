/**
 * Calls `visit` with the bounds of each whitespace-separated token of `text[start, end)`, stopping at `#` (comment
 * to the end of the line). Works on indexes so that long ADFA lines are tokenised without allocating substrings.
 */
export function forEachToken(
  text: string,
  start: number,
  end: number,
  visit: (tokenStart: number, tokenEnd: number) => void,
): void {
  let i = start;
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c === 35) return;
    if (isSpace(c)) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < end && !isSpace(text.charCodeAt(j)) && text.charCodeAt(j) !== 35) j++;
    visit(i, j);
    i = j;
  }
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 11 || c === 12 || c === 13;
}
