import Foundation
import GatehouseCore
import GatehousePostgres
import Testing
import Yams

#if canImport(Glibc)
import Glibc
#endif

/// deploy/: the Dockerfile, compose file, Kubernetes manifests and systemd unit must agree with
/// each other and with deploy/config/gatehouse.yaml, and that configuration must run: the real
/// binary is started from it (two replicas with key folders of their own, sharing the store and
/// the sealing key mounted as a Kubernetes Secret) and probed on the exact paths the manifests name.
@Suite(.serialized) struct DeployFilesTests {
    static let root = CLITests.repoRoot
    static let deploy = root + "/deploy"

    // MARK: - Every file parses

    @Test func everyYAMLFileUnderDeployParses() async throws {
        let files = Self.files(under: Self.deploy).filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }
        for expected in ["compose.yaml", "config/gatehouse.yaml", "config/kustomization.yaml", "kubernetes/deployment.yaml", "kubernetes/service.yaml"] {
            #expect(files.contains(expected), "deploy/\(expected) is missing")
        }
        for file in files {
            let documents = try Self.documents(file)
            #expect(!documents.isEmpty, "deploy/\(file) holds no YAML document")
            for (index, document) in documents.enumerated() {
                #expect(document.isMap, "deploy/\(file) document \(index) is not a mapping")
            }
        }
        // service.yaml holds two documents: both must be read.
        #expect(try Self.documents("kubernetes/service.yaml").count == 2)
    }

    // MARK: - Kubernetes

    @Test func kubernetesManifestsMatchTheConfig() async throws {
        let config = try DeployConfig.load()
        let manifests = try Self.kubernetesObjects()
        let deployment = try #require(manifests.first { $0["kind"].string == "Deployment" })
        let name = try #require(deployment["metadata"]["name"].string)
        let podLabels = deployment["spec"]["template"]["metadata"]["labels"].stringMap
        #expect(!podLabels.isEmpty)
        #expect(Self.selects(deployment["spec"]["selector"]["matchLabels"].stringMap, podLabels), "the Deployment's selector matches its pods")

        let pod = deployment["spec"]["template"]["spec"]
        let container = try #require(pod["containers"].array.first { $0["name"].string == "gatehouse" })
        var portsByName: [String: Int] = [:]
        for port in container["ports"].array {
            if let portName = port["name"].string, let number = port["containerPort"].int { portsByName[portName] = number }
        }
        #expect(portsByName["http"] == config.dataPort, "containerPort http = listen in gatehouse.yaml")
        #expect(portsByName["admin"] == config.adminPort, "containerPort admin = admin.listen in gatehouse.yaml")

        #expect(container["readinessProbe"]["httpGet"]["path"].string == "/readyz")
        #expect(container["readinessProbe"]["httpGet"]["port"].string == "admin")
        #expect(container["livenessProbe"]["httpGet"]["path"].string == "/healthz")
        #expect(container["livenessProbe"]["httpGet"]["port"].string == "admin")
        if container["startupProbe"].exists {
            #expect(container["startupProbe"]["httpGet"]["port"].string == "admin")
        }

        // The preStop pause and Gatehouse's drain both fit in the pod's termination grace.
        let preStop = container["lifecycle"]["preStop"]["exec"]["command"].array.compactMap(\.string)
        let pause = preStop.first?.hasSuffix("sleep") == true ? Double(preStop.last ?? "") ?? 0 : 0
        let podGrace = pod["terminationGracePeriodSeconds"].double ?? 30
        #expect(pause + config.shutdownGrace < podGrace, "preStop \(pause) s + shutdown_grace_seconds \(config.shutdownGrace) s < terminationGracePeriodSeconds \(podGrace) s")

        // Hardening.
        #expect(pod["securityContext"]["runAsNonRoot"].bool == true)
        #expect(pod["securityContext"]["seccompProfile"]["type"].string == "RuntimeDefault")
        #expect((pod["securityContext"]["runAsUser"].int ?? 0) > 0)
        for c in pod["containers"].array + pod["initContainers"].array {
            let context = c["securityContext"]
            #expect(context["allowPrivilegeEscalation"].bool == false, "\(c["name"].string ?? "?")")
            #expect(context["readOnlyRootFilesystem"].bool == true, "\(c["name"].string ?? "?")")
            #expect(context["capabilities"]["drop"].array.compactMap(\.string).contains("ALL"), "\(c["name"].string ?? "?")")
            #expect(c["resources"]["requests"].exists && c["resources"]["limits"].exists, "\(c["name"].string ?? "?")")
        }

        // The mounts put the files where the config expects them.
        let args = container["args"].array.compactMap(\.string)
        #expect(args.count == 3 && args.first == "serve" && args.dropFirst().first == "--config")
        let configPath = try #require(args.last)
        let configDir = (configPath as NSString).deletingLastPathComponent
        let volumes = Dictionary(pod["volumes"].array.compactMap { v in v["name"].string.map { ($0, v) } }) { a, _ in a }
        let mounts = container["volumeMounts"].array
        let configMount = try #require(mounts.first { $0["mountPath"].string == configPath })
        #expect(configMount["subPath"].string == (configPath as NSString).lastPathComponent)
        let tenantsMount = try #require(mounts.first { $0["mountPath"].string == configDir + "/" + config.tenantsDir })
        let keysMount = try #require(mounts.first { $0["mountPath"].string == config.keyDir }, "key_dir is mounted")
        let generated = try Self.generatedConfigMaps()
        for mount in [configMount, tenantsMount] {
            let volume = try #require(volumes[mount["name"].string ?? ""])
            let map = try #require(volume["configMap"]["name"].string)
            #expect(generated[map] != nil, "ConfigMap \(map) is generated by deploy/config/kustomization.yaml")
        }
        #expect(generated[volumes[configMount["name"].string ?? ""]?["configMap"]["name"].string ?? ""] == ["gatehouse.yaml"])
        let keysVolume = try #require(volumes[keysMount["name"].string ?? ""])
        #expect(keysVolume["emptyDir"].exists, "each pod has a key folder of its own")
        #expect(keysMount["readOnly"].bool != true, "Gatehouse makes the pod's signing key at start")
        #expect(pod["initContainers"].array.isEmpty, "nothing is copied before Gatehouse starts")

        // The sealing key: one Secret, mounted where sealing_key_file points, private to the pod's user.
        let sealingDir = (config.sealingKeyFile as NSString).deletingLastPathComponent
        let sealingMount = try #require(mounts.first { $0["mountPath"].string == sealingDir }, "the folder of sealing_key_file is mounted")
        #expect(sealingMount["readOnly"].bool == true)
        let sealingSecret = try #require(volumes[sealingMount["name"].string ?? ""]?["secret"], "from a Secret")
        #expect(sealingSecret["secretName"].string == "gatehouse-sealing-key")
        let items = sealingSecret["items"].array
        #expect(items.count == 1 && items.first?["path"].string == (config.sealingKeyFile as NSString).lastPathComponent)
        #expect(items.first?["key"].string == "sealing.key", "the key deploy/README.md's kubectl command creates")
        let mode = try #require(sealingSecret["defaultMode"].int)
        #expect(mode & 0o037 == 0, "Gatehouse refuses a sealing key others may read, or its group write")
        #expect(mode & 0o040 != 0 && pod["securityContext"]["fsGroup"].int == pod["securityContext"]["runAsGroup"].int,
                "the kubelet's files belong to root: the pod's user reads the key through fsGroup")
        #expect(!volumes.values.contains { $0["secret"]["secretName"].string == "gatehouse-keys" }, "no key folder is shared")

        // Secrets referenced by the container exist in the example with those keys.
        let secret = try #require(manifests.first { $0["kind"].string == "Secret" })
        let secretKeys = Set(secret["stringData"].stringMap.keys)
        var fromSecrets: Set<String> = []
        for variable in container["env"].array {
            let ref = variable["valueFrom"]["secretKeyRef"]
            guard ref.exists else { continue }
            #expect(ref["name"].string == secret["metadata"]["name"].string)
            #expect(secretKeys.contains(ref["key"].string ?? ""), "secret.example.yaml has \(ref["key"].string ?? "?")")
            if let n = variable["name"].string { fromSecrets.insert(n) }
        }
        #expect(fromSecrets == ["GATEHOUSE_STORE", "GATEHOUSE_OPERATOR_TOKEN"])

        // Services: select the pods, target ports that exist.
        let services = manifests.filter { $0["kind"].string == "Service" }
        #expect(services.count == 2)
        var targeted: Set<String> = []
        for service in services {
            #expect(Self.selects(service["spec"]["selector"].stringMap, podLabels), "Service \(service["metadata"]["name"].string ?? "?") selects the pods")
            for port in service["spec"]["ports"].array {
                if let byName = port["targetPort"].string, portsByName[byName] != nil {
                    targeted.insert(byName)
                } else if let number = port["targetPort"].int, let match = portsByName.first(where: { $0.value == number }) {
                    targeted.insert(match.key)
                } else {
                    Issue.record("Service port \(port["name"].string ?? "?") targets no container port")
                }
            }
        }
        #expect(targeted == ["http", "admin"])
        let adminService = try #require(Self.adminService(manifests))
        let annotations = adminService["metadata"]["annotations"].stringMap
        #expect(annotations["prometheus.io/scrape"] == "true")
        #expect(Int(annotations["prometheus.io/port"] ?? "") == config.adminPort)
        #expect(annotations["prometheus.io/path"] == "/metrics")

        // HPA and PDB.
        let hpa = try #require(manifests.first { $0["kind"].string == "HorizontalPodAutoscaler" })
        #expect(hpa["apiVersion"].string == "autoscaling/v2")
        #expect(hpa["spec"]["scaleTargetRef"]["kind"].string == "Deployment")
        #expect(hpa["spec"]["scaleTargetRef"]["apiVersion"].string == "apps/v1")
        #expect(hpa["spec"]["scaleTargetRef"]["name"].string == name)
        #expect(hpa["spec"]["metrics"].array.contains { $0["resource"]["name"].string == "cpu" })
        let minReplicas = try #require(hpa["spec"]["minReplicas"].int)
        #expect(minReplicas >= 2 && (hpa["spec"]["maxReplicas"].int ?? 0) >= minReplicas)
        let pdb = try #require(manifests.first { $0["kind"].string == "PodDisruptionBudget" })
        #expect(pdb["apiVersion"].string == "policy/v1")
        #expect(Self.selects(pdb["spec"]["selector"]["matchLabels"].stringMap, podLabels))
        let minAvailable = try #require(pdb["spec"]["minAvailable"].int)
        #expect(minAvailable >= 1 && minAvailable < min(minReplicas, deployment["spec"]["replicas"].int ?? 0), "a node drain can proceed")
    }

    @Test func kustomizationsListEveryFile() async throws {
        let kustomization = try Self.yaml("kubernetes/kustomization.yaml")
        let resources = kustomization["resources"].array.compactMap(\.string)
        for resource in resources {
            var isDirectory: ObjCBool = false
            #expect(FileManager.default.fileExists(atPath: Self.deploy + "/kubernetes/" + resource, isDirectory: &isDirectory), "\(resource) exists")
        }
        #expect(resources.contains("../config"), "the ConfigMaps from deploy/config are part of the build")
        let manifests = Self.files(under: Self.deploy + "/kubernetes").filter { $0.hasSuffix(".yaml") }
        let expected = Set(manifests).subtracting(["kustomization.yaml", "secret.example.yaml"])
        #expect(Set(resources.filter { !$0.hasPrefix("../") }) == expected, "every manifest except the secret example is applied")
        #expect(!resources.contains("secret.example.yaml"))
        // The image kustomize rewrites is the one the containers use.
        let imageNames = Set(kustomization["images"].array.compactMap { $0["name"].string })
        let deployment = try #require(try Self.kubernetesObjects().first { $0["kind"].string == "Deployment" })
        let pod = deployment["spec"]["template"]["spec"]
        for container in pod["containers"].array + pod["initContainers"].array {
            #expect(imageNames.contains(container["image"].string ?? ""), "kustomization sets the image of \(container["name"].string ?? "?")")
        }

        // The tenants ConfigMap is built from exactly the files in deploy/config/tenants.
        let tenantFiles = try Self.tenantFiles()
        #expect(!tenantFiles.isEmpty)
        let generated = try Self.generatedConfigMaps()
        #expect(generated["gatehouse-tenants"].map(Set.init) == Set(tenantFiles.map { "tenants/" + $0 }))
        for files in generated.values {
            for file in files { #expect(FileManager.default.fileExists(atPath: Self.deploy + "/config/" + file), "\(file) exists") }
        }
    }

    // MARK: - Compose and nginx

    @Test func composeRunsTwoReplicasOfOneConfigBehindNginx() async throws {
        let config = try DeployConfig.load()
        let compose = try Self.yaml("compose.yaml")
        let services = compose["services"]
        let replicas = ["gatehouse-a", "gatehouse-b"].map { services[$0] }
        for replica in replicas { #expect(replica.exists) }
        let (a, b) = (replicas[0], replicas[1])

        // Same image, same config, same store and sealing key; a key folder each.
        let context = try #require(a["build"]["context"].string)
        let dockerfile = try #require(a["build"]["dockerfile"].string)
        #expect(b["build"]["context"].string == context && b["build"]["dockerfile"].string == dockerfile)
        let contextPath = URL(fileURLWithPath: Self.deploy + "/" + context).standardizedFileURL.path
        #expect(contextPath == URL(fileURLWithPath: Self.root).standardizedFileURL.path, "built from the repository root")
        #expect(FileManager.default.fileExists(atPath: contextPath + "/" + dockerfile))
        #expect(a["image"].string != nil && a["image"].string == b["image"].string)
        let mountsA = a["volumes"].array.compactMap(\.string)
        let mountsB = b["volumes"].array.compactMap(\.string)
        let configDir = (try Self.dockerCommand().last.map { ($0 as NSString).deletingLastPathComponent }) ?? ""
        var keyVolumes: [String] = []
        for mounts in [mountsA, mountsB] {
            let parsed = mounts.map { Self.composeMount($0) }
            let configMount = try #require(parsed.first { $0.target == configDir }, "the config folder is mounted at \(configDir)")
            #expect(FileManager.default.fileExists(atPath: Self.deploy + "/" + configMount.source + "/gatehouse.yaml"))
            let keyMount = try #require(parsed.first { $0.target == config.keyDir }, "key_dir is a volume")
            #expect(compose["volumes"].map[keyMount.source] != nil, "\(keyMount.source) is a named volume")
            keyVolumes.append(keyMount.source)
        }
        #expect(Set(keyVolumes).count == 2, "each replica has a key folder of its own")
        let sealingDir = (config.sealingKeyFile as NSString).deletingLastPathComponent
        let sealingMount = try #require(mountsA.first { Self.composeMount($0).target == sealingDir }, "sealing_key_file's folder is mounted")
        #expect(mountsB.contains(sealingMount), "both replicas mount the same sealing key")
        #expect(sealingMount.hasSuffix(":ro"), "read-only in the replicas")
        #expect(!keyVolumes.contains(Self.composeMount(sealingMount).source))

        // The one-shot service making the sealing key runs the image's copy of make-sealing-key.sh
        // on that same volume, and both replicas wait for it.
        let maker = services["sealing-key"]
        #expect(maker["image"].string == a["image"].string)
        let copied = try Self.dockerInstructions().filter { $0.keyword == "COPY" }.map(\.rest).first { $0.contains("deploy/make-sealing-key.sh") }
        let makerPath = try #require(copied?.split(separator: " ").last.map(String.init))
        #expect(maker["entrypoint"].array.compactMap(\.string) == [makerPath])
        #expect(maker["command"].array.compactMap(\.string) == [config.sealingKeyFile])
        #expect(maker["volumes"].array.compactMap(\.string) == [Self.composeMount(sealingMount).source + ":" + sealingDir], "writable there only")
        #expect(compose["volumes"].map[Self.composeMount(sealingMount).source] != nil)
        #expect(maker["restart"].string == "no")
        for replica in replicas {
            #expect(replica["depends_on"]["sealing-key"]["condition"].string == "service_completed_successfully")
        }

        let storeA = try #require(a["environment"]["GATEHOUSE_STORE"].string)
        #expect(storeA == b["environment"]["GATEHOUSE_STORE"].string)
        #expect(storeA.hasPrefix("postgres://") && storeA.contains("@postgres:5432/") && storeA.hasSuffix("?sslmode=disable"))
        #expect(a["environment"]["GATEHOUSE_OPERATOR_TOKEN"].string == b["environment"]["GATEHOUSE_OPERATOR_TOKEN"].string)
        #expect(a["environment"]["GATEHOUSE_OPERATOR_TOKEN"].string?.hasPrefix("${") == true, "the token comes from the environment, not the file")

        // Start order: PostgreSQL healthy and the sealing key made, then both replicas together.
        for replica in replicas { #expect(replica["depends_on"]["postgres"]["condition"].string == "service_healthy") }
        #expect(!b["depends_on"]["gatehouse-a"].exists, "b needs nothing from a")
        let postgres = services["postgres"]
        #expect(postgres["image"].string?.hasPrefix("postgres:16") == true)
        #expect(postgres["healthcheck"]["test"].array.compactMap(\.string).contains("pg_isready"))
        #expect(postgres["volumes"].array.contains { $0.string?.hasSuffix(":/var/lib/postgresql/data") == true })

        // The admin port is never published beyond loopback.
        for (name, service) in services.map {
            for port in service["ports"].array.compactMap({ $0.string ?? $0.int.map(String.init) }) {
                let container = Int(port.split(separator: ":").last ?? "") ?? -1
                if name.hasPrefix("gatehouse") || container == config.adminPort {
                    #expect(port.hasPrefix("127.0.0.1:"), "\(name) publishes \(port) beyond loopback")
                }
            }
        }

        // nginx: its upstream is exactly the replicas' data ports, streaming-friendly.
        let lb = try #require(services.map.values.first { $0["image"].string?.hasPrefix("nginx") == true })
        let confMount = try #require(lb["volumes"].array.compactMap(\.string).map(Self.composeMount).first { $0.target == "/etc/nginx/nginx.conf" })
        let nginx = try Self.nginxConfig(Self.deploy + "/" + confMount.source)
        let servers = nginx.upstreamServers
        #expect(Set(servers.map(\.host)) == ["gatehouse-a", "gatehouse-b"])
        #expect(servers.allSatisfy { $0.port == config.dataPort }, "nginx reaches the data port \(config.dataPort)")
        #expect(nginx.location["proxy_pass"] == "http://" + nginx.upstreamName)
        #expect(nginx.location["proxy_http_version"] == "1.1")
        #expect(nginx.location["proxy_buffering"] == "off")
        #expect(nginx.location["proxy_set_header Connection"] == "\"\"")
        #expect(nginx.upstream["keepalive"] != nil)
        let readTimeout = Double((nginx.location["proxy_read_timeout"] ?? "0").filter(\.isNumber)) ?? 0
        #expect(readTimeout > config.upstreamIdleTimeout, "nginx waits longer than Gatehouse's idle timeout")
        let headerBuffer = nginx.server["large_client_header_buffers"]?.split(separator: " ").last.flatMap { Self.nginxSize(String($0)) } ?? 0
        #expect(headerBuffer >= config.maxHeaderBytes, "a head Gatehouse accepts fits nginx's buffers")
        let bodyLimit = nginx.server["client_max_body_size"].flatMap(Self.nginxSize) ?? 0
        #expect(bodyLimit == 0 || bodyLimit > config.maxRequestBodyBytes, "Gatehouse, not nginx, answers 413")
    }

    // MARK: - Dockerfile and systemd

    @Test func dockerfileAndSystemdRunTheSameCommandAsKubernetes() async throws {
        let config = try DeployConfig.load()
        let dockerfile = try Self.dockerInstructions()
        let exposed = Set(dockerfile.filter { $0.keyword == "EXPOSE" }.flatMap { $0.rest.split(separator: " ").compactMap { Int($0.split(separator: "/")[0]) } })
        #expect(exposed == [config.dataPort, config.adminPort])
        let user = try #require(dockerfile.last { $0.keyword == "USER" }?.rest)
        let uid = String(user.split(separator: ":")[0])
        #expect(uid != "root" && uid != "0" && Int(uid) != nil, "a numeric non-root user (runAsNonRoot can verify it)")
        let deployment = try #require(try Self.kubernetesObjects().first { $0["kind"].string == "Deployment" })
        #expect(deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"].int == Int(uid))

        // ENTRYPOINT + CMD = the Deployment's args = the unit's ExecStart.
        let entrypoint = try #require(Self.jsonArray(dockerfile.last { $0.keyword == "ENTRYPOINT" }?.rest))
        #expect(entrypoint.count == 1 && (entrypoint[0] as NSString).lastPathComponent == "gatehouse")
        let command = try Self.dockerCommand()
        let container = try #require(deployment["spec"]["template"]["spec"]["containers"].array.first { $0["name"].string == "gatehouse" })
        #expect(container["args"].array.compactMap(\.string) == command)
        let unit = try Self.systemdService()
        let execStart = try #require(unit["ExecStart"]?.first).split(separator: " ").map(String.init)
        #expect(execStart.first == entrypoint[0])
        #expect(Array(execStart.dropFirst()) == command)
        let subcommands = try await Self.usageSubcommands()
        #expect(subcommands.contains(command.first ?? ""), "\(command.first ?? "") is a gatehouse command (\(subcommands))")
        let reload = unit["ExecReload"] ?? []
        #expect(reload.contains("/bin/kill -HUP $MAINPID"), "reload is SIGHUP")
        for line in reload where line.hasPrefix(entrypoint[0]) {
            let words = line.split(separator: " ").map(String.init)
            #expect(subcommands.contains(words.dropFirst().first ?? ""))
        }
        #expect(unit["User"]?.first.map { $0 != "root" && $0 != "0" } ?? (unit["DynamicUser"]?.first == "yes"))
        let stateDirectories = (unit["StateDirectory"] ?? []).flatMap { $0.split(separator: " ").map { "/var/lib/" + $0 } }
        #expect(stateDirectories.contains { config.keyDir == $0 || config.keyDir.hasPrefix($0 + "/") }, "key_dir is writable for the unit")
        let sealingDir = (config.sealingKeyFile as NSString).deletingLastPathComponent
        #expect(stateDirectories.contains(sealingDir), "the unit makes sealing_key_file's folder (0700, its user's)")
        #expect(unit["ProtectSystem"]?.first == "strict" && unit["NoNewPrivileges"]?.first == "yes")

        // The image has what its instructions use, and the build context holds it.
        let copies = dockerfile.filter { $0.keyword == "COPY" && !$0.rest.contains("--from=") }
        #expect(copies.count >= 4)
        let ignore = try String(contentsOfFile: Self.deploy + "/Dockerfile.dockerignore", encoding: .utf8)
        let included = ignore.split(separator: "\n").filter { $0.hasPrefix("!") }.map { String($0.dropFirst()).trimmingCharacters(in: CharacterSet(charactersIn: "/")) }
        var destinations: [String: String] = [:]
        for copy in copies {
            let words = copy.rest.split(separator: " ").filter { !$0.hasPrefix("--") }.map(String.init)
            for source in words.dropLast() {
                let plain = source.replacingOccurrences(of: "*", with: "").trimmingCharacters(in: CharacterSet(charactersIn: "/"))
                if !source.contains("*") {
                    #expect(FileManager.default.fileExists(atPath: Self.root + "/" + plain), "COPY source \(source) exists")
                }
                #expect(included.contains { plain == $0 || plain.hasPrefix($0 + "/") }, "\(source) is in the build context")
                destinations[plain] = words.last
            }
        }
        #expect(destinations["deploy/config/gatehouse.yaml"] == command.last, "the baked-in config is the one CMD names")
        let healthcheck = try #require(Self.jsonArray(dockerfile.last { $0.keyword == "HEALTHCHECK" }?.rest.components(separatedBy: "CMD ").last))
        #expect(healthcheck == [destinations["deploy/healthcheck.sh"] ?? "?"])
        #expect(dockerfile.contains { $0.keyword == "RUN" && $0.rest.contains(config.keyDir) }, "the image creates key_dir for uid \(uid)")
        #expect(dockerfile.contains { $0.keyword == "RUN" && $0.rest.contains(sealingDir) },
                "the image creates sealing_key_file's folder for uid \(uid) (compose's volume starts from it)")
    }

    // MARK: - The real binary

    @Test func checkAcceptsTheDeployConfigWithTheStoresTheManifestsSet() async throws {
        let path = Self.deploy + "/config/gatehouse.yaml"
        let tenants = try Self.tenantFiles().count
        let plain = try await Self.runGatehouse(["check", "--config", path])
        #expect(plain.status == 0, "\(plain.stdout)\(plain.stderr)")
        #expect(plain.stdout == "ok: \(tenants) tenants\n")

        // The file's store is a placeholder that can never be used by accident.
        let store = try #require(try Self.yaml("config/gatehouse.yaml")["store"].string)
        let host = try PostgresURL(parsing: store).host
        #expect(host.hasSuffix(".invalid"))

        // The store URLs the compose file and the secret example hand over are accepted.
        let compose = try Self.yaml("compose.yaml")
        let composeStore = try #require(compose["services"]["gatehouse-a"]["environment"]["GATEHOUSE_STORE"].string)
        let secret = try #require(try Self.kubernetesObjects().first { $0["kind"].string == "Secret" })
        for url in [Self.interpolate(composeStore), try #require(secret["stringData"]["store-url"].string)] {
            let r = try await Self.runGatehouse(["check", "--config", path], environment: ["GATEHOUSE_STORE": url])
            #expect(r.status == 0 && r.stdout == "ok: \(tenants) tenants\n", "\(r.stdout)\(r.stderr)")
        }
    }

    /// Two replicas from deploy/config/gatehouse.yaml, started as Kubernetes starts them: the
    /// sealing key made by make-sealing-key.sh and mounted as a Secret (symlinks into `..data`,
    /// the Deployment's mode), each replica with an empty key folder of its own; then the
    /// probes, the scrape path and the health check script, both replicas publishing both
    /// replicas' keys, and a third replica given another sealing key refusing to start.
    @Test func replicasServeFromTheDeployConfig() async throws {
        let config = try DeployConfig.load()
        let manifests = try Self.kubernetesObjects()
        let deployment = try #require(manifests.first { $0["kind"].string == "Deployment" })
        let pod = deployment["spec"]["template"]["spec"]
        let container = try #require(pod["containers"].array.first { $0["name"].string == "gatehouse" })
        let dir = try TempDir()

        // The sealing key: make-sealing-key.sh (twice: the second run keeps the key), then the
        // Secret volume's layout with the Deployment's defaultMode.
        let made = try await Self.runProcess("/bin/sh", [Self.deploy + "/make-sealing-key.sh", dir.path + "/made/sealing.key"])
        #expect(made.status == 0, "\(made.stderr)")
        let key = try Data(contentsOf: URL(fileURLWithPath: dir.path + "/made/sealing.key"))
        #expect(key.count == 32)
        #expect((try FileManager.default.attributesOfItem(atPath: dir.path + "/made/sealing.key")[.posixPermissions] as? Int) == 0o600)
        #expect(try await Self.runProcess("/bin/sh", [Self.deploy + "/make-sealing-key.sh", dir.path + "/made/sealing.key"]).status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.path + "/made/sealing.key")) == key, "an existing key is kept")
        let volume = try #require(pod["volumes"].array.first { $0["secret"]["secretName"].string == "gatehouse-sealing-key" })
        let secret = try Self.secretVolume(at: dir.path + "/secret", files: ["sealing.key": key], mode: try #require(volume["secret"]["defaultMode"].int))

        // gatehouse.yaml as shipped, but for key_dir and sealing_key_file (no environment
        // override exists for them): one copy per replica, with an empty tenants folder (the
        // shipped tenant's IdP is on the internet; `check` covers it).
        let original = try String(contentsOfFile: Self.deploy + "/config/gatehouse.yaml", encoding: .utf8)
        #expect(original.components(separatedBy: "\"\(config.keyDir)\"").count == 2, "key_dir appears once, quoted")
        #expect(original.components(separatedBy: "\"\(config.sealingKeyFile)\"").count == 2, "sealing_key_file appears once, quoted")
        let args = container["args"].array.compactMap(\.string)
        func replicaArguments(_ name: String, sealingKey: String) throws -> [String] {
            let text = original.replacingOccurrences(of: "\"\(config.keyDir)\"", with: "\"\(dir.path)/\(name)/keys\"")
                .replacingOccurrences(of: "\"\(config.sealingKeyFile)\"", with: "\"\(sealingKey)\"")
            try dir.write("\(name)/etc/gatehouse.yaml", text)
            try FileManager.default.createDirectory(atPath: "\(dir.path)/\(name)/etc/\(config.tenantsDir)", withIntermediateDirectories: true)
            return Array(args.dropLast()) + ["\(dir.path)/\(name)/etc/gatehouse.yaml"]
        }
        let sealingKey = secret + "/" + (config.sealingKeyFile as NSString).lastPathComponent
        let arguments = try ["a", "b"].map { try replicaArguments($0, sealingKey: sealingKey) }
        // Another deployment's Secret, for the third replica.
        let otherSecret = try Self.secretVolume(at: dir.path + "/other-secret", files: ["sealing.key": Data(Secrets.randomBytes(32))], mode: 0o440)
        let wrongKey = try replicaArguments("c", sealingKey: otherSecret + "/sealing.key")

        // PostgreSQL when the test server is there (a database of its own), else one SQLite file.
        if let server = PostgresTestServer.url {
            let admin = try PostgresURL(parsing: server)
            let name = "gh_deploy_" + UUID().uuidString.lowercased().filter { $0.isLetter || $0.isNumber }.prefix(16)
            let url = try await PostgresDatabases.create(name, admin: admin)
            do {
                try await Self.serveTwoReplicas(arguments, wrongKey: wrongKey, manifests: manifests, secret: secret, keyDirs: ["a", "b"].map { "\(dir.path)/\($0)/keys" }, store: url.connectionString, notifies: true)
            } catch {
                try? await PostgresDatabases.drop(name, admin: admin)
                throw error
            }
            try await PostgresDatabases.drop(name, admin: admin)
        } else {
            try await Self.serveTwoReplicas(arguments, wrongKey: wrongKey, manifests: manifests, secret: secret, keyDirs: ["a", "b"].map { "\(dir.path)/\($0)/keys" }, store: "sqlite:" + dir.path + "/state.sqlite", notifies: false)
        }
    }

    /// A folder laid out as the kubelet mounts a Secret: each file a symlink through `..data` to
    /// a timestamped folder holding the file with `mode`. Returns the folder.
    static func secretVolume(at path: String, files: [String: Data], mode: Int) throws -> String {
        let timestamped = path + "/..2026_01_01_00_00_00.000000001"
        try FileManager.default.createDirectory(atPath: timestamped, withIntermediateDirectories: true)
        for (name, data) in files {
            try data.write(to: URL(fileURLWithPath: timestamped + "/" + name))
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: timestamped + "/" + name)
        }
        try FileManager.default.createSymbolicLink(atPath: path + "/..data", withDestinationPath: (timestamped as NSString).lastPathComponent)
        for name in files.keys { try FileManager.default.createSymbolicLink(atPath: path + "/" + name, withDestinationPath: "..data/" + name) }
        return path
    }

    /// `notifies`: the store announces changes (PostgreSQL), so a replica learns of a later
    /// replica's key at once, not at its next heartbeat.
    private static func serveTwoReplicas(
        _ arguments: [[String]], wrongKey: [String], manifests: [Y], secret: String, keyDirs: [String], store: String, notifies: Bool
    ) async throws {
        let deployment = try #require(manifests.first { $0["kind"].string == "Deployment" })
        let container = try #require(deployment["spec"]["template"]["spec"]["containers"].array.first { $0["name"].string == "gatehouse" })
        let readiness = try #require(container["readinessProbe"]["httpGet"]["path"].string)
        let liveness = try #require(container["livenessProbe"]["httpGet"]["path"].string)
        let scrapePath = try #require(adminService(manifests)?["metadata"]["annotations"]["prometheus.io/path"].string)
        let secretBefore = try snapshot(secret + "/..data")
        let secretNames = try FileManager.default.contentsOfDirectory(atPath: secret).sorted()
        let operatorToken = Secrets.randomToken(bytes: 24)
        let environment = [
            "GATEHOUSE_LISTEN": "127.0.0.1:0", "GATEHOUSE_ADMIN_LISTEN": "127.0.0.1:0", "GATEHOUSE_STORE": store,
            "GATEHOUSE_OPERATOR_TOKEN": operatorToken,
        ]
        func kids(_ port: Int) async -> Set<String> {
            let r = try? await RawClient(port: port).request("GET", "/.gatehouse/jwks.json")
            return Set(r?.json?["keys"]?.arrayValue?.compactMap { $0["kid"]?.stringValue } ?? [])
        }
        func ownKids(_ folder: String) throws -> Set<String> {
            Set(try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".pem") }.map { String($0.dropLast(4)) })
        }

        let a = try ServedReplica(arguments: arguments[0], environment: environment)
        defer { a.kill() }
        let aServing = await a.waitServing()
        #expect(aServing, "replica a: \(a.log)")
        guard aServing else { return }
        let aAdmin = RawClient(port: a.adminPort)
        for path in [liveness, readiness] {
            let r = try await aAdmin.request("GET", path)
            #expect(r.status == 200, "\(path): \(r.status) \(r.text)")
        }
        let metrics = try await aAdmin.request("GET", scrapePath)
        #expect(metrics.status == 200)
        #expect(metrics.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
        #expect(looksLikePrometheusText(metrics.text), "\(metrics.text.prefix(500))")
        #expect(metrics.text.contains("# TYPE gatehouse_requests_total counter"))

        // The image's HEALTHCHECK script, finding the port as it does in the container.
        let healthy = try await runProcess("/bin/bash", [deploy + "/healthcheck.sh"], environment: ["GATEHOUSE_ADMIN_LISTEN": "127.0.0.1:\(a.adminPort)"])
        #expect(healthy.status == 0, "\(healthy.stderr)")

        // a made its own signing key in its empty folder and publishes it.
        let aKids = try ownKids(keyDirs[0])
        #expect(aKids.count == 1)
        #expect(await kids(a.dataPort) == aKids)

        // Replica b: its own folder, its own key; both replicas publish both keys.
        let b = try ServedReplica(arguments: arguments[1], environment: environment)
        defer { b.kill() }
        let bServing = await b.waitServing()
        #expect(bServing, "replica b: \(b.log)")
        guard bServing else { return }
        let bAdmin = RawClient(port: b.adminPort)
        #expect(try await bAdmin.request("GET", readiness).status == 200)
        let bKids = try ownKids(keyDirs[1])
        #expect(bKids.count == 1 && bKids != aKids, "b signs with a key of its own")
        #expect(await kids(b.dataPort) == aKids.union(bKids), "b publishes a's key, read at its start")
        if notifies {
            #expect(await eventually(within: 2) { await kids(a.dataPort) == aKids.union(bKids) }, "a publishes b's key once b announces it")
        }
        let tenants = try await bAdmin.request("GET", "/admin/v1/tenants", headers: [("Authorization", "Bearer \(operatorToken)")])
        #expect(tenants.status == 200, "GATEHOUSE_OPERATOR_TOKEN is the operator token")
        #expect(try await bAdmin.request("GET", "/admin/v1/tenants").status == 401)

        // Nothing was written where the Secret is mounted: read-only is enough.
        #expect(try snapshot(secret + "/..data") == secretBefore)
        #expect(try FileManager.default.contentsOfDirectory(atPath: secret).sorted() == secretNames)

        // A third replica given another deployment's sealing key refuses to start, and says why.
        let c = try ServedReplica(arguments: wrongKey, environment: environment)
        defer { c.kill() }
        let cEnded = await eventually(within: 30) { !c.process.isRunning }
        #expect(cEnded, "the replica with another sealing key exits: \(c.log)")
        if cEnded {
            #expect(c.process.terminationStatus != 0)
            #expect(c.log.contains("is not the key this store was first used with"), "\(c.log)")
            #expect(!c.log.contains("gatehouse serving"))
        }

        // SIGTERM (what Kubernetes, compose and systemd send) stops both cleanly.
        let aStatus = await a.stop()
        let bStatus = await b.stop()
        #expect(aStatus == 0, "\(a.log)")
        #expect(bStatus == 0, "\(b.log)")
        let afterStop = try await runProcess("/bin/bash", [deploy + "/healthcheck.sh", "\(a.adminPort)"])
        #expect(afterStop.status != 0, "the health check fails once Gatehouse is gone")
    }
}

