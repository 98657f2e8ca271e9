import Benchmark

/// Every benchmark of this target; the generated `@main` calls this once per run.
///
/// Each benchmark reports the default metrics of the benchmark package (wall clock, CPU,
/// throughput, malloc counts including `mallocCountTotal`, peak memory). Fixtures are built in
/// the benchmark's setup hook, outside the measurement.
func benchmarks() {
    var metrics = BenchmarkMetric.default
    if !metrics.contains(.mallocCountTotal) { metrics.append(.mallocCountTotal) }
    Benchmark.defaultConfiguration = .init(metrics: metrics, maxDuration: .seconds(2), maxIterations: 100_000)

    tokenBenchmarks()
    assertionBenchmarks()
    headerBenchmarks()
    tenantResolutionBenchmarks()
    sessionBenchmarks()
    pipelineBenchmarks()
}
