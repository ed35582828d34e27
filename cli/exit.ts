// The CLI's exit codes, one error class each:
//   0  success, or a job that ended Complete
//   1  a job that ended Failed or Cancelled, or an API error
//   2  a usage error
//   3  the API cannot be reached or refused the credentials
export const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3 } as const;

/** The API answered with an error. */
export class ApiError extends Error {
  readonly exitCode = EXIT.failed;
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
  ) {
    super(`${code}${status ? ` (HTTP ${status})` : ""}: ${message}`);
  }
}

/** The command line asks for something that cannot be done. */
export class UsageError extends Error {
  readonly exitCode = EXIT.usage;
}

/** The API cannot be reached, or refused the credentials. */
export class Unreachable extends Error {
  readonly exitCode = EXIT.unreachable;
}

/** A watched job ended, not Complete. */
export class JobNotComplete extends Error {
  readonly exitCode = EXIT.failed;
}
