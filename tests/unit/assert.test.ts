import { describe, expect, it } from "vitest";
import { assert } from "../../src/lib/assert";

describe("assert", () => {
  it("passes when the invariant holds and throws an Error naming it when it does not", () => {
    expect(() => assert(1 + 1 === 2, "arithmetic works")).not.toThrow();
    expect(() => assert(null, "a resource exists")).toThrow(new Error("invariant broken: a resource exists"));
  });
});
