/// Walks a benchmark's precomputed inputs across all its samples: the runner calls the closure
/// once per sample, so a counter local to the closure would start over at the first input each time.
final class Cursor {
    private var position = 0
    private let mask: Int

    /// `count` must be a power of two.
    init(count: Int) {
        precondition(count > 0 && count & (count - 1) == 0, "count must be a power of two")
        mask = count - 1
    }

    /// The next index in `0..<count`, wrapping around.
    func next() -> Int {
        defer { position &+= 1 }
        return position & mask
    }
}
