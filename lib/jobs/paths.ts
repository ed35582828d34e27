// Every key of the internal bucket is made here, so the storage layout lives in one place.

export interface JobRef {
  accountId: string;
  jobId: string;
}

const jobPrefix = (r: JobRef) => `jobs/${r.accountId}/${r.jobId}/`;

/** One child of a job: a shard of its manifest on one endpoint. */
export interface ChildRef extends JobRef {
  endpointId: string;
  shard: number;
}

export const paths = {
  accountJobs: (accountId: string) => `jobs/${accountId}/`,
  job: (r: JobRef) => `${jobPrefix(r)}job.json`,
  /** The plan's summary: manifest, routing, counts (children read only this). */
  plan: (r: JobRef) => `${jobPrefix(r)}plan.json`,
  /** The plan's shards: row ranges, byte ranges and endpoints (start and merge read this). */
  shards: (r: JobRef) => `${jobPrefix(r)}shards.json`,
  /** The CSV manifest dispatch writes for an inventory or generated manifest. */
  normalizedManifest: (r: JobRef) => `${jobPrefix(r)}manifest.csv`,
  /** The part of that manifest not yet sent when its writing handed over. */
  normalizeCarry: (r: JobRef, attempt: string) => `${jobPrefix(r)}normalize/${attempt}/carry`,
  events: (r: JobRef) => `${jobPrefix(r)}events/`,
  event: (r: JobRef, at: string, seq: string) => `${jobPrefix(r)}events/${at}-${seq}.json`,
  /** The poll chain's current token: one chain per job, whatever was redelivered. */
  pollChain: (r: JobRef) => `${jobPrefix(r)}poll.json`,
  /** Dispatch's lease and planning checkpoint. */
  dispatchState: (r: JobRef) => `${jobPrefix(r)}dispatch.json`,
  /** The merge's lease and handover checkpoint. */
  mergeState: (r: JobRef) => `${jobPrefix(r)}merge.json`,
  /** A report part the merge had not yet sent when it handed over. */
  mergeCarry: (r: JobRef, attempt: string, status: string) =>
    `${jobPrefix(r)}merge/${attempt}/carry-${status}`,
  /** Child states (leases: their listing's Last-Modified is every child's heartbeat). */
  children: (r: JobRef) => `${jobPrefix(r)}children/`,
  childState: (r: JobRef, endpointId: string, shard: number) =>
    `${jobPrefix(r)}children/${endpointId}/${shardName(shard)}.json`,
  /** A child's output objects live under its delivery attempt; its state names those that count. */
  childTail: (r: JobRef, endpointId: string, shard: number, attempt: string, row: number) =>
    `${jobPrefix(r)}outputs/${endpointId}/${shardName(shard)}/${attempt}/tail-${rowName(row)}`,
  childSegment: (r: JobRef, endpointId: string, shard: number, attempt: string, endRow: number) =>
    `${jobPrefix(r)}outputs/${endpointId}/${shardName(shard)}/${attempt}/seg-${rowName(endRow)}`,
  /** Intents a child recorded before effects a re-run could not recognise (operations/intents.ts). */
  intents: (r: JobRef) => `${jobPrefix(r)}intents/`,
  childIntents: (r: JobRef, endpointId: string, shard: number) =>
    `${jobPrefix(r)}intents/${endpointId}/${shardName(shard)}/`,
  /** Empty markers whose names carry each child's last checkpoint (see children/progress.ts). */
  progress: (r: JobRef) => `${jobPrefix(r)}progress/`,
  progressMarker: (r: JobRef, endpointId: string, shard: number, ranTo: number, facts: string) =>
    `${jobPrefix(r)}progress/${endpointId}/${shardName(shard)}/${rowName(ranTo)}.${facts}`,
  /** The running error summary: one marker per child and group (children/errors.ts). */
  errors: (r: JobRef) => `${jobPrefix(r)}errors/`,
  errorMarker: (r: JobRef, endpointId: string, group: string, shard: number, count: number) =>
    `${jobPrefix(r)}errors/${endpointId}/${group}/${shardName(shard)}.${count}`,
  /** The finished report's error summary, written by the merge. */
  errorSummary: (r: JobRef) => `${jobPrefix(r)}errors.json`,
  notifyOutbox: (r: JobRef) => `${jobPrefix(r)}notify.json`,
  survey: (r: JobRef) => `${jobPrefix(r)}survey.json`,
  /** Markers of jobs whose children have not all started, highest priority first in key order. */
  pending: (accountId: string) => `pending/${accountId}/`,
  pendingMarker: (r: JobRef, priority: number) =>
    `pending/${r.accountId}/${String(2_147_483_647 - priority).padStart(10, "0")}-${r.jobId}`,
  token: (accountId: string, token: string) => `tokens/${accountId}/${encodeURIComponent(token)}`,
  /** Messages that named no job the store knows, kept for the operator. */
  deadLetter: (at: string, id: string) => `dead-letters/${at.slice(0, 10)}/${at}-${id}.json`,
};

// Zero-padded so that a listing returns shards in order.
const shardName = (shard: number) => String(shard).padStart(8, "0");
const rowName = (row: number) => String(row).padStart(10, "0");
