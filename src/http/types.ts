/** Hono's environment for this app: the Worker's bindings and per-request variables. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    /** When the Worker received the request (epoch ms), for commit_duration_seconds. */
    receivedAt: number;
    /** Who is calling, for scoping idempotency keys and for the audit trail. */
    principal: string;
    /** The error code or decision outcome, for the request log. */
    outcome: string;
    /** The request's log line is taken care of. */
    logged: boolean;
  };
}
