// Notification targets are judged as parsed URLs and addresses, not strings: every special range
// refused whatever its spelling, the allow-list matched by scheme, host, port and path segment,
// queue-looking URLs refused unless configured, and no refusal showing a path.
import { describe, expect, it } from "vitest";
import { addressAllowed, checkResolved, parseTarget, type TargetPolicy } from "../../lib/notify/targets.ts";

const open: TargetPolicy = { allowed: [], queues: [], allowNetworks: [] };
const refusal = (url: string, policy = open) => {
  try {
    parseTarget(url, policy);
  } catch (err) {
    return (err as Error).message;
  }
  return undefined;
};

describe("notification targets", () => {
  it.each([
    "http://127.0.0.1/x",
    "http://127.1/x",
    "http://2130706433/x",
    "http://0x7f000001/x",
    "http://0177.0.0.1/x",
    "http://0.0.0.0/x",
    "http://10.0.0.8/x",
    "http://172.16.4.4/x",
    "http://192.168.1.1/x",
    "http://100.64.0.1/x",
    "http://169.254.169.254/latest/meta-data",
    "http://[::1]/x",
    "http://[::ffff:127.0.0.1]/x",
    "http://[::ffff:7f00:1]/x",
    "http://[fd00:ec2::254]/x",
    "http://[fe80::1]/x",
    "http://224.0.0.1/x",
    "http://localhost:8080/x",
    "http://api.localhost/x",
  ])("refuses %s", (url) => {
    const why = refusal(url);
    expect(why).toMatch(/refused/);
    expect(why).not.toContain("/x");
  });

  it("accepts public addresses and names (names are resolved when sending)", () => {
    for (const url of ["https://8.8.8.8/hook", "https://hooks.example.com/a/b", "http://[2001:4860::8888]/h"])
      expect(refusal(url)).toBeUndefined();
  });

  it("matches the allow-list by scheme, host, port and path segment", () => {
    const policy = {
      ...open,
      allowed: ["https://hooks.example.com/services/", "https://ops.example.com/team"],
    };
    expect(refusal("https://hooks.example.com/services/T1/B2", policy)).toBeUndefined();
    expect(refusal("https://ops.example.com/team/x", policy)).toBeUndefined();
    expect(refusal("https://ops.example.com/team", policy)).toBeUndefined();
    for (const bad of [
      "https://hooks.example.com.evil.io/services/T1",
      "https://hooks.example.com@evil.io/services/",
      "http://hooks.example.com/services/T1",
      "https://hooks.example.com:8443/services/T1",
      "https://hooks.example.com/servicesX/T1",
      "https://ops.example.com/teamwork",
      "https://HOOKS.example.com.evil.io/services/",
    ])
      expect(refusal(bad, policy), bad).toMatch(/refused/);
  });

  it("sends to a queue only when the operator configured it", () => {
    const queue = "https://sqs.eu-west-1.amazonaws.com/123456789012/job-events";
    expect(refusal(queue)).toMatch(/SQS queue this deployment does not send to/);
    expect(refusal("https://evil.io/123456789012/job-events")).toMatch(/SQS queue/);
    expect(parseTarget(queue, { ...open, queues: [queue] })).toEqual({ kind: "queue", url: queue });
  });

  it("lets the operator allow a network, and checks every resolved address", () => {
    expect(addressAllowed("10.1.2.3", ["10.0.0.0/8"])).toBe(true);
    expect(addressAllowed("10.1.2.3", ["192.168.0.0/16"])).toBe(false);
    const u = new URL("https://hooks.example.com/x");
    expect(() => checkResolved(u, ["93.184.216.34", "127.0.0.1"], open)).toThrow(/not a public one/);
    expect(() => checkResolved(u, [], open)).toThrow(/did not resolve/);
    expect(() => checkResolved(u, ["93.184.216.34"], open)).not.toThrow();
  });
});
