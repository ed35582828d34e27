// The internal bucket as a small document store: JSON documents with conditional writes
// (If-None-Match to create, If-Match on the ETag just read to replace) and raw byte objects.
// Ages (how long ago an object was last written) are measured on the storage server's clock, so
// leases hold across hosts whose clocks disagree.
//
// JsonStore is what every step sees: the primitives a store provides, and on top of them the one
// conditional update (`update`: read, change, write If-Match, and on a lost race read and decide
// again under the retry policy). S3JsonStore keeps it in a bucket; test/fakes/memory-store.ts keeps
// it in memory with the same ETags, conditions, listing order and ages, for the unit tests.
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { ConflictError, ContentionError } from "../errors.ts";
import { CONFLICT_RETRY, conflictBackoffMs, sleep } from "../retry/policy.ts";
import type { Logger } from "../util/logger.ts";
import { bareEtag, type IfMatchForm, proveConditionalWrites } from "./probe.ts";

/** A write's conditions, as S3 takes them on PutObject. */
export type PutConditions = { IfMatch?: string; IfNoneMatch?: string };

export interface Stored<T> {
  value: T;
  etag: string;
  /** Milliseconds since the object was last written, on the server's clock. */
  ageMs: number;
}

/** A listed key and how long ago it was last written (server clock). */
export interface Listed {
  key: string;
  ageMs: number;
}

const encoder = new TextEncoder();

const isStatus = (err: unknown, ...statuses: number[]) =>
  err instanceof S3ServiceException && statuses.includes(err.$metadata.httpStatusCode ?? 0);

/** Server time minus local time, from the Date header of the control endpoint's answers. */
const clockOffsets = new WeakMap<S3Client, { offsetMs: number }>();

function serverClock(s3: S3Client): { offsetMs: number } {
  let clock = clockOffsets.get(s3);
  if (clock) return clock;
  const created = { offsetMs: 0 };
  clock = created;
  clockOffsets.set(s3, created);
  s3.middlewareStack.add(
    (next) => async (args) => {
      const out = await next(args);
      const date = (out.response as { headers?: Record<string, string> })?.headers?.date;
      const at = date ? Date.parse(date) : Number.NaN;
      // The header has whole seconds: half a second is the expected truncation.
      if (!Number.isNaN(at)) created.offsetMs = at + 500 - Date.now();
      return out;
    },
    { step: "deserialize", priority: "low", name: "s3batchServerClock" },
  );
  return created;
}

export interface UpdateOptions<T> {
  /** The document to create when there is none; without it, a missing document is left missing. */
  initial?: () => T;
}

export abstract class JsonStore {
  /** Where the records' own events are logged (a job's status changes), when set. */
  log: Logger | undefined;

  /** The storage server's current time, in epoch milliseconds, as last seen. */
  abstract serverNow(): number;
  abstract getBytes(key: string): Promise<{ body: Uint8Array; etag: string; ageMs: number } | undefined>;
  /** Streams an object's body, or undefined when it does not exist. */
  abstract getStream(key: string): Promise<ReadableStream<Uint8Array> | undefined>;
  abstract delete(key: string): Promise<void>;
  /** The first key under a prefix, in key order. */
  abstract firstKey(prefix: string): Promise<string | undefined>;
  /** Lists keys under a prefix with their ages (server clock), page by page, in key order. */
  abstract listEntries(prefix: string): AsyncGenerator<Listed>;
  /** One page of the "folders" directly under a prefix, in key order, after `startAfter`. */
  abstract listFolders(
    prefix: string,
    startAfter: string | undefined,
    max: number,
  ): Promise<{ names: string[]; more: boolean }>;
  /** Writes; ConflictError when a condition fails. Answers the new ETag. */
  protected abstract put(
    key: string,
    body: Uint8Array | string,
    conditions: PutConditions,
    contentType?: string,
  ): Promise<string>;
  /**
   * Proves the store honours conditional writes before anything trusts it (store/probe.ts);
   * UntrustedStoreError when it does not. `endpoint` names it in the refusal.
   */
  abstract proveConditionalWrites(endpoint: string): Promise<void>;
  /** The bucket's S3 client and name, for what streams objects into it (manifests, reports). */
  abstract readonly s3: S3Client;
  abstract readonly bucket: string;

  /** Reads a JSON document, or undefined when it does not exist. */
  async get<T>(key: string): Promise<Stored<T> | undefined> {
    const bytes = await this.getBytes(key);
    if (!bytes) return undefined;
    return {
      value: JSON.parse(new TextDecoder().decode(bytes.body)) as T,
      etag: bytes.etag,
      ageMs: bytes.ageMs,
    };
  }

  /** Creates a document that must not exist yet; ConflictError when it does. */
  create<T>(key: string, value: T): Promise<string> {
    return this.put(key, JSON.stringify(value), { IfNoneMatch: "*" });
  }

  /**
   * Creates a document, or reads the one a concurrent writer created first. `created` says which.
   */
  async createOrGet<T>(key: string, value: T): Promise<Stored<T> & { created: boolean }> {
    for (let i = 0; i < CONFLICT_RETRY.attempts; i++) {
      try {
        const etag = await this.create(key, value);
        return { value, etag, ageMs: 0, created: true };
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
      }
      const winner = await this.get<T>(key);
      if (winner) return { ...winner, created: false };
      // Created and deleted in between: try again.
    }
    throw new ContentionError(`${key} kept appearing and disappearing`);
  }

  /** Replaces a document only if it still has `etag`; ConflictError when it moved. */
  replace<T>(key: string, value: T, etag: string): Promise<string> {
    return this.put(key, JSON.stringify(value), { IfMatch: etag });
  }

