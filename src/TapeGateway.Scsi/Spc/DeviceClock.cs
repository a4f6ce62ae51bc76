namespace TapeGateway.Scsi.Spc;

/// <summary>SPC-4 REPORT TIMESTAMP, TIMESTAMP ORIGIN field: the most recent event that initialized the device clock.</summary>
public enum TimestampOrigin : byte
{
    /// <summary>000b: initialized to zero at power on or by a hard reset.</summary>
    ZeroAtPowerOn = 0b000,

    /// <summary>010b: initialized by a SET TIMESTAMP command.</summary>
    SetTimestamp = 0b010,

    /// <summary>011b: initialized by a method outside the scope of SPC-4.</summary>
    OutsideTheStandard = 0b011,
}

/// <summary>
/// A logical unit's device clock (SPC-4 timestamp model): milliseconds since 1970-01-01 00:00:00 UTC in a 48-bit
/// counter, read by REPORT TIMESTAMP and set by SET TIMESTAMP.
/// </summary>
/// <remarks>
/// At power on (the unit's creation) and after a hard reset the clock starts from the gateway host's UTC clock, so
/// drive and library log entries carry real dates without an initiator having to send SET TIMESTAMP first. That is
/// initialization by a method outside the standard: origin 011b, and the Control Extension mode page reports
/// TCMOS=1 (SPC-4 Control Extension mode page). A logical unit reset or an I_T nexus loss leaves the clock running. Between
/// initializations the clock advances with the monotonic timestamp of the <see cref="TimeProvider"/>, so changes of
/// the host's wall clock do not make it jump; nothing outside SPC-4 changes it after a SET TIMESTAMP (SCSIP=1).
/// </remarks>
public sealed class DeviceClock
{
    /// <summary>The TIMESTAMP field is six bytes (SPC-4 REPORT TIMESTAMP parameter data).</summary>
    public const long MaxValue = (1L << 48) - 1;

    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private long _baseValue;
    private long _baseTicks;
    private TimestampOrigin _origin;

    public DeviceClock(TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        _time = time;
        InitializeFromHost();
    }

    /// <summary>What the next REPORT TIMESTAMP returns: the clock's value now and the origin of its last initialization.</summary>
    public (long Milliseconds, TimestampOrigin Origin) Read()
    {
        lock (_lock)
        {
            var elapsed = (long)_time.GetElapsedTime(_baseTicks).TotalMilliseconds;
            return ((_baseValue + elapsed) & MaxValue, _origin);
        }
    }

    /// <summary>SPC-4 SET TIMESTAMP: the clock continues from <paramref name="milliseconds"/>, origin 010b.</summary>
    public void Set(long milliseconds)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(milliseconds);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(milliseconds, MaxValue);
        lock (_lock)
        {
            _baseValue = milliseconds;
            _baseTicks = _time.GetTimestamp();
            _origin = TimestampOrigin.SetTimestamp;
        }
    }

    /// <summary>Power on or hard reset: start again from the host's UTC clock (origin 011b).</summary>
    public void InitializeFromHost()
    {
        lock (_lock)
        {
            _baseValue = Math.Clamp(_time.GetUtcNow().ToUnixTimeMilliseconds(), 0, MaxValue);
            _baseTicks = _time.GetTimestamp();
            _origin = TimestampOrigin.OutsideTheStandard;
        }
    }
}
