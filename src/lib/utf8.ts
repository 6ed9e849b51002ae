/** The UTF-8 length of `text` in bytes (ASCII, the common case, without encoding it). */
export function utf8Bytes(text: string): number {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ASCII is exactly the range below 0x80
  return /^[\x00-\x7f]*$/.test(text) ? text.length : new TextEncoder().encode(text).byteLength;
}
