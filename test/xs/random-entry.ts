// Runs inside XS for test/xs/random.test.ts: what Math.random draws there.
(globalThis as Record<string, unknown>).draw = (n: number) => {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(Math.random());
  return out;
};
