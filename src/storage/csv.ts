/** RFC 4180 CSV: fields with a comma, quote, CR or LF are quoted, quotes doubled, lines end with CRLF. */
export function csvLine(fields: (string | number | boolean | null)[]): string {
  return `${fields.map(csvField).join(",")}\r\n`;
}

function csvField(value: string | number | boolean | null): string {
  if (value === null) return "";
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
