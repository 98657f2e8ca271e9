import Testing

/// The same cases on a real PostgreSQL server, a fresh schema per test (see `scripts/test`).
@Suite(.enabled(if: PostgresTestServer.isConfigured, PostgresTestServer.skipReason))
struct PostgresStoreConformanceTests {
    let backend = PostgresBackend(maximumConnections: 6)

    @Test func bindingRoundTripReplaceAndDelete() async throws {
        try await StoreConformance.bindingRoundTripReplaceAndDelete(backend)
    }

    @Test func touchSlidesExistingRowsOnlyAndNeverBackwards() async throws {
        try await StoreConformance.touchSlidesExistingRowsOnlyAndNeverBackwards(backend)
    }

    @Test func expiredBindingsAreNotLoadedAndAreSwept() async throws {
        try await StoreConformance.expiredBindingsAreNotLoadedAndAreSwept(backend)
    }

    @Test func sessionKeysAreTenantScopedAndHeaderCanonical() async throws {
        try await StoreConformance.sessionKeysAreTenantScopedAndHeaderCanonical(backend)
    }

    @Test func hostileValuesRoundTripExactly() async throws {
        try await StoreConformance.hostileValuesRoundTripExactly(backend)
    }

    @Test func flowRoundTripAndLookups() async throws {
        try await StoreConformance.flowRoundTripAndLookups(backend)
    }

    @Test func aLiveFlowIsNeverReplacedButAFinishedOneIs() async throws {
        try await StoreConformance.aLiveFlowIsNeverReplacedButAFinishedOneIs(backend)
    }

    @Test func racingInsertsOfOneFlowLetOneWin() async throws {
        try await StoreConformance.racingInsertsOfOneFlowLetOneWin(backend)
    }

    @Test func cookieAndCompletionReachOnlyTheFlowWithTheirStartHandle() async throws {
        try await StoreConformance.cookieAndCompletionReachOnlyTheFlowWithTheirStartHandle(backend)
    }

    @Test func completeFlowOnceAndErasesTheToken() async throws {
        try await StoreConformance.completeFlowOnceAndErasesTheToken(backend)
    }

    @Test func twentyConcurrentCallersCompleteAFlowOnce() async throws {
        try await StoreConformance.twentyConcurrentCallersCompleteAFlowOnce(backend)
    }

    @Test func flowsAreDeletedBySessionIDAndBySubject() async throws {
        try await StoreConformance.flowsAreDeletedBySessionIDAndBySubject(backend)
    }

    @Test func expiredFlowsAreDeletedWithTheirTokens() async throws {
        try await StoreConformance.expiredFlowsAreDeletedWithTheirTokens(backend)
    }

    @Test func registeredIdPsArePutReplacedAndDeletedWithTheirAuditEntries() async throws {
        try await StoreConformance.registeredIdPsArePutReplacedAndDeletedWithTheirAuditEntries(backend)
    }

    @Test func keysAreRevokedOnceAndOnlyInTheirTenant() async throws {
        try await StoreConformance.keysAreRevokedOnceAndOnlyInTheirTenant(backend)
    }

    @Test func auditPagesGoBackwardsBySequence() async throws {
        try await StoreConformance.auditPagesGoBackwardsBySequence(backend)
    }

    @Test func migrationsAreIdempotentAndDataIsShared() async throws {
        try await StoreConformance.migrationsAreIdempotentAndDataIsShared(backend)
    }

    @Test func storesMigratingTogetherAllSucceed() async throws {
        try await StoreConformance.storesMigratingTogetherAllSucceed(backend)
    }

    @Test func aNewerSchemaIsRefused() async throws {
        try await StoreConformance.aNewerSchemaIsRefused(backend)
    }

    @Test func aClosedStoreRefusesWork() async throws {
        try await StoreConformance.aClosedStoreRefusesWork(backend)
    }
}
