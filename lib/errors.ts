// Error classes shared by every function. Control flow reads the class: SQS handlers retry
// RetryableError (redelivery), record UnrecoverableError on the job, and the API maps
// S3ControlError subclasses to their XML error bodies.

export class S3BatchError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The deployment's configuration is wrong (an environment variable, a file it names): nothing starts. */
export class ConfigError extends S3BatchError {}

/** A conditional write lost its race: the caller re-reads and decides again. */
export class ConflictError extends S3BatchError {}

/** A transient failure (throttling, network, a reconciler that must wait): redeliver the message. */
export class RetryableError extends S3BatchError {}

/** A document kept changing under every conditional write the retry policy allows: try later. */
export class ContentionError extends RetryableError {}

/** Work given up because its signal fired (a handover, a lost lease, a cancel): not a failure. */
export class StoppedError extends S3BatchError {}

/**
 * A gateway's shared budget could not be settled for three leases (the control store is away): the
 * request counts as the endpoint's unavailability (retry/policy.ts), so the outage window applies.
 */
export class BudgetUnavailableError extends S3BatchError {
  override readonly name = "BudgetUnavailable";
}

/** A failure that no retry can fix: the job records it and fails. */
export class UnrecoverableError extends S3BatchError {
  constructor(
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** An error that the S3 Control API returns to its caller as an XML error body. */
export class S3ControlError extends S3BatchError {
  constructor(
    readonly code: string,
    readonly status: 400 | 403 | 404 | 409 | 413 | 429 | 500 | 503,
    message: string,
  ) {
    super(message);
  }
}

export const badRequest = (message: string) => new S3ControlError("BadRequestException", 400, message);
export const invalidRequest = (message: string) =>
  new S3ControlError("InvalidRequestException", 400, message);
export const notFound = (message: string) => new S3ControlError("NotFoundException", 404, message);
