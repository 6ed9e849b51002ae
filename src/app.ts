import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { AppError, errorResponse, notFound, onError } from "./http/errors";
import { requestId } from "./http/request-id";
import type { AppEnv } from "./http/types";
import { admin } from "./routes/admin";
import { availability } from "./routes/availability";
import { ops } from "./routes/ops";
import { reservations } from "./routes/reservations";
import { resources } from "./routes/resources";
import { waitingList } from "./routes/waiting-list";

const MAX_BODY_BYTES = 64 * 1024;

/** The Worker's HTTP app: request id first, then the body limit, then the routes (each declares its access). */
export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(requestId);
  app.use(
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) => errorResponse(c, new AppError("PAYLOAD_TOO_LARGE", `The body exceeds ${MAX_BODY_BYTES} bytes.`)),
    }),
  );
  app.route("/", ops);
  app.route("/availability", availability);
  app.route("/resources", resources);
  app.route("/reservations", reservations);
  app.route("/waiting-list", waitingList);
  app.route("/admin", admin);
  app.notFound(notFound);
  app.onError(onError);
  return app;
}
