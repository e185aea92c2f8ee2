// The load loop of the benchmarks: `concurrency` workers take items in turn until none are left.

export interface Timing {
  seconds: number;
  /** Milliseconds per item. */
  latencies: number[];
}

export async function timed<T>(
  items: T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<Timing> {
  const latencies: number[] = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) {
      const item = items[next++];
      const began = performance.now();
      await work(item);
      latencies.push(performance.now() - began);
    }
  }));
  return { seconds: (performance.now() - start) / 1000, latencies };
}
