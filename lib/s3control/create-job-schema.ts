// The CreateJob request as the S3 Control model defines it, with AWS's bounds. Input is the
// object fast-xml-parser makes of the body: every leaf a string, lists as {member: [...]}.
import { z } from "zod";
import { xmlList } from "./xml.ts";

const xmlInt = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^-?\d{1,12}$/, "must be an integer")
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const xmlBool = z
  .enum(["true", "false"], { message: "must be true or false" })
  .transform((v) => v === "true");

const s3Arn = z
  .string()
  .min(1)
  .max(2000)
  .regex(/^arn:[^:]+:s3:.*$/, "must be an S3 ARN");
const bucketArn = z
  .string()
  .min(1)
  .max(128)
  .regex(/^arn:[^:]+:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be an S3 bucket ARN");
const accountId = z
  .string()
  .max(64)
  .regex(/^\d{12}$/, "must be a 12-digit account ID");

const tagPattern = /^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$/u;
export const jobTagSchema = z.object({
  Key: z.string().min(1).max(128).regex(tagPattern, "has characters a tag key cannot have"),
  Value: z.preprocess(
    (v) => v ?? "",
    z.string().max(256).regex(tagPattern, "has characters a tag value cannot have"),
  ),
});

const s3TagSchema = z.object({
  Key: z.string().min(1).max(128),
  Value: z.preprocess((v) => v ?? "", z.string().max(256)),
});

const restoreSchema = z.object({
  ExpirationInDays: xmlInt(0, 2147483647).optional(),
  GlacierJobTier: z.enum(["BULK", "STANDARD"]).optional(),
});

const putTaggingSchema = z.object({
  TagSet: xmlList(s3TagSchema, 10).optional(),
});

/** The operations this release runs; the rest of the model's operations are refused up front. */
export const operationSchema = z
  .object({
    S3InitiateRestoreObject: restoreSchema.optional(),
    S3PutObjectTagging: putTaggingSchema.optional(),
  })
  .strict()
  .refine(
    (op) => Object.values(op).filter((v) => v !== undefined).length === 1,
    "exactly one operation is required",
  );

const manifestFieldSchema = z.enum(["Ignore", "Bucket", "Key", "VersionId"]);

export const manifestSchema = z.object({
  Spec: z.object({
    Format: z.enum(["S3BatchOperations_CSV_20180820"]),
    Fields: xmlList(manifestFieldSchema, 6).optional(),
  }),
  Location: z.object({
    ObjectArn: s3Arn,
    ObjectVersionId: z.string().min(1).max(2000).optional(),
    ETag: z.string().min(1).max(1024),
  }),
});

export const reportSchema = z
  .object({
    Bucket: bucketArn.optional(),
    Format: z.enum(["Report_CSV_20180820"]).optional(),
    Enabled: xmlBool,
    Prefix: z.string().min(1).max(512).optional(),
    ReportScope: z.enum(["AllTasks", "FailedTasksOnly"]).optional(),
    ExpectedBucketOwner: accountId.optional(),
  })
  .refine((r) => !r.Enabled || (r.Bucket && r.Format), "an enabled report needs Bucket and Format")
  .refine((r) => !r.Prefix?.split("/").includes(".."), "Prefix must not contain '..' segments");

export const createJobSchema = z.object({
  ConfirmationRequired: xmlBool.optional(),
  Operation: operationSchema,
  Report: reportSchema,
  ClientRequestToken: z.string().min(1).max(64),
  Manifest: manifestSchema,
  Description: z.string().min(1).max(256).optional(),
  Priority: xmlInt(0, 2147483647),
  RoleArn: z
    .string()
    .min(1)
    .max(2048)
    .regex(/^arn:[^:]+:iam::\d{12}:role\/.*$/, "must be an IAM role ARN"),
  Tags: xmlList(jobTagSchema, 50).optional(),
});

export type CreateJobInput = z.output<typeof createJobSchema>;
export type ManifestSpec = CreateJobInput["Manifest"];
export type ReportSpec = CreateJobInput["Report"];
export type OperationSpec = CreateJobInput["Operation"];
