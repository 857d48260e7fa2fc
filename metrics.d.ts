// `require("clusterluck-native/metrics")`: a kernel's stats() as Prometheus
// metrics on a prom-client registry (prom-client is an optional peer
// dependency), read when the registry is scraped, never per message.
import type { NetKernel } from "./index";

/** The part of a prom-client `Registry` this module uses. */
export interface MetricsRegistry {
  registerMetric(metric: unknown): void;
  removeSingleMetric(name: string): void;
}

export interface MetricsOptions {
  /** The registry to put the metrics on (default: prom-client's default registry). */
  registry?: MetricsRegistry;
  /** The prom-client module to build the metrics with (default: `require("prom-client")`). */
  client?: unknown;
}

/** What {@link register} returns. */
export interface MetricsHandle {
  /** The names of the metrics registered. */
  readonly names: string[];
  /** Takes the metrics off the registry. */
  unregister(): void;
}

/**
 * Registers the metrics of `kernel` (see {@link METRICS}) on a registry. The same kernel again
 * returns the same handle; another kernel on the same registry throws (one registry per kernel).
 * Throws an Error with `code` CLUSTERLUCK_NATIVE_NO_PROM_CLIENT when prom-client is not installed.
 */
export declare function register(kernel: Pick<NetKernel, "stats">, opts?: MetricsOptions): MetricsHandle;

/** One metric: name, Prometheus type, label names, and its help text. */
export interface MetricInfo {
  readonly name: string;
  readonly type: "counter" | "gauge";
  readonly labels: readonly string[];
  readonly help: string;
}

/** Every metric {@link register} exposes. */
export declare const METRICS: readonly MetricInfo[];
