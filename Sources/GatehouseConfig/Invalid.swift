/// Why a single value was refused; turned into a `ConfigProblem` by whoever knows its path.
struct Invalid: Error {
    let message: String

    init(_ message: String) {
        self.message = message
    }
}
