/** parse-prometheus-text-format ships no types: it returns metric families as plain objects. */
declare module "parse-prometheus-text-format" {
  export default function parsePrometheusTextFormat(text: string): {
    name: string;
    type: string;
    metrics: { value?: string; labels?: Record<string, string> }[];
  }[];
}
