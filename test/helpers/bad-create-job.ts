// Malformed CreateJob requests: a valid body taken apart one field at a time, plus broken XML.
// Each case names what is wrong; the suite expects an XML error, a 4xx, and no write.

const NS = "http://awss3control.amazonaws.com/doc/2018-08-20/";

const VALID: Record<string, string> = {
  ConfirmationRequired: "false",
  Operation:
    "<S3InitiateRestoreObject><ExpirationInDays>1</ExpirationInDays><GlacierJobTier>STANDARD</GlacierJobTier></S3InitiateRestoreObject>",
  Report:
    "<Bucket>arn:aws:s3:::pool2</Bucket><Format>Report_CSV_20180820</Format><Enabled>true</Enabled><Prefix>r</Prefix><ReportScope>AllTasks</ReportScope>",
  ClientRequestToken: "bad-input-token",
  Manifest:
    "<Spec><Format>S3BatchOperations_CSV_20180820</Format><Fields><member>Bucket</member><member>Key</member></Fields></Spec><Location><ObjectArn>arn:aws:s3:::pool/manifest.csv</ObjectArn><ETag>abc</ETag></Location>",
  Description: "fine",
  Priority: "10",
  RoleArn: "arn:aws:iam::123456789012:role/batch-operations",
  Tags: "<member><Key>k</Key><Value>v</Value></member>",
};

export function createJobXml(
  fields: Record<string, string | undefined>,
  ns = NS,
  root = "CreateJobRequest",
): string {
  const inner = Object.entries({ ...VALID, ...fields })
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `<${k}>${v}</${k}>`)
    .join("");
  return `<?xml version="1.0" encoding="UTF-8"?><${root} xmlns="${ns}">${inner}</${root}>`;
}

const restore = (inner: string) => `<S3InitiateRestoreObject>${inner}</S3InitiateRestoreObject>`;
const tagging = (tags: string) => `<S3PutObjectTagging><TagSet>${tags}</TagSet></S3PutObjectTagging>`;
const tag = (k: string, v: string) => `<member><Key>${k}</Key><Value>${v}</Value></member>`;
const manifest = (spec: string, location: string) => `<Spec>${spec}</Spec><Location>${location}</Location>`;
const SPEC =
  "<Format>S3BatchOperations_CSV_20180820</Format><Fields><member>Bucket</member><member>Key</member></Fields>";
const LOCATION = "<ObjectArn>arn:aws:s3:::pool/manifest.csv</ObjectArn><ETag>abc</ETag>";
const report = (inner: string) => inner;

export interface BadCase {
  name: string;
  body: string;
}

