import { describe, expect, it } from "vitest";
import { csvLine, parseCsv } from "../../src/storage/csv";

describe("csvLine (spreadsheet-safe, API.md)", () => {
  it("prefixes a text cell that a spreadsheet would run as a formula with '", () => {
    const cells = ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://x","y")'];
    const parsed = parseCsv(csvLine(cells));
    expect(parsed).toEqual({ records: [{ line: 1, fields: cells.map((c) => `'${c}`) }] });
  });

  it("leaves numbers, times, booleans and other text as they are", () => {
    const cells = [-3, 0, 2.5, "2026-11-21T22:35:38.123Z", true, "a=b", "user-831", "'quoted", " =x", null];
    expect(csvLine(cells)).toBe("-3,0,2.5,2026-11-21T22:35:38.123Z,true,a=b,user-831,'quoted, =x,\r\n");
  });
});
