/**
 * The nearest of `candidates` to a mistyped `value` (edit distance, case-insensitive), for the
 * "did you mean" of an administrator's explanation; undefined when none is close enough (at most a
 * third of the value's length in edits, and at least one), or when the value is itself a candidate.
 */
export function nearest(value: string, candidates: Iterable<string>): string | undefined {
  const v = value.toLowerCase().slice(0, 200);
  if (v === '') return undefined;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    if (candidate === value) return undefined;
    const d = editDistance(v, candidate.toLowerCase());
    if (d < bestDistance || (d === bestDistance && best !== undefined && candidate < best)) {
      best = candidate;
      bestDistance = d;
    }
  }
  const allowed = Math.max(1, Math.floor(v.length / 3));
  return bestDistance <= allowed ? best : undefined;
}

/** Levenshtein distance, with adjacent transpositions counted as one edit (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  let prev2: number[] = [];
  let prev: number[] = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row: number[] = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, (prev2[j - 2] ?? 0) + 1);
      row.push(d);
    }
    prev2 = prev;
    prev = row;
  }
  return prev[b.length] ?? 0;
}

/** " Did you mean "x"?" for a message, or "" when nothing is near. */
export function didYouMean(value: string, candidates: Iterable<string>): string {
  const near = nearest(value, candidates);
  return near === undefined ? '' : ` Did you mean "${near}"?`;
}
