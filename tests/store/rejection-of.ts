/**
 * What `p` rejects with; a test failure when it resolves. For promises a worker thread answers, instead
 * of bun:test's expect(p).rejects, which can wait in a way that the worker's reply never reaches: a hang
 * (8 of 8 in a reproduction; it stalled a whole CI run once).
 */
export async function rejectionOf(p: Promise<unknown>): Promise<Error> {
  let value: unknown;
  try {
    value = await p;
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
  throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
}
