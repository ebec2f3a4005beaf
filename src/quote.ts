/** Quotes one word for a POSIX shell: always single quotes, `'` becomes `'\''`. */
export function quoteShellWord(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}
