import GatehouseApp
import GatehouseConfig
import GatehouseCore
import GatehouseDemo

#if canImport(Glibc)
import Glibc
#endif

/// `gatehouse serve|check|demo|version` (docs/configuration.md "Commands").
let arguments = Array(CommandLine.arguments.dropFirst())
let environment = Environment.current()

func usage() -> String {
    """
    usage: gatehouse <command> [options]

    commands:
      serve [--config FILE]   run the proxy and the admin API (default config: ./gatehouse.yaml)
      check [--config FILE]   validate the config and every tenant file
      demo                    run a self-contained live demo on loopback (development IdP, two agents, two tenants)
      version                 print the version

    environment overrides: GATEHOUSE_LISTEN, GATEHOUSE_ADMIN_LISTEN, GATEHOUSE_STORE, GATEHOUSE_TENANTS_DIR,
                           GATEHOUSE_OPERATOR_TOKEN, GATEHOUSE_LOG_LEVEL
    """
}

func configPath(_ args: ArraySlice<String>) -> String? {
    var path = "gatehouse.yaml"
    var rest = args
    while let arg = rest.first {
        rest = rest.dropFirst()
        if arg == "--config" || arg == "-c" {
            guard let value = rest.first else { return nil }
            path = value
            rest = rest.dropFirst()
        } else if arg.hasPrefix("--config=") {
            path = String(arg.dropFirst("--config=".count))
        } else {
            return nil
        }
    }
    return path
}

func fail(_ message: String, code: Int32 = 2) -> Never {
    LogOutput.write(message + "\n", toStderr: true)
    exit(code)
}

guard let command = arguments.first else { fail(usage()) }
switch command {
case "version", "--version", "-v":
    print("gatehouse \(GatehouseVersion.current)")
case "help", "--help", "-h":
    print(usage())
case "check":
    guard let path = configPath(arguments.dropFirst()) else { fail(usage()) }
    switch ConfigLoader.load(configFile: path, environment: environment) {
    case .success(let snapshot):
        for warning in ConfigWarnings.of(snapshot) { print(warning) }
        print("ok: \(snapshot.tenants.count) tenants")
    case .failure(let problems):
        for p in problems { print(p.description) }
        exit(1)
    }
case "serve":
    guard let path = configPath(arguments.dropFirst()) else { fail(usage()) }
    let snapshot: ConfigSnapshot
    switch ConfigLoader.load(configFile: path, environment: environment) {
    case .success(let s): snapshot = s
    case .failure(let problems):
        // A bad config never starts a half-working proxy.
        fail(problems.map(\.description).joined(separator: "\n"), code: 1)
    }
    JSONLogHandler.bootstrap(level: .init(rawValue: snapshot.settings.logLevel.rawValue) ?? .info)
    do {
        try await Serve.run(snapshot: snapshot)
    } catch {
        fail("gatehouse: \(error)", code: 1)
    }
case "demo":
    JSONLogHandler.bootstrap(level: .notice)
    do {
        try await DemoCommand.run()
    } catch {
        fail("gatehouse demo: \(error)", code: 1)
    }
default:
    fail(usage())
}
