#ifndef GATEHOUSE_FUZZ_DRIVER_H
#define GATEHOUSE_FUZZ_DRIVER_H
#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver, as a function: every fuzz target's own entry point calls it. (SwiftPM
/// gives each executable target its own entry point, so libFuzzer's `main` is never used.)
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
