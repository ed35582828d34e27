// ListJobs as AWS pages it: newest first, maxResults per page, NextToken, status filters, and
// only the caller's account.
import {
  InvalidNextTokenException,
  type JobListDescriptor,
  ListJobsCommand,
  type S3ControlClient,
  UpdateJobStatusCommand,
} from "@aws-sdk/client-s3-control";
import pLimit from "p-limit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OTHER_ACCOUNT_ID, OTHER_CREDENTIALS, OTHER_ROLE_ARN, s3ControlClient } from "../helpers/clients.ts";
import { createJob, createJobInput } from "../helpers/jobs.ts";
import { startTestRuntime, type TestRuntime } from "../helpers/runtime.ts";
import { seedScenario } from "../helpers/seed.ts";

let t: TestRuntime;
let other: S3ControlClient;
const created: string[] = [];
const cancelled = new Set<string>();

async function listAll(
  statuses?: string[],
): Promise<{ pages: JobListDescriptor[][]; tokens: (string | undefined)[] }> {
  const pages: JobListDescriptor[][] = [];
  const tokens: (string | undefined)[] = [];
  let NextToken: string | undefined;
  do {
    const out = await other.send(
      new ListJobsCommand({
        AccountId: OTHER_ACCOUNT_ID,
        MaxResults: 100,
        NextToken,
        ...(statuses ? { JobStatuses: statuses as never } : {}),
      }),
    );
    pages.push(out.Jobs ?? []);
    NextToken = out.NextToken;
    tokens.push(NextToken);
  } while (NextToken);
  return { pages, tokens };
}

beforeAll(async () => {
  t = await startTestRuntime();
  other = s3ControlClient(t.runtime.url, OTHER_CREDENTIALS);
  const manifest = await seedScenario(t.gatewayA, t.gatewayB);
  const limit = pLimit(8);
  await Promise.all(
    Array.from({ length: 250 }, (_, i) =>
      limit(async () => {
        const input = createJobInput(
          manifest,
          { S3InitiateRestoreObject: { ExpirationInDays: 1 } },
          { AccountId: OTHER_ACCOUNT_ID, ConfirmationRequired: true, Description: `job ${i}` },
        );
        created.push(await createJob(other, { ...input, RoleArn: OTHER_ROLE_ARN }));
      }),
    ),
  );
  // Every job parks in Suspended once dispatch has read its manifest.
  const deadline = Date.now() + 120_000;
  while ((await listAll(["Suspended"])).pages.flat().length < 250) {
    if (Date.now() > deadline) throw new Error("jobs did not all reach Suspended");
    await new Promise((r) => setTimeout(r, 2000));
  }
  for (const jobId of created.filter((_, i) => i % 5 === 0)) {
    await other.send(
      new UpdateJobStatusCommand({
        AccountId: OTHER_ACCOUNT_ID,
        JobId: jobId,
        RequestedJobStatus: "Cancelled",
      }),
    );
    cancelled.add(jobId);
  }
}, 240_000);

afterAll(async () => {
  other?.destroy();
  await t?.stop();
});

describe("ListJobs", () => {
  it("pages 250 jobs 100 at a time, newest first, each exactly once", async () => {
    const { pages, tokens } = await listAll();

    expect(pages.map((p) => p.length)).toEqual([100, 100, 50]);
    expect(tokens.at(-1)).toBeUndefined();
    const jobs = pages.flat();
    expect(new Set(jobs.map((j) => j.JobId))).toEqual(new Set(created));
    const times = jobs.map((j) => j.CreationTime?.getTime() ?? 0);
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(jobs[0]).toMatchObject({ Operation: "S3InitiateRestoreObject", Priority: 10 });
    expect(jobs[0]?.ProgressSummary?.TotalNumberOfTasks).toBe(3);
  });

  it("filters by status across pages", async () => {
    const onlyCancelled = await listAll(["Cancelled"]);
    expect(onlyCancelled.pages).toHaveLength(1);
    expect(new Set(onlyCancelled.pages.flat().map((j) => j.JobId))).toEqual(cancelled);
    expect(onlyCancelled.pages.flat().every((j) => j.Status === "Cancelled")).toBe(true);

    const suspended = (await listAll(["Suspended"])).pages.flat();
    expect(suspended).toHaveLength(200);
    expect(suspended.some((j) => cancelled.has(j.JobId ?? ""))).toBe(false);

    const both = (await listAll(["Suspended", "Cancelled"])).pages.flat();
    expect(both).toHaveLength(250);
  });

  it("shows one account nothing of another's jobs", async () => {
    const mine = await t.control.send(new ListJobsCommand({ AccountId: "123456789012", MaxResults: 1000 }));
    const ids = new Set((mine.Jobs ?? []).map((j) => j.JobId));
    expect(created.some((id) => ids.has(id))).toBe(false);
  });

  it("refuses a NextToken it did not issue", async () => {
    await expect(
      other.send(new ListJobsCommand({ AccountId: OTHER_ACCOUNT_ID, NextToken: "bm90LWEtdG9rZW4" })),
    ).rejects.toBeInstanceOf(InvalidNextTokenException);
  });
});
