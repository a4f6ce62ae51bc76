using System.Buffers.Binary;
using System.Security.Cryptography;

namespace TapeGateway.Media.Tape;

/// <summary>
/// One data encryption key as a drive holds it (SSC-4 §4.2.21 data encryption; algorithm AES-256-GCM, the one LTO-4
/// and later drives use): the 256-bit key and the key-associated data the application gave with it — U-KAD
/// (unauthenticated, typically a key label) and A-KAD (authenticated) — which are recorded with every block it
/// encrypts, so an application can later find out which key a tape needs (Next Block Encryption Status).
/// The key lives in memory only, never in an image; <see cref="Dispose"/> wipes it.
/// </summary>
/// <remarks>
/// Encrypted record payload ("envelope", format 1.3), all integers little-endian:
/// <code>
///  0  u8   envelope version (1 = AES-256-GCM)       1  u8 reserved (0)
///  2  u16  U-KAD length                              4  u16 A-KAD length     6  u16 reserved (0)
///  8  12   nonce (random per block)
/// 20  ..   U-KAD, then A-KAD
///  ..  n   ciphertext of the stored block (the zstd frame when the record is compressed: compression comes first)
///  ..  16  GCM tag
/// </code>
/// The associated data is the envelope head (bytes 0 .. end of A-KAD) plus the block's logical length and the
/// record's compressed flag, so neither the KADs nor the record's shape can be altered without the tag failing.
/// </remarks>
public sealed class TapeCipher : IDisposable
{
    public const int KeyLength = 32;
    public const int MaxUnauthenticatedKadLength = 32;
    public const int MaxAuthenticatedKadLength = 12;
    public const byte EnvelopeVersion = 1;
    public const int HeadLength = 20;
    public const int NonceLength = 12;
    public const int TagLength = 16;

    /// <summary>Bytes an encrypted record adds to its payload: head, KADs and tag.</summary>
    public int Overhead => HeadLength + UnauthenticatedKad.Length + AuthenticatedKad.Length + TagLength;

    private readonly byte[] _key;
    private readonly AesGcm _aes;
    private bool _disposed;

    public TapeCipher(ReadOnlySpan<byte> key, ReadOnlySpan<byte> unauthenticatedKad = default, ReadOnlySpan<byte> authenticatedKad = default)
    {
        if (key.Length != KeyLength)
        {
            throw new ArgumentException($"An AES-256 key is {KeyLength} bytes, not {key.Length}.", nameof(key));
        }

        if (unauthenticatedKad.Length > MaxUnauthenticatedKadLength)
        {
            throw new ArgumentException($"U-KAD is at most {MaxUnauthenticatedKadLength} bytes.", nameof(unauthenticatedKad));
        }

        if (authenticatedKad.Length > MaxAuthenticatedKadLength)
        {
            throw new ArgumentException($"A-KAD is at most {MaxAuthenticatedKadLength} bytes.", nameof(authenticatedKad));
        }

        _key = key.ToArray();
        _aes = new AesGcm(_key, TagLength);
        UnauthenticatedKad = unauthenticatedKad.ToArray();
        AuthenticatedKad = authenticatedKad.ToArray();
    }

    public ReadOnlyMemory<byte> UnauthenticatedKad { get; }

    public ReadOnlyMemory<byte> AuthenticatedKad { get; }

    /// <summary>True when both hold the same key (the KADs are descriptive and may differ).</summary>
    public bool SameKey(TapeCipher other) => CryptographicOperations.FixedTimeEquals(_key, other._key);

    /// <summary>
    /// Writes the envelope of <paramref name="stored"/> (the block as it would be stored: raw or its zstd frame) into
    /// <paramref name="envelope"/>, which must hold <c>stored.Length + </c><see cref="Overhead"/> bytes.
    /// </summary>
    public void Seal(ReadOnlySpan<byte> stored, int logicalLength, bool compressed, Span<byte> envelope)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var ukad = UnauthenticatedKad.Span;
        var akad = AuthenticatedKad.Span;
        var headEnd = HeadLength + ukad.Length + akad.Length;
        if (envelope.Length != stored.Length + headEnd + TagLength)
        {
            throw new ArgumentException("Envelope length must be the stored length plus the overhead.", nameof(envelope));
        }

