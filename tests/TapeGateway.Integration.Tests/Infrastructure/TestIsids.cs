namespace TapeGateway.Integration.Tests.Infrastructure;

/// <summary>Unique ISIDs, so sessions of different tests never reinstate each other by accident.</summary>
public static class TestIsids
{
    private static long s_next = 0x0002_3D10_0000;

    public static ulong Next() => (ulong)Interlocked.Increment(ref s_next);
}
