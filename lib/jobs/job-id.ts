// Job IDs that sort newest first: an inverted millisecond timestamp (base 36, fixed width) then
// random hex. A listing of jobs/<account>/ is then ListJobs' order with no index to maintain.

const MAX_MS = 36 ** 9 - 1; // beyond the year 5000

export function newJobId(now = Date.now()): string {
  const inverted = (MAX_MS - now).toString(36).padStart(9, "0");
  const random = Array.from(crypto.getRandomValues(new Uint8Array(10)), (b) =>
    b.toString(16).padStart(2, "0"),
  ).join("");
  return `${inverted}-${random}`;
}
