// What the SQL benchmarks share: the server they run on and how their rounds are summarised.
import { startCluster } from "../scripts/lib/cluster.mjs";
import { databaseUrlFromEnv } from "../scripts/lib/migrate.mjs";

/** DATABASE_URL's server, or a throwaway cluster; `stop` ends only what was started here. */
export async function benchServer() {
  const url = databaseUrlFromEnv();
  if (url) return { url, stop: () => {} };
  const cluster = await startCluster({ log: (line) => console.error(line) });
  return { url: cluster.url, stop: () => cluster.stop() };
}

export const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