// MARK: - Reading the files

extension DeployFilesTests {
    /// What the tests need from deploy/config/gatehouse.yaml.
    struct DeployConfig {
        var dataPort: Int
        var adminPort: Int
        var tenantsDir: String
        var keyDir: String
        var sealingKeyFile: String
        var upstreamIdleTimeout: Double
        var maxHeaderBytes: Int
        var maxRequestBodyBytes: Int
        var shutdownGrace: Double

        static func load() throws -> DeployConfig {
            let file = try DeployFilesTests.yaml("config/gatehouse.yaml")
            func port(_ listen: String?) throws -> Int {
                let text = try #require(listen)
                return try #require(Int(text.split(separator: ":").last ?? ""))
            }
            return DeployConfig(
                dataPort: try port(file["listen"].string), adminPort: try port(file["admin"]["listen"].string),
                tenantsDir: file["tenants_dir"].string ?? "tenants", keyDir: try #require(file["assertion"]["key_dir"].string),
                sealingKeyFile: try #require(file["sealing_key_file"].string, "the deploy config names the shared sealing key"),
                upstreamIdleTimeout: file["limits"]["upstream_idle_timeout_seconds"].double ?? 300,
                maxHeaderBytes: file["limits"]["max_header_bytes"].int ?? 32768,
                maxRequestBodyBytes: file["limits"]["max_request_body_bytes"].int ?? 10_485_760,
                shutdownGrace: file["limits"]["shutdown_grace_seconds"].double ?? 15)
        }
    }

