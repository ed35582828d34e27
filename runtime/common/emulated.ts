// What the Node and Deno runtimes share about the embedded emulators: the endpoints
// localstack/start.sh prints, and the endpoint document for the two emulated gateways. Starting
// the script is each runtime's own business (child_process on Node, Deno.Command on Deno).

export interface EmulatorUrls {
  control: string;
  gatewayA: string;
  gatewayB: string;
  /** versitygw, a third make of gateway, when started with S3BATCH_THIRD_GATEWAY=1. */
  gatewayC?: string;
  /** Ceph RGW on a one-node RADOS cluster: the federation's real gateway (gateways/ceph.sh). */
  rgw?: string;
  /** Ceph RGW on its dbstore backend, which acknowledges some writes it does not make. */
  rgwDbstore?: string;
  /** An on-prem control plane in place of `control`: ElasticMQ's queues, RGW's internal bucket. */
  controlSqs?: string;
  controlS3?: string;
}

/** The URLs in start.sh's output (`NAME=value` lines). */
export function parseStartOutput(out: string): EmulatorUrls {
  const vars = new Map(
    out
      .trim()
      .split("\n")
      .map((l) => l.split("=", 2) as [string, string]),
  );
  const get = (name: string) => {
    const v = vars.get(name);
    if (!v) throw new Error(`localstack/start.sh printed no ${name}`);
    return v;
  };
  return {
    control: get("S3BATCH_CONTROL_URL"),
    gatewayA: get("S3BATCH_GATEWAY_A_URL"),
    gatewayB: get("S3BATCH_GATEWAY_B_URL"),
    ...(vars.get("S3BATCH_GATEWAY_C_URL") ? { gatewayC: vars.get("S3BATCH_GATEWAY_C_URL") as string } : {}),
  };
}

/** The endpoint document for the two emulated gateways, and the real one (Ceph RGW, `gateway-r`) when it runs. */
export function emulatedEndpoints(
  urls: Pick<EmulatorUrls, "gatewayA" | "gatewayB" | "rgw">,
  credentials = { accessKeyId: "test", secretAccessKey: "test" },
) {
  const entry = (id: string, url: string) => ({
    id,
    url,
    region: "us-east-1",
    credentials,
    forcePathStyle: true,
  });
  return JSON.stringify([
    entry("gateway-a", urls.gatewayA),
    entry("gateway-b", urls.gatewayB),
    ...(urls.rgw ? [entry("gateway-r", urls.rgw)] : []),
  ]);
}

/** The embedded setup's API key: LocalStack's test/test, for account 123456789012. */
export const EMBEDDED_API_KEYS = JSON.stringify([
  { accessKeyId: "test", secretAccessKey: "test", accountId: "123456789012" },
]);

/** The embedded setup's role: every bucket of the emulators is a demo bucket. docs/roles.md. */
export const DEMO_ROLE_ARN = "arn:aws:iam::123456789012:role/s3batch-demo";
export const EMBEDDED_ROLES = JSON.stringify([
  {
    arn: DEMO_ROLE_ARN,
    description: "npm start's demo role: anything on the emulated gateways' buckets",
    policy: {
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "DemoBuckets",
          Effect: "Allow",
          Action: "s3:*",
          Resource: ["arn:aws:s3:::*", "arn:aws:s3:::*/*"],
        },
        {
          Sid: "DemoFunctions",
          Effect: "Allow",
          Action: "lambda:InvokeFunction",
          Resource: "arn:aws:lambda:*:123456789012:function:*",
        },
      ],
    },
  },
]);
