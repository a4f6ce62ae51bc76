namespace TapeGateway.Scsi.Sense;

/// <summary>
/// Every reason a command can end with CHECK CONDITION (or a deferred/informational sense). Mapped to
/// (key, ASC, ASCQ, flags) by <see cref="SenseTable"/> — the single place those numbers live (SPC-4 §4.5.6, Annex D).
/// </summary>
public enum SenseReason : ushort
{
    None = 0,

    // ---- ILLEGAL REQUEST -------------------------------------------------------------------------------------
    InvalidCommandOperationCode,
    InvalidFieldInCdb,
    InvalidFieldInParameterList,
    ParameterListLengthError,
    ParameterValueInvalid,
    LogicalBlockAddressOutOfRange,
    LogicalUnitNotSupported,
    SavingParametersNotSupported,
    InvalidReleaseOfPersistentReservation,
    InsufficientRegistrationResources,
    MediumSourceElementEmpty,
    MediumDestinationElementFull,
    InvalidElementAddress,
    MediumRemovalPrevented,
    IncompatibleMediumInstalled,
    CommandSequenceError,
    InvalidFieldInCommandInformationUnit,
    WriteBoundaryViolation,
    PositionPastBeginningOfMedium,

    // ---- UNIT ATTENTION --------------------------------------------------------------------------------------
    PowerOnResetOrBusDeviceReset,
    PowerOnOccurred,
    ScsiBusResetOccurred,
    BusDeviceResetFunctionOccurred,
    DeviceInternalReset,
    NotReadyToReadyChange,
    ImportOrExportElementAccessed,
    ParametersChanged,
    ModeParametersChanged,
    DataEncryptionParametersChangedByAnotherItNexus,
    ReservationsPreempted,
    ReservationsReleased,
    RegistrationsPreempted,
    CapacityDataChanged,
    TimestampChanged,
    InquiryDataChanged,
    ReportedLunsDataChanged,
    CommandsClearedByAnotherInitiator,
    CommandsClearedByPowerLoss,
    MediumRemovalRequested,

    // ---- NOT READY -------------------------------------------------------------------------------------------
    MediumNotPresent,
    MediumNotPresentTrayClosed,
    LogicalUnitNotReadyCauseNotReportable,
    LogicalUnitBecomingReady,
    LogicalUnitNotReadyInitializingCommandRequired,
    LogicalUnitNotReadyManualIntervention,
    LogicalUnitNotReadyOperationInProgress,

    // ---- DATA PROTECT ----------------------------------------------------------------------------------------
    WriteProtected,
    HardwareWriteProtected,
    AccessDeniedInvalidLuIdentifier,
    WormMediumOverwriteAttempted,
    UnableToDecryptData,
    UnencryptedDataEncounteredWhileDecrypting,
    IncorrectDataEncryptionKey,

    // ---- MEDIUM / HARDWARE ERROR -----------------------------------------------------------------------------
    UnrecoveredReadError,
    WriteError,
    MediumFormatCorrupted,
    CannotReadMediumUnknownFormat,
    CannotWriteMediumIncompatibleFormat,
    InternalTargetFailure,
    LogicalUnitCommunicationFailure,
    MechanicalPositioningError,
    SequentialPositioningError,
    LogicalBlockGuardCheckFailed,

    // ---- MISCOMPARE ------------------------------------------------------------------------------------------
    MiscompareDuringVerify,

    // ---- Sequential-access conditions (SSC-4 §4.2.x) -----------------------------------------------------------
    FilemarkDetected,
    EndOfPartitionMediumDetected,
    BeginningOfPartitionMediumDetected,
    EndOfDataDetected,
    BlankCheckEndOfData,
    EarlyWarning,
    ProgrammableEarlyWarning,
    VolumeOverflow,
    IncorrectLengthIndicated,
    NoAdditionalSense,

    // ---- ABORTED COMMAND -------------------------------------------------------------------------------------
    InitiatorDetectedErrorMessageReceived,
    DataPhaseError,
    OverlappedCommandsAttempted,
    CommandTimeoutBeforeProcessing,
    SystemResourceFailure,
    LogicalUnitBusyRetry,

    // ---- Sequential-access device additions (SSC-4 Annex / SPC-4 Annex D) ------------------------------------
    CleaningCartridgeInstalled,
    CannotReadMediumIncompatibleFormat,
    MediumLoadOrEjectFailed,

    // ---- RECOVERED ERROR -------------------------------------------------------------------------------------
    RoundedParameter,
}