export function badCreateJobCases(): BadCase[] {
  const cases: BadCase[] = [];
  const field = (name: string, fields: Record<string, string | undefined>) =>
    cases.push({ name, body: createJobXml(fields) });

  // Broken XML and envelopes
  const valid = createJobXml({});
  for (const [name, body] of [
    ["empty body", ""],
    ["not XML", "hello"],
    ["truncated", valid.slice(0, valid.length / 2)],
    ["unclosed element", valid.replace("</Priority>", "")],
    ["mismatched tags", valid.replace("</Priority>", "</Priorty>")],
    ["two roots", `${valid}${valid}`],
    ["JSON body", JSON.stringify({ Priority: 1 })],
    ["wrong namespace", createJobXml({}, "http://example.com/ns")],
    ["no namespace", valid.replace(` xmlns="${NS}"`, "")],
    ["wrong root", createJobXml({}, NS, "CreateJob")],
    ["DescribeJob root", createJobXml({}, NS, "DescribeJobRequest")],
    ["empty root", `<CreateJobRequest xmlns="${NS}"></CreateJobRequest>`],
    ["text root", `<CreateJobRequest xmlns="${NS}">text</CreateJobRequest>`],
    ["undefined entity", valid.replace("fine", "&bogus;")],
    ["bare ampersand", valid.replace("fine", "a & b")],
    [
      "DOCTYPE with entity expansion",
      `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>${valid.replace(/^<\?xml[^>]*>/, "")}`,
    ],
    [
      "external entity",
      `<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>${valid.replace("fine", "&x;")}`,
    ],
  ] as const) {
    cases.push({ name, body });
  }

  // Each required field missing or empty
  for (const f of ["Operation", "Report", "ClientRequestToken", "Manifest", "Priority", "RoleArn"]) {
    field(`missing ${f}`, { [f]: undefined });
    field(`empty ${f}`, { [f]: "" });
  }

  // Shapes the model does not allow
  field("Priority as an element", { Priority: "<Value>1</Value>" });
  field("RoleArn as an element", { RoleArn: "<Arn>arn:aws:iam::123456789012:role/batch-operations</Arn>" });
  cases.push({
    name: "Priority twice",
    body: createJobXml({}).replace(
      "<Priority>10</Priority>",
      "<Priority>10</Priority><Priority>11</Priority>",
    ),
  });
  field("empty Description", { Description: "" });
  // Priority
  for (const p of ["-1", "2147483648", "99999999999", "abc", "1.5", "1e3", " ", "0x10", "+"])
    field(`Priority ${p}`, { Priority: p });
  // ClientRequestToken, Description, RoleArn
  field("token over 64", { ClientRequestToken: "t".repeat(65) });
  field("Description over 256", { Description: "d".repeat(257) });
  field("Description 10k", { Description: "d".repeat(10_000) });
  for (const r of [
    "role",
    "arn:aws:iam::12345:role/x",
    "arn:aws:iam::123456789012:user/x",
    "arn:aws:s3:::bucket",
    `arn:aws:iam::123456789012:role/${"r".repeat(2048)}`,
    "arn::iam::123456789012:role/x",
  ]) {
    field(`RoleArn ${r.slice(0, 40)}`, { RoleArn: r });
  }
  // ConfirmationRequired
  for (const v of ["yes", "1", "TRUE", "no", "<x/>"])
    field(`ConfirmationRequired ${v}`, { ConfirmationRequired: v });
  // Tags
  field("51 tags", { Tags: Array.from({ length: 51 }, (_, i) => tag(`k${i}`, "v")).join("") });
  field("tag key empty", { Tags: tag("", "v") });
  field("tag key over 128", { Tags: tag("k".repeat(129), "v") });
  field("tag value over 256", { Tags: tag("k", "v".repeat(257)) });
  field("tag key with bad characters", { Tags: tag("k<>#", "v") });
  field("tag value with bad characters", { Tags: tag("k", "v;{}") });
  field("tag without key", { Tags: "<member><Value>v</Value></member>" });
  // ManifestGenerator
  const generator = (inner: string) =>
    `<S3JobManifestGenerator><SourceBucket>arn:aws:s3:::pool</SourceBucket>${inner}</S3JobManifestGenerator>`;
  field("Manifest and ManifestGenerator both", {
    ManifestGenerator: generator("<EnableManifestOutput>false</EnableManifestOutput>"),
  });
  for (const [name, g] of [
    ["generator output without a location", generator("<EnableManifestOutput>true</EnableManifestOutput>")],
    ["generator without EnableManifestOutput", generator("")],
    [
      "generator source not a bucket ARN",
      "<S3JobManifestGenerator><SourceBucket>pool</SourceBucket><EnableManifestOutput>false</EnableManifestOutput></S3JobManifestGenerator>",
    ],
    [
      "generator negative size",
      generator(
        "<EnableManifestOutput>false</EnableManifestOutput><Filter><ObjectSizeGreaterThanBytes>-1</ObjectSizeGreaterThanBytes></Filter>",
      ),
    ],
    [
      "generator bad date",
      generator(
        "<EnableManifestOutput>false</EnableManifestOutput><Filter><CreatedAfter>soon</CreatedAfter></Filter>",
      ),
    ],
    [
      "generator unknown storage class",
      generator(
        "<EnableManifestOutput>false</EnableManifestOutput><Filter><MatchAnyStorageClass><member>COLD</member></MatchAnyStorageClass></Filter>",
      ),
    ],
  ] as const) {
    field(name, { Manifest: undefined, ManifestGenerator: g });
  }
  // Operation
  for (const [name, op] of [
    ["unknown operation", "<S3DeleteEverything/>"],
    ["two operations", `${restore("")}${tagging(tag("a", "b"))}`],
    ["empty operation element", "<S3InitiateRestoreObject/><S3PutObjectTagging/>"],
    ["restore days -1", restore("<ExpirationInDays>-1</ExpirationInDays>")],
    ["restore days text", restore("<ExpirationInDays>week</ExpirationInDays>")],
    ["restore days too large", restore("<ExpirationInDays>2147483648</ExpirationInDays>")],
    ["restore tier FAST", restore("<GlacierJobTier>FAST</GlacierJobTier>")],
    ["restore tier lower case", restore("<GlacierJobTier>bulk</GlacierJobTier>")],
    ["tagging 11 tags", tagging(Array.from({ length: 11 }, (_, i) => tag(`k${i}`, "v")).join(""))],
    ["tagging key over 128", tagging(tag("k".repeat(129), "v"))],
    ["tagging value over 256", tagging(tag("k", "v".repeat(257)))],
    ["tagging empty key", tagging(tag("", "v"))],
    ["operation as text", "S3InitiateRestoreObject"],
    [
      "retention mode without a date",
      "<S3PutObjectRetention><Retention><Mode>GOVERNANCE</Mode></Retention></S3PutObjectRetention>",
    ],
    [
      "retention mode unknown",
      "<S3PutObjectRetention><Retention><Mode>FOREVER</Mode><RetainUntilDate>2030-01-01T00:00:00Z</RetainUntilDate></Retention></S3PutObjectRetention>",
    ],
    ["legal hold without status", "<S3PutObjectLegalHold><LegalHold/></S3PutObjectLegalHold>"],
    [
      "acl with both canned and list",
      "<S3PutObjectAcl><AccessControlPolicy><CannedAccessControlList>private</CannedAccessControlList><AccessControlList><Owner><ID>x</ID></Owner></AccessControlList></AccessControlPolicy></S3PutObjectAcl>",
    ],
    [
      "acl canned unknown",
      "<S3PutObjectAcl><AccessControlPolicy><CannedAccessControlList>everyone</CannedAccessControlList></AccessControlPolicy></S3PutObjectAcl>",
    ],
    [
      "copy target not a bucket ARN",
      "<S3PutObjectCopy><TargetResource>pool2</TargetResource></S3PutObjectCopy>",
    ],
    ["copy storage class unknown", "<S3PutObjectCopy><StorageClass>COLD</StorageClass></S3PutObjectCopy>"],
    [
      "copy date not a date",
      "<S3PutObjectCopy><ModifiedSinceConstraint>yesterday</ModifiedSinceConstraint></S3PutObjectCopy>",
    ],
    [
      "checksum CRC64NVME composite",
      "<S3ComputeObjectChecksum><ChecksumAlgorithm>CRC64NVME</ChecksumAlgorithm><ChecksumType>COMPOSITE</ChecksumType></S3ComputeObjectChecksum>",
    ],
    [
      "checksum unknown algorithm",
      "<S3ComputeObjectChecksum><ChecksumAlgorithm>CRC16</ChecksumAlgorithm></S3ComputeObjectChecksum>",
    ],
    [
      "lambda without FunctionArn",
      "<LambdaInvoke><InvocationSchemaVersion>2.0</InvocationSchemaVersion></LambdaInvoke>",
    ],
    [
      "lambda user arguments in schema 1.0",
      "<LambdaInvoke><FunctionArn>arn:aws:lambda:us-east-1:123456789012:function:f</FunctionArn><InvocationSchemaVersion>1.0</InvocationSchemaVersion><UserArguments><entry><key>k</key><value>v</value></entry></UserArguments></LambdaInvoke>",
    ],
    [
      "lambda schema 3.0",
      "<LambdaInvoke><FunctionArn>arn:aws:lambda:us-east-1:123456789012:function:f</FunctionArn><InvocationSchemaVersion>3.0</InvocationSchemaVersion></LambdaInvoke>",
    ],
    [
      "encryption without a key",
      "<S3UpdateObjectEncryption><ObjectEncryption><SSE-KMS/></ObjectEncryption></S3UpdateObjectEncryption>",
    ],
    ["replicate with a field", "<S3ReplicateObject><Anything>1</Anything></S3ReplicateObject>"],
  ] as const) {
    field(name, { Operation: op });
  }
  // Manifest
  for (const [name, m] of [
    ["unknown manifest format", manifest("<Format>CSV</Format>", LOCATION)],
    ["no manifest format", manifest("<Fields><member>Bucket</member></Fields>", LOCATION)],
    [
      "unknown field",
      manifest(
        "<Format>S3BatchOperations_CSV_20180820</Format><Fields><member>Size</member></Fields>",
        LOCATION,
      ),
    ],
    [
      "seven fields",
      manifest(
        `<Format>S3BatchOperations_CSV_20180820</Format><Fields>${"<member>Ignore</member>".repeat(7)}</Fields>`,
        LOCATION,
      ),
    ],
    ["no location", `<Spec>${SPEC}</Spec>`],
    ["no spec", `<Location>${LOCATION}</Location>`],
    [
      "inventory manifest with Fields",
      manifest(
        "<Format>S3InventoryReport_CSV_20161130</Format><Fields><member>Bucket</member></Fields>",
        LOCATION,
      ),
    ],
    ["ObjectArn not an ARN", manifest(SPEC, "<ObjectArn>pool/manifest.csv</ObjectArn><ETag>abc</ETag>")],
    [
      "ObjectArn of another service",
      manifest(SPEC, "<ObjectArn>arn:aws:sqs:::q</ObjectArn><ETag>abc</ETag>"),
    ],
    [
      "ObjectArn over 2000",
      manifest(SPEC, `<ObjectArn>arn:aws:s3:::pool/${"k".repeat(2000)}</ObjectArn><ETag>abc</ETag>`),
    ],
    ["no ETag", manifest(SPEC, "<ObjectArn>arn:aws:s3:::pool/manifest.csv</ObjectArn>")],
    ["empty ETag", manifest(SPEC, "<ObjectArn>arn:aws:s3:::pool/manifest.csv</ObjectArn><ETag></ETag>")],
    [
      "ETag over 1024",
      manifest(SPEC, `<ObjectArn>arn:aws:s3:::pool/m.csv</ObjectArn><ETag>${"e".repeat(1025)}</ETag>`),
    ],
    ["empty version id", manifest(SPEC, `${LOCATION}<ObjectVersionId></ObjectVersionId>`)],
  ] as const) {
    field(name, { Manifest: m });
  }
  // Report
  const R = {
    bucket: "<Bucket>arn:aws:s3:::pool2</Bucket>",
    format: "<Format>Report_CSV_20180820</Format>",
    enabled: "<Enabled>true</Enabled>",
  };
  for (const [name, r] of [
    ["report without Enabled", report(`${R.bucket}${R.format}`)],
    ["report Enabled yes", report(`${R.bucket}${R.format}<Enabled>yes</Enabled>`)],
    ["enabled report without bucket", report(`${R.format}${R.enabled}`)],
    ["enabled report without format", report(`${R.bucket}${R.enabled}`)],
    ["report bucket not an ARN", report(`<Bucket>pool2</Bucket>${R.format}${R.enabled}`)],
    ["report bucket with a key", report(`<Bucket>arn:aws:s3:::pool2/key</Bucket>${R.format}${R.enabled}`)],
    [
      "report bucket over 128",
      report(`<Bucket>arn:aws:s3:::${"b".repeat(120)}</Bucket>${R.format}${R.enabled}`),
    ],
    ["report format unknown", report(`${R.bucket}<Format>Report_JSON</Format>${R.enabled}`)],
    ["report prefix empty", report(`${R.bucket}${R.format}${R.enabled}<Prefix></Prefix>`)],
    [
      "report prefix over 512",
      report(`${R.bucket}${R.format}${R.enabled}<Prefix>${"p".repeat(513)}</Prefix>`),
    ],
    ["report prefix with ..", report(`${R.bucket}${R.format}${R.enabled}<Prefix>a/../b</Prefix>`)],
    ["report prefix ..", report(`${R.bucket}${R.format}${R.enabled}<Prefix>..</Prefix>`)],
    ["report scope unknown", report(`${R.bucket}${R.format}${R.enabled}<ReportScope>Some</ReportScope>`)],
    [
      "expected owner not 12 digits",
      report(`${R.bucket}${R.format}${R.enabled}<ExpectedBucketOwner>12</ExpectedBucketOwner>`),
    ],
  ] as const) {
    field(name, { Report: r });
  }
  return cases;
}
