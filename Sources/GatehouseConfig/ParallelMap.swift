import Dispatch

/// `transform` applied to each element, spread over the CPUs (Dispatch sizes the width), in
/// order. For independent, CPU-bound work such as parsing thousands of tenant files.
func parallelMap<T, R>(_ items: [T], _ transform: (T) -> R) -> [R] {
    guard items.count > 1 else { return items.map(transform) }
    return [R](unsafeUninitializedCapacity: items.count) { buffer, initialized in
        nonisolated(unsafe) let slots = buffer
        let count = items.count
        let chunk = max(1, count / 64)
        let chunks = (count + chunk - 1) / chunk
        items.withUnsafeBufferPointer { source in
            nonisolated(unsafe) let source = source
            withoutActuallyEscaping(transform) { transform in
                nonisolated(unsafe) let transform = transform
                DispatchQueue.concurrentPerform(iterations: chunks) { c in
                    for i in c * chunk..<min(count, (c + 1) * chunk) {
                        (slots.baseAddress! + i).initialize(to: transform(source[i]))
                    }
                }
            }
        }
        initialized = items.count
    }
}

