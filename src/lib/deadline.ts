/** Thrown by `withDeadline` when the work did not settle in time. */
export class DeadlineExceeded extends Error {
  constructor(label: string, ms: number) {
    super(`${label} took longer than ${ms} ms`);
    this.name = "DeadlineExceeded";
  }
}

/**
 * `work`, or a `DeadlineExceeded` rejection after `ms`. The work itself goes
 * on (a binding call cannot be cancelled); only the caller stops waiting, so
 * a slow dependency costs at most `ms` on the request path.
 */
export async function withDeadline<T>(work: Promise<T>, ms: number, label: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineExceeded(label, ms)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
