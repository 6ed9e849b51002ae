import { Hono } from "hono";
import type { AppEnv } from "../http/types";

export const ops = new Hono<AppEnv>();

/** Liveness: the Worker runs. Touches no binding. */
ops.get("/health", (c) => c.json({ status: "ok" }));
