import { describe, expect, it } from "vitest";
import { bodyRows } from "./body.rows";
import { fieldRows } from "./fields.rows";
import { headerRows } from "./headers.rows";
import { pathRows } from "./paths.rows";
import { textRows } from "./text.rows";

/** Every table of bad requests, as one. */
const rows = [...bodyRows, ...fieldRows, ...textRows, ...headerRows, ...pathRows];

describe("bad input", () => {
  it("has a table of at least 30 distinct rows", () => {
    expect(rows.length).toBeGreaterThanOrEqual(30);
    expect(new Set(rows.map((r) => r.name)).size).toBe(rows.length);
  });
});
