// Who may touch what: the one module that answers "may this role do it", as IAM would. A job acts
// as its role (CreateJob's RoleArn); an extension route acts as the role its request names. A key
// may pass the roles of its own account (or those it lists); every action a job or route takes on
// a gateway is evaluated against the role's policy first, and nothing, whatever a policy says,
// reaches s3batch's own internal bucket.

import { S3ControlError, UnrecoverableError } from "../errors.ts";
import type { RequestContext } from "./conditions.ts";
import { arnMatcher } from "./glob.ts";
import type { ApiKey } from "./keys.ts";
import type { Role } from "./roles.ts";

/** One action on one resource, with the condition keys of the request (lower-case names). */
export interface Access {
  action: string;
  resource: string;
  context?: Record<string, string>;
}

/** Why an access was refused, in words that name the role, the action and the resource. */
export interface Denial {
  roleArn: string;
  action: string;
  resource: string;
  message: string;
}

/** An access refused while a step ran (a manifest read, a report write): the job fails with it. */
export class AccessDeniedError extends UnrecoverableError {
  constructor(readonly denial: Denial) {
    super("AccessDenied", denial.message);
  }
}

export const s3Arn = (bucket: string, key?: string) =>
  key === undefined ? `arn:aws:s3:::${bucket}` : `arn:aws:s3:::${bucket}/${key}`;

const denied = (message: string) => new S3ControlError("AccessDenied", 403, message);

/** Where a request or a job comes from: the condition keys that do not depend on the action. */
export interface Origin {
  /** aws:SourceIp: the client of the request (a job: the request that created it). */
  sourceIp?: string;
}

/** The deployment's roles, and the decisions made with them. */
export class Authority {
  private readonly byArn: Map<string, Role>;

  constructor(
    roles: readonly Role[],
    private readonly internalBucket: string,
  ) {
    this.byArn = new Map(roles.map((r) => [r.arn, r]));
  }

  get size(): number {
    return this.byArn.size;
  }

  /**
   * The role `key` may pass (CreateJob, a route's `role`); an S3ControlError naming the role
   * otherwise: another account's role, a role the key does not list, a role not configured.
   */
  passable(key: ApiKey, arn: string): Role {
    if (this.byArn.size === 0)
      throw new S3ControlError(
        "InvalidRequestException",
        400,
        "This deployment has no roles configured: an operator adds one (an ARN and its IAM policy) in S3BATCH_ROLES or S3BATCH_ROLES_FILE; see docs/roles.md",
      );
    const account = /^arn:aws:iam::(\d{12}):role\//.exec(arn)?.[1];
    if (account !== key.accountId)
      throw denied(
        `The access key ${key.accessKeyId} may not pass the role ${arn}: it is not a role of account ${key.accountId}`,
      );
    if (key.roles && !key.roles.some((pattern) => arnMatcher(pattern)(arn)))
      throw denied(
        `The access key ${key.accessKeyId} is not authorized to perform: iam:PassRole on resource: ${arn}`,
      );
    const role = this.byArn.get(arn);
    if (!role)
      throw new S3ControlError(
        "InvalidRequestException",
        400,
        `The role ${arn} is not configured in this deployment (S3BATCH_ROLES)`,
      );
    return role;
  }

  /** The authorizer of everything done as `arn` (a role since removed from the configuration denies all). */
  actingAs(arn: string, origin: Origin = {}): Authorizer {
    return new Authorizer(arn, this.byArn.get(arn), this.internalBucket, origin);
  }

  /** The authorizer of a job's steps: its role, from where the job was created. */
  forJob(job: { request: { RoleArn: string }; origin?: Origin }): Authorizer {
    return this.actingAs(job.request.RoleArn, job.origin ?? {});
  }

  /** Whether a bucket name is s3batch's own. */
  isInternal(bucket: string): boolean {
    return bucket === this.internalBucket;
  }
}

/** Decisions for one role, from one origin. */
export class Authorizer {
  private readonly internalArn: string;
  private readonly base: Record<string, string>;
  private clock: { second: number; context: RequestContext } = { second: -1, context: {} };

  constructor(
    readonly roleArn: string,
    private readonly role: Role | undefined,
    internalBucket: string,
    origin: Origin,
  ) {
    this.internalArn = s3Arn(internalBucket);
    this.base = {
      "aws:principalarn": roleArn,
      "aws:principalaccount": role?.accountId ?? "",
      "aws:principaltype": "AssumedRole",
      ...(origin.sourceIp ? { "aws:sourceip": origin.sourceIp } : {}),
    };
  }

  /** Whether the role may act on a gateway at all (a role may be limited to some). */
  mayUse(endpointId: string): boolean {
    return this.role !== undefined && (this.role.endpoints?.includes(endpointId) ?? true);
  }

  /** The first of `accesses` the role may not do, or undefined when it may do them all. */
  check(...accesses: Access[]): Denial | undefined {
    const base = this.context();
    for (const a of accesses) {
      const why = this.refusal(a, a.context ? { ...base, ...a.context } : base);
      if (why)
        return {
          roleArn: this.roleArn,
          action: a.action,
          resource: a.resource,
          message: `${this.roleArn} is not authorized to perform: ${a.action} on resource: ${a.resource} because ${why}`,
        };
    }
    return undefined;
  }

  /** As `check`, throwing AccessDeniedError. */
  require(...accesses: Access[]): void {
    const denial = this.check(...accesses);
    if (denial) throw new AccessDeniedError(denial);
  }

  private refusal(a: Access, context: RequestContext): string | undefined {
    if (a.resource === this.internalArn || a.resource.startsWith(`${this.internalArn}/`))
      return "the bucket belongs to s3batch";
    if (!this.role) return "the role is not configured in this deployment";
    const { decision, by } = this.role.policy.decide(a.action, a.resource, context);
    if (decision === "Allowed") return undefined;
    return decision === "ExplicitlyDenied"
      ? `of an explicit deny in statement ${by} of its policy`
      : "no statement of its policy allows it";
  }

  /** The request context of this second: built again only when the clock's second moves. */
  private context(): RequestContext {
    const second = Math.floor(Date.now() / 1000);
    if (second !== this.clock.second) {
      const iso = new Date(second * 1000).toISOString();
      this.clock = {
        second,
        context: { ...this.base, "aws:currenttime": iso, "aws:epochtime": String(second) },
      };
    }
    return this.clock.context;
  }
}
