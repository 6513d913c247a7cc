// A strict checker of the Prometheus text exposition format 0.0.4, independent of prom-client: every line
// is a HELP, a TYPE or a sample; every sample belongs to a family typed before it; histograms have
// cumulative buckets ending in +Inf that equal _count.

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`;
const VALUE = "(?:[+-]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][+-]?\\d+)?|[+-]Inf|NaN)";
const SAMPLE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL})(?:,${LABEL})*,?)?\\})? (${VALUE})(?: -?\\d+)?$`);
const HELP = new RegExp(`^# HELP (${NAME}) (.*)$`);
const TYPE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function checkExposition(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const lines = text.split("\n");
  lines.forEach((line, i) => {
    const where = `line ${i + 1}: ${JSON.stringify(line)}`;
    if (line === "") return;
    if (line.startsWith("# HELP ")) {
      if (!HELP.test(line)) throw new Error(`bad HELP, ${where}`);
      return;
    }
    if (line.startsWith("# TYPE ")) {
      const m = TYPE.exec(line);
      if (!m) throw new Error(`bad TYPE, ${where}`);
      if (types.has(m[1]!)) throw new Error(`TYPE repeated, ${where}`);
      types.set(m[1]!, m[2]!);
      return;
    }
    if (line.startsWith("#")) return;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`bad sample, ${where}`);
    const name = m[1]!;
    const family = familyOf(name, types);
    if (!family) throw new Error(`sample before its TYPE, ${where}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
    const v = m[3]!;
    samples.push({ name, labels, value: v === "+Inf" ? Infinity : v === "-Inf" ? -Infinity : Number(v) });
  });
  checkHistograms(types, samples);
  return { types, samples };
}

function familyOf(name: string, types: Map<string, string>): string | null {
  if (types.has(name)) return name;
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length);
      if (types.get(base) === "histogram" || types.get(base) === "summary") return base;
    }
  }
  return null;
}

function checkHistograms(types: Map<string, string>, samples: Sample[]): void {
  for (const [family, type] of types) {
    if (type !== "histogram") continue;
    const key = (l: Record<string, string>) =>
      JSON.stringify(
        Object.entries(l)
          .filter(([k]) => k !== "le")
          .sort(),
      );
    const groups = new Map<string, Sample[]>();
    for (const s of samples.filter((s) => s.name === `${family}_bucket`)) {
      const k = key(s.labels);
      groups.set(k, [...(groups.get(k) ?? []), s]);
    }
    if (groups.size === 0) throw new Error(`histogram ${family} has no buckets`);
    for (const [k, buckets] of groups) {
      let prevLe = -Infinity;
      let prevCount = 0;
      for (const b of buckets) {
        const le = b.labels.le === "+Inf" ? Infinity : Number(b.labels.le);
        if (!(le > prevLe)) throw new Error(`${family}: buckets not in increasing le order`);
        if (b.value < prevCount) throw new Error(`${family}: bucket counts not cumulative`);
        prevLe = le;
        prevCount = b.value;
      }
      if (prevLe !== Infinity) throw new Error(`${family}: last bucket is not +Inf`);
      const count = samples.find((s) => s.name === `${family}_count` && key(s.labels) === k);
      if (!count || count.value !== prevCount)
        throw new Error(`${family}: _count differs from the +Inf bucket`);
    }
  }
}
