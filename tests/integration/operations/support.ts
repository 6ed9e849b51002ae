import { expect } from "vitest";
import { call } from "../../helpers";

/** The operators' side of the service: keys and roles, readiness, maintenance, logs, rate limits, configuration. */

export const json = (res: Response) => res.json<Record<string, any>>();

/** Issues an API key with `role` through the admin route; its secret is shown only in this answer. */
export async function issueKey(role: "admin" | "client"): Promise<{ id: string; key: string }> {
  const res = await call("POST", "/admin/api-keys", { body: { name: `${role} key`, role } });
  expect(res.status).toBe(201);
  return json(res) as Promise<{ id: string; key: string }>;
}
