// Runs the s3batch CLI as a user does: `bin/s3batch.mjs` in a process of its own, credentials in
// the environment, the API's URL in S3BATCH_API.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ACCOUNT_ID, TEST_CREDENTIALS } from "./clients.ts";

export const CLI = fileURLToPath(new URL("../../bin/s3batch.mjs", import.meta.url));
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function cliEnv(apiUrl: string, credentials = TEST_CREDENTIALS, accountId = ACCOUNT_ID) {
  return {
    ...process.env,
    S3BATCH_API: apiUrl,
    S3BATCH_ACCOUNT_ID: accountId,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    // No profile of the machine's may take part.
    AWS_CONFIG_FILE: "/dev/null",
    AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
  };
}

export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  command = [process.execPath, CLI],
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const [bin = "", ...pre] = command;
    const child = spawn(bin, [...pre, ...args], { env, cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Runs the CLI and parses its --json output; fails with its stderr when it exits non-zero. */
export async function cliJson<T>(args: string[], env: NodeJS.ProcessEnv): Promise<T> {
  const r = await runCli(["--json", ...args], env);
  if (r.code !== 0) throw new Error(`s3batch ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
