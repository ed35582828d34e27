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

/** An element with no children (`<S3ReplicateObject/>`) parses as "": an empty object. */
const element = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === "" ? {} : v), schema);

const xmlDate = z
  .string()
  .trim()
  .max(64)
  .refine((v) => !Number.isNaN(Date.parse(v)), "must be a timestamp")
  .transform((v) => new Date(v).toISOString());

/** An S3 Control map, `<entry><key/><value/></entry>…`, as a list of entries. */
const mapEntries = (v: unknown) => {
  const entries = v && typeof v === "object" && "entry" in v ? (v as { entry: unknown }).entry : v;
  return Array.isArray(entries) ? entries : entries === undefined || entries === "" ? [] : [entries];
};

const cannedAcl = z.enum([
  "private",
  "public-read",
  "public-read-write",
  "aws-exec-read",
  "authenticated-read",
  "bucket-owner-read",
  "bucket-owner-full-control",
]);

const grantSchema = z.object({
  Grantee: z
    .object({
      TypeIdentifier: z.enum(["id", "emailAddress", "uri"]).optional(),
      Identifier: z.string().min(1).max(1024).optional(),
      DisplayName: z.string().min(1).max(1024).optional(),
    })
    .optional(),
  Permission: z.enum(["FULL_CONTROL", "READ", "WRITE", "READ_ACP", "WRITE_ACP"]).optional(),
});

const aclSchema = element(
  z.object({
    AccessControlPolicy: z
      .object({
        AccessControlList: z
          .object({
            Owner: z.object({
              ID: z.string().max(1024).optional(),
              DisplayName: z.string().max(1024).optional(),
            }),
            Grants: xmlList(grantSchema, 100).optional(),
          })
          .optional(),
        CannedAccessControlList: cannedAcl.optional(),
      })
      .refine(
        (p) => Boolean(p.AccessControlList) !== Boolean(p.CannedAccessControlList),
        "give AccessControlList or CannedAccessControlList",
      ),
  }),
);

const retentionSchema = z.object({
  BypassGovernanceRetention: xmlBool.optional(),
  Retention: element(
    z
      .object({
        RetainUntilDate: xmlDate.optional(),
        Mode: z.enum(["GOVERNANCE", "COMPLIANCE"]).optional(),
      })
      .refine((r) => Boolean(r.RetainUntilDate) === Boolean(r.Mode), "Mode and RetainUntilDate go together"),
  ),
});

const legalHoldSchema = z.object({
  LegalHold: z.object({ Status: z.enum(["ON", "OFF"]) }),
});

const storageClass = z.enum([
  "STANDARD",
  "STANDARD_IA",
  "ONEZONE_IA",
  "GLACIER",
  "INTELLIGENT_TIERING",
  "DEEP_ARCHIVE",
  "GLACIER_IR",
]);

const s3ChecksumAlgorithm = z.enum(["CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME"]);

const copySchema = element(
  z.object({
    TargetResource: bucketArn.optional(),
    CannedAccessControlList: cannedAcl.optional(),
    AccessControlGrants: xmlList(grantSchema, 100).optional(),
    MetadataDirective: z.enum(["COPY", "REPLACE"]).optional(),
    ModifiedSinceConstraint: xmlDate.optional(),
    NewObjectMetadata: z
      .object({
        CacheControl: z.string().min(1).max(1024).optional(),
        ContentDisposition: z.string().min(1).max(1024).optional(),
        ContentEncoding: z.string().min(1).max(1024).optional(),
        ContentLanguage: z.string().min(1).max(1024).optional(),
        UserMetadata: z
          .preprocess(
            mapEntries,
            z.array(z.object({ key: z.string().min(1).max(1024), value: z.string().max(1024) })).max(100),
          )
          .optional(),
        ContentLength: xmlInt(0, Number.MAX_SAFE_INTEGER).optional(),
        ContentMD5: z.string().min(1).max(1024).optional(),
        ContentType: z.string().min(1).max(1024).optional(),
        HttpExpiresDate: xmlDate.optional(),
        RequesterCharged: xmlBool.optional(),
        SSEAlgorithm: z.enum(["AES256", "KMS"]).optional(),
      })
      .optional(),
    NewObjectTagging: xmlList(s3TagSchema, 10).optional(),
    RedirectLocation: z.string().min(1).max(2048).optional(),
    RequesterPays: xmlBool.optional(),
    StorageClass: storageClass.optional(),
    UnModifiedSinceConstraint: xmlDate.optional(),
    SSEAwsKmsKeyId: z.string().min(1).max(2000).optional(),
    TargetKeyPrefix: z.string().min(1).max(1024).optional(),
    ObjectLockLegalHoldStatus: z.enum(["OFF", "ON"]).optional(),
    ObjectLockMode: z.enum(["COMPLIANCE", "GOVERNANCE"]).optional(),
    ObjectLockRetainUntilDate: xmlDate.optional(),
    BucketKeyEnabled: xmlBool.optional(),
    ChecksumAlgorithm: s3ChecksumAlgorithm.optional(),
  }),
);

