/**
 * A typed client of the Reservation Engine: `openapi-fetch` over the types
 * generated from the OpenAPI document (client/types.ts, `npm run client:types`).
 * Paths, parameters, bodies and responses are checked by TypeScript.
 *
 *   const api = createEngineClient({ baseUrl: "https://engine.example", key: process.env.API_KEY });
 *   const { data, error, response } = await api.POST("/reservations", { body: { resource_id: "yoga-1", client_id: "u-1" } });
 */
import createClient, { type Client, type ClientOptions } from "openapi-fetch";
import type { components, paths } from "./types";

export type { components, paths };
export type Schemas = components["schemas"];
export type EngineClient = Client<paths>;

export interface EngineClientOptions extends Omit<ClientOptions, "baseUrl" | "headers"> {
  /** Where the Worker answers, e.g. "https://engine.example.workers.dev". */
  baseUrl: string;
  /** An API key (the ADMIN_TOKEN or one from POST /admin/api-keys), sent as `Authorization: Bearer`. */
  key?: string;
  /** More headers for every request. */
  headers?: Record<string, string>;
}

/** A client for `baseUrl`, sending `key` as the bearer key on every request. */
export function createEngineClient({ baseUrl, key, headers, ...rest }: EngineClientOptions): EngineClient {
  return createClient<paths>({
    baseUrl,
    ...rest,
    headers: { ...headers, ...(key ? { Authorization: `Bearer ${key}` } : {}) },
  });
}
