import NIOCore

/// How many CPUs this process may run on: the smaller of what NIO counts (cores, cgroup quota)
/// and the scheduler affinity mask (`taskset`, `docker --cpuset-cpus`, systemd `CPUAffinity=`),
/// read from `Cpus_allowed` in `/proc/self/status`. One event-loop thread per usable CPU: more
/// threads than CPUs only add context switches.
enum UsableCPUs {
    static var count: Int {
        let cores = max(1, System.coreCount)
        guard let allowed = affinityCount() else { return cores }
        return min(cores, allowed)
    }

    static func affinityCount(statusPath: String = "/proc/self/status") -> Int? {
        guard let status = try? String(contentsOfFile: statusPath, encoding: .utf8) else { return nil }
        return affinityCount(status: status)
    }

    /// `Cpus_allowed:\tff,ffffffff` → number of set bits, or nil when absent or malformed.
    static func affinityCount(status: String) -> Int? {
        for line in status.split(separator: "\n") where line.hasPrefix("Cpus_allowed:") {
            var bits = 0
            for ch in line.dropFirst("Cpus_allowed:".count) where ch != "," && ch != " " && ch != "\t" {
                guard let nibble = ch.hexDigitValue else { return nil }
                bits += nibble.nonzeroBitCount
            }
            return bits > 0 ? bits : nil
        }
        return nil
    }
}