    /// A parsed YAML value, navigable without casts.
    struct Y {
        let value: Any?
        init(_ value: Any?) { self.value = value }
        subscript(_ key: String) -> Y { Y((value as? [AnyHashable: Any])?[AnyHashable(key)]) }
        var exists: Bool { value != nil && !(value is NSNull) }
        var isMap: Bool { value is [AnyHashable: Any] }
        var string: String? { value as? String }
        var bool: Bool? { value as? Bool }
        var int: Int? { (value as? Int) ?? (value as? String).flatMap { Int($0) } }
        var double: Double? { (value as? Double) ?? (value as? Int).map(Double.init) }
        var array: [Y] { (value as? [Any])?.map { Y($0) } ?? [] }
        var map: [String: Y] {
            var out: [String: Y] = [:]
            for (key, v) in value as? [AnyHashable: Any] ?? [:] { if let k = key.base as? String { out[k] = Y(v) } }
            return out
        }
        var stringMap: [String: String] { map.compactMapValues { $0.string ?? $0.int.map(String.init) } }
    }

    static func text(_ relative: String) throws -> String {
        try String(contentsOfFile: deploy + "/" + relative, encoding: .utf8)
    }

    static func yaml(_ relative: String) throws -> Y {
        Y(try Yams.load(yaml: try text(relative)))
    }

