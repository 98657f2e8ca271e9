import GatehouseCore
import Testing

@testable import GatehouseConfig

/// `sealing_key_file` in gatehouse.yaml: the one secret replicas share, named by path.
@Suite struct SealingKeySettingTests {
    @Test func absentMeansTheDefaultUnderTheKeyFolder() throws {
        let dir = try TemporaryDirectory()
        let file = try dir.write("gatehouse.yaml", "assertion: { key_dir: keys }\n")
        let settings = try #require(ConfigLoader.loadSettings(configFile: file, environment: [:]).value)
        #expect(settings.sealingKeyFile == nil, "nil: <key_dir>/flow-token.key, created on first start")
    }

    @Test func aRelativePathIsRelativeToTheConfigFolder() throws {
        let dir = try TemporaryDirectory()
        let file = try dir.write("etc/gatehouse.yaml", "sealing_key_file: \"secret/sealing.key\"\n")
        let settings = try #require(ConfigLoader.loadSettings(configFile: file, environment: [:]).value)
        #expect(settings.sealingKeyFile == dir.path + "/etc/secret/sealing.key")
        let absolute = try dir.write("abs.yaml", "sealing_key_file: /run/secrets/gatehouse/sealing.key\n")
        #expect(ConfigLoader.loadSettings(configFile: absolute, environment: [:]).value?.sealingKeyFile == "/run/secrets/gatehouse/sealing.key")
    }

    @Test func aValueThatIsNotAPathIsAProblemAtItsKey() throws {
        let dir = try TemporaryDirectory()
        for yaml in ["sealing_key_file: 42\n", "sealing_key_file: \"\"\n", "sealing_key_file: [a]\n"] {
            let file = try dir.write("gatehouse.yaml", yaml)
            let problems = ConfigLoader.loadSettings(configFile: file, environment: [:]).problems
            #expect(problems.map(\.path) == ["sealing_key_file"], "\(yaml)")
        }
        // Not nested anywhere else: under assertion it is an unknown key.
        let nested = try dir.write("gatehouse.yaml", "assertion: { sealing_key_file: x }\n")
        #expect(ConfigLoader.loadSettings(configFile: nested, environment: [:]).problems.map(\.path) == ["assertion.sealing_key_file"])
    }
}