  /**
   * Replaces a document that still has `etag`; undefined when it moved meanwhile (someone else
   * acted on it: the caller leaves it). Answers the new ETag.
   */
  async replaceIfUnchanged<T>(key: string, value: T, etag: string): Promise<string | undefined> {
    try {
      return await this.replace(key, value, etag);
    } catch (err) {
      if (err instanceof ConflictError) return undefined;
      throw err;
    }
  }

  /**
   * The one read-change-write of a document. `change` sees the current document and returns the
   * next value, or undefined to leave it as it is; the write is conditional on the ETag read, and a
   * lost race reads again and asks `change` again, with the retry policy's back-off. Answers the
   * document as it now stands (undefined: missing, and no `initial`). ContentionError when the
   * document kept changing through every attempt.
   */
  async update<T>(
    key: string,
    change: (value: T, doc: Stored<T>) => T | undefined,
    o: UpdateOptions<T> = {},
  ): Promise<Stored<T> | undefined> {
    for (let attempt = 1; attempt <= CONFLICT_RETRY.attempts; attempt++) {
      const doc =
        (await this.get<T>(key)) ?? (o.initial ? await this.createOrGet<T>(key, o.initial()) : undefined);
      if (!doc) return undefined;
      const next = change(doc.value, doc);
      if (next === undefined) return doc;
      try {
        const etag = await this.replace(key, next, doc.etag);
        return { value: next, etag, ageMs: 0 };
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
      }
      await sleep(conflictBackoffMs(attempt));
    }
    throw new ContentionError(`${key} kept changing through ${CONFLICT_RETRY.attempts} attempts`);
  }

  /** Writes unconditionally: for objects only one writer produces, whose content is deterministic. */
  putBytes(
    key: string,
    body: Uint8Array | string,
    contentType = "application/octet-stream",
  ): Promise<string> {
    return this.put(key, body, {}, contentType);
  }

  /** Lists keys under a prefix, page by page. */
  async *list(prefix: string): AsyncGenerator<string> {
    for await (const entry of this.listEntries(prefix)) yield entry.key;
  }
}

/** The store in an S3 bucket (the control endpoint's internal bucket). */
export class S3JsonStore extends JsonStore {
  private readonly clock: { offsetMs: number };
  /** The If-Match form the store takes, as its probe found (store/probe.ts). */
  private ifMatchForm: IfMatchForm = "quoted";

  constructor(
    readonly s3: S3Client,
    readonly bucket: string,
  ) {
    super();
    this.clock = serverClock(s3);
  }

  serverNow(): number {
    return Date.now() + this.clock.offsetMs;
  }

  async proveConditionalWrites(endpoint: string): Promise<void> {
    this.ifMatchForm = await proveConditionalWrites(this.s3, this.bucket, endpoint);
  }

  private ageOf(lastModified: Date | undefined): number {
    return lastModified ? Math.max(0, this.serverNow() - lastModified.getTime()) : 0;
  }

  async getBytes(key: string): Promise<{ body: Uint8Array; etag: string; ageMs: number } | undefined> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      const body = await out.Body?.transformToByteArray();
      return { body: body ?? new Uint8Array(), etag: out.ETag ?? "", ageMs: this.ageOf(out.LastModified) };
    } catch (err) {
      if (err instanceof NoSuchKey || isStatus(err, 404)) return undefined;
      throw err;
    }
  }

  async getStream(key: string): Promise<ReadableStream<Uint8Array> | undefined> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return out.Body?.transformToWebStream();
    } catch (err) {
      if (err instanceof NoSuchKey || isStatus(err, 404)) return undefined;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  /** The first key under a prefix, in key order. */
  async firstKey(prefix: string): Promise<string | undefined> {
    const out = await this.s3.send(
      new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, MaxKeys: 1 }),
    );
    return out.Contents?.[0]?.Key;
  }

  /** Lists keys under a prefix with their ages (server clock), page by page. */
  async *listEntries(prefix: string): AsyncGenerator<Listed> {
    let token: string | undefined;
    do {
      const out = await this.s3.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of out.Contents ?? []) if (o.Key) yield { key: o.Key, ageMs: this.ageOf(o.LastModified) };
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
  }

  /** One page of the "folders" directly under a prefix, in key order, after `startAfter`. */
  async listFolders(
    prefix: string,
    startAfter: string | undefined,
    max: number,
  ): Promise<{ names: string[]; more: boolean }> {
    const out = await this.s3.send(
      new ListObjectsV2Command({
        Bucket: this.bucket,
        Prefix: prefix,
        Delimiter: "/",
        MaxKeys: max,
        ...(startAfter ? { StartAfter: `${prefix}${startAfter}/~` } : {}),
      }),
    );
    const names = (out.CommonPrefixes ?? [])
      .map((p) => (p.Prefix ?? "").slice(prefix.length, -1))
      .filter(Boolean);
    return { names, more: Boolean(out.IsTruncated) };
  }

  protected async put(
    key: string,
    body: Uint8Array | string,
    conditions: PutConditions,
    contentType = "application/json",
  ): Promise<string> {
    try {
      const out = await this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          // Bytes, not a string: the SDK then knows the length even of an empty body.
          Body: typeof body === "string" ? encoder.encode(body) : body,
          ContentType: contentType,
          ...conditions,
          ...(conditions.IfMatch && this.ifMatchForm === "bare"
            ? { IfMatch: bareEtag(conditions.IfMatch) }
            : {}),
        }),
      );
      return out.ETag ?? "";
    } catch (err) {
      // 412: the precondition failed; 409: a concurrent conditional write won.
      if (isStatus(err, 409, 412)) throw new ConflictError(`conditional write to ${key} lost its race`);
      throw err;
    }
  }
}