    static func documents(_ relative: String) throws -> [Y] {
        try Yams.load_all(yaml: try text(relative)).map { Y($0) }
    }

    /// Files under `directory`, relative to it, sorted.
    static func files(under directory: String) -> [String] {
        (FileManager.default.enumerator(atPath: directory)?.allObjects as? [String] ?? []).filter { path in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: directory + "/" + path, isDirectory: &isDirectory) && !isDirectory.boolValue
        }.sorted()
    }

    static func tenantFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: deploy + "/config/tenants")
            .filter { !$0.hasPrefix(".") && ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml")) }.sorted()
    }

    /// Every object in deploy/kubernetes/*.yaml but the kustomization.
    static func kubernetesObjects() throws -> [Y] {
        try files(under: deploy + "/kubernetes").filter { $0.hasSuffix(".yaml") && $0 != "kustomization.yaml" }
            .flatMap { try documents("kubernetes/" + $0) }
    }

    static func adminService(_ manifests: [Y]) -> Y? {
        manifests.first { $0["kind"].string == "Service" && $0["spec"]["ports"].array.contains { $0["targetPort"].string == "admin" } }
    }

    /// ConfigMap name -> the files deploy/config/kustomization.yaml builds it from.
    static func generatedConfigMaps() throws -> [String: [String]] {
        var out: [String: [String]] = [:]
        for generator in try yaml("config/kustomization.yaml")["configMapGenerator"].array {
            if let name = generator["name"].string { out[name] = generator["files"].array.compactMap(\.string) }
        }
        return out
    }

    static func selects(_ selector: [String: String], _ labels: [String: String]) -> Bool {
        !selector.isEmpty && selector.allSatisfy { labels[$0.key] == $0.value }
    }

    static func plainEnv(_ container: Y) -> [String: String] {
        var out: [String: String] = [:]
        for variable in container["env"].array {
            if let name = variable["name"].string, let value = variable["value"].string { out[name] = value }
        }
        return out
    }

    /// `SOURCE:TARGET[:MODE]` of a compose volume.
    static func composeMount(_ text: String) -> (source: String, target: String) {
        let parts = text.split(separator: ":").map(String.init)
        return (parts.first ?? "", parts.count > 1 ? parts[1] : "")
    }

    /// `${NAME}` and `${NAME:?message}` replaced by a value as compose would.
    static func interpolate(_ text: String) -> String {
        text.replacingOccurrences(of: #"\$\{[A-Z_]+(:\?[^}]*)?\}"#, with: "0123abcd", options: .regularExpression)
    }

    struct DockerInstruction {
        var keyword: String
        var rest: String
    }

    static func dockerInstructions() throws -> [DockerInstruction] {
        var out: [DockerInstruction] = []
        var current = ""
        for line in try text("Dockerfile").split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("#") { continue }
            if trimmed.hasSuffix("\\") {
                current += trimmed.dropLast() + " "
                continue
            }
            current += trimmed
            let words = current.split(separator: " ", maxSplits: 1)
            if let keyword = words.first {
                out.append(DockerInstruction(keyword: keyword.uppercased(), rest: words.count > 1 ? words[1].trimmingCharacters(in: .whitespaces) : ""))
            }
            current = ""
        }
        return out
    }

    static func jsonArray(_ text: String?) -> [String]? {
        guard let text, let value = try? JSONParser.parse(text.trimmingCharacters(in: .whitespaces)) else { return nil }
        return value.arrayValue?.compactMap(\.stringValue)
    }

    /// The Dockerfile's CMD.
    static func dockerCommand() throws -> [String] {
        try #require(jsonArray(try dockerInstructions().last { $0.keyword == "CMD" }?.rest))
    }

    /// Key -> values of the unit's [Service] section.
    static func systemdService() throws -> [String: [String]] {
        var out: [String: [String]] = [:]
        var section = ""
        for line in try text("systemd/gatehouse.service").split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("[") { section = trimmed }
            guard section == "[Service]", !trimmed.hasPrefix("#"), let equals = trimmed.firstIndex(of: "=") else { continue }
            out[String(trimmed[..<equals]), default: []].append(String(trimmed[trimmed.index(after: equals)...]))
        }
        return out
    }

    /// The commands `gatehouse help` lists.
    static func usageSubcommands() async throws -> [String] {
        let help = try await runGatehouse(["help"])
        var inCommands = false
        var out: [String] = []
        for line in help.stdout.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("commands:") { inCommands = true; continue }
            if inCommands {
                guard line.hasPrefix("  "), let word = line.split(separator: " ").first else { break }
                out.append(String(word))
            }
        }
        return out
    }

    struct NginxConfig {
        var upstreamName: String
        var upstream: [String: String]
        var upstreamServers: [(host: String, port: Int)]
        var server: [String: String]
        var location: [String: String]
    }

    /// The directives of the upstream block, of the server and of its `location /`.
    static func nginxConfig(_ path: String) throws -> NginxConfig {
        let text = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
            .map { $0.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? "" }
            .joined(separator: "\n")
        var blocks: [String] = []
        var config = NginxConfig(upstreamName: "", upstream: [:], upstreamServers: [], server: [:], location: [:])
        var statement = ""
        for character in text {
            switch character {
            case "{":
                blocks.append(statement.trimmingCharacters(in: .whitespacesAndNewlines))
                statement = ""
            case "}":
                blocks.removeLast()
                statement = ""
            case ";":
                let words = statement.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
                statement = ""
                guard let name = words.first else { continue }
                let block = blocks.last ?? ""
                if block.hasPrefix("upstream ") {
                    config.upstreamName = String(block.dropFirst("upstream ".count))
                    if name == "server", let address = words.dropFirst().first, let colon = address.lastIndex(of: ":") {
                        config.upstreamServers.append((String(address[..<colon]), Int(address[address.index(after: colon)...]) ?? -1))
                    } else {
                        config.upstream[name] = words.dropFirst().joined(separator: " ")
                    }
                } else if block == "server" {
                    config.server[name] = words.dropFirst().joined(separator: " ")
                } else if block == "location /" {
                    if name == "proxy_set_header", words.count >= 3 {
                        config.location[name + " " + words[1]] = words.dropFirst(2).joined(separator: " ")
                    } else {
                        config.location[name] = words.dropFirst().joined(separator: " ")
                    }
                }
            default:
                statement.append(character)
            }
        }
        return config
    }

    /// nginx sizes: `32k`, `11m`, `1024`.
    static func nginxSize(_ text: String) -> Int? {
        let lower = text.lowercased()
        if let n = Int(lower) { return n }
        guard let n = Int(lower.dropLast()) else { return nil }
        switch lower.last {
        case "k": return n * 1024
        case "m": return n * 1024 * 1024
        case "g": return n * 1024 * 1024 * 1024
        default: return nil
        }
    }

    /// Prometheus text exposition: `# HELP`/`# TYPE` comments and `name{labels} value` samples.
    static func looksLikePrometheusText(_ text: String) -> Bool {
        let lines = text.split(separator: "\n")
        guard lines.contains(where: { $0.hasPrefix("# TYPE gatehouse_") }) else { return false }
        let sample = #/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? [-+0-9.eE]+|NaN|[+-]Inf$/#
        return lines.allSatisfy { line in
            line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") || (try? sample.wholeMatch(in: String(line))) != nil
        }
    }

    /// Names -> contents of the files in `directory`.
    static func snapshot(_ directory: String) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            out[name] = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name))
        }
        return out
    }
}

