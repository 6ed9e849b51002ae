/**
 * RFC 4180 CSV: fields with a comma, quote, CR or LF are quoted, quotes doubled, lines end with CRLF.
 * Every CSV the engine writes is opened in spreadsheets, so text cells are made safe there (below).
 */
export function csvLine(fields: (string | number | boolean | null)[]): string {
  return `${fields.map(csvField).join(",")}\r\n`;
}

/**
 * A text cell starting with one of these would be run as a formula by a
 * spreadsheet (OWASP CSV injection): it is written with a leading `'`
 * (API.md). Numbers are written as they are, so -3 stays a number; times are
 * ISO strings that start with a digit, so they never need it.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

function csvField(value: string | number | boolean | null): string {
  if (value === null) return "";
  const text = typeof value === "string" && FORMULA_START.test(value) ? `'${value}` : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** One record of a CSV file and the line it starts on (1 = the header). */
export interface CsvRecord {
  line: number;
  fields: string[];
}

/**
 * Parses RFC 4180 CSV (quoted fields may hold commas, quotes and line breaks;
 * CRLF or LF line ends). Returns null at the first malformed quote, with the
 * line where it happened.
 */
export function parseCsv(text: string): { records: CsvRecord[] } | { error: string; line: number } {
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = "";
  let line = 1;
  let recordLine = 1;
  let i = 0;
  const endRecord = () => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0] === "")) records.push({ line: recordLine, fields });
    fields = [];
    field = "";
  };
  while (i < text.length) {
    const ch = text[i] as string;
    if (ch === '"' && field === "") {
      // A quoted field: runs to the next lone quote.
      let j = i + 1;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q === -1) return { error: "unterminated quoted field", line: recordLine };
        if (text[q + 1] === '"') {
          field += text.slice(j, q + 1);
          j = q + 2;
          continue;
        }
        field += text.slice(j, q);
        line += (text.slice(i, q).match(/\n/g) ?? []).length;
        i = q + 1;
        break;
      }
      const next = text[i];
      if (next !== undefined && next !== "," && next !== "\r" && next !== "\n") {
        return { error: "characters after a closing quote", line };
      }
      continue;
    }
    if (ch === ",") {
      fields.push(field);
      field = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      endRecord();
      line++;
      recordLine = line;
    } else if (ch === '"') {
      return { error: "quote inside an unquoted field", line };
    } else field += ch;
    i++;
  }
  if (field !== "" || fields.length > 0) endRecord();
  return { records };
}