        envelope[0] = EnvelopeVersion;
        envelope[1] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(envelope[2..], (ushort)ukad.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(envelope[4..], (ushort)akad.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(envelope[6..], 0);
        RandomNumberGenerator.Fill(envelope.Slice(8, NonceLength));
        ukad.CopyTo(envelope[HeadLength..]);
        akad.CopyTo(envelope[(HeadLength + ukad.Length)..]);
        Span<byte> aad = stackalloc byte[HeadLength + MaxUnauthenticatedKadLength + MaxAuthenticatedKadLength + 5];
        var aadLength = AssociatedData(envelope[..headEnd], logicalLength, compressed, aad);
        _aes.Encrypt(
            envelope.Slice(8, NonceLength),
            stored,
            envelope.Slice(headEnd, stored.Length),
            envelope.Slice(headEnd + stored.Length, TagLength),
            aad[..aadLength]);
    }

    /// <summary>
    /// Opens an envelope into <paramref name="stored"/> (<see cref="Envelope.CipherTextLength"/> bytes). False when the
    /// tag does not verify: another key (or data altered behind a matching CRC).
    /// </summary>
    public bool TryOpen(ReadOnlySpan<byte> envelope, int logicalLength, bool compressed, Span<byte> stored)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!Envelope.TryParse(envelope, out var e) || stored.Length != e.CipherTextLength)
        {
            return false;
        }

        Span<byte> aad = stackalloc byte[HeadLength + MaxUnauthenticatedKadLength + MaxAuthenticatedKadLength + 5];
        var aadLength = AssociatedData(envelope[..e.HeadEnd], logicalLength, compressed, aad);
        try
        {
            _aes.Decrypt(
                envelope.Slice(8, NonceLength),
                envelope.Slice(e.HeadEnd, e.CipherTextLength),
                envelope.Slice(e.HeadEnd + e.CipherTextLength, TagLength),
                stored,
                aad[..aadLength]);
            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            stored.Clear();
            return false;
        }
    }

    private static int AssociatedData(ReadOnlySpan<byte> head, int logicalLength, bool compressed, Span<byte> aad)
    {
        head.CopyTo(aad);
        BinaryPrimitives.WriteInt32LittleEndian(aad[head.Length..], logicalLength);
        aad[head.Length + 4] = compressed ? (byte)1 : (byte)0;
        return head.Length + 5;
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        CryptographicOperations.ZeroMemory(_key);
        _aes.Dispose();
    }

    /// <summary>The parsed head of an encrypted record's payload.</summary>
    public readonly record struct Envelope(int UnauthenticatedKadLength, int AuthenticatedKadLength, int CipherTextLength)
    {
        public int HeadEnd => HeadLength + UnauthenticatedKadLength + AuthenticatedKadLength;

        /// <summary>Checks the envelope's shape (version, KAD lengths, room for the tag); the tag is not verified.</summary>
        public static bool TryParse(ReadOnlySpan<byte> payload, out Envelope envelope)
        {
            envelope = default;
            if (payload.Length < HeadLength + TagLength || payload[0] != EnvelopeVersion)
            {
                return false;
            }

            int ukad = BinaryPrimitives.ReadUInt16LittleEndian(payload[2..]);
            int akad = BinaryPrimitives.ReadUInt16LittleEndian(payload[4..]);
            var cipherText = payload.Length - HeadLength - ukad - akad - TagLength;
            if (ukad > MaxUnauthenticatedKadLength || akad > MaxAuthenticatedKadLength || cipherText <= 0)
            {
                return false;
            }

            envelope = new Envelope(ukad, akad, cipherText);
            return true;
        }

        public ReadOnlySpan<byte> UnauthenticatedKad(ReadOnlySpan<byte> payload) => payload.Slice(HeadLength, UnauthenticatedKadLength);

        public ReadOnlySpan<byte> AuthenticatedKad(ReadOnlySpan<byte> payload) => payload.Slice(HeadLength + UnauthenticatedKadLength, AuthenticatedKadLength);
    }
}

/// <summary>
/// The drive's data encryption settings as the medium applies them (SSC-4 §4.2.21; the drive sets them before each
/// command from the parameters of the I_T nexus that sent it). <see cref="Encrypt"/>: every block written is
/// encrypted with it. <see cref="Decrypt"/>: encrypted blocks read are decrypted with it. <see cref="RequireEncrypted"/>:
/// decryption mode DECRYPT, where a block that is not encrypted is refused rather than returned.
/// </summary>
public sealed record TapeEncryption(TapeCipher? Encrypt, TapeCipher? Decrypt, bool RequireEncrypted);
