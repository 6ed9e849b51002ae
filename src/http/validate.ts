import type { Context, MiddlewareHandler } from "hono";
import { z } from "zod";
import type { ErrorDetail } from "../wire/render";
import { AppError } from "./errors";
import type { AppEnv } from "./types";

/**
 * The one validation hook: every zod failure, from a body, a query or a
 * header, becomes `400 VALIDATION_ERROR` with one `details` entry per problem.
 */
export const EmptyBody = z.strictObject({});

export function validationError(error: z.ZodError, where?: string): AppError {
  const details: ErrorDetail[] = error.issues.flatMap((issue) => {
    const field = [where, ...issue.path.map(String)].filter(Boolean).join(".") || "body";
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({
        field: [field === "body" ? "" : field, key].filter(Boolean).join("."),
        issue: "unknown_field",
      }));
    }
    const custom = issue.code === "custom" ? (issue.params?.issue as string | undefined) : undefined;
    return [{ field, issue: custom ?? issue.code }];
  });
  // One entry per field and kind of problem (e.g. "too_big" from both int() and max()).
  const unique = details.filter((d, i) => details.findIndex((o) => o.field === d.field && o.issue === d.issue) === i);
  const first = error.issues[0];
  const message =
    first?.code === "unrecognized_keys"
      ? `unknown field(s): ${first.keys.join(", ")}`
      : `${unique[0]?.field ?? "body"}: ${first?.message ?? "invalid"}`;
  return new AppError("VALIDATION_ERROR", message, unique);
}

export function parseWith<S extends z.ZodType>(schema: S, value: unknown, where?: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw validationError(result.error, where);
  return result.data;
}

const isJson = (c: Context<AppEnv>) => /^application\/json\s*(;|$)/i.test(c.req.header("Content-Type") ?? "");

function unsupported(): AppError {
  return new AppError("UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json.");
}

/** The body as JSON, or `400 invalid_json`. */
function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    throw new AppError("VALIDATION_ERROR", "The body is not valid JSON.", [{ field: "body", issue: "invalid_json" }]);
  }
}

/**
 * Before a declared JSON body is validated (route-spec.ts): `415` unless it is
 * JSON, `400` unless it parses. The schema is checked next, through the hook.
 */
export const jsonBodyGate: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!isJson(c)) throw unsupported();
  // Read outside parseJson's try: a body over the limit must reach the
  // body-limit middleware as its own error, not turn into "invalid JSON".
  // Hono keeps the text, so the validator parses the same body again.
  parseJson(await c.req.text());
  await next();
};

/** For action routes without parameters: no body, or an empty JSON object. Anything else is a 400. */
export const noBodyGate: MiddlewareHandler<AppEnv> = async (c, next) => {
  const raw = await c.req.text();
  if (raw.trim() !== "") {
    if (!isJson(c)) throw unsupported();
    parseWith(EmptyBody, parseJson(raw));
  }
  await next();
};
