/**
 * A real HTTP receiver for webhook tests, running in Node as the test pool's
 * outbound service: every `fetch` the Worker or its Durable Objects make to
 * https://hooks.test/… lands here. Behaviour by path:
 *
 *   /ok/<name>      answers 200
 *   /flaky/<name>   answers 500 to the first 3 deliveries of each event, then 200
 *   /dead/<name>    always answers 500
 *   /slow/<name>    answers 200 after 3 seconds
 *   /redirect/<name>  answers 307 to /ok/<name>-redirected (which must never hear of it)
 *   GET /__log/<name>  what <name> received: [{event_id, signature, body, answered}]
 */
interface Received {
  event_id: string | null;
  signature: string | null;
  body: string;
  answered: number;
}

const log = new Map<string, Received[]>();
const attempts = new Map<string, number>();

export async function webhookReceiver(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (url.hostname !== "hooks.test") return new Response("no network in tests", { status: 502 });
  const [mode, name] = url.pathname.split("/").filter(Boolean);
  if (mode === "__log" && name) return Response.json(log.get(name) ?? []);
  if (!name || !["ok", "flaky", "dead", "slow", "redirect"].includes(mode ?? ""))
    return new Response("unknown", { status: 404 });

  const eventId = request.headers.get("X-Event-Id");
  const body = await request.text();
  const tries = (attempts.get(`${name}:${eventId}`) ?? 0) + 1;
  attempts.set(`${name}:${eventId}`, tries);
  if (mode === "slow") await new Promise((r) => setTimeout(r, 3000));
  if (mode === "redirect") {
    const entries = log.get(name) ?? [];
    entries.push({ event_id: eventId, signature: request.headers.get("X-Signature"), body, answered: 307 });
    log.set(name, entries);
    return new Response(null, { status: 307, headers: { Location: `https://hooks.test/ok/${name}-redirected` } });
  }
  const answered = mode === "dead" || (mode === "flaky" && tries <= 3) ? 500 : 200;
  const entries = log.get(name) ?? [];
  entries.push({ event_id: eventId, signature: request.headers.get("X-Signature"), body, answered });
  log.set(name, entries);
  return new Response(answered === 200 ? "ok" : "failing on purpose", { status: answered });
}
