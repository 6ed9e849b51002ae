/** Hono's environment for this app: the Worker's bindings and per-request variables. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    /** Who is calling, for scoping idempotency keys and for the audit trail. */
    principal: string;
  };
}
