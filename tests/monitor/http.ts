// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON bodies and assert on them
export type Json = any;

export async function getJson(url: string): Promise<Json> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`GET ${url}: HTTP ${r.status}`);
  return r.json();
}
