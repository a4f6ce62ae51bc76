namespace TapeGateway.Core.Buffers;

/// <summary>
/// A destination that can take a producer's pooled buffer instead of a copy of its bytes: a device that already holds
/// a command's Data-In in a buffer of its own (a tape drive's read-ahead) hands the buffer over and takes the
/// destination's buffer in exchange, so a streaming READ moves its payload once less.
/// </summary>
public interface IDataBufferAdopter
{
    /// <summary>
    /// Makes the first <paramref name="length"/> bytes of <paramref name="buffer"/> the data, in place of the buffer the
    /// producer was given. <paramref name="buffer"/> must be an array rented from an <see cref="System.Buffers.ArrayPool{T}"/>
    /// (its length a power of two, as the pools hand out), so whoever holds it last can return it to a pool; the
    /// adopter owns it from now on.
    /// </summary>
    /// <returns>The array the adopter held before, now owned by the caller (rented from a pool), or null.</returns>
    byte[]? Adopt(byte[] buffer, int length);
}
