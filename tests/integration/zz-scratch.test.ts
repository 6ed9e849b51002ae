import { it, expect } from "vitest";
import { Validator } from "@seriousme/openapi-schema-validator";
it("validator runs", async () => {
  const v = new Validator();
  const r = await v.validate({ openapi: "3.1.0", info: { title: "x", version: "1" }, paths: {} });
  console.log(JSON.stringify(r));
  expect(r.valid).toBe(true);
});
