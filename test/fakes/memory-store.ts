// The job store in memory, for unit tests of the steps: the same primitives as S3JsonStore with
// the semantics they rely on. ETags are the MD5 of the body, as S3's are for single-part objects (so
// rewriting the same bytes keeps the ETag); If-None-Match "*" refuses an existing key and If-Match
// a changed one (409/412 → ConflictError), If-Match on a missing key answers 404 as S3 does;
// listings go in UTF-8 byte order; ages are measured on the store's own clock, which a test moves
// on with `advance` (every document grows older, as on a server whose clock runs).
import { createHash } from "node:crypto";
import type { S3Client } from "@aws-sdk/client-s3";
import { ConflictError } from "../../lib/errors.ts";
import { JsonStore, type Listed, type PutConditions } from "../../lib/store/json-store.ts";

interface Entry {
  body: Uint8Array;
  etag: string;
  writtenAt: number;
  contentType: string;
}

const encoder = new TextEncoder();
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

export class MissingKeyError extends Error {
  override readonly name = "NoSuchKey";
  readonly $metadata = { httpStatusCode: 404 };
}

export class MemoryStore extends JsonStore {
  readonly bucket = "memory";
  private readonly objects = new Map<string, Entry>();
  private offsetMs = 0;
  private gate: Promise<void> | undefined;
  /** Every write, in order: what a test asserts about (key and condition). */
  readonly writes: { key: string; condition: "create" | "replace" | "none" }[] = [];

  get s3(): S3Client {
    throw new Error("the in-memory store has no S3 client: this path needs the emulators (test/e2e)");
  }

  serverNow(): number {
    return Date.now() + this.offsetMs;
  }

  /** Holds every write until the function returned is called (a slow store, a write in flight). */
  holdWrites(): () => void {
    let open = () => {};
    const gate = new Promise<void>((r) => {
      open = r;
    });
    this.gate = gate;
    return () => {
      if (this.gate === gate) this.gate = undefined;
      open();
    };
  }

  /** Moves the store's clock on: every document is `ms` older. */
  advance(ms: number): void {
    this.offsetMs += ms;
  }

  keys(prefix = ""): string[] {
    return [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort(byteOrder);
  }

  async getBytes(key: string) {
    const e = this.objects.get(key);
    if (!e) return undefined;
    return { body: e.body.slice(), etag: e.etag, ageMs: Math.max(0, this.serverNow() - e.writtenAt) };
  }

  async getStream(key: string): Promise<ReadableStream<Uint8Array> | undefined> {
    const e = this.objects.get(key);
    if (!e) return undefined;
    const body = e.body.slice();
    return new ReadableStream({
      start(c) {
        c.enqueue(body);
        c.close();
      },
    });
  }

  async delete(key: string): Promise<void> {
    this.objects.delete(key);
  }

  async firstKey(prefix: string): Promise<string | undefined> {
    return this.keys(prefix)[0];
  }

  async *listEntries(prefix: string): AsyncGenerator<Listed> {
    for (const key of this.keys(prefix)) {
      const e = this.objects.get(key);
      if (e) yield { key, ageMs: Math.max(0, this.serverNow() - e.writtenAt) };
    }
  }

  async listFolders(prefix: string, startAfter: string | undefined, max: number) {
    const after = startAfter === undefined ? undefined : `${prefix}${startAfter}/~`;
    const names: string[] = [];
    for (const key of this.keys(prefix)) {
      if (after !== undefined && byteOrder(key, after) <= 0) continue;
      const rest = key.slice(prefix.length);
      const slash = rest.indexOf("/");
      if (slash <= 0) continue;
      const name = rest.slice(0, slash);
      if (names.at(-1) !== name) names.push(name);
    }
    return { names: names.slice(0, max), more: names.length > max };
  }

  /** Honours conditions by construction: nothing to prove. */
  async proveConditionalWrites(_endpoint: string): Promise<void> {}

  protected async put(
    key: string,
    body: Uint8Array | string,
    conditions: PutConditions,
    contentType = "application/json",
  ): Promise<string> {
    await this.gate;
    const bytes = typeof body === "string" ? encoder.encode(body) : body.slice();
    const current = this.objects.get(key);
    if (conditions.IfNoneMatch === "*" && current)
      throw new ConflictError(`conditional write to ${key} lost its race`);
    if (conditions.IfMatch !== undefined) {
      if (!current) throw new MissingKeyError(`${key} does not exist`);
      if (current.etag !== conditions.IfMatch)
        throw new ConflictError(`conditional write to ${key} lost its race`);
    }
    const etag = `"${createHash("md5").update(bytes).digest("hex")}"`;
    this.objects.set(key, { body: bytes, etag, writtenAt: this.serverNow(), contentType });
    this.writes.push({
      key,
      condition: conditions.IfNoneMatch ? "create" : conditions.IfMatch ? "replace" : "none",
    });
    return etag;
  }
}
