import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { secureHeaders } from "hono/secure-headers";
import { config } from "./config";
import { MAX_BODY_BYTES, MAX_IMPORT_BYTES, registerShared } from "./http/api-document";
import { AppError, errorResponse, notFound, onError } from "./http/errors";
import { maintenanceGate } from "./http/maintenance";
import { requestId } from "./http/request-id";
import { requestLog } from "./http/request-log";
import type { AppEnv } from "./http/types";
import { admin } from "./routes/admin";
import { availability } from "./routes/availability";
import { reference } from "./routes/docs";
import { jobs } from "./routes/jobs";
import { ops } from "./routes/ops";
import { orderAdmin, orders } from "./routes/orders";
import { reconciliation } from "./routes/reconciliation";
import { reservations } from "./routes/reservations";
import { resources } from "./routes/resources";
import { waitingList } from "./routes/waiting-list";

/** CSV imports may be larger (docs/api.md). */
const IMPORT_PATH = "/admin/resources/import";

/** The Worker's HTTP app: request id first, then the body limit, then the routes (each declares its access). */
export function createApp(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  registerShared(app);
  app.use(requestId);
  app.use(requestLog);
  app.use(secureHeaders());
  // Browsers may read the public routes from the configured origins; the rest is server to server.
  const publicCors = cors({
    origin: (origin, c) => {
      const allowed = config(c.env).CORS_ORIGINS;
      return allowed.includes("*") ? "*" : allowed.includes(origin) ? origin : null;
    },
    allowMethods: ["GET", "HEAD", "OPTIONS"],
    exposeHeaders: ["X-Request-Id", "X-Cache-Status"],
  });
  for (const path of ["/availability", "/health", "/ready", "/openapi.json", "/docs"]) app.use(path, publicCors);
  const limit = (maxSize: number) =>
    bodyLimit({
      maxSize,
      onError: (c) => errorResponse(c, new AppError("PAYLOAD_TOO_LARGE", `The body exceeds ${maxSize} bytes.`)),
    });
  const [defaultLimit, importLimit] = [limit(MAX_BODY_BYTES), limit(MAX_IMPORT_BYTES)];
  app.use((c, next) => (c.req.path === IMPORT_PATH ? importLimit(c, next) : defaultLimit(c, next)));
  app.use(maintenanceGate);
  app.route("/", ops);
  app.route("/", reference(app));
  app.route("/availability", availability);
  app.route("/resources", resources);
  app.route("/reservations", reservations);
  app.route("/orders", orders);
  app.route("/waiting-list", waitingList);
  app.route("/admin/reconciliation", reconciliation);
  app.route("/admin/jobs", jobs);
  app.route("/admin/orders", orderAdmin);
  app.route("/admin", admin);
  app.notFound(notFound);
  app.onError(onError);
  return app;
}