const checksumSchema = element(
  z
    .object({
      ChecksumAlgorithm: z.enum(["CRC32", "CRC32C", "CRC64NVME", "MD5", "SHA1", "SHA256"]).optional(),
      ChecksumType: z.enum(["FULL_OBJECT", "COMPOSITE"]).optional(),
    })
    .refine(
      (c) => !(c.ChecksumAlgorithm === "CRC64NVME" && c.ChecksumType === "COMPOSITE"),
      "CRC64NVME has no COMPOSITE checksum type",
    ),
);

const lambdaSchema = z
  .object({
    FunctionArn: z
      .string()
      .min(1)
      .max(1024)
      .regex(
        /^(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_.]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?$/,
        "must be a Lambda function ARN",
      ),
    InvocationSchemaVersion: z.enum(["1.0", "2.0"]).optional(),
    UserArguments: z
      .preprocess(
        mapEntries,
        z
          .array(z.object({ key: z.string().min(1).max(64), value: z.string().min(1).max(1024) }))
          .min(1)
          .max(10),
      )
      .optional(),
  })
  .refine(
    (l) => !l.UserArguments || l.InvocationSchemaVersion === "2.0",
    "UserArguments need InvocationSchemaVersion 2.0",
  );

// The model names the element "SSE-KMS" on the wire (its member is SSEKMS in the SDKs).
const encryptionSchema = z.object({
  ObjectEncryption: z.object({
    "SSE-KMS": z.object({
      KMSKeyArn: z.string().min(1).max(2048),
      BucketKeyEnabled: xmlBool.optional(),
    }),
  }),
});

/** Every operation of the S3 Control model; exactly one per job. */
export const operationSchema = z
  .object({
    LambdaInvoke: lambdaSchema.optional(),
    S3PutObjectCopy: copySchema.optional(),
    S3PutObjectAcl: aclSchema.optional(),
    S3PutObjectTagging: element(putTaggingSchema).optional(),
    S3DeleteObjectTagging: element(z.object({}).strict()).optional(),
    S3InitiateRestoreObject: element(restoreSchema).optional(),
    S3PutObjectLegalHold: legalHoldSchema.optional(),
    S3PutObjectRetention: retentionSchema.optional(),
    S3ReplicateObject: element(z.object({}).strict()).optional(),
    S3ComputeObjectChecksum: checksumSchema.optional(),
    S3UpdateObjectEncryption: encryptionSchema.optional(),
    // s3batch's own: deletes the row's object (or version) on every endpoint holding it.
    S3DeleteObject: element(z.object({}).strict()).optional(),
    // Internal: a survey job's operation (operations/survey.ts); refused in a CreateJob request.
    S3SurveyObject: z.object({ Of: z.string(), TargetBucket: z.string().optional() }).optional(),
  })
  .strict()
  .refine(
    (op) => Object.values(op).filter((v) => v !== undefined).length === 1,
    "exactly one operation is required",
  );

const manifestFieldSchema = z.enum(["Ignore", "Bucket", "Key", "VersionId"]);

