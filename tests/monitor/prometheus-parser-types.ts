// Types for the test-only parser parse-prometheus-text-format (the package ships none).
export interface ParsedFamily {
  name: string;
  help: string;
  type: "COUNTER" | "GAUGE" | "HISTOGRAM" | "SUMMARY" | "UNTYPED";
  metrics: {
    value?: string;
    labels?: Record<string, string>;
    buckets?: Record<string, string>;
    count?: string;
    sum?: string;
  }[];
}

export type ParsePrometheusTextFormat = (text: string) => ParsedFamily[];
