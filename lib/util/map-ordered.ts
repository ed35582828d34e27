// Maps an async iterable with at most `concurrency` calls in flight and yields the results in
// input order. Pulling stops while the window is full, so memory stays at `concurrency` items.

export async function* mapOrdered<T, R>(
  source: AsyncIterable<T>,
  concurrency: number,
  fn: (item: T) => Promise<R>,
): AsyncGenerator<R> {
  const window: Promise<R>[] = [];
  const it = source[Symbol.asyncIterator]();
  let exhausted = false;
  try {
    for (;;) {
      while (!exhausted && window.length < concurrency) {
        const next = await it.next();
        if (next.done) exhausted = true;
        else {
          const p = fn(next.value);
          p.catch(() => {}); // observed when its turn comes; avoid an unhandled rejection before then
          window.push(p);
        }
      }
      const head = window.shift();
      if (!head) return;
      yield await head;
    }
  } finally {
    await Promise.allSettled(window);
    await it.return?.();
  }
}
