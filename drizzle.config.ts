import { defineConfig } from "drizzle-kit";

/** `npm run db:generate` writes SQL migrations for D1 into migrations/, applied by wrangler. */
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/storage/d1-schema.ts",
  out: "./migrations",
});