export const manifestSchema = z.object({
  Spec: z
    .object({
      Format: z.enum(["S3BatchOperations_CSV_20180820", "S3InventoryReport_CSV_20161130"]),
      Fields: xmlList(manifestFieldSchema, 6).optional(),
    })
    .refine(
      (spec) => spec.Format === "S3BatchOperations_CSV_20180820" || !spec.Fields,
      "an S3InventoryReport_CSV_20161130 manifest takes its columns from its fileSchema, not Fields",
    ),
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

const prefixList = xmlList(z.string().min(1).max(1024), 100);

export const manifestGeneratorSchema = z.object({
  S3JobManifestGenerator: z.object({
    ExpectedBucketOwner: accountId.optional(),
    SourceBucket: bucketArn,
    ManifestOutputLocation: z
      .object({
        ExpectedManifestBucketOwner: accountId.optional(),
        Bucket: bucketArn,
        ManifestPrefix: z.string().min(1).max(512).optional(),
        ManifestEncryption: z.unknown().optional(),
        ManifestFormat: z.enum(["S3InventoryReport_CSV_20211130"]),
      })
      .optional(),
    Filter: z
      .object({
        EligibleForReplication: xmlBool.optional(),
        CreatedAfter: xmlDate.optional(),
        CreatedBefore: xmlDate.optional(),
        ObjectReplicationStatuses: xmlList(z.enum(["COMPLETED", "FAILED", "REPLICA", "NONE"]), 4).optional(),
        KeyNameConstraint: z
          .object({
            MatchAnyPrefix: prefixList.optional(),
            MatchAnySuffix: prefixList.optional(),
            MatchAnySubstring: prefixList.optional(),
          })
          .optional(),
        ObjectSizeGreaterThanBytes: xmlInt(0, Number.MAX_SAFE_INTEGER).optional(),
        ObjectSizeLessThanBytes: xmlInt(0, Number.MAX_SAFE_INTEGER).optional(),
        MatchAnyStorageClass: xmlList(storageClass, 7).optional(),
      })
      .optional(),
    EnableManifestOutput: xmlBool,
  }),
});

export const createJobSchema = z
  .object({
    ConfirmationRequired: xmlBool.optional(),
    Operation: operationSchema,
    Report: reportSchema,
    ClientRequestToken: z.string().min(1).max(64),
    Manifest: manifestSchema.optional(),
    ManifestGenerator: manifestGeneratorSchema.optional(),
    Description: z.string().min(1).max(256).optional(),
    Priority: xmlInt(0, 2147483647),
    RoleArn: z
      .string()
      .min(1)
      .max(2048)
      .regex(/^arn:[^:]+:iam::\d{12}:role\/.*$/, "must be an IAM role ARN"),
    Tags: xmlList(jobTagSchema, 50).optional(),
  })
  .refine(
    (r) => Boolean(r.Manifest) !== Boolean(r.ManifestGenerator),
    "give exactly one of Manifest and ManifestGenerator",
  )
  .refine((r) => !r.Operation.S3SurveyObject, {
    message: "S3SurveyObject is not an operation a job can name",
    path: ["Operation"],
  })
  .refine((r) => !r.Operation.S3DeleteObject || r.ConfirmationRequired === true, {
    message: "an S3DeleteObject job must be created with ConfirmationRequired",
    path: ["ConfirmationRequired"],
  })
  .refine(
    (r) =>
      !r.ManifestGenerator?.S3JobManifestGenerator.EnableManifestOutput ||
      Boolean(r.ManifestGenerator.S3JobManifestGenerator.ManifestOutputLocation),
    "EnableManifestOutput needs a ManifestOutputLocation",
  );

export type CreateJobInput = z.output<typeof createJobSchema>;
export type ManifestSpec = NonNullable<CreateJobInput["Manifest"]>;
export type ManifestGeneratorSpec = NonNullable<
  CreateJobInput["ManifestGenerator"]
>["S3JobManifestGenerator"];
export type OperationSpec = CreateJobInput["Operation"];

/** The name of the one operation a job's Operation names (S3PutObjectTagging, ...). */
export const operationName = (op: object | undefined): string | undefined =>
  Object.entries(op ?? {}).find(([, v]) => v !== undefined)?.[0];
