import Foundation
import GatehouseCore
import Testing
@testable import GatehouseConfig

/// `tracing:` of gatehouse.yaml: read, checked, and live.
@Suite struct TracingSettingsTests {
    private func load(_ yaml: String) throws -> Result<GatehouseSettings, [ConfigProblem]> {
        let dir = try TemporaryDirectory()
        return ConfigLoader.loadSettings(configFile: try dir.write("gatehouse.yaml", yaml), environment: [:])
    }

    @Test func offByDefaultAndEveryFieldIsRead() throws {
        let defaults = try #require(try load("{}").value).tracing
        #expect(defaults == TracingSettings() && !defaults.enabled && defaults.sampleRatio == 1 && !defaults.recordSubject)
        #expect(defaults.tracesURL == "http://127.0.0.1:4318/v1/traces")
        let s = try #require(try load("""
            tracing:
              enabled: true
              endpoint: "https://collector.internal:4318/"
              sample_ratio: 0.25
              service_name: "edge-gatehouse"
              record_subject: true
            """).value).tracing
        #expect(s.enabled && s.sampleRatio == 0.25 && s.serviceName == "edge-gatehouse" && s.recordSubject)
        #expect(s.tracesURL == "https://collector.internal:4318/v1/traces")
    }

    @Test func mistakesAreRefusedWithTheirPath() throws {
        let cases: [(String, String)] = [
            ("tracing: { sample_ratio: 1.5 }", "tracing.sample_ratio"),
            ("tracing: { sample_ratio: -0.1 }", "tracing.sample_ratio"),
            ("tracing: { endpoint: \"ftp://collector\" }", "tracing.endpoint"),
            ("tracing: { endpoint: \"http://user:secret@collector:4318\" }", "tracing.endpoint"),
            ("tracing: { endpoint: \"http://collector:4318/?token=x\" }", "tracing.endpoint"),
            ("tracing: { service_name: \"\" }", "tracing.service_name"),
            ("tracing: { enabled: \"yes\" }", "tracing.enabled"),
            ("tracing: { sampling: 1 }", "tracing.sampling"),
        ]
        for (yaml, path) in cases {
            let problems = try load(yaml).problems
            #expect(problems.map(\.path) == [path], "\(yaml): \(problems)")
        }
    }

    @Test func everyTracingFieldChangesLive() {
        let running = GatehouseSettings()
        var file = running
        file.tracing.enabled = true
        file.tracing.sampleRatio = 0.5
        let change = LiveSettings.merge(running: running, file: file)
        #expect(change.applied == ["tracing"] && change.needsRestart.isEmpty)
        #expect(change.settings.tracing == file.tracing)
    }
}
