import { describe, expect, it } from "vitest";
import { callbackTargetProblem } from "../../src/lib/callback-target";

/** The SSRF policy for waiting-list `callback_url`, address by address. */
describe("callback_url targets", () => {
  const refused = [
    ["http://hooks.example.com/x", "must use https"],
    ["ftp://hooks.example.com/x", "must use https"],
    ["https://user:pw@hooks.example.com/x", "must not contain credentials"],
    ["https://localhost/x", "must be a public host name"],
    ["https://localhost./x", "must be a public host name"],
    ["https://api.localhost/x", "must be a public host name"],
    ["https://printer.local/x", "must be a public host name"],
    ["https://metadata.google.internal/computeMetadata/v1/", "must be a public host name"],
    ["https://router.home.arpa/x", "must be a public host name"],
    ["https://intranet/x", "must be a public host name"],
    ["https://127.0.0.1/x", "must not be a private or reserved address"],
    ["https://127.1/x", "must not be a private or reserved address"],
    ["https://2130706433/x", "must not be a private or reserved address"],
    ["https://0x7f000001/x", "must not be a private or reserved address"],
    ["https://0177.0.0.1/x", "must not be a private or reserved address"],
    ["https://0.0.0.0/x", "must not be a private or reserved address"],
    ["https://10.1.2.3/x", "must not be a private or reserved address"],
    ["https://100.64.0.1/x", "must not be a private or reserved address"],
    ["https://172.16.0.1/x", "must not be a private or reserved address"],
    ["https://172.31.255.255/x", "must not be a private or reserved address"],
    ["https://192.168.1.1/x", "must not be a private or reserved address"],
    ["https://169.254.169.254/latest/meta-data/", "must not be a private or reserved address"],
    ["https://224.0.0.1/x", "must not be a private or reserved address"],
    ["https://255.255.255.255/x", "must not be a private or reserved address"],
    ["https://[::1]/x", "must not be a private or reserved address"],
    ["https://[::]/x", "must not be a private or reserved address"],
    ["https://[::ffff:127.0.0.1]/x", "must not be a private or reserved address"],
    ["https://[::ffff:a9fe:a9fe]/x", "must not be a private or reserved address"],
    ["https://[fe80::1]/x", "must not be a private or reserved address"],
    ["https://[fd00:ec2::254]/x", "must not be a private or reserved address"],
    ["https://[fc00::1]/x", "must not be a private or reserved address"],
    ["https://[ff02::1]/x", "must not be a private or reserved address"],
    ["https://[2001:db8::1]/x", "must not be a private or reserved address"],
    ["https://[2002:7f00:1::1]/x", "must not be a private or reserved address"],
    ["https://[2001::1]/x", "must not be a private or reserved address"],
    ["https://localhost../x", "must be a public host name"],
    ["https://metadata.google.internal../", "must be a public host name"],
    ["https://localhost%2e%2e/x", "must be a public host name"],
    ["https://127.0.0.1../x", "must not be a private or reserved address"],
    ["https://0x7f.0.0.1../x", "must not be a private or reserved address"],
    ["not a url", "must be an absolute URL"],
  ] as const;

  it.each(refused)("refuses %s", (url, problem) => {
    expect(callbackTargetProblem(url, false)).toBe(problem);
  });

  const accepted = [
    "https://hooks.example.com/notify",
    "https://hooks.example.com:8443/notify?x=1",
    "https://xn--bcher-kva.example/notify",
    "https://8.8.8.8/notify",
    "https://172.32.0.1/notify",
    "https://[2606:4700:4700::1111]/notify",
  ];

  it.each(accepted)("accepts %s", (url) => {
    expect(callbackTargetProblem(url, false)).toBeNull();
  });

  it("lets a developer point callbacks at a local receiver with the switch on, http only otherwise", () => {
    expect(callbackTargetProblem("http://127.0.0.1:8788/hook", true)).toBeNull();
    expect(callbackTargetProblem("https://localhost/hook", true)).toBeNull();
    expect(callbackTargetProblem("ftp://127.0.0.1/hook", true)).toBe("must be http(s)");
  });
});
