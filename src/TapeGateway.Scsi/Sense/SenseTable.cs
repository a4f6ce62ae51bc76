namespace TapeGateway.Scsi.Sense;

/// <summary>
/// The one table from <see cref="SenseReason"/> to sense key, additional sense code and qualifier (SPC-4 Annex D).
/// </summary>
public static class SenseTable
{
    private static readonly SenseEntry[] s_entries = Build();

    public static SenseEntry Get(SenseReason reason) => s_entries[(int)reason];

    private static SenseEntry[] Build()
    {
        var t = new SenseEntry[Enum.GetValues<SenseReason>().Length];
        void Set(SenseReason r, SenseKey k, byte asc, byte ascq, SenseFlags f = SenseFlags.None) => t[(int)r] = new(k, asc, ascq, f);

        Set(SenseReason.None, SenseKey.NoSense, 0x00, 0x00);

        Set(SenseReason.InvalidCommandOperationCode, SenseKey.IllegalRequest, 0x20, 0x00); /* INVALID COMMAND OPERATION CODE */
        Set(SenseReason.InvalidFieldInCdb, SenseKey.IllegalRequest, 0x24, 0x00); /* INVALID FIELD IN CDB */
        Set(SenseReason.InvalidFieldInParameterList, SenseKey.IllegalRequest, 0x26, 0x00); /* INVALID FIELD IN PARAMETER LIST */
        Set(SenseReason.ParameterListLengthError, SenseKey.IllegalRequest, 0x1A, 0x00); /* PARAMETER LIST LENGTH ERROR */
        Set(SenseReason.ParameterValueInvalid, SenseKey.IllegalRequest, 0x26, 0x02); /* PARAMETER VALUE INVALID */
        Set(SenseReason.LogicalBlockAddressOutOfRange, SenseKey.IllegalRequest, 0x21, 0x00); /* LBA OUT OF RANGE */
        Set(SenseReason.LogicalUnitNotSupported, SenseKey.IllegalRequest, 0x25, 0x00); /* LOGICAL UNIT NOT SUPPORTED */
        Set(SenseReason.SavingParametersNotSupported, SenseKey.IllegalRequest, 0x39, 0x00); /* SAVING PARAMETERS NOT SUPPORTED */
        Set(SenseReason.InvalidReleaseOfPersistentReservation, SenseKey.IllegalRequest, 0x26, 0x04); /* INVALID RELEASE OF PERSISTENT RESERVATION */
        Set(SenseReason.InsufficientRegistrationResources, SenseKey.IllegalRequest, 0x55, 0x04); /* INSUFFICIENT REGISTRATION RESOURCES */
        Set(SenseReason.MediumSourceElementEmpty, SenseKey.IllegalRequest, 0x3B, 0x0E); /* MEDIUM SOURCE ELEMENT EMPTY */
        Set(SenseReason.MediumDestinationElementFull, SenseKey.IllegalRequest, 0x3B, 0x0D); /* MEDIUM DESTINATION ELEMENT FULL */
        Set(SenseReason.InvalidElementAddress, SenseKey.IllegalRequest, 0x21, 0x01); /* INVALID ELEMENT ADDRESS */
        Set(SenseReason.MediumRemovalPrevented, SenseKey.IllegalRequest, 0x53, 0x02); /* MEDIUM REMOVAL PREVENTED */
        Set(SenseReason.IncompatibleMediumInstalled, SenseKey.IllegalRequest, 0x30, 0x00); /* INCOMPATIBLE MEDIUM INSTALLED */
        Set(SenseReason.CommandSequenceError, SenseKey.IllegalRequest, 0x2C, 0x00); /* COMMAND SEQUENCE ERROR */
        Set(SenseReason.InvalidFieldInCommandInformationUnit, SenseKey.IllegalRequest, 0x0E, 0x03); /* INVALID FIELD IN COMMAND INFORMATION UNIT */
        Set(SenseReason.WriteBoundaryViolation, SenseKey.IllegalRequest, 0x21, 0x02); /* INVALID ADDRESS FOR WRITE */
        Set(SenseReason.PositionPastBeginningOfMedium, SenseKey.IllegalRequest, 0x3B, 0x0C); /* POSITION PAST BEGINNING OF MEDIUM */

        Set(SenseReason.PowerOnResetOrBusDeviceReset, SenseKey.UnitAttention, 0x29, 0x00); /* POWER ON, RESET, OR BUS DEVICE RESET OCCURRED */
        Set(SenseReason.PowerOnOccurred, SenseKey.UnitAttention, 0x29, 0x01); /* POWER ON OCCURRED */
        Set(SenseReason.ScsiBusResetOccurred, SenseKey.UnitAttention, 0x29, 0x02); /* SCSI BUS RESET OCCURRED */
        Set(SenseReason.BusDeviceResetFunctionOccurred, SenseKey.UnitAttention, 0x29, 0x03); /* BUS DEVICE RESET FUNCTION OCCURRED */
        Set(SenseReason.DeviceInternalReset, SenseKey.UnitAttention, 0x29, 0x04); /* DEVICE INTERNAL RESET */
        Set(SenseReason.NotReadyToReadyChange, SenseKey.UnitAttention, 0x28, 0x00); /* NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED */
        Set(SenseReason.ImportOrExportElementAccessed, SenseKey.UnitAttention, 0x28, 0x01); /* IMPORT OR EXPORT ELEMENT ACCESSED */
        Set(SenseReason.ParametersChanged, SenseKey.UnitAttention, 0x2A, 0x00); /* PARAMETERS CHANGED */
        Set(SenseReason.ModeParametersChanged, SenseKey.UnitAttention, 0x2A, 0x01); /* MODE PARAMETERS CHANGED */
        Set(SenseReason.DataEncryptionParametersChangedByAnotherItNexus, SenseKey.UnitAttention, 0x2A, 0x11); /* DATA ENCRYPTION PARAMETERS CHANGED BY ANOTHER I_T NEXUS */
        Set(SenseReason.ReservationsPreempted, SenseKey.UnitAttention, 0x2A, 0x03); /* RESERVATIONS PREEMPTED */
        Set(SenseReason.ReservationsReleased, SenseKey.UnitAttention, 0x2A, 0x04); /* RESERVATIONS RELEASED */
        Set(SenseReason.RegistrationsPreempted, SenseKey.UnitAttention, 0x2A, 0x05); /* REGISTRATIONS PREEMPTED */
        Set(SenseReason.CapacityDataChanged, SenseKey.UnitAttention, 0x2A, 0x09); /* CAPACITY DATA HAS CHANGED */
        Set(SenseReason.TimestampChanged, SenseKey.UnitAttention, 0x2A, 0x10); /* TIMESTAMP CHANGED */
        Set(SenseReason.InquiryDataChanged, SenseKey.UnitAttention, 0x3F, 0x03); /* INQUIRY DATA HAS CHANGED */
        Set(SenseReason.ReportedLunsDataChanged, SenseKey.UnitAttention, 0x3F, 0x0E); /* REPORTED LUNS DATA HAS CHANGED */
        Set(SenseReason.CommandsClearedByAnotherInitiator, SenseKey.UnitAttention, 0x2F, 0x00); /* COMMANDS CLEARED BY ANOTHER INITIATOR */
        Set(SenseReason.CommandsClearedByPowerLoss, SenseKey.UnitAttention, 0x2F, 0x01); /* COMMANDS CLEARED BY POWER LOSS NOTIFICATION */
        Set(SenseReason.MediumRemovalRequested, SenseKey.UnitAttention, 0x5A, 0x01); /* OPERATOR MEDIUM REMOVAL REQUEST */

        Set(SenseReason.MediumNotPresent, SenseKey.NotReady, 0x3A, 0x00); /* MEDIUM NOT PRESENT */
        Set(SenseReason.MediumNotPresentTrayClosed, SenseKey.NotReady, 0x3A, 0x01); /* MEDIUM NOT PRESENT - TRAY CLOSED */
        Set(SenseReason.LogicalUnitNotReadyCauseNotReportable, SenseKey.NotReady, 0x04, 0x00); /* LU NOT READY, CAUSE NOT REPORTABLE */
        Set(SenseReason.LogicalUnitBecomingReady, SenseKey.NotReady, 0x04, 0x01); /* LU IS IN PROCESS OF BECOMING READY */
        Set(SenseReason.LogicalUnitNotReadyInitializingCommandRequired, SenseKey.NotReady, 0x04, 0x02); /* INITIALIZING COMMAND REQUIRED */
        Set(SenseReason.LogicalUnitNotReadyManualIntervention, SenseKey.NotReady, 0x04, 0x03); /* MANUAL INTERVENTION REQUIRED */
        Set(SenseReason.LogicalUnitNotReadyOperationInProgress, SenseKey.NotReady, 0x04, 0x07); /* OPERATION IN PROGRESS */

        Set(SenseReason.WriteProtected, SenseKey.DataProtect, 0x27, 0x00); /* WRITE PROTECTED */
        Set(SenseReason.HardwareWriteProtected, SenseKey.DataProtect, 0x27, 0x01); /* HARDWARE WRITE PROTECTED */
        Set(SenseReason.AccessDeniedInvalidLuIdentifier, SenseKey.IllegalRequest, 0x20, 0x09); /* ACCESS DENIED - INVALID LU IDENTIFIER */
        Set(SenseReason.WormMediumOverwriteAttempted, SenseKey.DataProtect, 0x30, 0x0C); /* WORM MEDIUM - OVERWRITE ATTEMPTED */
        Set(SenseReason.UnableToDecryptData, SenseKey.DataProtect, 0x74, 0x01); /* UNABLE TO DECRYPT DATA */
        Set(SenseReason.UnencryptedDataEncounteredWhileDecrypting, SenseKey.DataProtect, 0x74, 0x02); /* UNENCRYPTED DATA ENCOUNTERED WHILE DECRYPTING */
        Set(SenseReason.IncorrectDataEncryptionKey, SenseKey.DataProtect, 0x74, 0x03); /* INCORRECT DATA ENCRYPTION KEY */

        Set(SenseReason.UnrecoveredReadError, SenseKey.MediumError, 0x11, 0x00); /* UNRECOVERED READ ERROR */
        Set(SenseReason.WriteError, SenseKey.MediumError, 0x0C, 0x00); /* WRITE ERROR */
        Set(SenseReason.MediumFormatCorrupted, SenseKey.MediumError, 0x31, 0x00); /* MEDIUM FORMAT CORRUPTED */
        Set(SenseReason.CannotReadMediumUnknownFormat, SenseKey.MediumError, 0x30, 0x01); /* CANNOT READ MEDIUM - UNKNOWN FORMAT */
        Set(SenseReason.CannotWriteMediumIncompatibleFormat, SenseKey.DataProtect, 0x30, 0x05); /* CANNOT WRITE MEDIUM - INCOMPATIBLE FORMAT */
        Set(SenseReason.InternalTargetFailure, SenseKey.HardwareError, 0x44, 0x00); /* INTERNAL TARGET FAILURE */
        Set(SenseReason.LogicalUnitCommunicationFailure, SenseKey.HardwareError, 0x08, 0x00); /* LOGICAL UNIT COMMUNICATION FAILURE */
        Set(SenseReason.MechanicalPositioningError, SenseKey.HardwareError, 0x15, 0x01); /* MECHANICAL POSITIONING ERROR */
        Set(SenseReason.SequentialPositioningError, SenseKey.MediumError, 0x3B, 0x00); /* SEQUENTIAL POSITIONING ERROR */

        // SSC-4 logical block protection, LBP_W: the protection information sent with a block does not match it. IBM
        // LTO drives report it as HARDWARE ERROR (LTFS maps 04/10/01 to its LBP write error).
        Set(SenseReason.LogicalBlockGuardCheckFailed, SenseKey.HardwareError, 0x10, 0x01); /* LOGICAL BLOCK GUARD CHECK FAILED */

        Set(SenseReason.MiscompareDuringVerify, SenseKey.Miscompare, 0x1D, 0x00); /* MISCOMPARE DURING VERIFY OPERATION */

        Set(SenseReason.FilemarkDetected, SenseKey.NoSense, 0x00, 0x01, SenseFlags.Filemark); /* FILEMARK DETECTED */
        Set(SenseReason.EndOfPartitionMediumDetected, SenseKey.NoSense, 0x00, 0x02, SenseFlags.EndOfMedium); /* END-OF-PARTITION/MEDIUM DETECTED */
        Set(SenseReason.BeginningOfPartitionMediumDetected, SenseKey.NoSense, 0x00, 0x04, SenseFlags.EndOfMedium); /* BEGINNING-OF-PARTITION/MEDIUM DETECTED */
        Set(SenseReason.EndOfDataDetected, SenseKey.NoSense, 0x00, 0x05); /* END-OF-DATA DETECTED */
        Set(SenseReason.BlankCheckEndOfData, SenseKey.BlankCheck, 0x00, 0x05); /* END-OF-DATA DETECTED */
        Set(SenseReason.EarlyWarning, SenseKey.NoSense, 0x00, 0x02, SenseFlags.EndOfMedium); /* END-OF-PARTITION/MEDIUM DETECTED (early warning) */
        Set(SenseReason.ProgrammableEarlyWarning, SenseKey.NoSense, 0x00, 0x07, SenseFlags.EndOfMedium); /* PROGRAMMABLE EARLY WARNING DETECTED */
        Set(SenseReason.VolumeOverflow, SenseKey.VolumeOverflow, 0x00, 0x02, SenseFlags.EndOfMedium); /* END-OF-PARTITION/MEDIUM DETECTED */
        Set(SenseReason.IncorrectLengthIndicated, SenseKey.NoSense, 0x00, 0x00, SenseFlags.IncorrectLength); /* ILI */
        Set(SenseReason.NoAdditionalSense, SenseKey.NoSense, 0x00, 0x00);

        Set(SenseReason.InitiatorDetectedErrorMessageReceived, SenseKey.AbortedCommand, 0x48, 0x00); /* INITIATOR DETECTED ERROR MESSAGE RECEIVED */
        Set(SenseReason.DataPhaseError, SenseKey.AbortedCommand, 0x4B, 0x00); /* DATA PHASE ERROR */
        Set(SenseReason.OverlappedCommandsAttempted, SenseKey.AbortedCommand, 0x4E, 0x00); /* OVERLAPPED COMMANDS ATTEMPTED */
        Set(SenseReason.CommandTimeoutBeforeProcessing, SenseKey.AbortedCommand, 0x2E, 0x01); /* COMMAND TIMEOUT BEFORE PROCESSING */
        Set(SenseReason.SystemResourceFailure, SenseKey.AbortedCommand, 0x55, 0x00); /* SYSTEM RESOURCE FAILURE */
        Set(SenseReason.LogicalUnitBusyRetry, SenseKey.NotReady, 0x04, 0x01); /* becoming ready: initiators retry */

        Set(SenseReason.CleaningCartridgeInstalled, SenseKey.NotReady, 0x30, 0x03); /* CLEANING CARTRIDGE INSTALLED */
        Set(SenseReason.CannotReadMediumIncompatibleFormat, SenseKey.MediumError, 0x30, 0x02); /* CANNOT READ MEDIUM - INCOMPATIBLE FORMAT */
        Set(SenseReason.MediumLoadOrEjectFailed, SenseKey.NotReady, 0x53, 0x00); /* MEDIA LOAD OR EJECT FAILED */

        Set(SenseReason.RoundedParameter, SenseKey.RecoveredError, 0x37, 0x00); /* ROUNDED PARAMETER */

        return t;
    }
}