// MARK: - Running processes

extension DeployFilesTests {
    typealias Run = CLITests.Run

    /// The `gatehouse` binary with only the given `GATEHOUSE_*` variables.
    static func runGatehouse(_ arguments: [String], environment: [String: String] = [:]) async throws -> Run {
        try await runProcess(CLITests.binary, arguments, environment: environment)
    }

    /// Runs a short-lived program to its end. Every program run here bounds its own waiting.
    static func runProcess(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) async throws -> Run {
        try await CLITests.runToEnd(executable, arguments, environment: cleanEnvironment().merging(environment) { $1 })
    }

    /// The test's environment without any `GATEHOUSE_*` override a developer may have set.
    static func cleanEnvironment() -> [String: String] {
        ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("GATEHOUSE_") }
    }

    /// `gatehouse serve` in the background.
    final class ServedReplica {
        let process = Process()
        private let stderrLog: LineCollector
        private let stdoutLog: LineCollector
        private(set) var dataPort = 0
        private(set) var adminPort = 0

        init(arguments: [String], environment: [String: String]) throws {
            process.executableURL = URL(fileURLWithPath: CLITests.binary)
            process.arguments = arguments
            process.environment = DeployFilesTests.cleanEnvironment().merging(environment) { $1 }
            let out = Pipe()
            let err = Pipe()
            process.standardOutput = out
            process.standardError = err
            stdoutLog = LineCollector(out.fileHandleForReading)
            stderrLog = LineCollector(err.fileHandleForReading)
            try process.run()
        }

        var log: String { stderrLog.text }

        /// True once both listeners are up (their ports read from the start-up log line).
        func waitServing() async -> Bool {
            let serving = await eventually(within: 30) { !process.isRunning || stderrLog.text.contains("gatehouse serving") }
            guard serving, process.isRunning,
                let data = CLITests.listenPort(in: stderrLog.text), let admin = CLITests.listenPort(in: stderrLog.text, field: "admin")
            else { return false }
            (dataPort, adminPort) = (data, admin)
            return true
        }

        /// SIGTERM, then the exit status (nil if it did not exit within 15 s).
        func stop() async -> Int32? {
            if process.isRunning { process.terminate() }
            guard await eventually(within: 15, { !process.isRunning }) else { return nil }
            return process.terminationStatus
        }

        func kill() {
            if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        }
    }
}
