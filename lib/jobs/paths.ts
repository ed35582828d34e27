// Every key of the internal bucket is made here, so the storage layout lives in one place.

export interface JobRef {
  accountId: string;
  jobId: string;
}

const jobPrefix = (r: JobRef) => `jobs/${r.accountId}/${r.jobId}/`;

export const paths = {
  accountJobs: (accountId: string) => `jobs/${accountId}/`,
  job: (r: JobRef) => `${jobPrefix(r)}job.json`,
  plan: (r: JobRef) => `${jobPrefix(r)}plan.json`,
  /** The CSV manifest dispatch writes for an inventory or generated manifest. */
  normalizedManifest: (r: JobRef) => `${jobPrefix(r)}manifest.csv`,
  events: (r: JobRef) => `${jobPrefix(r)}events/`,
  event: (r: JobRef, at: string, seq: string) => `${jobPrefix(r)}events/${at}-${seq}.json`,
  children: (r: JobRef) => `${jobPrefix(r)}children/`,
  childState: (r: JobRef, endpointId: string, shard: number) =>
    `${jobPrefix(r)}children/${endpointId}/${shardName(shard)}.json`,
  /** A child's output lives under its delivery attempt: the state document names the attempt that counts. */
  childOutput: (r: JobRef, endpointId: string, shard: number, attempt: string) =>
    `${jobPrefix(r)}children/${endpointId}/${shardName(shard)}/${attempt}/output`,
  /** Empty markers of settled children; their names carry the final checkpoint (see children/state.ts). */
  settled: (r: JobRef) => `${jobPrefix(r)}settled/`,
  settledMarker: (r: JobRef, endpointId: string, shard: number, facts: string) =>
    `${jobPrefix(r)}settled/${endpointId}/${shardName(shard)}.${facts}`,
  /** Markers of jobs whose children have not all started, highest priority first in key order. */
  pending: (accountId: string) => `pending/${accountId}/`,
  pendingMarker: (r: JobRef, priority: number) =>
    `pending/${r.accountId}/${String(2_147_483_647 - priority).padStart(10, "0")}-${r.jobId}`,
  token: (accountId: string, token: string) => `tokens/${accountId}/${encodeURIComponent(token)}`,
};

// Zero-padded so that a listing returns shards in order.
const shardName = (shard: number) => String(shard).padStart(8, "0");
