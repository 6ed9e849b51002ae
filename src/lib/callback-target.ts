/**
 * Where the engine may POST a caller-supplied webhook (`callback_url`):
 * https on a public host only. Refused, because a URL from a client must not
 * make the engine reach inside a network (SSRF): loopback, private, shared,
 * link-local (incl. the 169.254.169.254 metadata service), multicast and
 * reserved addresses, in any spelling the URL parser accepts (it normalises
 * `0x7f.1`, `2130706433` and `[::ffff:127.0.0.1]`); single-label and
 * internal names (`localhost`, `*.local`, `*.internal`, …); and credentials
 * in the URL. A name that later resolves to a private address is left to the
 * platform: Workers' fetch does not reach private networks.
 *
 * `allowPrivate` (ALLOW_PRIVATE_CALLBACKS, development only) lifts all of it
 * for a receiver on the developer's machine, http included.
 */
export function callbackTargetProblem(raw: string, allowPrivate: boolean): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "must be an absolute URL";
  }
  if (allowPrivate) return url.protocol === "https:" || url.protocol === "http:" ? null : "must be http(s)";
  if (url.protocol !== "https:") return "must use https";
  if (url.username || url.password) return "must not contain credentials";
  const host = canonicalHost(url.hostname);
  if (host === null) return "must be a public host name";
  if (host.startsWith("[")) return publicIpv6(host.slice(1, -1)) ? null : "must not be a private or reserved address";
  if (/^\d+\.\d+\.\d+\.\d+$/.test(host)) return publicIpv4(host) ? null : "must not be a private or reserved address";
  if (!host.includes(".") || INTERNAL_SUFFIXES.some((s) => host === s || host.endsWith(`.${s}`))) {
    return "must be a public host name";
  }
  return null;
}

/**
 * The host as a resolver sees it: "localhost.." is "localhost", and
 * "0x7f.0.0.1.." is 127.0.0.1 once its trailing dots are gone (the URL parser
 * only normalises IPv4 spellings without them). Null for empty labels.
 */
function canonicalHost(hostname: string): string | null {
  let host = hostname.toLowerCase();
  if (host.endsWith(".")) {
    try {
      host = new URL(`https://${host.replace(/\.+$/, "")}/`).hostname;
    } catch {
      return null;
    }
  }
  return host === "" || host.split(".").includes("") ? null : host;
}

/** Names that only mean something inside a network (RFC 6761, 6762, 8375 and common practice). */
const INTERNAL_SUFFIXES = ["localhost", "local", "localdomain", "internal", "intranet", "lan", "home.arpa", "corp"];

/** [first address, prefix length] of IPv4 ranges that are not the public internet (RFC 6890). */
const BLOCKED_V4: [string, number][] = [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.88.99.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
];

function v4ToInt(ip: string): number {
  return ip.split(".").reduce((n, part) => n * 256 + Number(part), 0);
}

function publicIpv4(ip: string): boolean {
  const n = v4ToInt(ip);
  return !BLOCKED_V4.some(
    ([base, bits]) => Math.floor(n / 2 ** (32 - bits)) === Math.floor(v4ToInt(base) / 2 ** (32 - bits)),
  );
}

/**
 * Only global unicast (2000::/3) is public; within it, documentation
 * (2001:db8::/32), 6to4 (2002::/16) and Teredo (2001::/32) are refused
 * because they embed or tunnel to IPv4 addresses we cannot vouch for.
 * Loopback, unique-local, link-local, multicast and IPv4-mapped addresses
 * all fall outside 2000::/3.
 */
function publicIpv6(ip: string): boolean {
  const first = ip.split(":")[0] ?? "";
  const head = Number.parseInt(first === "" ? "0" : first, 16);
  if ((head & 0xe000) !== 0x2000) return false;
  const second = Number.parseInt(ip.split(":")[1] || "0", 16);
  if (head === 0x2002) return false;
  if (head === 0x2001 && (second === 0x0db8 || second === 0)) return false;
  return true;
}
