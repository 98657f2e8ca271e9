import Testing

/// The store conformance cases, each run on every available backend: real SQLite files (the
/// reference implementation), and a real PostgreSQL server with a fresh schema per test when
/// `scripts/test` started one (`GATEHOUSE_TEST_POSTGRES_URL`; the PostgreSQL-only suite shows
/// the skip reason when it did not).
@Suite struct StoreConformanceTests {
    enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case sqlite, postgres

        var testDescription: String { rawValue }

        var store: any StoreBackend {
            switch self {
            case .sqlite: SQLiteBackend()
            case .postgres: PostgresBackend(maximumConnections: 6)
            }
        }

        static var available: [Backend] { PostgresTestServer.isConfigured ? [.sqlite, .postgres] : [.sqlite] }
    }

    @Test(arguments: Backend.available) func bindingRoundTripReplaceAndDelete(_ backend: Backend) async throws {
        try await StoreConformance.bindingRoundTripReplaceAndDelete(backend.store)
    }

    @Test(arguments: Backend.available) func touchSlidesExistingRowsOnlyAndNeverBackwards(_ backend: Backend) async throws {
        try await StoreConformance.touchSlidesExistingRowsOnlyAndNeverBackwards(backend.store)
    }

    @Test(arguments: Backend.available) func expiredBindingsAreNotLoadedAndAreSwept(_ backend: Backend) async throws {
        try await StoreConformance.expiredBindingsAreNotLoadedAndAreSwept(backend.store)
    }

    @Test(arguments: Backend.available) func sessionKeysAreTenantScopedAndHeaderCanonical(_ backend: Backend) async throws {
        try await StoreConformance.sessionKeysAreTenantScopedAndHeaderCanonical(backend.store)
    }

    @Test(arguments: Backend.available) func hostileValuesRoundTripExactly(_ backend: Backend) async throws {
        try await StoreConformance.hostileValuesRoundTripExactly(backend.store)
    }

    @Test(arguments: Backend.available) func flowRoundTripAndLookups(_ backend: Backend) async throws {
        try await StoreConformance.flowRoundTripAndLookups(backend.store)
    }

    @Test(arguments: Backend.available) func aLiveFlowIsNeverReplacedButAFinishedOneIs(_ backend: Backend) async throws {
        try await StoreConformance.aLiveFlowIsNeverReplacedButAFinishedOneIs(backend.store)
    }

    @Test(arguments: Backend.available) func racingInsertsOfOneFlowLetOneWin(_ backend: Backend) async throws {
        try await StoreConformance.racingInsertsOfOneFlowLetOneWin(backend.store)
    }

    @Test(arguments: Backend.available) func cookieAndCompletionReachOnlyTheFlowWithTheirStartHandle(_ backend: Backend) async throws {
        try await StoreConformance.cookieAndCompletionReachOnlyTheFlowWithTheirStartHandle(backend.store)
    }

    @Test(arguments: Backend.available) func completeFlowOnceAndErasesTheToken(_ backend: Backend) async throws {
        try await StoreConformance.completeFlowOnceAndErasesTheToken(backend.store)
    }

    @Test(arguments: Backend.available) func twentyConcurrentCallersCompleteAFlowOnce(_ backend: Backend) async throws {
        try await StoreConformance.twentyConcurrentCallersCompleteAFlowOnce(backend.store)
    }

    @Test(arguments: Backend.available) func flowsAreDeletedBySessionIDAndBySubject(_ backend: Backend) async throws {
        try await StoreConformance.flowsAreDeletedBySessionIDAndBySubject(backend.store)
    }

    @Test(arguments: Backend.available) func expiredFlowsAreDeletedWithTheirTokens(_ backend: Backend) async throws {
        try await StoreConformance.expiredFlowsAreDeletedWithTheirTokens(backend.store)
    }

    @Test(arguments: Backend.available) func registeredIdPsArePutReplacedAndDeletedWithTheirAuditEntries(_ backend: Backend) async throws {
        try await StoreConformance.registeredIdPsArePutReplacedAndDeletedWithTheirAuditEntries(backend.store)
    }

    @Test(arguments: Backend.available) func keysAreRevokedOnceAndOnlyInTheirTenant(_ backend: Backend) async throws {
        try await StoreConformance.keysAreRevokedOnceAndOnlyInTheirTenant(backend.store)
    }

    @Test(arguments: Backend.available) func auditPagesGoBackwardsBySequence(_ backend: Backend) async throws {
        try await StoreConformance.auditPagesGoBackwardsBySequence(backend.store)
    }

    @Test(arguments: Backend.available) func replicaKeysAreRegisteredExtendedAndNeverShortened(_ backend: Backend) async throws {
        try await StoreConformance.replicaKeysAreRegisteredExtendedAndNeverShortened(backend.store)
    }

    @Test(arguments: Backend.available) func aReplicaCannotReplaceAnothersKey(_ backend: Backend) async throws {
        try await StoreConformance.aReplicaCannotReplaceAnothersKey(backend.store)
    }

    @Test(arguments: Backend.available) func expiredReplicaKeysAreNotListedAndAreDeleted(_ backend: Backend) async throws {
        try await StoreConformance.expiredReplicaKeysAreNotListedAndAreDeleted(backend.store)
    }

    @Test(arguments: Backend.available) func replicaKeysAreReadWithinTheLimit(_ backend: Backend) async throws {
        try await StoreConformance.replicaKeysAreReadWithinTheLimit(backend.store)
    }

    @Test(arguments: Backend.available) func replicasAreCountedWhileTheirHeartbeatHoldsThemLive(_ backend: Backend) async throws {
        try await StoreConformance.replicasAreCountedWhileTheirHeartbeatHoldsThemLive(backend.store)
    }

    @Test(arguments: Backend.available) func theFirstSettledValueStaysForEveryone(_ backend: Backend) async throws {
        try await StoreConformance.theFirstSettledValueStaysForEveryone(backend.store)
    }

    @Test(arguments: Backend.available) func replicasProposingTogetherSettleOnOneValue(_ backend: Backend) async throws {
        try await StoreConformance.replicasProposingTogetherSettleOnOneValue(backend.store)
    }

    @Test(arguments: Backend.available) func migrationsAreIdempotentAndDataIsShared(_ backend: Backend) async throws {
        try await StoreConformance.migrationsAreIdempotentAndDataIsShared(backend.store)
    }

    @Test(arguments: Backend.available) func storesMigratingTogetherAllSucceed(_ backend: Backend) async throws {
        try await StoreConformance.storesMigratingTogetherAllSucceed(backend.store)
    }

    @Test(arguments: Backend.available) func aNewerSchemaIsRefused(_ backend: Backend) async throws {
        try await StoreConformance.aNewerSchemaIsRefused(backend.store)
    }

    @Test(arguments: Backend.available) func aClosedStoreRefusesWork(_ backend: Backend) async throws {
        try await StoreConformance.aClosedStoreRefusesWork(backend.store)
    }
}
